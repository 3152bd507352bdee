//! Where cached answers live: `CacheStore`, and the in-process store (moka), bounded in bytes,
//! with a lifetime per entry. A shared (Redis) store implements the same trait.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use moka::{Expiry, sync::Cache};

use super::key::CacheKey;

/// A store of complete answers.
pub trait CacheStore: Send + Sync {
    /// The answer stored under `key`, if any and still fresh.
    fn get(&self, key: &CacheKey) -> BoxFuture<'static, Option<Bytes>>;
    /// Stores `answer` under `key` for `ttl`.
    fn put(&self, key: CacheKey, answer: Bytes, ttl: Duration);
}

#[derive(Clone)]
struct Entry {
    answer: Bytes,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<CacheKey, Entry> for PerEntryTtl {
    #[expect(
        clippy::disallowed_types,
        reason = "moka's Expiry trait is defined over std's Instant"
    )]
    fn expire_after_create(
        &self,
        _: &CacheKey,
        entry: &Entry,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// The in-process store.
pub struct Local {
    cache: Cache<CacheKey, Entry>,
}

impl Local {
    /// A store holding at most `max_bytes` of keys and answers.
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &CacheKey, e: &Entry| {
                u32::try_from(k.len() + e.answer.len()).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self { cache }
    }
}

impl CacheStore for Local {
    fn get(&self, key: &CacheKey) -> BoxFuture<'static, Option<Bytes>> {
        let found = self.cache.get(key).map(|e| e.answer);
        Box::pin(std::future::ready(found))
    }

    fn put(&self, key: CacheKey, answer: Bytes, ttl: Duration) {
        self.cache.insert(key, Entry { answer, ttl });
    }
}
