//! Router core `v1`: the first eligible deployment in config order. No strategy state; the
//! deterministic fallback if `v2` misbehaves.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Deployment, RouterCore};

/// First eligible deployment.
#[derive(Debug, Default)]
pub struct V1;

impl RouterCore for V1 {
    fn pick(&self, candidates: &[&Arc<Deployment>], _: Instant) -> usize {
        let _ = candidates;
        0
    }
}
