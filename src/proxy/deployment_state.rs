//! Live state of one deployment: requests in flight, latency, this minute's usage, its rpm/tpm
//! (GCRA, burst = limit, as for virtual keys: `gcra.rs`), and the cooldown circuit (closed ->
//! open for `cooldown_time` -> half-open: one probe; a success closes it).

use std::{
    collections::VecDeque,
    sync::atomic::{AtomicU32, AtomicU64, Ordering},
    time::Duration,
};

use parking_lot::Mutex;

use super::gcra;
use prometheus::IntGauge;
use tokio::time::Instant;

const MINUTE: Duration = Duration::from_secs(60);
/// Weight of a new latency sample in the moving average.
const EWMA_ALPHA: f64 = 0.3;

/// Whether a deployment can take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Yes.
    Ready,
    /// Cooled down (or a probe is already out) until then.
    Cooling(Instant),
    /// It asked to be left alone (`Retry-After`) until then.
    Busy(Instant),
    /// At its rpm/tpm until then.
    AtLimit(Instant),
}

/// The live state of one deployment.
#[derive(Debug)]
pub struct DeploymentState {
    in_flight: AtomicU32,
    /// Moving average latency in microseconds (0: no sample yet).
    latency_us: AtomicU64,
    health: Mutex<Health>,
    cooldown_gauge: IntGauge,
    /// Requests the whole fleet sent it this wall-clock minute (`state::deployments`), as
    /// `(minute since the epoch, requests)`; 0 when replicas share nothing.
    fleet_requests: Mutex<(u64, u64)>,
    rpm: Option<u64>,
    tpm: Option<u64>,
}

#[derive(Debug)]
struct Health {
    window_start: Instant,
    requests: u64,
    tokens: u64,
    /// GCRA arrival times of the rpm and tpm limits.
    requests_tat: Instant,
    tokens_tat: Instant,
    failures: VecDeque<Instant>,
    circuit: Circuit,
    busy_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Circuit {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// Decrements the in-flight count when dropped.
#[derive(Debug)]
pub struct InFlightGuard<'a>(&'a AtomicU32);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Minutes since the Unix epoch, by this machine's clock.
pub fn wall_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

// === impl DeploymentState ===

impl DeploymentState {
    /// Fresh state; `cooldown_gauge` is this deployment's `switchyard_deployment_cooldown`.
    pub fn new(cooldown_gauge: IntGauge) -> Self {
        cooldown_gauge.set(0);
        let now = Instant::now();
        Self {
            in_flight: AtomicU32::new(0),
            latency_us: AtomicU64::new(0),
            health: Mutex::new(Health {
                window_start: now,
                requests: 0,
                tokens: 0,
                requests_tat: now,
                tokens_tat: now,
                failures: VecDeque::new(),
                circuit: Circuit::Closed,
                busy_until: None,
            }),
            cooldown_gauge,
            fleet_requests: Mutex::new((0, 0)),
            rpm: None,
            tpm: None,
        }
    }

    /// Records what the fleet sent it in wall-clock minute `minute`.
    pub fn set_fleet_requests(&self, minute: u64, requests: u64) {
        *self.fleet_requests.lock() = (minute, requests);
    }

    fn fleet_requests(&self) -> u64 {
        let (minute, n) = *self.fleet_requests.lock();
        if minute == wall_minute() { n } else { 0 }
    }

    /// Whether the next request would be its half-open probe.
    pub fn probe_due(&self, now: Instant) -> bool {
        let h = self.health.lock();
        match h.circuit {
            Circuit::Open { until } => now >= until,
            Circuit::HalfOpen { probing } => !probing,
            Circuit::Closed => false,
        }
    }

    /// Another replica's probe succeeded: close the circuit.
    pub fn recover(&self) {
        let mut h = self.health.lock();
        if h.circuit != Circuit::Closed {
            h.circuit = Circuit::Closed;
            h.failures.clear();
            self.cooldown_gauge.set(0);
        }
    }

