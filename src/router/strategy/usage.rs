//! `usage-based-routing`: the most rpm/tpm headroom (limit minus what its GCRA still owes, the
//! tighter of the two), in absolute units. A deployment without limits always has headroom: it
//! ranks first, by the requests it took this minute.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Deployment, Strategy, lowest_by};

#[derive(Debug)]
pub(super) struct Usage;

impl Strategy for Usage {
    fn pick(&self, candidates: &[&Arc<Deployment>], now: Instant) -> usize {
        lowest_by(candidates, |d| match d.state.headroom(now) {
            None => (0, d.state.usage(now).0),
            Some(headroom) => (1, u64::MAX - headroom),
        })
    }
}
