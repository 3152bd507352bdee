//! `simple-shuffle`: weighted random by `weight`, else `rpm`, else `tpm`, else equal.

use std::sync::Arc;

use rand::Rng;
use tokio::time::Instant;

use super::{Deployment, Strategy};

#[derive(Debug)]
pub(super) struct Shuffle;

impl Strategy for Shuffle {
    fn pick(&self, candidates: &[&Arc<Deployment>], _: Instant) -> usize {
        let total: f64 = candidates.iter().map(|d| d.weight()).sum();
        let mut point = rand::rng().random_range(0.0..total.max(f64::MIN_POSITIVE));
        for (i, d) in candidates.iter().enumerate() {
            point -= d.weight();
            if point < 0.0 {
                return i;
            }
        }
        candidates.len() - 1
    }
}
