//! Where cached answers live (SPEC §7): `CacheStore`, with the in-process store (moka, bounded in
//! bytes) and the Redis store (shared by every replica, TTL per entry, an entry size cap) side by
//! side. Keys are the cache layer's per-tenant keys; JSON and assembled streamed answers alike.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use moka::{Expiry, sync::Cache};

use crate::{
    proxy::CacheKey,
    state::redis::{Redis, digest},
};

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

/// Entries larger than this are not stored in Redis (key and answer together).
pub const MAX_REDIS_ENTRY_BYTES: usize = 1 << 20;

/// The Redis store: one string per entry, `PX` = its TTL, shared by every replica. The value
/// carries the full key, checked on read, so two requests share an entry only when they are the
/// same request. While Redis is unavailable the in-process store stands in.
pub struct RedisCache {
    redis: Redis,
    local: Arc<Local>,
}

impl RedisCache {
    /// A store in `redis`; `local_max_bytes` bounds the stand-in used while Redis is down.
    pub fn new(redis: Redis, local_max_bytes: u64) -> Self {
        Self {
            redis,
            local: Arc::new(Local::new(local_max_bytes)),
        }
    }

    fn redis_key(redis: &Redis, key: &CacheKey) -> String {
        redis.key("cache", &digest(key.as_bytes()), "")
    }
}

impl CacheStore for RedisCache {
    fn get(&self, key: &CacheKey) -> BoxFuture<'static, Option<Bytes>> {
        let redis = self.redis.clone();
        let local = self.local.clone();
        let key = key.clone();
        Box::pin(async move {
            let get = redis::Cmd::get(Self::redis_key(&redis, &key));
            match redis.query::<Option<Vec<u8>>>("cache.get", get).await {
                Ok(value) => value.and_then(|v| unpack(v, &key)),
                Err(e) => {
                    redis.warn_degraded("the response cache", &e);
                    local.get(&key).await
                }
            }
        })
    }

    fn put(&self, key: CacheKey, answer: Bytes, ttl: Duration) {
        if key.len() + answer.len() + 4 > MAX_REDIS_ENTRY_BYTES {
            return;
        }
        let redis = self.redis.clone();
        let local = self.local.clone();
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        // Off the request path: the answer is already on its way.
        tokio::spawn(async move {
            let name = Self::redis_key(&redis, &key);
            let value = pack(&key, &answer);
            let cmd = redis::cmd("SET")
                .arg(&name)
                .arg(value)
                .arg("PX")
                .arg(ms)
                .take();
            if let Err(e) = redis.query::<()>("cache.put", cmd).await {
                redis.warn_degraded("the response cache", &e);
                local.put(key, answer, ttl);
            }
        });
    }
}

/// `[key length: u32 BE][key][answer]`.
fn pack(key: &CacheKey, answer: &[u8]) -> Vec<u8> {
    let k = key.as_bytes();
    let mut out = Vec::with_capacity(4 + k.len() + answer.len());
    out.extend_from_slice(&u32::try_from(k.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(k);
    out.extend_from_slice(answer);
    out
}

/// The answer of a packed value (without copying it), if it was stored under this very key.
fn unpack(value: Vec<u8>, key: &CacheKey) -> Option<Bytes> {
    let (len, rest) = value.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.get(..len)? != key.as_bytes() {
        return None;
    }
    Some(Bytes::from(value).slice(4 + len..))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::Endpoint, openai::JsonBody};

    fn key(tenant: &str) -> CacheKey {
        let body = JsonBody::parse(Bytes::from_static(br#"{"model":"g","messages":[]}"#)).unwrap();
        crate::proxy::key(tenant, Endpoint::Chat, "g", &body).unwrap()
    }

    #[test]
    fn a_packed_answer_is_read_back_only_under_its_own_key() {
        let (a, b) = (key("tenant-a"), key("tenant-b"));
        let packed = pack(&a, b"the answer");
        assert_eq!(
            unpack(packed.clone(), &a).as_deref(),
            Some(&b"the answer"[..])
        );
        assert_eq!(unpack(packed.clone(), &b), None, "another tenant's key");
        assert_eq!(
            unpack(packed[..packed.len() - 12].to_vec(), &a),
            None,
            "truncated"
        );
        assert_eq!(
            unpack(vec![0, 0], &a),
            None,
            "shorter than the length prefix"
        );
        assert_eq!(unpack(pack(&a, b""), &a).as_deref(), Some(&b""[..]));
    }
}
