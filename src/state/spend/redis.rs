//! Spend in Redis: one set of counters for the whole fleet, so every replica refuses a key at the
//! same budget. A charge is one Lua script that sets a marker for the charge's id and adds to the
//! counters only if the marker was not there: a write retried after a timeout or a reconnect
//! (its first try may have landed) counts once. Counters are integers (micro-dollars, INCRBY);
//! a budget period is the counter's TTL, set by its first charge, on Redis's clock.
//!
//! While Redis is unavailable, reads fall back to this replica's own counters (SPEC §10) and
//! charges are retried in the background with the same id until Redis answers (for up to
//! [`RETRY_FOR`]); this replica's counters always get every charge too.

use std::{sync::Arc, time::Duration};

use ::redis::Script;
use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::{Charge, Counter, InProcess, SpendStore, Spent, StoreError};
use crate::{
    retry::Backoff,
    state::redis::{Redis, RedisError},
};

/// How long a charge that could not be written is retried.
const RETRY_FOR: Duration = Duration::from_secs(30 * 60);
/// How long a charge's marker lives: longer than any retry of it.
const MARKER_TTL: Duration = Duration::from_secs(45 * 60);

/// KEYS[1] the charge's marker, KEYS[2..] its counters; ARGV[1] micro-dollars, ARGV[2] the marker's
/// TTL (ms), ARGV[3..] each counter's period (ms, 0 for none). Returns 1 when added, 0 when this
/// charge was already counted.
const CHARGE: &str = r"
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  return 0
end
for i = 2, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[1])
  local period = tonumber(ARGV[i + 1])
  if period > 0 and redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], period)
  end
end
return 1
";

/// Spend counted in Redis, with this process's counters as the fallback.
#[derive(Clone)]
pub struct RedisSpend {
    redis: Redis,
    local: Arc<InProcess>,
    script: Arc<Script>,
}

// === impl RedisSpend ===

impl RedisSpend {
    /// Counters in `redis`; `local` is what this replica falls back to.
    pub fn new(redis: Redis, local: Arc<InProcess>) -> Self {
        Self {
            redis,
            local,
            script: Arc::new(Script::new(CHARGE)),
        }
    }

    /// Every spend key shares one hash tag, so a charge's marker and counters are in one slot
    /// (a Redis Cluster runs the script on one node).
    fn key(&self, rest: &str) -> String {
        self.redis.key("spend", "spend", rest)
    }

    async fn write(&self, charge: &Charge) -> Result<(), RedisError> {
        let mut call = Redis::script(&self.script, 1 + charge.counters.len());
        call.arg(self.key(&format!("charge:{:032x}", charge.id)));
        for c in &charge.counters {
            call.arg(self.key(&c.name));
        }
        call.arg(charge.micros).arg(millis(MARKER_TTL));
        for c in &charge.counters {
            call.arg(c.period.map_or(0, millis));
        }
        self.redis
            .invoke::<i64>("spend.charge", &self.script, &call)
            .await
            .map(drop)
    }

    /// Retries a charge until Redis takes it (the marker keeps it from counting twice).
    async fn retry(self, charge: Charge) {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
            min: Duration::from_millis(50),
        };
        let started = Instant::now();
        for n in 0u32.. {
            tokio::time::sleep(backoff.delay(n.min(16), None)).await;
            match self.write(&charge).await {
                Ok(()) => return,
                Err(_) if started.elapsed() < RETRY_FOR => {}
                Err(e) => {
                    tracing::error!(
                        micros = charge.micros,
                        error = %e,
                        "spend charge dropped: Redis did not take it for 30 minutes"
                    );
                    return;
                }
            }
        }
    }
}

impl SpendStore for RedisSpend {
    fn charge(&self, charge: Charge) -> BoxFuture<'static, Result<(), StoreError>> {
        self.local.add(&charge);
        let this = self.clone();
        Box::pin(async move {
            if let Err(e) = this.write(&charge).await {
                this.redis.warn_degraded("spend", &e);
                tokio::spawn(this.retry(charge));
            }
            Ok(())
        })
    }

    fn read(&self, counter: Counter) -> BoxFuture<'static, Result<Spent, StoreError>> {
        let this = self.clone();
        Box::pin(async move {
            let key = this.key(&counter.name);
            let mut pipe = ::redis::pipe();
            pipe.get(&key).cmd("PTTL").arg(&key);
            match this
                .redis
                .pipe::<(Option<u64>, i64)>("spend.read", &pipe)
                .await
            {
                Ok((micros, ttl)) => Ok(Spent {
                    micros: micros.unwrap_or(0),
                    resets_in: u64::try_from(ttl).ok().map(Duration::from_millis),
                }),
                Err(e) => {
                    this.redis.warn_degraded("spend", &e);
                    Ok(this.local.get(&counter))
                }
            }
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
