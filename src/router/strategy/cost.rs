//! `cost-based-routing`: the cheapest by `input_cost_per_token + output_cost_per_token`; a
//! deployment without costs counts as most expensive.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Deployment, Strategy, lowest_by};

#[derive(Debug)]
pub(super) struct Cost;

impl Strategy for Cost {
    fn pick(&self, candidates: &[&Arc<Deployment>], _: Instant) -> usize {
        lowest_by(candidates, |d| {
            match (
                d.config.input_cost_per_token,
                d.config.output_cost_per_token,
            ) {
                (None, None) => f64::INFINITY,
                (i, o) => i.unwrap_or(0.0) + o.unwrap_or(0.0),
            }
        })
    }
}
