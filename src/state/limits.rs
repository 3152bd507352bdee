//! Per-key rate limits (SPEC §7): `LimitStore`, with the in-process store (governor GCRA) and the
//! Redis store (one GCRA per key and limit, atomic in a Lua script on the server's clock) side by
//! side. Burst equals the limit (`rpm_limit: 3` admits 3 at once, then one every 20 s); tokens
//! are charged once the usage is known.
//!
//! Redis: admission is one EVALSHA per request (both limits of the key in one script, their
//! state in one Redis key: `TIME`, `GET`, `SET`); the charge is one more after the answer, never
//! retried, so tokens are counted at most once. N replicas on one Redis admit exactly what one
//! would. When Redis is unavailable the store falls back to its in-process limiters (or refuses
//! with 503 under `on_failure: deny`). The scripts are in `lua/`.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::{InMemoryState, NotKeyed},
};

use crate::{
    config::{OnFailure, VirtualKeyConfig},
    error::{GatewayError, LimitInfo, RateLimitScope},
    state::redis::{Redis, digest},
};

/// Where limit state lives.
pub trait LimitStore: Send + Sync {
    /// Admits one request of virtual key `key`, or says when to retry.
    fn admit(&self, key: usize) -> BoxFuture<'_, Result<Vec<Headroom>, GatewayError>>;
    /// Charges `tokens` of usage to virtual key `key` (the admission took one already).
    fn charge(&self, key: usize, tokens: u64);
}

/// What is left of one limit after an admission.
#[derive(Debug, Clone, Copy)]
pub struct Headroom {
    /// `requests` or `tokens`.
    pub what: &'static str,
    /// The limit per minute.
    pub limit: u64,
    /// What is left now.
    pub remaining: u64,
    /// Until the limit is whole again.
    pub reset: Duration,
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// One limit: a GCRA limiter and its per-minute figure.
struct Limit {
    gcra: Gcra,
    per_minute: u64,
    what: &'static str,
}

/// The in-process store: governor limiters per virtual key.
pub struct InProcess {
    keys: Vec<(Option<Limit>, Option<Limit>)>,
    clock: DefaultClock,
}

/// The Redis store; its in-process twin answers while Redis is unavailable.
pub struct RedisLimits {
    redis: Redis,
    keys: Vec<KeyLimits>,
    local: Arc<InProcess>,
}

/// A key's limits, the Redis key of their GCRA state and its admission call.
struct KeyLimits {
    rpm: Option<u64>,
    tpm: Option<u64>,
    /// `EVALSHA` of [`ADMIT`] for this key, built once (a request clones it).
    admit: redis::Cmd,
    /// The theoretical arrival times of both limits (tokens, then requests), in µs of the
    /// server's clock, as two little-endian doubles (`struct.pack('<dd')`): one key, so a script
    /// reads and writes both in one call each, and packing costs less server CPU than formatting
    /// them as text.
    state: String,
}

/// Admits one request against both limits of a key, or refuses without charging either.
/// KEYS: the key's state. ARGV: tpm, rpm (0: no limit). Returns little-endian doubles packed in
/// one string: `1, tokens left, tokens reset µs, requests left, requests reset µs` (-1: no such
/// limit) or `0, 1|2 (tokens|requests), wait µs`. One string, not an array of integers: the
/// redis client's RESP parser cost the gateway about 4k instructions per request for that array.
/// No Lua tables: Redis spends most of its time per limited request in this script.
const ADMIT: &str = concat!(
    include_str!("lua/gcra_state.lua"),
    include_str!("lua/limits_admit.lua")
);

/// Charges ARGV[2] tokens to the tokens TAT of a tpm ARGV[1] limit in the key's state KEYS[1],
/// draining it to empty at most (a GCRA cannot go below empty); the requests TAT is kept.
const CHARGE: &str = concat!(
    include_str!("lua/gcra_state.lua"),
    include_str!("lua/limits_charge.lua")
);

// === impl InProcess ===

impl InProcess {
    /// Limiters for the configured virtual keys.
    pub fn new(keys: &[VirtualKeyConfig]) -> Self {
        let limit = |n: Option<u64>, what| {
            let per_minute = n?;
            let cells = NonZeroU32::new(u32::try_from(per_minute).unwrap_or(u32::MAX))?;
            let quota = Quota::per_minute(cells).allow_burst(cells);
            Some(Limit {
                gcra: RateLimiter::direct(quota).with_middleware::<StateInformationMiddleware>(),
                per_minute,
                what,
            })
        };
        let keys = keys
            .iter()
            .map(|k| (limit(k.rpm_limit, "requests"), limit(k.tpm_limit, "tokens")))
            .collect();
        Self {
            keys,
            clock: DefaultClock::default(),
        }
    }

