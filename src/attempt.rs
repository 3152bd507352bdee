//! The leaf of the model stack: one attempt on one deployment, bounded by its timeout, with the
//! answer checked (JSON) or read up to its first token and wrapped for pass-through (SSE).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::BoxFuture;
use tokio::time::Instant;
use tower::Service;

use crate::{
    error::GatewayError,
    openai::{
        Usage,
        chat::{ResponsesUsageOnly, UsageOnly},
    },
    proxy::{ProxyResponse, Reply, ReplyBody},
    router::Attempt,
    sse::{Dialect, SseBody, StreamLimits},
};

/// Calls the deployment's adapter.
#[derive(Debug, Clone)]
pub struct AttemptService {
    stream_idle_timeout: Duration,
    first_token_timeout: Option<Duration>,
    track_text: bool,
    limits: StreamLimits,
}

impl AttemptService {
    /// `stream_idle_timeout`: silence between stream chunks that counts as a cut;
    /// `first_token_timeout`: how long a stream may take to its first content;
    /// `track_text`: keep streamed text so a mid-stream rescue can continue it.
    pub fn new(
        stream_idle_timeout: Duration,
        first_token_timeout: Option<Duration>,
        track_text: bool,
    ) -> Self {
        Self {
            stream_idle_timeout,
            first_token_timeout,
            track_text,
            limits: StreamLimits::default(),
        }
    }

    /// Streams bounded by `limits` instead of the defaults.
    pub fn with_stream_limits(mut self, limits: StreamLimits) -> Self {
        self.limits = limits;
        self
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
        let first_token = self.first_token_timeout;
        let track_text = self.track_text;
        let limits = self.limits;
        Box::pin(async move {
            let started = Instant::now();
            let timeout = deployment.config.timeout;
            let sent = deployment.provider.send(&request);
            let result = tokio::time::timeout(timeout, sent).await;
            deployment
                .upstream_metric
                .observe(started.elapsed().as_secs_f64());
            let reply = result.map_err(|_| GatewayError::UpstreamTimeout {
                deployment: deployment.id.clone(),
                after: timeout,
            })??;
            let reply_dialect = matches!(reply, Reply::ResponsesSse(_));
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
                Reply::ResponsesJson(bytes) => {
                    let usage = serde_json::from_slice::<ResponsesUsageOnly>(&bytes)
                        .map_err(|e| GatewayError::UpstreamGarbled {
                            deployment: deployment.id.clone(),
                            reason: format!("the body is not JSON ({e})"),
                        })?
                        .usage
                        .map(Usage::from);
                    (ReplyBody::Json(bytes), usage)
                }
                Reply::Sse(body) | Reply::ResponsesSse(body) => {
                    let dialect = if reply_dialect {
                        Dialect::Responses
                    } else {
                        Dialect::Chat
                    };
                    let keep_usage = request.view.include_usage;
                    let mut sse = Box::pin(
                        SseBody::new(body, deployment.id.clone(), idle, keep_usage, track_text)
                            .with_dialect(dialect)
                            .with_limits(limits),
                    );
                    prime(&mut sse, first_token, &deployment.id).await?;
                    (ReplyBody::Stream(sse), None)
                }
                Reply::Other {
                    content_type,
                    bytes,
                } => (
                    ReplyBody::Other {
                        content_type,
                        bytes,
                    },
                    None,
                ),
            };
            // For a stream, waiting for the first token is upstream time too.
            let upstream_wait = started.elapsed();
            Ok(ProxyResponse {
                body,
                served_by: Some(deployment),
                attempts: 1,
                upstream_wait,
                usage,
                overhead: Duration::ZERO,
                headers: Default::default(),
            })
        })
    }
}

/// Reads a stream up to its first content within `timeout`. A stream that fails or stays silent
/// before then is an ordinary attempt failure: nothing has reached the client yet.
async fn prime(
    sse: &mut Pin<Box<SseBody>>,
    timeout: Option<Duration>,
    deployment: &Arc<str>,
) -> Result<(), GatewayError> {
    let primed = std::future::poll_fn(|cx| sse.as_mut().poll_prime(cx));
    let primed = match timeout {
        Some(after) => tokio::time::timeout(after, primed).await.map_err(|_| {
            GatewayError::UpstreamTimeout {
                deployment: deployment.clone(),
                after,
            }
        })?,
        None => primed.await,
    };
    primed.map_err(|code| match code {
        "upstream_stream_idle" => GatewayError::UpstreamTimeout {
            deployment: deployment.clone(),
            after: Duration::ZERO,
        },
        "upstream_no_content" | "upstream_event_too_large" => GatewayError::UpstreamGarbled {
            deployment: deployment.clone(),
            reason: format!("the stream held too much before its first token ({code})"),
        },
        _ => GatewayError::UpstreamUnreachable {
            deployment: deployment.clone(),
            reason: format!("the stream failed before its first token ({code})"),
        },
    })
}
