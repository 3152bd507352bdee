//! The cache key: tenant, endpoint, model group and the request body in a canonical form (keys
//! sorted at every depth; `stream`, `user`, `metadata`, `stream_options` and the gateway's own
//! `cache` and `agent` left out). The key holds the canonical bytes themselves, so two requests
//! share an entry only when they are the same request. A `Lookup` carries a cache answer looked
//! up ahead of the cache layer on the request.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::{
    model::Endpoint,
    openai::{JsonBody, canonical::canonical},
};

/// Members that do not change the answer, or belong to the gateway.
const LEFT_OUT: &[&str] = &[
    "stream",
    "user",
    "metadata",
    "stream_options",
    "cache",
    "agent",
];

/// A cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(Arc<[u8]>);

impl CacheKey {
    /// Its size in bytes (for the cache's byte bound).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The key's bytes (tenant, endpoint, group, canonical body).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether it is empty (never, for a built key).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A lookup made ahead of the cache layer: the limit layer starts it alongside the key's
/// admission (`middleware::cache::Prefetch`), so that with both in Redis they share one round trip. The cache
/// layer takes it instead of looking up again; a refused request's lookup is dropped unused.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// The key looked up.
    pub(crate) key: CacheKey,
    /// The stored answer, if there was one.
    pub(crate) answer: Option<Bytes>,
}

/// The key of a request; `None` when the body cannot be canonicalised.
pub fn key(tenant: &str, endpoint: Endpoint, group: &str, body: &JsonBody) -> Option<CacheKey> {
    // Images, audio and multipart uploads are not cached; nor are text-completion streams (the
    // cache replays chat chunks).
    let streamed = body.field::<bool>("stream").ok().flatten() == Some(true);
    if !endpoint.cacheable() || (endpoint == Endpoint::Completions && streamed) {
        return None;
    }
    let Value::Object(mut members) = serde_json::from_slice::<Value>(body.raw()).ok()? else {
        return None;
    };
    for k in LEFT_OUT {
        members.remove(*k);
    }
    let canonical = serde_json::to_vec(&canonical(Value::Object(members))).ok()?;
    let mut out = Vec::with_capacity(tenant.len() + group.len() + canonical.len() + 16);
    for part in [
        tenant.as_bytes(),
        endpoint.name().as_bytes(),
        group.as_bytes(),
    ] {
        out.extend_from_slice(part);
        out.push(0);
    }
    out.extend_from_slice(&canonical);
    Some(CacheKey(out.into()))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn k(tenant: &str, body: &'static str) -> CacheKey {
        key(
            tenant,
            Endpoint::Chat,
            "g",
            &JsonBody::parse(Bytes::from_static(body.as_bytes())).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn normalises_order_and_leaves_out_what_does_not_change_the_answer() {
        let a = k(
            "t",
            r#"{"model":"g","messages":[{"role":"user","content":"hi"}],"tools":[{"b":1,"a":2}]}"#,
        );
        let b = k(
            "t",
            r#"{"tools":[{"a":2,"b":1}],"stream":true,"user":"u1","metadata":{"x":1},"stream_options":{"include_usage":true},"cache":{"ttl":5},"messages":[{"content":"hi","role":"user"}],"model":"g"}"#,
        );
        assert_eq!(a, b);
        assert_ne!(
            a,
            k(
                "t",
                r#"{"model":"g","messages":[{"role":"user","content":"hi!"}]}"#
            )
        );
        assert_ne!(
            a,
            k(
                "other-tenant",
                r#"{"model":"g","messages":[{"role":"user","content":"hi"}],"tools":[{"b":1,"a":2}]}"#
            )
        );
        assert_ne!(
            k("t", r#"{"messages":[],"temperature":0}"#),
            k("t", r#"{"messages":[],"temperature":1}"#),
        );
    }
}
