//! The leaf of the model stack: one attempt on one deployment, bounded by its timeout, with the
//! answer checked (JSON) or wrapped for pass-through (SSE).

use std::{
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tower::Service;

use crate::{
    error::GatewayError,
    openai::chat::UsageOnly,
    providers::Reply,
    proxy::{ProxyResponse, ReplyBody},
    router::Attempt,
    sse::SseBody,
};

/// Calls the deployment's adapter.
#[derive(Debug, Clone)]
pub struct AttemptService {
    stream_idle_timeout: Duration,
}

impl AttemptService {
    /// `stream_idle_timeout`: silence between stream chunks that counts as a cut.
    pub fn new(stream_idle_timeout: Duration) -> Self {
        Self {
            stream_idle_timeout,
        }
    }
}

impl Service<Attempt> for AttemptService {
    type Response = ProxyResponse;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<ProxyResponse, GatewayError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        Poll::Ready(Ok(()))
    }

    fn call(
        &mut self,
        Attempt {
            request,
            deployment,
        }: Attempt,
    ) -> Self::Future {
        let idle = self.stream_idle_timeout;
        Box::pin(async move {
            let started = Instant::now();
            let timeout = deployment.config.timeout;
            let sent = deployment.provider.send(&request);
            let result = tokio::time::timeout(timeout, sent).await;
            let waited = started.elapsed();
            deployment.upstream_metric.observe(waited.as_secs_f64());
            let reply = result.map_err(|_| GatewayError::UpstreamTimeout {
                deployment: deployment.id.clone(),
                after: timeout,
            })??;
            let (body, usage) = match reply {
                Reply::Json(bytes) => {
                    let usage = serde_json::from_slice::<UsageOnly>(&bytes)
                        .map_err(|e| GatewayError::UpstreamGarbled {
                            deployment: deployment.id.clone(),
                            reason: format!("the body is not JSON ({e})"),
                        })?
                        .usage;
                    (ReplyBody::Json(bytes), usage)
                }
                Reply::Sse(body) => {
                    let sse = SseBody::new(
                        body,
                        deployment.id.clone(),
                        idle,
                        request.view.include_usage,
                    );
                    (ReplyBody::Stream(Box::new(sse)), None)
                }
            };
            Ok(ProxyResponse {
                body,
                served_by: deployment,
                attempts: 1,
                upstream_wait: waited,
                usage,
                overhead: Duration::ZERO,
            })
        })
    }
}
