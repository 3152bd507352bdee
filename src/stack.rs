//! THE model stack, built in one function. The HTTP edge (`api`) runs before it: request id and
//! trace span, load shedding (`max_parallel_requests`, before the body is read), key check, then
//! body limit and parse (once), then this stack.
//!
//! Outermost first:
//! 1. `MetricsLayer`   — requests, durations (streams until the last byte), in-flight, tokens,
//!    time to first token, overhead, limits hit.
//!    Also what each answer cost: the cost headers, `switchyard_spend_usd_total`, the payer's
//!    spend counters (`spend/`).
//! 2. `BudgetLayer`    — a virtual key whose `max_budget` is spent is refused here (when any key
//!    has a budget).
//! 3. `RateLimitLayer` — each virtual key's rpm/tpm (GCRA, in process or in Redis); tokens charged
//!    once usage is known. The cache's lookup is started alongside the admission (one Redis
//!    round trip for both); a refused request's lookup is dropped.
//! 4. `CacheLayer`     — exact-match answers (moka or Redis), JSON or replayed as SSE; identical
//!    misses in flight are coalesced into one upstream call.
//! 5. `RouterLayer`    — model group -> deployment through the `RouterCore` seam (v1/v2/shadow);
//!    retries with full-jitter backoff, cooldowns (told to other replicas through
//!    `state::deployments` when Redis is configured), fallback groups, the whole-request deadline,
//!    mid-stream rescue of streams that break; a model group whose budget is spent is skipped
//!    like a cooled-down one.
//! 6. `AttemptService` — one attempt: the deployment's timeout, its provider adapter over the
//!    pooled client; the JSON answer checked, or the SSE stream read to its first token (so a
//!    failure before then can still switch upstream) and wrapped for pass-through.
//!
//! Agent mode runs above this stack (`api/agent.rs`) and re-enters it once per model call.

use std::sync::Arc;

use tower::{ServiceBuilder, util::BoxCloneSyncService};

use crate::{
    attempt::AttemptService,
    config::Config,
    metrics::Metrics,
    middleware::{
        budget::BudgetLayer,
        cache::CacheLayer,
        metrics::MetricsLayer,
        rate_limit::{InProcess, LimitStore, RateLimitLayer, RedisLimits},
    },
    proxy::{ModelTable, ProxyService},
    router::{RouterLayer, core_by_name},
    spend::Spend,
    sse::StreamLimits,
    state::{
        deployments::{DeploymentEvents, Local, RedisDeployments},
        redis::Redis,
    },
};

/// Builds the model stack for one configuration.
pub fn build(
    config: &Config,
    models: Arc<ModelTable>,
    metrics: &Metrics,
    redis: Option<&Redis>,
    spend: Arc<Spend>,
) -> ProxyService {
    let router = &config.router;
    let core = core_by_name(
        &router.core,
        &router.strategy,
        metrics.shadow_disagreements(),
    );
    let budgets = config
        .keys
        .iter()
        .any(|k| k.budget.is_some())
        .then(|| BudgetLayer::new(spend.clone()));
    let group_budgets = spend.has_group_budgets().then(|| spend.clone());
    let cache = config
        .cache
        .as_ref()
        .map(|c| CacheLayer::new(c, router.deadline, metrics.cache_results(), redis));
    let limits = (!config.keys.is_empty()).then(|| {
        let store: Arc<dyn LimitStore> = match redis {
            Some(redis) => Arc::new(RedisLimits::new(redis.clone(), &config.keys)),
            None => Arc::new(InProcess::new(&config.keys)),
        };
        RateLimitLayer::new(store).with_prefetch(cache.as_ref().map(CacheLayer::prefetch))
    });
    let events: Arc<dyn DeploymentEvents> = match redis {
        Some(redis) => Arc::new(RedisDeployments::new(redis.clone(), &models)),
        None => Arc::new(Local),
    };
    let stack = ServiceBuilder::new()
        .layer(MetricsLayer::new(metrics.clone(), spend))
        .option_layer(budgets)
        .option_layer(limits)
        .option_layer(cache)
        .layer(
            RouterLayer::new(router.clone(), core, models, metrics.router(), events)
                .with_group_budgets(group_budgets),
        )
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
