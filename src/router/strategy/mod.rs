//! Routing strategies: each picks one deployment among the eligible ones of a group (eligible =
//! serves the endpoint, not cooled down, not busy, under its rpm/tpm, not excluded).

mod cost;
mod latency;
mod least_busy;
mod shuffle;
mod usage;

use std::{fmt, sync::Arc};

use rand::Rng;
use tokio::time::Instant;

use super::Deployment;

/// One routing strategy.
pub trait Strategy: Send + Sync + fmt::Debug {
    /// The index in `candidates` (never empty) of the deployment to use.
    fn pick(&self, candidates: &[&Arc<Deployment>], now: Instant) -> usize;
}

/// The strategy for `router_settings.routing_strategy` (validated at config load).
pub fn by_name(name: &str) -> Box<dyn Strategy> {
    match name {
        "least-busy" => Box::new(least_busy::LeastBusy),
        "latency-based-routing" => Box::new(latency::Latency::default()),
        "usage-based-routing" => Box::new(usage::Usage),
        "cost-based-routing" => Box::new(cost::Cost),
        _ => Box::new(shuffle::Shuffle),
    }
}

/// A uniformly random index among those whose score is the lowest (ties spread load).
fn lowest_by<T: PartialOrd + Copy>(
    candidates: &[&Arc<Deployment>],
    score: impl Fn(&Deployment) -> T,
) -> usize {
    let scores: Vec<T> = candidates.iter().map(|d| score(d)).collect();
    let mut best: Vec<usize> = Vec::with_capacity(candidates.len());
    for (i, s) in scores.iter().enumerate() {
        match best.first().map(|&b| scores[b]) {
            None => best.push(i),
            Some(b) if *s < b => {
                best.clear();
                best.push(i);
            }
            Some(b) if *s == b => best.push(i),
            Some(_) => {}
        }
    }
    match best.len() {
        0 => 0,
        1 => best[0],
        n => best[rand::rng().random_range(0..n)],
    }
}

#[cfg(test)]
mod tests;
