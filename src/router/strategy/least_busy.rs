//! `least-busy`: the fewest requests in flight.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Deployment, Strategy, lowest_by};

#[derive(Debug)]
pub(super) struct LeastBusy;

impl Strategy for LeastBusy {
    fn pick(&self, candidates: &[&Arc<Deployment>], _: Instant) -> usize {
        lowest_by(candidates, |d| d.state.in_flight())
    }
}
