//! THE model stack, built in one function. The HTTP edge (`api`) runs before it: request id and
//! trace span, then body limit and parse (once), then this stack.
//!
//! Outermost first:
//! 1. `MetricsLayer`  — requests, durations (streams until the last byte), in-flight, tokens,
//!    time to first token, overhead.
//! 2. `RouterLayer`   — model group -> deployment (weighted pick among those serving the endpoint).
//! 3. `AttemptService` — one attempt: the deployment's timeout, its provider adapter over the
//!    pooled client, the JSON answer checked or the SSE stream wrapped for pass-through.
//!
//! Auth, rate limits, cache, agent mode, retries and fallbacks slot in between 1 and 3 as their
//! layers land (SPEC §5 gives the order).

use tower::{ServiceBuilder, util::BoxCloneSyncService};

use crate::{
    attempt::AttemptService, config::RouterSettings, middleware::metrics::MetricsLayer,
    proxy::ProxyService, router::RouterLayer,
};

/// Builds the model stack for one configuration.
pub fn build(router: &RouterSettings) -> ProxyService {
    let stack = ServiceBuilder::new()
        .layer(MetricsLayer::default())
        .layer(RouterLayer::default())
        .service(AttemptService::new(router.stream_idle_timeout));
    BoxCloneSyncService::new(stack)
}
