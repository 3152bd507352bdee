//! Model group -> deployment. `RouterLayer` picks a deployment of the request's group and calls
//! the attempt service with it.

use std::{fmt, sync::Arc};

use futures_util::future::BoxFuture;
use prometheus::Histogram;
use rand::Rng;
use tower::{Layer, Service, ServiceExt};

use crate::{
    config::DeploymentConfig,
    error::GatewayError,
    metrics::GroupMetrics,
    providers::Provider,
    proxy::{Endpoint, ProxyRequest, ProxyResponse},
};

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

/// One call of one request to one deployment.
#[derive(Clone)]
pub struct Attempt {
    /// The request (shared across attempts).
    pub request: Arc<ProxyRequest>,
    /// The chosen deployment.
    pub deployment: Arc<Deployment>,
}

/// Wires [`Router`].
#[derive(Debug, Clone, Default)]
pub struct RouterLayer {}

/// Picks a deployment and calls the inner attempt service.
#[derive(Debug, Clone)]
pub struct Router<S> {
    inner: S,
}

// === impl Deployment ===

impl Deployment {
    /// The provider label (`openai`, `azure`, `mock`...).
    pub fn provider_label(&self) -> &'static str {
        self.config.provider.label()
    }

    /// Whether it serves `endpoint`.
    pub fn serves(&self, endpoint: Endpoint) -> bool {
        match endpoint {
            Endpoint::Chat => !self.config.embedding_only,
            Endpoint::Embeddings => self.config.provider.serves_embeddings(),
        }
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

// === impl ModelGroup ===

impl ModelGroup {
    /// Weighted random pick among the deployments serving `endpoint`.
    pub fn pick(&self, endpoint: Endpoint) -> Option<&Arc<Deployment>> {
        let candidates: Vec<&Arc<Deployment>> = self
            .deployments
            .iter()
            .filter(|d| d.serves(endpoint))
            .collect();
        match candidates.as_slice() {
            [] => None,
            [only] => Some(only),
            many => {
                let total: f64 = many.iter().map(|d| d.weight()).sum();
                let mut point = rand::rng().random_range(0.0..total);
                for d in many {
                    point -= d.weight();
                    if point < 0.0 {
                        return Some(d);
                    }
                }
                many.last().copied()
            }
        }
    }
}

// === impl Router ===

impl<S> Layer<S> for RouterLayer {
    type Service = Router<S>;
    fn layer(&self, inner: S) -> Router<S> {
        Router { inner }
    }
}

impl<S> Service<ProxyRequest> for Router<S>
where
    S: Service<Attempt, Response = ProxyResponse, Error = GatewayError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = ProxyResponse;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<ProxyResponse, GatewayError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), GatewayError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ProxyRequest) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let Some(deployment) = request.group.pick(request.endpoint).cloned() else {
                return Err(GatewayError::EndpointNotSupported {
                    model: request.group.name.to_string(),
                    endpoint: request.endpoint.name(),
                });
            };
            let attempt = Attempt {
                request: Arc::new(request),
                deployment,
            };
            let mut response = inner.oneshot(attempt).await?;
            response.attempts = 1;
            Ok(response)
        })
    }
}
