//! A circuit breaker for Redis calls: after `TRIP_AFTER` failures in a row it opens and calls fail
//! at once (no waiting on a dead server on the request path); every `RETRY_EVERY` one call is let
//! through as a trial, and the first success closes it again.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Failures in a row that open the breaker.
pub(crate) const TRIP_AFTER: u32 = 3;
/// How often an open breaker lets one trial call through.
pub(crate) const RETRY_EVERY: Duration = Duration::from_millis(500);

/// The breaker's state.
#[derive(Debug)]
pub(crate) struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { next_trial: Instant },
}

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Closed: call.
    Call,
    /// Open, and this caller is the trial.
    Trial,
    /// Open: fail at once.
    Refuse,
}

// === impl Breaker ===

impl Breaker {
    /// A closed breaker.
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Whether a call may go ahead now.
    pub(crate) fn permit(&self) -> Permit {
        let mut state = self.state.lock();
        match *state {
            State::Closed { .. } => Permit::Call,
            State::Open { next_trial } => {
                let now = Instant::now();
                if now >= next_trial {
                    *state = State::Open {
                        next_trial: now + RETRY_EVERY,
                    };
                    Permit::Trial
                } else {
                    Permit::Refuse
                }
            }
        }
    }

    /// Records a success; returns true when this closed an open breaker.
    pub(crate) fn success(&self) -> bool {
        let mut state = self.state.lock();
        let was_open = matches!(*state, State::Open { .. });
        *state = State::Closed { failures: 0 };
        was_open
    }

    /// Records a failure; returns true when this opened the breaker.
    pub(crate) fn failure(&self) -> bool {
        let mut state = self.state.lock();
        match *state {
            State::Closed { failures } if failures + 1 >= TRIP_AFTER => {
                *state = State::Open {
                    next_trial: Instant::now() + RETRY_EVERY,
                };
                true
            }
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::Open { .. } => false,
        }
    }

    /// Whether it is open.
    pub(crate) fn is_open(&self) -> bool {
        matches!(*self.state.lock(), State::Open { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn opens_after_failures_in_a_row_and_lets_one_trial_through() {
        let b = Breaker::new();
        assert!(!b.failure());
        assert!(!b.success(), "closed stays closed");
        for _ in 0..TRIP_AFTER - 1 {
            assert!(!b.failure());
        }
        assert!(b.failure(), "the third failure in a row opens it");
        assert_eq!(b.permit(), Permit::Refuse);
        tokio::time::advance(RETRY_EVERY).await;
        assert_eq!(b.permit(), Permit::Trial);
        assert_eq!(b.permit(), Permit::Refuse, "one trial at a time");
        assert!(b.success(), "the trial's success closes it");
        assert_eq!(b.permit(), Permit::Call);
    }
}
