//! Prometheus metric families (SPEC §8), registered once into a registry owned by the gateway.
//! Label values come only from config names and bounded enums, never from request text or keys.
//! The families and their help texts are in `families.rs`.

mod families;

use prometheus::{
    CounterVec, Encoder, Histogram, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Registry, TextEncoder,
};

use std::sync::Arc;

use prometheus::core::{Collector, Desc};

use crate::openai::Usage;

/// Latency buckets for whole requests and upstream attempts, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Buckets for the gateway's own time, in seconds (10 µs .. 50 ms).
const OVERHEAD_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05,
];

/// Every metric family of the gateway.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    upstream_duration: HistogramVec,
    ttft: HistogramVec,
    tokens: IntCounterVec,
    in_flight: IntGaugeVec,
    overhead: HistogramVec,
    retries: IntCounterVec,
    fallbacks: IntCounterVec,
    cooldown: IntGaugeVec,
    shadow_disagreements: IntCounter,
    rate_limited: IntCounterVec,
    cache: IntCounterVec,
    agent_runs: IntCounterVec,
    agent_tool_calls: IntCounterVec,
    endpoint_requests: IntCounterVec,
    spend: CounterVec,
    redis_up: IntGauge,
    redis_duration: HistogramVec,
    redis_errors: IntCounterVec,
    redis_batch: Histogram,
    /// Every family registered here, so `/metrics` can show HELP and TYPE of those with no
    /// samples yet (the registry leaves them out).
    families: Arc<Vec<Shared>>,
    connections: ConnectionMetrics,
}

/// The HTTP server's connection counters.
#[derive(Debug, Clone)]
pub struct ConnectionMetrics {
    /// `switchyard_open_connections`.
    pub open: IntGauge,
    /// `switchyard_connections_refused_total`: closed at once because `max_connections` were open.
    pub refused: IntCounter,
    /// `switchyard_connections_closed_total{reason="header_timeout|idle|drain"}`: closed by the
    /// gateway for a client that sent too little.
    pub closed: IntCounterVec,
}

/// Pre-resolved handles for one model group (label lookups done once, at config load).
#[derive(Debug, Clone)]
pub struct GroupMetrics {
    model: String,
    requests: IntCounterVec,
    /// Whole-request duration.
    pub duration: Histogram,
    /// Time to first token of streams.
    pub ttft: Histogram,
    /// Prompt tokens.
    pub prompt_tokens: IntCounter,
    /// Completion tokens.
    pub completion_tokens: IntCounter,
    /// Requests in flight.
    pub in_flight: IntGauge,
    /// Gateway overhead.
    pub overhead: Histogram,
}

/// Metric handles for Redis calls (see `Metrics::redis`).
#[derive(Debug, Clone)]
pub struct RedisMetrics {
    /// `switchyard_redis_up`.
    pub up: IntGauge,
    /// `switchyard_redis_command_duration_seconds{op}`.
    pub duration: HistogramVec,
    /// `switchyard_redis_errors_total{op,kind}`.
    pub errors: IntCounterVec,
    /// `switchyard_redis_batch_commands`.
    pub batch: Histogram,
}

/// Counters the router feeds.
#[derive(Debug, Clone)]
pub struct RouterMetrics {
    /// `switchyard_retries_total{model, reason}`.
    pub retries: IntCounterVec,
    /// `switchyard_fallbacks_total{from, to}`.
    pub fallbacks: IntCounterVec,
}

// === impl Metrics ===

impl Metrics {
    /// Handles for Redis calls.
    pub fn redis(&self) -> RedisMetrics {
        RedisMetrics {
            up: self.redis_up.clone(),
            duration: self.redis_duration.clone(),
            errors: self.redis_errors.clone(),
            batch: self.redis_batch.clone(),
        }
    }

    /// Handles for a model group (use `unknown` for names not in the config).
    pub fn group(&self, model: &str) -> GroupMetrics {
        GroupMetrics {
            model: model.to_owned(),
            requests: self.requests.clone(),
            duration: self.request_duration.with_label_values(&[model]),
            ttft: self.ttft.with_label_values(&[model]),
            prompt_tokens: self.tokens.with_label_values(&[model, "prompt"]),
            completion_tokens: self.tokens.with_label_values(&[model, "completion"]),
            in_flight: self.in_flight.with_label_values(&[model]),
            overhead: self.overhead.with_label_values(&[model]),
        }
    }

