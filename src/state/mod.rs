//! What replicas share (SPEC §10): one trait per kind of shared state, with the in-process and
//! Redis implementations side by side.
//!
//! - [`cache`]: the response cache (`CacheStore`: moka in process, strings with a TTL in Redis).
//! - [`deployments`]: cooldowns, the one probe after a cooldown, fleet request counts
//!   (`DeploymentEvents`: nothing in process; keys, pub/sub and counters in Redis).
//! - [`limits`]: per-key rpm/tpm (`LimitStore`: governor in process, a GCRA script in Redis).
//! - [`redis`]: the process-wide Redis connection (timeout, circuit breaker, metrics) that every
//!   Redis implementation uses.
//! - [`spend`]: spend counters (SPEC §14), in process or in Redis.

pub mod cache;
pub mod deployments;
pub mod limits;
pub mod redis;
pub mod responses;
pub mod spend;

use crate::config::Config;

/// One line for `switchyard check`: where shared state lives (never the password).
pub fn describe(config: &Config) -> String {
    match &config.redis {
        None => "shared state: per replica (no Redis configured; cache, limits, cooldowns and spend are this process's own)".to_owned(),
        Some(r) => {
            let cache = match &config.cache {
                Some(c) if c.kind == "redis" => "cache in Redis",
                Some(_) => "cache in process (cache_params.type: local)",
                None => "cache off",
            };
            format!(
                "shared state: Redis at {} (namespace `{}`, timeout {:?}, on_failure {:?}): limits, deployment usage, cooldowns and spend in Redis, {cache}; max_parallel_requests per replica",
                r.display(),
                r.namespace,
                r.timeout,
                r.on_failure,
            )
        }
    }
}
