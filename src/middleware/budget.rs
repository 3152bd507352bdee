//! Key budgets (SPEC §14): a virtual key whose `max_budget` is spent for the current
//! `budget_duration` is refused (400, `budget_exceeded`) before anything else is spent on the
//! request: no rate-limit token, no cache lookup, no upstream call. A stream that already started
//! is finished and charged; the key is refused from its next request on.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::future::BoxFuture;
use tower::{Layer, Service};

use crate::{
    error::GatewayError,
    proxy::{ProxyRequest, ProxyResponse},
    spend::{Payer, Spend},
};

/// Wires [`Budget`].
#[derive(Debug, Clone)]
pub struct BudgetLayer {
    spend: Arc<Spend>,
}

/// Refuses requests of keys whose budget is spent.
#[derive(Debug, Clone)]
pub struct Budget<S> {
    inner: S,
    spend: Arc<Spend>,
}

// === impl BudgetLayer ===

impl BudgetLayer {
    /// The layer over `spend`'s accounts.
    pub fn new(spend: Arc<Spend>) -> Self {
        Self { spend }
    }
}

impl<S> Layer<S> for BudgetLayer {
    type Service = Budget<S>;
    fn layer(&self, inner: S) -> Budget<S> {
        Budget {
            inner,
            spend: self.spend.clone(),
        }
    }
}

impl<S> Service<ProxyRequest> for Budget<S>
where
    S: Service<ProxyRequest, Response = ProxyResponse, Error = GatewayError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = ProxyResponse;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<ProxyResponse, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ProxyRequest) -> Self::Future {
        let mut inner = super::take_ready(&mut self.inner);
        let spend = self.spend.clone();
        Box::pin(async move {
            spend.admit(Payer::from(&request.identity)).await?;
            inner.call(request).await
        })
    }
}
