//! Mid-stream rescue (SPEC §6): when a stream breaks after text reached the client, continue the
//! answer on the group's other deployments, then its fallbacks. A deployment that accepts an
//! assistant prefill gets the partial answer as a trailing assistant message; any other is
//! restarted, and the SSE body forwards only what extends the text already sent.

use std::{collections::VecDeque, sync::Arc};

use axum::body::Body;
use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::time::Instant;
use tower::{Service, ServiceExt};

use super::Attempt;
use crate::proxy::{Availability, Deployment};
use crate::{
    config::RouterSettings,
    error::GatewayError,
    model::Endpoint,
    proxy::{ProxyRequest, ProxyResponse, ReplyBody},
    sse::{Continuation, Rescue},
};

/// Where a broken stream may continue, in order.
pub(super) struct Plan<S> {
    inner: S,
    request: Arc<ProxyRequest>,
    failed: Arc<Deployment>,
    candidates: Arc<Mutex<VecDeque<Arc<Deployment>>>>,
    deadline: Instant,
    allowed_fails: u32,
    cooldown: std::time::Duration,
}

impl<S> Plan<S> {
    /// A plan for `request`, which `failed` was serving; `candidates` in the order to try.
    pub(super) fn new(
        inner: S,
        request: Arc<ProxyRequest>,
        failed: Arc<Deployment>,
        candidates: Vec<Arc<Deployment>>,
        deadline: Instant,
        settings: &RouterSettings,
    ) -> Self {
        Self {
            inner,
            request,
            failed,
            candidates: Arc::new(Mutex::new(candidates.into())),
            deadline,
            allowed_fails: settings.allowed_fails,
            cooldown: settings.cooldown,
        }
    }
}

impl<S> Rescue for Plan<S>
where
    S: Service<Attempt, Response = ProxyResponse, Error = GatewayError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    fn continue_after(&mut self, sent: String) -> BoxFuture<'static, Option<Continuation>> {
        let (inner, request, candidates, deadline) = (
            self.inner.clone(),
            self.request.clone(),
            self.candidates.clone(),
            self.deadline,
        );
        let (allowed_fails, cooldown) = (self.allowed_fails, self.cooldown);
        self.failed
            .state
            .failure(Instant::now(), allowed_fails, cooldown);
        Box::pin(async move {
            loop {
                let deployment = candidates.lock().pop_front()?;
                let now = Instant::now();
                let ready = deployment.state.availability(now);
                if !deployment.serves(Endpoint::Chat) || ready != Availability::Ready {
                    continue;
                }
                // Never send a prefill to a model that cannot take one.
                let prefill = deployment.accepts_prefill() && !sent.is_empty();
                let attempt_request = match prefill {
                    true => match request.with_prefill(&sent) {
                        Ok(r) => Arc::new(r),
                        Err(_) => continue,
                    },
                    false => request.clone(),
                };
                let in_flight = deployment.state.begin(now);
                let attempt = Attempt {
                    request: attempt_request,
                    deployment: deployment.clone(),
                };
                let result = tokio::time::timeout_at(deadline, inner.clone().oneshot(attempt))
                    .await
                    .ok()?;
                drop(in_flight);
                match result {
                    Ok(ProxyResponse {
                        body: ReplyBody::Stream(sse),
                        ..
                    }) => {
                        deployment.state.success(now.elapsed());
                        tracing::info!(deployment = %deployment.id, prefill, "stream continued");
                        return Some(Continuation {
                            body: Body::new(sse),
                            prefill,
                            deployment: deployment.id.clone(),
                        });
                    }
                    Ok(ProxyResponse {
                        body: ReplyBody::Json(_) | ReplyBody::Other { .. },
                        ..
                    }) => {}
                    Err(_) => {
                        deployment
                            .state
                            .failure(Instant::now(), allowed_fails, cooldown);
                    }
                }
            }
        })
    }
}
