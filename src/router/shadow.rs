//! Router core `shadow`: `v2` decides, `v1` runs beside it, and every disagreement is counted in
//! `switchyard_router_shadow_disagreements_total`, so a change of core can be checked on live traffic.

use std::sync::Arc;

use prometheus::IntCounter;
use tokio::time::Instant;

use super::{Deployment, RouterCore, V1, V2};

/// v2 for real, v1 in the shadow.
#[derive(Debug)]
pub struct Shadow {
    real: V2,
    shadow: V1,
    disagreements: IntCounter,
}

impl Shadow {
    /// `real` decides; disagreements with `v1` are counted.
    pub fn new(real: V2, disagreements: IntCounter) -> Self {
        Self {
            real,
            shadow: V1,
            disagreements,
        }
    }
}

impl RouterCore for Shadow {
    fn pick(&self, candidates: &[&Arc<Deployment>], now: Instant) -> usize {
        let chosen = self.real.pick(candidates, now);
        if self.shadow.pick(candidates, now) != chosen {
            self.disagreements.inc();
        }
        chosen
    }
}
