//! GCRA (generic cell rate algorithm) over one theoretical arrival time, burst = limit: the
//! rule a deployment's rpm/tpm follow, as a virtual key's limits do. Pure functions over an
//! instant, so a shared store (Redis) can keep the same arithmetic in a script.

use std::time::Duration;

use tokio::time::Instant;

/// The window a per-minute limit spreads over; with burst = limit, a fresh limit admits `limit`
/// units at once.
const MINUTE: Duration = Duration::from_secs(60);
/// The most debt one charge can add (keeps instant arithmetic far from overflow).
const MAX_DEBT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Time one unit occupies under `limit` per minute.
fn interval(limit: u64, units: u64) -> Duration {
    let secs = 60.0 * units as f64 / limit.max(1) as f64;
    Duration::try_from_secs_f64(secs).map_or(MAX_DEBT, |d| d.min(MAX_DEBT))
}

/// How long until one more unit conforms (zero: now).
pub(crate) fn wait(tat: Instant, now: Instant, limit: u64) -> Duration {
    let next = tat.max(now) + interval(limit, 1);
    next.saturating_duration_since(now).saturating_sub(MINUTE)
}

/// The arrival time after charging `units` (charged whether or not they conform: usage that has
/// happened is owed).
pub(crate) fn charge(tat: Instant, now: Instant, limit: u64, units: u64) -> Instant {
    tat.max(now) + interval(limit, units)
}

/// Units still owed now: the limit minus this is the headroom.
pub(crate) fn used(tat: Instant, now: Instant, limit: u64) -> u64 {
    let owed = tat.saturating_duration_since(now).as_secs_f64();
    (owed * limit as f64 / 60.0).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_equals_the_limit_then_one_per_interval() {
        let now = Instant::now();
        let mut tat = now;
        for _ in 0..2 {
            assert_eq!(wait(tat, now, 2), Duration::ZERO);
            tat = charge(tat, now, 2, 1);
        }
        // rpm 2: the third waits one interval (30 s), not the rest of a minute.
        assert_eq!(wait(tat, now, 2), Duration::from_secs(30));
        assert_eq!(used(tat, now, 2), 2);
        let later = now + Duration::from_secs(30);
        assert_eq!(wait(tat, later, 2), Duration::ZERO);
        assert_eq!(used(tat, later, 2), 1);
    }
}
