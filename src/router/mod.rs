//! Model group -> deployment (SPEC §6). `RouterLayer` owns a request's attempts: it picks a
//! deployment through the `RouterCore` seam, calls the attempt service, classifies failures
//! (`retry.rs`), retries with backoff, cools deployments down, and walks the fallback chain, all
//! within the request's deadline.

mod decide;
mod fallback;
mod rescue;
mod service;
mod shadow;
pub mod strategy;
mod v1;

use std::{fmt, sync::Arc};

use prometheus::IntCounter;
use tokio::time::Instant;

pub use service::{Router, RouterLayer};
pub use shadow::Shadow;
pub use v1::V1;

use crate::proxy::{Deployment, ProxyRequest};

/// One call of one request to one deployment.
#[derive(Clone)]
pub struct Attempt {
    /// The request (shared across attempts).
    pub request: Arc<ProxyRequest>,
    /// The chosen deployment.
    pub deployment: Arc<Deployment>,
}

/// The seam: which eligible deployment serves (`router_settings.router_core`).
pub trait RouterCore: Send + Sync + fmt::Debug {
    /// The index in `candidates` (eligible, in config order, never empty) to use.
    fn pick(&self, candidates: &[&Arc<Deployment>], now: Instant) -> usize;
}

/// Router core `v2`: the configured strategy.
#[derive(Debug)]
pub struct V2(Box<dyn strategy::Strategy>);

impl V2 {
    /// `v2` with the strategy named in `routing_strategy`.
    pub fn new(strategy: &str) -> Self {
        Self(strategy::by_name(strategy))
    }
}

impl RouterCore for V2 {
    fn pick(&self, candidates: &[&Arc<Deployment>], now: Instant) -> usize {
        self.0.pick(candidates, now)
    }
}

/// The core for `router_core` (`v1`, `v2`, `shadow`; validated at config load).
pub fn core_by_name(core: &str, strategy: &str, disagreements: IntCounter) -> Box<dyn RouterCore> {
    match core {
        "v1" => Box::new(V1),
        "shadow" => Box::new(Shadow::new(V2::new(strategy), disagreements)),
        _ => Box::new(V2::new(strategy)),
    }
}

#[cfg(test)]
mod tests;
