//! The mock's SSE response body, one frame per event, and the held-stream gate.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::Ordering::Relaxed},
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use hyper::body::{Body, Frame};

use crate::mock::MockStats;

/// Counts a held stream until it passes its gate or goes away.
pub(crate) struct HeldGuard(pub(crate) Arc<MockStats>);

impl Drop for HeldGuard {
    fn drop(&mut self) {
        self.0.held_now.fetch_sub(1, Relaxed);
    }
}

/// The mock's SSE body: one frame per event. In hold mode, the events after the first content
/// chunk wait for the gate, then `delay` apart.
pub(crate) struct MockSse {
    pub(crate) data: Bytes,
    pub(crate) ends: Vec<usize>,
    pub(crate) next: usize,
    pub(crate) pos: usize,
    pub(crate) delay: Duration,
    pub(crate) sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(crate) gate: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    pub(crate) held: Option<HeldGuard>,
}

impl Body for MockSse {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let Some(&end) = this.ends.get(this.next) else {
            return Poll::Ready(None);
        };
        if this.next >= 2 {
            if let Some(gate) = this.gate.as_mut() {
                ready!(gate.as_mut().poll(cx));
                this.gate = None;
                this.held = None;
            }
            if !this.delay.is_zero() {
                let delay = this.delay;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
        }
        let chunk = this.data.slice(this.pos..end);
        this.pos = end;
        this.next += 1;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.ends.len()
    }
}
