//! Every family, its help text and its buckets: registered once by [`Metrics::new`].

use prometheus::{
    CounterVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

use std::sync::Arc;

use prometheus::core::Collector;

use super::{ConnectionMetrics, LATENCY_BUCKETS, Metrics, OVERHEAD_BUCKETS, Shared};

impl Metrics {
    /// Registers every family into a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let m = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "switchyard_requests_total",
                    "Requests answered, by model group, deployment, provider and HTTP status.",
                ),
                &["model", "deployment", "provider", "status"],
            )?,
            request_duration: HistogramVec::new(
                HistogramOpts::new(
                    "switchyard_request_duration_seconds",
                    "Whole-request duration (streams: until the last byte).",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["model"],
            )?,
            upstream_duration: HistogramVec::new(
                HistogramOpts::new(
                    "switchyard_upstream_duration_seconds",
                    "Duration of one upstream attempt (streams: until the response head).",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["deployment"],
            )?,
            ttft: HistogramVec::new(
                HistogramOpts::new(
                    "switchyard_time_to_first_token_seconds",
                    "Streams: time from the request to the first content chunk.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["model"],
            )?,
            tokens: IntCounterVec::new(
                Opts::new("switchyard_tokens_total", "Tokens reported by upstreams."),
                &["model", "kind"],
            )?,
            in_flight: IntGaugeVec::new(
                Opts::new("switchyard_in_flight_requests", "Requests being served."),
                &["model"],
            )?,
            overhead: HistogramVec::new(
                HistogramOpts::new(
                    "switchyard_overhead_seconds",
                    "Time spent in the gateway itself: the request minus upstream waiting.",
                )
                .buckets(OVERHEAD_BUCKETS.to_vec()),
                &["model"],
            )?,
            retries: IntCounterVec::new(
                Opts::new(
                    "switchyard_retries_total",
                    "Upstream attempts retried, by model group and reason.",
                ),
                &["model", "reason"],
            )?,
            fallbacks: IntCounterVec::new(
                Opts::new(
                    "switchyard_fallbacks_total",
                    "Hops from a failed model group to its next fallback.",
                ),
                &["from", "to"],
            )?,
            cooldown: IntGaugeVec::new(
                Opts::new(
                    "switchyard_deployment_cooldown",
                    "1 while a deployment is cooled down.",
                ),
                &["deployment"],
            )?,
            shadow_disagreements: IntCounter::new(
                "switchyard_router_shadow_disagreements_total",
                "Picks where the shadow router core (v1) disagreed with the real one (v2).",
            )?,
            rate_limited: IntCounterVec::new(
                Opts::new(
                    "switchyard_rate_limited_total",
                    "Requests refused by a limit of the gateway's own.",
                ),
                &["scope"],
            )?,
            cache: IntCounterVec::new(
                Opts::new(
                    "switchyard_cache_requests_total",
                    "Cache lookups by result.",
                ),
                &["result"],
            )?,
            agent_runs: IntCounterVec::new(
                Opts::new(
                    "switchyard_agent_runs_total",
                    "Agent runs by why they stopped.",
                ),
                &["stopped_reason"],
            )?,
            agent_tool_calls: IntCounterVec::new(
                Opts::new(
                    "switchyard_agent_tool_calls_total",
                    "Agent tool calls by tool and outcome.",
                ),
                &["tool", "outcome"],
            )?,
            endpoint_requests: IntCounterVec::new(
                Opts::new(
                    "switchyard_endpoint_requests_total",
                    "Requests answered, by OpenAI endpoint and HTTP status.",
                ),
                &["endpoint", "status"],
            )?,
            spend: CounterVec::new(
                Opts::new(
                    "switchyard_spend_usd_total",
                    "What answers cost in USD, by model group, deployment and key (alias).",
                ),
                &["model", "deployment", "key"],
            )?,
            redis_up: IntGauge::new(
                "switchyard_redis_up",
                "1 while the shared-state Redis answers, 0 while it is down or not configured.",
            )?,
            redis_duration: HistogramVec::new(
                HistogramOpts::new(
                    "switchyard_redis_command_duration_seconds",
                    "Duration of one Redis round trip, by operation.",
                )
                .buckets(
                    OVERHEAD_BUCKETS
                        .iter()
                        .copied()
                        .chain([0.1, 0.25, 0.5, 1.0])
                        .collect(),
                ),
                &["op"],
            )?,
            redis_batch: Histogram::with_opts(
                HistogramOpts::new(
                    "switchyard_redis_batch_commands",
                    "Commands sent to Redis together in one round trip (requests' commands are batched).",
                )
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            )?,
            redis_errors: IntCounterVec::new(
                Opts::new(
                    "switchyard_redis_errors_total",
                    "Redis calls that failed, by operation and kind (timeout, connection, unavailable, server).",
                ),
                &["op", "kind"],
            )?,
            connections: ConnectionMetrics {
                open: IntGauge::new(
                    "switchyard_open_connections",
                    "Client connections open now.",
                )?,
                refused: IntCounter::new(
                    "switchyard_connections_refused_total",
                    "Client connections closed at once because max_connections were open.",
                )?,
                closed: IntCounterVec::new(
                    Opts::new(
                        "switchyard_connections_closed_total",
                        "Client connections the gateway closed, by reason (header_timeout, idle, drain).",
                    ),
                    &["reason"],
                )?,
            },
            registry,
            families: Arc::default(),
        };
        let build_info = IntGaugeVec::new(
            Opts::new(
                "switchyard_build_info",
                "Always 1; the labels say which build of switchyard is running.",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let families: Vec<Arc<dyn Collector>> = vec![
            Arc::new(m.requests.clone()),
            Arc::new(m.request_duration.clone()),
            Arc::new(m.upstream_duration.clone()),
            Arc::new(m.ttft.clone()),
            Arc::new(m.tokens.clone()),
            Arc::new(m.in_flight.clone()),
            Arc::new(m.overhead.clone()),
            Arc::new(m.retries.clone()),
            Arc::new(m.fallbacks.clone()),
            Arc::new(m.cooldown.clone()),
            Arc::new(m.shadow_disagreements.clone()),
            Arc::new(m.rate_limited.clone()),
            Arc::new(m.cache.clone()),
            Arc::new(m.agent_runs.clone()),
            Arc::new(m.agent_tool_calls.clone()),
            Arc::new(m.endpoint_requests.clone()),
            Arc::new(m.spend.clone()),
            Arc::new(m.redis_up.clone()),
            Arc::new(m.redis_duration.clone()),
            Arc::new(m.redis_errors.clone()),
            Arc::new(m.redis_batch.clone()),
            Arc::new(m.connections.open.clone()),
            Arc::new(m.connections.refused.clone()),
            Arc::new(m.connections.closed.clone()),
            Arc::new(build_info),
            Arc::new(crate::process::ProcessCollector::new()?),
        ];
        let families: Vec<Shared> = families.into_iter().map(Shared).collect();
        for family in &families {
            m.registry.register(Box::new(family.clone()))?;
        }
        let m = Self {
            families: Arc::new(families),
            ..m
        };
        for scope in ["key", "deployment", "global"] {
            m.rate_limited.with_label_values(&[scope]);
        }
        for reason in ["header_timeout", "idle", "drain"] {
            m.connections.closed.with_label_values(&[reason]);
        }
        Ok(m)
    }
}
