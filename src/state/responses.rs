//! Stored responses (`store: true`): a Response with the conversation that led to it, so
//! `previous_response_id` can continue it and `GET /v1/responses/{id}` return it. `ResponseStore`
//! is the seam; `InProcess` keeps them in this process (moka, bounded in bytes, with a lifetime);
//! `Shared` keeps them in Redis, so a follow-up or GET that lands on another replica finds them.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::redis::Redis;

/// One stored response.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// Who may read it (`Identity::label`): another key sees a 404.
    pub owner: String,
    /// The Response object's JSON, as answered.
    pub response: Bytes,
    /// The conversation sent for it (earlier turns, then this turn's input), as JSON items.
    pub input: Bytes,
    /// The deployment that made it, when it answered natively (a follow-up prefers it).
    pub native_deployment: Option<String>,
}

/// Where stored responses live.
pub trait ResponseStore: Send + Sync {
    /// The response `id`, if stored and not expired.
    fn get(&self, id: &str) -> BoxFuture<'static, Option<Arc<StoredResponse>>>;
    /// Stores `response` under `id` (best effort: a failure to store is logged, not returned).
    fn put(&self, id: String, response: StoredResponse);
    /// Removes `id`; whether it was there.
    fn delete(&self, id: &str) -> BoxFuture<'static, bool>;
}

/// The in-process store.
pub struct InProcess {
    cache: Cache<String, Arc<StoredResponse>>,
}

// === impl InProcess ===

impl InProcess {
    /// A store holding at most `max_bytes` of responses, each for `ttl`.
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, v: &Arc<StoredResponse>| {
                u32::try_from(k.len() + v.response.len() + v.input.len() + v.owner.len())
                    .unwrap_or(u32::MAX)
            })
            .time_to_live(ttl)
            .build();
        Self { cache }
    }
}

impl ResponseStore for InProcess {
    fn get(&self, id: &str) -> BoxFuture<'static, Option<Arc<StoredResponse>>> {
        let found = self.cache.get(id);
        Box::pin(async move { found })
    }

    fn put(&self, id: String, response: StoredResponse) {
        self.cache.insert(id, Arc::new(response));
    }

    fn delete(&self, id: &str) -> BoxFuture<'static, bool> {
        let removed = self.cache.remove(id).is_some();
        Box::pin(async move { removed })
    }
}

/// Stored responses in Redis (one key per response, expiring after the TTL), with this
/// process's store beside it: written too, and read only while Redis cannot answer.
pub struct Shared {
    redis: Redis,
    local: Arc<InProcess>,
    ttl: Duration,
}

/// The Redis value: the response and its conversation as raw JSON.
#[derive(Serialize, Deserialize)]
struct Record<'a> {
    owner: String,
    #[serde(default)]
    native_deployment: Option<String>,
    #[serde(borrow)]
    response: &'a RawValue,
    #[serde(borrow)]
    input: &'a RawValue,
}

// === impl Shared ===

impl Shared {
    /// Responses in `redis` for `ttl`, falling back to `local`.
    pub fn new(redis: Redis, local: Arc<InProcess>, ttl: Duration) -> Self {
        Self { redis, local, ttl }
    }

    fn key(&self, id: &str) -> String {
        self.redis.key("responses", id, "v1")
    }
}

fn encode(s: &StoredResponse) -> Option<Vec<u8>> {
    let response = serde_json::from_slice::<&RawValue>(&s.response).ok()?;
    let input = serde_json::from_slice::<&RawValue>(&s.input).ok()?;
    serde_json::to_vec(&Record {
        owner: s.owner.clone(),
        native_deployment: s.native_deployment.clone(),
        response,
        input,
    })
    .ok()
}

fn decode(bytes: &[u8]) -> Option<StoredResponse> {
    let r: Record<'_> = serde_json::from_slice(bytes).ok()?;
    Some(StoredResponse {
        owner: r.owner,
        native_deployment: r.native_deployment,
        response: Bytes::copy_from_slice(r.response.get().as_bytes()),
        input: Bytes::copy_from_slice(r.input.get().as_bytes()),
    })
}

impl ResponseStore for Shared {
    fn get(&self, id: &str) -> BoxFuture<'static, Option<Arc<StoredResponse>>> {
        let (redis, local, key, id) = (
            self.redis.clone(),
            self.local.clone(),
            self.key(id),
            id.to_owned(),
        );
        Box::pin(async move {
            match redis
                .query::<Option<Vec<u8>>>("responses.get", ::redis::Cmd::get(&key))
                .await
            {
                Ok(found) => found.and_then(|b| decode(&b)).map(Arc::new),
                Err(e) => {
                    redis.warn_degraded("stored responses", &e);
                    local.get(&id).await
                }
            }
        })
    }

    fn put(&self, id: String, response: StoredResponse) {
        let (redis, key, ttl) = (self.redis.clone(), self.key(&id), self.ttl.as_secs().max(1));
        if let Some(value) = encode(&response) {
            tokio::spawn(async move {
                // `take`, not `clone`: the encoded response moves into the command.
                let cmd = ::redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("EX")
                    .arg(ttl)
                    .take();
                if let Err(e) = redis.query::<()>("responses.put", cmd).await {
                    redis.warn_degraded("stored responses", &e);
                }
            });
        }
        self.local.put(id, response);
    }

    fn delete(&self, id: &str) -> BoxFuture<'static, bool> {
        let (redis, key) = (self.redis.clone(), self.key(id));
        let local = self.local.cache.remove(id).is_some();
        Box::pin(async move {
            match redis
                .query::<u64>("responses.delete", ::redis::Cmd::del(&key))
                .await
            {
                Ok(n) => n > 0 || local,
                Err(e) => {
                    redis.warn_degraded("stored responses", &e);
                    local
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(owner: &str) -> StoredResponse {
        StoredResponse {
            owner: owner.into(),
            response: Bytes::from_static(b"{}"),
            input: Bytes::from_static(b"[]"),
            native_deployment: None,
        }
    }

    #[test]
    fn record_round_trip() {
        let s = StoredResponse {
            owner: "key-1".into(),
            response: Bytes::from_static(br#"{"id":"resp_1","output":[]}"#),
            input: Bytes::from_static(br#"[{"type":"message"}]"#),
            native_deployment: Some("d".into()),
        };
        let back = decode(&encode(&s).unwrap()).unwrap();
        assert_eq!(back.owner, "key-1");
        assert_eq!(back.response, s.response);
        assert_eq!(back.input, s.input);
        assert_eq!(back.native_deployment.as_deref(), Some("d"));
    }

    #[tokio::test]
    async fn put_get_delete() {
        let store = InProcess::new(1 << 20, Duration::from_secs(60));
        store.put("resp_1".into(), stored("master"));
        assert_eq!(store.get("resp_1").await.unwrap().owner, "master");
        assert!(store.delete("resp_1").await);
        assert!(store.get("resp_1").await.is_none());
        assert!(!store.delete("resp_1").await);
    }
}
