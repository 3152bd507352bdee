//! Process state: the metrics registry and HTTP client live for the whole process; the `Runtime`
//! (config, model table, stack) is swapped whole on reload, so in-flight requests finish on the
//! runtime they started with. The Redis handle (shared state, SPEC §10) is process state too: a
//! reload keeps it, and replaces it only when the Redis settings change.

use std::{path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;

use crate::{
    agent::Agent,
    config::{self, Config, ConfigError, Env, Warning},
    metrics::Metrics,
    providers,
    proxy::{Deployment, DeploymentState, ModelGroup, ModelTable, ProxyService},
    spend::Spend,
    stack,
    state::{
        redis::Redis,
        responses::{InProcess, ResponseStore, Shared},
        spend::{self, RedisSpend, SpendStore},
    },
    upstream::HttpClient,
};

/// Bytes of stored responses one process keeps (the oldest go first beyond it).
const RESPONSES_MAX_BYTES: u64 = 256 << 20;
/// How long a stored response is kept.
const RESPONSES_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Process-wide state shared by every handler.
pub struct AppState {
    runtime: ArcSwap<Runtime>,
    /// Metric families.
    pub metrics: Metrics,
    client: HttpClient,
    /// This process's spend counters: kept across reloads (a reload must not forget what keys
    /// spent); with Redis, what the replica falls back to while Redis is down.
    spend_local: Arc<spend::InProcess>,
    config_path: Option<PathBuf>,
    env: Arc<dyn Env>,
    /// Stored responses kept in this process (`/v1/responses` with `store`); they outlive
    /// config reloads. With Redis they are written there too (`responses()`).
    responses: Arc<InProcess>,
    /// The Redis connection, kept across reloads while its settings stay the same.
    redis: parking_lot::Mutex<Option<Redis>>,
}

/// Everything derived from one config.
pub struct Runtime {
    /// The config.
    pub config: Config,
    /// Model groups by public name.
    pub models: Arc<ModelTable>,
    /// The model stack.
    pub stack: ProxyService,
    /// `max_parallel_requests` permits.
    pub parallel: Arc<tokio::sync::Semaphore>,
    /// Agent mode.
    pub agent: Arc<Agent>,
    /// Prices, budgets and spend.
    pub spend: Arc<Spend>,
    /// Shared state's Redis, when configured (`state::*` stores use it).
    pub redis: Option<Redis>,
}

// === impl AppState ===

impl AppState {
    /// State for `config`; `config_path` is re-read on reload (`None`: the embedded default).
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        env: Arc<dyn Env>,
        metrics: Metrics,
        client: HttpClient,
    ) -> Result<Self, ConfigError> {
        let spend_local = Arc::new(spend::InProcess::new());
        let redis = connect(&config, None, &metrics)?;
        let runtime = Runtime::build(config, &metrics, &client, &spend_local, redis.clone())?;
        Ok(Self {
            runtime: ArcSwap::from_pointee(runtime),
            metrics,
            client,
            spend_local,
            config_path,
            env,
            responses: Arc::new(InProcess::new(RESPONSES_MAX_BYTES, RESPONSES_TTL)),
            redis: parking_lot::Mutex::new(redis),
        })
    }

    /// The runtime in force now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Re-reads the config and swaps the runtime; on error the old one stays in force.
    pub fn reload(&self) -> Result<Vec<Warning>, ConfigError> {
        let (config, warnings) = config::load(self.config_path.as_deref(), &*self.env)?;
        let mut held = self.redis.lock();
        let redis = connect(&config, held.as_ref(), &self.metrics)?;
        let runtime = Runtime::build(
            config,
            &self.metrics,
            &self.client,
            &self.spend_local,
            redis.clone(),
        )?;
        self.runtime.store(Arc::new(runtime));
        *held = redis;
        Ok(warnings)
    }

    /// Where stored responses live under `rt`: Redis when configured (this process's store
    /// beside it), else this process.
    pub fn responses(&self, rt: &Runtime) -> Arc<dyn ResponseStore> {
        match &rt.redis {
            Some(redis) => Arc::new(Shared::new(
                redis.clone(),
                self.responses.clone(),
                RESPONSES_TTL,
            )),
            None => self.responses.clone(),
        }
    }

    /// The Redis connection in force, if any.
    pub fn redis(&self) -> Option<Redis> {
        self.redis.lock().clone()
    }
}

