//! Process state: the metrics registry and HTTP client live for the whole process; the `Runtime`
//! (config, model table, stack) is swapped whole on reload, so in-flight requests finish on the
//! runtime they started with.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;

use crate::{
    agent::Agent,
    config::{self, Config, ConfigError, Env, Warning},
    metrics::Metrics,
    providers,
    proxy::ProxyService,
    router::{Deployment, ModelGroup, state::DeploymentState},
    stack,
    upstream::HttpClient,
};

/// Process-wide state shared by every handler.
pub struct AppState {
    runtime: ArcSwap<Runtime>,
    /// Metric families.
    pub metrics: Metrics,
    client: HttpClient,
    config_path: Option<PathBuf>,
    env: Arc<dyn Env>,
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
}

/// Public model name -> group, plus the names in config order.
pub struct ModelTable {
    groups: HashMap<Arc<str>, Arc<ModelGroup>>,
    names: Vec<Arc<str>>,
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
        let runtime = Runtime::build(config, &metrics, &client)?;
        Ok(Self {
            runtime: ArcSwap::from_pointee(runtime),
            metrics,
            client,
            config_path,
            env,
        })
    }

    /// The runtime in force now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Re-reads the config and swaps the runtime; on error the old one stays in force.
    pub fn reload(&self) -> Result<Vec<Warning>, ConfigError> {
        let (config, warnings) = config::load(self.config_path.as_deref(), &*self.env)?;
        let runtime = Runtime::build(config, &self.metrics, &self.client)?;
        self.runtime.store(Arc::new(runtime));
        Ok(warnings)
    }
}

// === impl Runtime ===

impl Runtime {
    /// Builds adapters, groups and the stack for `config`.
    pub fn build(
        config: Config,
        metrics: &Metrics,
        client: &HttpClient,
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
        let models = Arc::new(ModelTable { groups, names });
        let stack = stack::build(&config, models.clone(), metrics);
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
            config,
        })
    }
}

// === impl ModelTable ===

impl ModelTable {
    /// A table of `groups`, in this order.
    pub fn new(groups: Vec<Arc<ModelGroup>>) -> Self {
        let names = groups.iter().map(|g| g.name.clone()).collect();
        Self {
            groups: groups.into_iter().map(|g| (g.name.clone(), g)).collect(),
            names,
        }
    }

    /// The group for a public name.
    pub fn get(&self, name: &str) -> Option<&Arc<ModelGroup>> {
        self.groups.get(name)
    }

    /// Public names in config order.
    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }

    /// Groups in config order.
    pub fn groups(&self) -> impl Iterator<Item = &Arc<ModelGroup>> {
        self.names.iter().filter_map(|n| self.groups.get(n))
    }
}