    /// The same state enforcing `rpm` and `tpm` (`litellm_params.rpm`/`tpm`).
    pub fn with_limits(mut self, rpm: Option<u64>, tpm: Option<u64>) -> Self {
        self.rpm = rpm.filter(|l| *l > 0);
        self.tpm = tpm.filter(|l| *l > 0);
        self
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Moving average latency, if measured.
    pub fn latency(&self) -> Option<Duration> {
        match self.latency_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Requests and tokens used in the current minute.
    pub fn usage(&self, now: Instant) -> (u64, u64) {
        let fleet = self.fleet_requests();
        let mut h = self.health.lock();
        h.roll(now);
        (h.requests.max(fleet), h.tokens)
    }

    /// Units of its tighter limit it can still take now (limit minus what is owed), or `None`
    /// when it has no rpm/tpm.
    pub fn headroom(&self, now: Instant) -> Option<u64> {
        let fleet = self.fleet_requests();
        let h = self.health.lock();
        // The fleet's requests this minute (with Redis) count as used too.
        let requests = self
            .rpm
            .map(|l| l.saturating_sub(gcra::used(h.requests_tat, now, l).max(fleet)));
        let tokens = self
            .tpm
            .map(|l| l.saturating_sub(gcra::used(h.tokens_tat, now, l)));
        match (requests, tokens) {
            (Some(r), Some(t)) => Some(r.min(t)),
            (one, other) => one.or(other),
        }
    }

    /// Whether it can take a request now, given its limits.
    pub fn availability(&self, now: Instant) -> Availability {
        let mut h = self.health.lock();
        match h.circuit {
            Circuit::Open { until } if now < until => return Availability::Cooling(until),
            Circuit::Open { .. } => {
                h.circuit = Circuit::HalfOpen { probing: false };
                self.cooldown_gauge.set(0);
            }
            Circuit::HalfOpen { probing: true } => {
                return Availability::Cooling(now + Duration::from_millis(100));
            }
            Circuit::HalfOpen { probing: false } | Circuit::Closed => {}
        }
        if let Some(until) = h.busy_until.filter(|u| now < *u) {
            return Availability::Busy(until);
        }
        let wait =
            |tat, limit: Option<u64>| limit.map_or(Duration::ZERO, |l| gcra::wait(tat, now, l));
        let wait = wait(h.requests_tat, self.rpm).max(wait(h.tokens_tat, self.tpm));
        if !wait.is_zero() {
            return Availability::AtLimit(now + wait);
        }
        // What the rest of the fleet sent it this wall-clock minute counts against its rpm too.
        if self.rpm.is_some_and(|l| self.fleet_requests() >= l) {
            h.roll(now);
            return Availability::AtLimit(h.window_start + MINUTE);
        }
        Availability::Ready
    }

    /// Marks the start of an attempt; the guard ends it.
    pub fn begin(&self, now: Instant) -> InFlightGuard<'_> {
        let mut h = self.health.lock();
        h.roll(now);
        h.requests += 1;
        if let Some(limit) = self.rpm {
            h.requests_tat = gcra::charge(h.requests_tat, now, limit, 1);
        }
        if let Circuit::HalfOpen { probing } = &mut h.circuit {
            *probing = true;
        }
        drop(h);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(&self.in_flight)
    }

    /// A successful attempt: closes the circuit and feeds the latency average. Returns whether
    /// this closed a circuit that was not closed (a probe succeeded).
    pub fn success(&self, latency: Duration) -> bool {
        let mut h = self.health.lock();
        let recovered = h.circuit != Circuit::Closed;
        if recovered {
            h.circuit = Circuit::Closed;
            h.failures.clear();
            self.cooldown_gauge.set(0);
        }
        drop(h);
        let sample = latency.as_micros().clamp(1, u128::from(u32::MAX)) as u64;
        let old = self.latency_us.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old as f64 * (1.0 - EWMA_ALPHA) + sample as f64 * EWMA_ALPHA) as u64
        };
        self.latency_us.store(new.max(1), Ordering::Relaxed);
        recovered
    }