/// The Redis handle for `config`: `current` when its settings are unchanged, else a new one.
fn connect(
    config: &Config,
    current: Option<&Redis>,
    metrics: &Metrics,
) -> Result<Option<Redis>, ConfigError> {
    let Some(settings) = &config.redis else {
        metrics.redis().up.set(0);
        return Ok(None);
    };
    if let Some(redis) = current.filter(|r| r.settings() == settings) {
        return Ok(Some(redis.clone()));
    }
    let redis = Redis::new(settings, metrics.redis()).map_err(|e| ConfigError {
        origin: config.origin.clone(),
        path: "router_settings.redis_url".into(),
        message: e.to_string(),
    })?;
    Ok(Some(redis))
}

// === impl Runtime ===

impl Runtime {
    /// Builds adapters, groups and the stack for `config`.
    pub fn build(
        config: Config,
        metrics: &Metrics,
        client: &HttpClient,
        spend_local: &Arc<spend::InProcess>,
        redis: Option<Redis>,
    ) -> Result<Self, ConfigError> {
        let mut by_name: Vec<(Arc<str>, Vec<Arc<Deployment>>)> = Vec::new();
        for (i, cfg) in config.deployments.iter().enumerate() {
            let provider = providers::build(cfg, client).map_err(|message| ConfigError {
                origin: config.origin.clone(),
                path: format!("model_list (deployment `{}`, entry {i})", cfg.id),
                message,
            })?;
            let deployment = Arc::new(Deployment {
                id: cfg.id.as_str().into(),
                upstream_metric: metrics.upstream(&cfg.id),
                state: DeploymentState::new(metrics.cooldown(&cfg.id))
                    .with_limits(cfg.rpm, cfg.tpm),
                config: cfg.clone(),
                provider,
            });
            match by_name.iter_mut().find(|(n, _)| **n == *cfg.model_name) {
                Some((_, list)) => list.push(deployment),
                None => by_name.push((cfg.model_name.as_str().into(), vec![deployment])),
            }
        }
        let names = by_name.iter().map(|(n, _)| n.clone()).collect();
        let groups = by_name
            .into_iter()
            .map(|(name, deployments)| {
                let group = ModelGroup {
                    metrics: metrics.group(&name),
                    name: name.clone(),
                    deployments,
                };
                (name, Arc::new(group))
            })
            .collect();
        let models = Arc::new(ModelTable::from_parts(groups, names));
        // Spend is counted in Redis when it is configured (once for the fleet), else here.
        let spend_store: Arc<dyn SpendStore> = match &redis {
            Some(r) => Arc::new(RedisSpend::new(r.clone(), spend_local.clone())),
            None => spend_local.clone(),
        };
        let spend = Arc::new(Spend::new(&config, spend_store, metrics.spend()));
        let stack = stack::build(
            &config,
            models.clone(),
            metrics,
            redis.as_ref(),
            spend.clone(),
        );
        let parallel = Arc::new(tokio::sync::Semaphore::new(config.max_parallel_requests));
        let (runs, tool_calls) = metrics.agent();
        let agent = Arc::new(Agent::new(
            config.agent.clone(),
            client.clone(),
            runs,
            tool_calls,
        ));
        Ok(Self {
            models,
            stack,
            parallel,
            agent,
            spend,
            config,
            redis,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml_extra: &str) -> Config {
        let yaml = format!(
            "model_list:\n  - model_name: m\n    litellm_params: {{ model: mock/m }}\n{yaml_extra}"
        );
        config::parse(&yaml, "t.yaml", &std::collections::HashMap::new())
            .unwrap()
            .0
    }

    #[tokio::test]
    async fn a_reload_keeps_the_redis_connection_unless_its_settings_change() {
        let metrics = Metrics::new().unwrap();
        let a = config("router_settings:\n  redis_url: redis://127.0.0.1:1\n");
        let first = connect(&a, None, &metrics).unwrap().unwrap();
        let kept = connect(&a, Some(&first), &metrics).unwrap().unwrap();
        assert!(kept.same(&first), "same settings: the same connection");
        let b = config("router_settings:\n  redis_url: redis://127.0.0.1:2\n");
        let replaced = connect(&b, Some(&first), &metrics).unwrap().unwrap();
        assert!(!replaced.same(&first));
        assert!(
            connect(&config(""), Some(&first), &metrics)
                .unwrap()
                .is_none()
        );
    }
}