    fn admit_now(&self, key: usize) -> Result<Vec<Headroom>, GatewayError> {
        let Some((rpm, tpm)) = self.keys.get(key) else {
            return Ok(Vec::new());
        };
        let mut headroom = Vec::with_capacity(2);
        // Tokens first: a request is refused while the key's tokens are spent, without using up a
        // request; the one token it takes is part of its usage anyway.
        for limit in [tpm, rpm].into_iter().flatten() {
            match limit.gcra.check() {
                Ok(snapshot) => headroom.push(limit.headroom(snapshot.remaining_burst_capacity())),
                Err(not_until) => {
                    return Err(limited(
                        limit.what,
                        limit.per_minute,
                        not_until.wait_time_from(self.clock.now()),
                    ));
                }
            }
        }
        Ok(headroom)
    }
}

impl Limit {
    fn headroom(&self, remaining: u32) -> Headroom {
        let per_cell = Duration::from_secs(60).div_f64(self.per_minute.max(1) as f64);
        let missing = self.per_minute.saturating_sub(u64::from(remaining));
        Headroom {
            what: self.what,
            limit: self.per_minute,
            remaining: u64::from(remaining),
            reset: per_cell.mul_f64(missing as f64),
        }
    }
}

impl LimitStore for InProcess {
    fn admit(&self, key: usize) -> BoxFuture<'_, Result<Vec<Headroom>, GatewayError>> {
        Box::pin(std::future::ready(self.admit_now(key)))
    }

    fn charge(&self, key: usize, tokens: u64) {
        let Some((_, Some(tpm))) = self.keys.get(key) else {
            return;
        };
        // The admission took one token. Charge the rest, draining the bucket when the usage is
        // more than what is left (GCRA cannot go below empty).
        let mut left = tokens.saturating_sub(1);
        let mut step = left.min(tpm.per_minute);
        while left > 0 && step > 0 {
            let n = u32::try_from(step.min(left)).unwrap_or(u32::MAX);
            let Some(cells) = NonZeroU32::new(n) else {
                break;
            };
            match tpm.gcra.check_n(cells) {
                Ok(Ok(_)) => left -= u64::from(n),
                // Not that much left: charge less, until the bucket is empty.
                Ok(Err(_)) | Err(_) => step /= 2,
            }
        }
    }
}

fn limited(what: &'static str, limit: u64, wait: Duration) -> GatewayError {
    GatewayError::RateLimited {
        scope: RateLimitScope::Key,
        retry_after: Some(wait),
        limit: Some(LimitInfo { what, limit }),
    }
}

// === impl RedisLimits ===

impl RedisLimits {
    /// Limits of `keys` kept in `redis`. A key's Redis state is named by a digest of the key, so
    /// replicas agree whatever the order of their key lists.
    pub fn new(redis: Redis, keys: &[VirtualKeyConfig]) -> Self {
        let limits = keys
            .iter()
            .map(|k| {
                let state = redis.key("gcra", &digest(k.key.expose().as_bytes()), "");
                let mut admit = Redis::script(admit_script(), 1);
                admit
                    .arg(&state)
                    .arg(k.tpm_limit.unwrap_or(0))
                    .arg(k.rpm_limit.unwrap_or(0));
                KeyLimits {
                    rpm: k.rpm_limit,
                    tpm: k.tpm_limit,
                    admit,
                    state,
                }
            })
            .collect();
        Self {
            redis,
            keys: limits,
            local: Arc::new(InProcess::new(keys)),
        }
    }

    async fn admit_shared(&self, key: usize) -> Result<Vec<Headroom>, GatewayError> {
        let Some(k) = self
            .keys
            .get(key)
            .filter(|k| k.rpm.is_some() || k.tpm.is_some())
        else {
            return Ok(Vec::new());
        };
        match self
            .redis
            .invoke::<Vec<u8>>("limits.admit", admit_script(), &k.admit)
            .await
        {
            Ok(reply) => Ok(decode(&unpack_doubles(&reply), k)?),
            Err(e) => match self.redis.settings().on_failure {
                OnFailure::Deny => Err(GatewayError::LimitsUnavailable),
                OnFailure::Allow => {
                    self.redis.warn_degraded("rate limits", &e);
                    self.local.admit_now(key)
                }
            },
        }
    }
}