    /// A failed attempt. More than `allowed_fails` in a minute (or any failure of a probe) cools
    /// it down for `cooldown`. Returns whether it cooled down now.
    pub fn failure(&self, now: Instant, allowed_fails: u32, cooldown: Duration) -> bool {
        let mut h = self.health.lock();
        while h
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= MINUTE)
        {
            h.failures.pop_front();
        }
        h.failures.push_back(now);
        let trip = matches!(h.circuit, Circuit::HalfOpen { .. })
            || h.failures.len() > allowed_fails as usize;
        if trip {
            h.circuit = Circuit::Open {
                until: now + cooldown,
            };
            h.failures.clear();
            self.cooldown_gauge.set(1);
        }
        trip
    }

    /// Cools it down at once (its key or model is wrong).
    pub fn cool_down(&self, now: Instant, cooldown: Duration) {
        let mut h = self.health.lock();
        h.circuit = Circuit::Open {
            until: now + cooldown,
        };
        h.failures.clear();
        self.cooldown_gauge.set(1);
    }

    /// Leaves it alone until `until` (an upstream `Retry-After`; not a failure).
    pub fn busy_until(&self, until: Instant) {
        let mut h = self.health.lock();
        h.busy_until = Some(h.busy_until.map_or(until, |b| b.max(until)));
    }

    /// Counts tokens against this minute's tpm.
    pub fn add_tokens(&self, now: Instant, tokens: u64) {
        let mut h = self.health.lock();
        h.roll(now);
        h.tokens += tokens;
        if let Some(limit) = self.tpm {
            h.tokens_tat = gcra::charge(h.tokens_tat, now, limit, tokens);
        }
    }

    /// Whether it takes no traffic now: cooled down, or resting after an upstream `Retry-After`
    /// (readiness).
    pub fn is_resting(&self, now: Instant) -> bool {
        let h = self.health.lock();
        matches!(h.circuit, Circuit::Open { until } if now < until)
            || h.busy_until.is_some_and(|until| now < until)
    }

    /// Whether it is cooled down now.
    pub fn is_cooling(&self, now: Instant) -> bool {
        matches!(self.health.lock().circuit, Circuit::Open { until } if now < until)
    }
}

impl Health {
    /// Starts a new minute window when the current one is over.
    fn roll(&mut self, now: Instant) {
        if now.duration_since(self.window_start) >= MINUTE {
            self.window_start = now;
            self.requests = 0;
            self.tokens = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> DeploymentState {
        DeploymentState::new(IntGauge::new("g", "g").unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn more_than_allowed_fails_a_minute_cools_down_then_a_probe_decides() {
        let s = state();
        let cooldown = Duration::from_secs(5);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(!s.failure(now, 3, cooldown));
        }
        assert_eq!(s.availability(now), Availability::Ready);
        assert!(
            s.failure(now, 3, cooldown),
            "the fourth failure within a minute trips"
        );
        assert_eq!(s.availability(now), Availability::Cooling(now + cooldown));
        assert_eq!(s.cooldown_gauge.get(), 1);

        tokio::time::advance(cooldown).await;
        let later = Instant::now();
        assert_eq!(
            s.availability(later),
            Availability::Ready,
            "half-open: one probe"
        );
        let probe = s.begin(later);
        assert!(
            matches!(s.availability(later), Availability::Cooling(_)),
            "only one probe at a time"
        );
        drop(probe);
        assert!(
            s.failure(later, 3, cooldown),
            "a failed probe re-opens at once"
        );

        tokio::time::advance(cooldown).await;
        let now = Instant::now();
        assert_eq!(s.availability(now), Availability::Ready);
        let _probe = s.begin(now);
        s.success(Duration::from_millis(10));
        assert_eq!(s.availability(now), Availability::Ready);
        assert_eq!(s.cooldown_gauge.get(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_older_than_a_minute_do_not_count() {
        let s = state();
        for _ in 0..3 {
            s.failure(Instant::now(), 3, Duration::from_secs(5));
        }
        tokio::time::advance(MINUTE).await;
        assert!(!s.failure(Instant::now(), 3, Duration::from_secs(5)));
    }

    #[tokio::test(start_paused = true)]
    async fn limits_busy_and_latency() {
        let s = state().with_limits(Some(2), None);
        let now = Instant::now();
        let _a = s.begin(now);
        let _b = s.begin(now);
        assert_eq!(s.in_flight(), 2);
        assert_eq!(s.headroom(now), Some(0));
        // GCRA, burst = limit: rpm 2 admits two at once, then one every 30 s.
        assert_eq!(
            s.availability(now),
            Availability::AtLimit(now + Duration::from_secs(30))
        );
        let t = state().with_limits(None, Some(100));
        t.add_tokens(now, 100);
        assert_eq!(
            t.availability(now),
            Availability::AtLimit(now + Duration::from_millis(600))
        );
        tokio::time::advance(MINUTE).await;
        let now = Instant::now();
        assert_eq!(s.availability(now), Availability::Ready, "paid off");
        assert_eq!(t.availability(now), Availability::Ready);
        assert_eq!(s.headroom(now), Some(2));
        s.busy_until(now + Duration::from_secs(3));
        assert_eq!(
            s.availability(now),
            Availability::Busy(now + Duration::from_secs(3))
        );
        assert!(s.is_resting(now));
        assert_eq!(s.latency(), None);
        s.success(Duration::from_millis(100));
        s.success(Duration::from_millis(200));
        assert_eq!(s.latency(), Some(Duration::from_millis(130)));
    }
}
