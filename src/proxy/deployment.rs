//! `Deployment` (one upstream, ready to serve) and `ModelGroup` (a public name and its deployments).

use std::{fmt, sync::Arc};

use prometheus::Histogram;

use super::{DeploymentState, Provider};
use crate::{config::DeploymentConfig, metrics::GroupMetrics, model::Endpoint};

/// One deployment, ready to serve.
pub struct Deployment {
    /// Stable id (metric label, `x-switchyard-model-id`).
    pub id: Arc<str>,
    /// Its configuration.
    pub config: DeploymentConfig,
    /// Its adapter.
    pub provider: Arc<dyn Provider>,
    /// Its per-attempt duration histogram.
    pub upstream_metric: Histogram,
    /// Live state: in flight, latency, usage, cooldown.
    pub state: DeploymentState,
}

/// A model group: the public name and its deployments.
pub struct ModelGroup {
    /// Public model name.
    pub name: Arc<str>,
    /// Deployments in config order.
    pub deployments: Vec<Arc<Deployment>>,
    /// Metric handles.
    pub metrics: GroupMetrics,
}

// === impl Deployment ===

impl Deployment {
    /// The provider label (`openai`, `azure`, `mock`...).
    pub fn provider_label(&self) -> &'static str {
        self.config.provider.label()
    }

    /// Whether it serves `endpoint`.
    pub fn serves(&self, endpoint: Endpoint) -> bool {
        self.config.mode.serves(endpoint) && self.config.provider.serves(endpoint)
    }

    /// Whether it may be sent an assistant prefill: `model_info.supports_assistant_prefill`,
    /// else what its provider is known to do.
    pub fn accepts_prefill(&self) -> bool {
        self.config
            .supports_assistant_prefill
            .unwrap_or_else(|| self.config.provider.accepts_prefill())
    }

    /// Routing weight: `weight`, else `rpm`, else `tpm`, else 1 (LiteLLM's order).
    pub fn weight(&self) -> f64 {
        let c = &self.config;
        c.weight
            .or(c.rpm.map(|v| v as f64))
            .or(c.tpm.map(|v| v as f64))
            .filter(|w| *w > 0.0)
            .unwrap_or(1.0)
    }
}

impl fmt::Debug for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deployment")
            .field("id", &self.id)
            .field("provider", &self.provider_label())
            .finish()
    }
}

impl fmt::Debug for ModelGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelGroup")
            .field("name", &self.name)
            .field("deployments", &self.deployments)
            .finish()
    }
}