    /// The per-attempt histogram of one deployment.
    pub fn upstream(&self, deployment: &str) -> Histogram {
        self.upstream_duration.with_label_values(&[deployment])
    }

    /// The counters the router feeds.
    pub fn router(&self) -> RouterMetrics {
        RouterMetrics {
            retries: self.retries.clone(),
            fallbacks: self.fallbacks.clone(),
        }
    }

    /// The cooldown gauge of one deployment.
    pub fn cooldown(&self, deployment: &str) -> IntGauge {
        self.cooldown.with_label_values(&[deployment])
    }

    /// `switchyard_router_shadow_disagreements_total`.
    pub fn shadow_disagreements(&self) -> IntCounter {
        self.shadow_disagreements.clone()
    }

    /// `switchyard_agent_runs_total{stopped_reason}` and `switchyard_agent_tool_calls_total{tool, outcome}`.
    pub fn agent(&self) -> (IntCounterVec, IntCounterVec) {
        (self.agent_runs.clone(), self.agent_tool_calls.clone())
    }

    /// `switchyard_spend_usd_total{model, deployment, key}`.
    pub fn spend(&self) -> CounterVec {
        self.spend.clone()
    }

    /// The HTTP server's connection counters.
    pub fn connections(&self) -> ConnectionMetrics {
        self.connections.clone()
    }

    /// `switchyard_cache_requests_total{result}`.
    pub fn cache_results(&self) -> IntCounterVec {
        self.cache.clone()
    }

    /// Counts a request refused by one of the gateway's limits.
    pub fn rate_limited(&self, scope: crate::error::RateLimitScope) {
        self.rate_limited.with_label_values(&[scope.label()]).inc();
    }

    /// Counts a request rejected before it reached a deployment.
    pub fn rejected(&self, model: &str, status: u16) {
        self.requests
            .with_label_values(&[model, "none", "none", status_label(status)])
            .inc();
    }

    /// Counts a request to `endpoint` (an `Endpoint` label, or `responses`) answered with
    /// `status` (`switchyard_endpoint_requests_total`).
    pub fn endpoint(&self, endpoint: &'static str, status: u16) {
        self.endpoint_requests
            .with_label_values(&[endpoint, status_label(status)])
            .inc();
    }

    /// The text exposition of every family; a family with no samples yet (labels not seen so
    /// far) still has its HELP and TYPE, so dashboards and alerts find it from the start.
    pub fn encode(&self) -> Result<Vec<u8>, prometheus::Error> {
        use std::io::Write as _;
        let mut out = Vec::with_capacity(16 * 1024);
        let gathered = self.registry.gather();
        TextEncoder::new().encode(&gathered, &mut out)?;
        let present: std::collections::HashSet<&str> = gathered.iter().map(|f| f.name()).collect();
        for family in self.families.iter().flat_map(|c| c.collect()) {
            if family.get_metric().is_empty() && !present.contains(family.name()) {
                let kind = format!("{:?}", family.get_field_type()).to_lowercase();
                let help = family.help().replace('\\', "\\\\").replace('\n', "\\n");
                writeln!(out, "# HELP {} {help}", family.name())?;
                writeln!(out, "# TYPE {} {kind}", family.name())?;
            }
        }
        Ok(out)
    }
}

// === impl GroupMetrics ===

impl GroupMetrics {
    /// Counts one answered request.
    pub fn answered(&self, deployment: &str, provider: &str, status: u16) {
        self.requests
            .with_label_values(&[&self.model, deployment, provider, status_label(status)])
            .inc();
    }

    /// Adds reported token usage.
    pub fn usage(&self, usage: &Usage) {
        self.prompt_tokens.inc_by(usage.prompt_tokens);
        self.completion_tokens.inc_by(usage.completion_tokens);
    }
}

/// Status codes as static strings for the common cases (no allocation per request).
fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => match other / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}

/// A family registered in the registry and also kept by `Metrics` (the registry takes a box).
#[derive(Clone)]
struct Shared(Arc<dyn Collector>);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.0.desc().iter().map(|d| d.fq_name.as_str()).collect();
        f.debug_tuple("Shared").field(&names).finish()
    }
}

impl Collector for Shared {
    fn desc(&self) -> Vec<&Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.0.collect()
    }
}

/// Decrements an in-flight gauge when dropped, however the request ends.
#[derive(Debug)]
pub struct InFlight(IntGauge);

impl InFlight {
    /// Increments `gauge` now.
    pub fn enter(gauge: &IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
