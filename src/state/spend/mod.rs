//! Spend counters (SPEC §14): integer micro-dollars per key and per budgeted model group, added
//! once per request. A counter with a period starts over when the period that began with its
//! first spend has passed (LiteLLM's `budget_duration`).
//!
//! The in-process store counts per process; the Redis store counts for the whole fleet.

mod redis;

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::time::Instant;

pub use self::redis::RedisSpend;

/// Where spend lives.
pub trait SpendStore: Send + Sync {
    /// Adds `charge.micros` to each of its counters, exactly once per `charge.id`: writing the
    /// same charge again (a retry after a reconnect) adds nothing.
    fn charge(&self, charge: Charge) -> BoxFuture<'static, Result<(), StoreError>>;
    /// What `counter` holds now.
    fn read(&self, counter: Counter) -> BoxFuture<'static, Result<Spent, StoreError>>;
}

/// One spend counter: a stable, secret-free name and its budget period.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Counter {
    /// `key:<hash of the key>` or `group:<model group>`.
    pub name: Arc<str>,
    /// The budget period, when the counter starts over.
    pub period: Option<Duration>,
}

/// The cost of one request, to be added to its counters.
#[derive(Debug, Clone)]
pub struct Charge {
    /// Unique per request, made by the gateway (never the client's request id).
    pub id: u128,
    /// Micro-dollars.
    pub micros: u64,
    /// The counters it adds to.
    pub counters: Vec<Counter>,
}

/// A counter's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    /// Micro-dollars spent in the current period.
    pub micros: u64,
    /// Until the period ends (`None`: no period, or nothing spent yet).
    pub resets_in: Option<Duration>,
}

/// A store that could not be reached.
#[derive(Debug, Clone, thiserror::Error)]
#[error("spend store unavailable: {0}")]
pub struct StoreError(pub String);

/// Spend counted in this process.
#[derive(Debug, Default)]
pub struct InProcess {
    counters: Mutex<HashMap<Arc<str>, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    micros: u64,
    started: Instant,
}

// === impl InProcess ===

impl InProcess {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn current(entry: Option<Entry>, period: Option<Duration>, now: Instant) -> Option<Entry> {
        entry.filter(|e| period.is_none_or(|p| now < e.started + p))
    }

    /// The value of `counter` now (synchronous: the in-process store never waits).
    pub fn get(&self, counter: &Counter) -> Spent {
        let now = Instant::now();
        let entry = self.counters.lock().get(&counter.name).copied();
        match Self::current(entry, counter.period, now) {
            Some(e) => Spent {
                micros: e.micros,
                resets_in: counter.period.map(|p| (e.started + p) - now),
            },
            None => Spent::default(),
        }
    }

    /// Adds a charge (synchronous).
    pub fn add(&self, charge: &Charge) {
        let now = Instant::now();
        let mut counters = self.counters.lock();
        for c in &charge.counters {
            let entry = counters.get(&c.name).copied();
            let next = match Self::current(entry, c.period, now) {
                Some(e) => Entry {
                    micros: e.micros.saturating_add(charge.micros),
                    ..e
                },
                None => Entry {
                    micros: charge.micros,
                    started: now,
                },
            };
            counters.insert(c.name.clone(), next);
        }
    }
}

impl SpendStore for InProcess {
    fn charge(&self, charge: Charge) -> BoxFuture<'static, Result<(), StoreError>> {
        // One process, one call: nothing can retry this write, so the id is not needed here.
        self.add(&charge);
        Box::pin(std::future::ready(Ok(())))
    }

    fn read(&self, counter: Counter) -> BoxFuture<'static, Result<Spent, StoreError>> {
        let spent = self.get(&counter);
        Box::pin(std::future::ready(Ok(spent)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(period: Option<u64>) -> Counter {
        Counter {
            name: "key:k".into(),
            period: period.map(Duration::from_secs),
        }
    }

    fn charge(micros: u64, c: &Counter) -> Charge {
        Charge {
            id: rand::random(),
            micros,
            counters: vec![c.clone()],
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_period_starts_with_the_first_spend_and_starts_over_after_it() {
        let store = InProcess::new();
        let c = counter(Some(30));
        assert_eq!(store.read(c.clone()).await.unwrap(), Spent::default());
        store.charge(charge(5, &c)).await.unwrap();
        tokio::time::advance(Duration::from_secs(10)).await;
        store.charge(charge(7, &c)).await.unwrap();
        let s = store.read(c.clone()).await.unwrap();
        assert_eq!(s.micros, 12);
        assert_eq!(s.resets_in, Some(Duration::from_secs(20)));
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(store.read(c.clone()).await.unwrap().micros, 0);
        store.charge(charge(3, &c)).await.unwrap();
        let s = store.read(c).await.unwrap();
        assert_eq!((s.micros, s.resets_in), (3, Some(Duration::from_secs(30))));
        // Without a period a counter never starts over.
        let forever = Counter {
            name: "key:f".into(),
            period: None,
        };
        store.charge(charge(4, &forever)).await.unwrap();
        tokio::time::advance(Duration::from_secs(86_400 * 365)).await;
        let s = store.read(forever).await.unwrap();
        assert_eq!((s.micros, s.resets_in), (4, None));
    }
}
