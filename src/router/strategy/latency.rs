//! `latency-based-routing`: the lowest moving-average latency (time to first token for streams).
//! Deployments within a small band of the best share the load at random; one not yet measured
//! counts as fastest, so every deployment gets measured.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use tokio::time::Instant;

use super::{Deployment, Strategy};

#[derive(Debug)]
pub(super) struct Latency {
    /// Relative band above the best that still counts as a tie.
    band: f64,
}

impl Default for Latency {
    fn default() -> Self {
        Self { band: 0.1 }
    }
}

impl Strategy for Latency {
    fn pick(&self, candidates: &[&Arc<Deployment>], _: Instant) -> usize {
        let latencies: Vec<Duration> = candidates
            .iter()
            .map(|d| d.state.latency().unwrap_or_default())
            .collect();
        let best = latencies.iter().min().copied().unwrap_or_default();
        let limit = best.mul_f64(1.0 + self.band);
        let near: Vec<usize> = (0..candidates.len())
            .filter(|&i| latencies[i] <= limit)
            .collect();
        match near.len() {
            0 => 0,
            1 => near[0],
            n => near[rand::rng().random_range(0..n)],
        }
    }
}
