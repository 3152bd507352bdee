//! THE model stack, built in one function. The HTTP edge (`api`) runs before it: request id and
//! trace span, load shedding (`max_parallel_requests`, before the body is read), key check, then
//! body limit and parse (once), then this stack.
//!
//! Outermost first:
//! 1. `MetricsLayer`   — requests, durations (streams until the last byte), in-flight, tokens,
//!    time to first token, overhead, limits hit.
//! 2. `RateLimitLayer` — each virtual key's rpm/tpm (GCRA); tokens charged once usage is known.
//! 3. `CacheLayer`     — exact-match answers (moka), JSON or replayed as SSE; identical misses
//!    in flight are coalesced into one upstream call.
//! 4. `RouterLayer`    — model group -> deployment through the `RouterCore` seam (v1/v2/shadow);
//!    retries with full-jitter backoff, cooldowns, fallback groups, the whole-request deadline,
//!    mid-stream rescue of streams that break.
//! 5. `AttemptService` — one attempt: the deployment's timeout, its provider adapter over the
//!    pooled client; the JSON answer checked, or the SSE stream read to its first token (so a
//!    failure before then can still switch upstream) and wrapped for pass-through.
//!
//! Agent mode slots in between 3 and 4 when it lands (SPEC §5 gives the order).

use std::sync::Arc;

use tower::{ServiceBuilder, util::BoxCloneSyncService};

use crate::{
    attempt::AttemptService,
    config::Config,
    metrics::Metrics,
    middleware::{
        cache::CacheLayer,
        metrics::MetricsLayer,
        rate_limit::{InProcess, RateLimitLayer},
    },
    proxy::ProxyService,
    router::{RouterLayer, core_by_name},
    runtime::ModelTable,
    sse::StreamLimits,
};

/// Builds the model stack for one configuration.
pub fn build(config: &Config, models: Arc<ModelTable>, metrics: &Metrics) -> ProxyService {
    let router = &config.router;
    let core = core_by_name(
        &router.core,
        &router.strategy,
        metrics.shadow_disagreements(),
    );
    let limits = (!config.keys.is_empty())
        .then(|| RateLimitLayer::new(Arc::new(InProcess::new(&config.keys))));
    let cache = config
        .cache
        .as_ref()
        .map(|c| CacheLayer::new(c, router.deadline, metrics.cache_results()));
    let stack = ServiceBuilder::new()
        .layer(MetricsLayer::new(metrics.clone()))
        .option_layer(limits)
        .option_layer(cache)
        .layer(RouterLayer::new(
            router.clone(),
            core,
            models,
            metrics.router(),
        ))
        .service(
            AttemptService::new(
                router.stream_idle_timeout,
                router.first_token_timeout,
                router.midstream_rescue,
            )
            .with_stream_limits(StreamLimits {
                max_event_bytes: router.max_event_bytes,
                max_before_first_token_bytes: router.max_before_first_token_bytes,
            }),
        );
    BoxCloneSyncService::new(stack)
}
