//! Stored responses (`store: true`): a Response with the conversation that led to it, so
//! `previous_response_id` can continue it and `GET /v1/responses/{id}` return it. `ResponseStore`
//! is the seam; `InProcess` keeps them in this process (moka, bounded in bytes, with a lifetime).

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use moka::sync::Cache;

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