/// The doubles of a packed reply, as integers (whole numbers of µs or requests).
fn unpack_doubles(reply: &[u8]) -> Vec<i64> {
    reply
        .chunks_exact(8)
        .map(|c| {
            let bytes: [u8; 8] = c.try_into().unwrap_or_default();
            f64::from_le_bytes(bytes) as i64
        })
        .collect()
}

/// The script's reply as headroom, or the refusal.
fn decode(reply: &[i64], k: &KeyLimits) -> Result<Vec<Headroom>, GatewayError> {
    let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
    match reply {
        [1, tokens_left, tokens_reset, requests_left, requests_reset] => {
            let mut out = Vec::with_capacity(2);
            for (limit, left, reset, what) in [
                (k.tpm, *tokens_left, *tokens_reset, "tokens"),
                (k.rpm, *requests_left, *requests_reset, "requests"),
            ] {
                if let (Some(limit), Ok(remaining)) = (limit, u64::try_from(left)) {
                    out.push(Headroom {
                        what,
                        limit,
                        remaining,
                        reset: us(reset),
                    });
                }
            }
            Ok(out)
        }
        [0, which, wait] => {
            let (what, limit) = if *which == 1 {
                ("tokens", k.tpm.unwrap_or(0))
            } else {
                ("requests", k.rpm.unwrap_or(0))
            };
            Err(limited(what, limit, us(*wait)))
        }
        _ => Err(GatewayError::Internal(
            "unexpected reply from the rate-limit script".into(),
        )),
    }
}

fn admit_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(ADMIT))
}

fn charge_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(CHARGE))
}

impl LimitStore for RedisLimits {
    fn admit(&self, key: usize) -> BoxFuture<'_, Result<Vec<Headroom>, GatewayError>> {
        Box::pin(self.admit_shared(key))
    }

    fn charge(&self, key: usize, tokens: u64) {
        let Some(k) = self.keys.get(key) else {
            return;
        };
        let (Some(tpm), true) = (k.tpm, tokens > 1) else {
            return;
        };
        let redis = self.redis.clone();
        let state = k.state.clone();
        let local = self.local.clone();
        // Off the request path: the answer is already on its way.
        tokio::spawn(async move {
            let mut call = Redis::script(charge_script(), 1);
            call.arg(&state).arg(tpm).arg(tokens - 1);
            if let Err(e) = redis
                .invoke::<i64>("limits.charge", charge_script(), &call)
                .await
            {
                // Counted here instead, so this replica at least keeps its share in check.
                redis.warn_degraded("rate limits", &e);
                local.charge(key, tokens);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn store(rpm: Option<u64>, tpm: Option<u64>) -> InProcess {
        InProcess::new(&[VirtualKeyConfig {
            key: Secret::new("k"),
            models: vec![],
            rpm_limit: rpm,
            tpm_limit: tpm,
            alias: None,
            budget: None,
        }])
    }

    #[test]
    fn burst_equals_the_limit() {
        let s = store(Some(3), None);
        for remaining in [2, 1, 0] {
            let h = s.admit_now(0).unwrap();
            assert_eq!(
                (h[0].what, h[0].limit, h[0].remaining),
                ("requests", 3, remaining)
            );
        }
        let GatewayError::RateLimited {
            retry_after, scope, ..
        } = s.admit_now(0).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(scope, RateLimitScope::Key);
        let wait = retry_after.unwrap();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "one every 20 s: {wait:?}"
        );
    }

    #[test]
    fn tokens_are_charged_after_the_fact() {
        let s = store(None, Some(1000));
        s.admit_now(0).unwrap();
        s.charge(0, 600);
        let h = s.admit_now(0).unwrap();
        // 1000 - 1 (admission) - 599 (the rest of the usage) - 1 (this admission), give or take refill.
        assert!((399..=401).contains(&h[0].remaining), "{h:?}");
        s.charge(0, 5000);
        assert!(
            s.admit_now(0).is_err(),
            "spent tokens refuse the next request"
        );
        assert!(store(None, None).admit_now(0).unwrap().is_empty());
    }
}
