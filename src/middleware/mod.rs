//! Middleware: one module per layer.

pub mod budget;
pub mod cache;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;

/// The inner service `poll_ready` made ready, for a call that awaits something before calling
/// it: tower wants that very service called, so it is taken and a fresh clone left in its place.
fn take_ready<S: Clone>(inner: &mut S) -> S {
    let fresh = inner.clone();
    std::mem::replace(inner, fresh)
}
