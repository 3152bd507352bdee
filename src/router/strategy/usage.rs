//! `usage-based-routing`: the most rpm/tpm headroom in the current minute. A deployment without
//! limits ranks by the requests it took this minute.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Deployment, Strategy, lowest_by};

#[derive(Debug)]
pub(super) struct Usage;

impl Strategy for Usage {
    fn pick(&self, candidates: &[&Arc<Deployment>], now: Instant) -> usize {
        lowest_by(candidates, |d| {
            let (requests, tokens) = d.state.usage(now);
            let used = |n: u64, limit: Option<u64>| limit.map(|l| n as f64 / l.max(1) as f64);
            // The fraction of its tighter limit used. A deployment without limits always has
            // headroom: it ranks near zero, by the requests it took.
            let fraction = match (used(requests, d.config.rpm), used(tokens, d.config.tpm)) {
                (Some(a), Some(b)) => a.max(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => requests as f64 / 1e9,
            };
            (fraction * 1e6) as u64
        })
    }
}
