//! `CacheLayer` (SPEC §7): exact-match response cache (entries in process or in Redis:
//! `state::cache`; the key and a lookup made ahead of this layer: `proxy::cache_key`). A hit is served as JSON or replayed as SSE
//! according to the request; a miss goes upstream, and its 200 answer (a stream as the assembled
//! completion) is stored. Concurrent identical requests while a miss is in flight wait for that
//! one upstream call instead of each calling upstream.
//!
//! Per request: `Cache-Control: no-cache` (or body `cache: {"no-cache": true}`) skips the lookup,
//! `no-store` skips storing, `cache: {"ttl": N}` sets the entry's lifetime.

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{HeaderValue, header};
use parking_lot::Mutex;
use prometheus::IntCounterVec;
use serde::Deserialize;
use tokio::sync::watch;
use tower::{Layer, Service};

pub use crate::state::cache::{CacheStore, Local, RedisCache};

use crate::{
    config::CacheSettings,
    error::GatewayError,
    model::Endpoint,
    proxy::{CacheKey, Lookup, ProxyRequest, ProxyResponse, ReplyBody, key},
    sse::{SseBody, replay},
    state::redis::Redis,
};

/// Wires [`Cache`].
#[derive(Clone)]
pub struct CacheLayer {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn CacheStore>,
    ttl: Duration,
    shared_across_keys: bool,
    deadline: Duration,
    inflight: Mutex<HashMap<CacheKey, watch::Receiver<Option<Bytes>>>>,
    results: IntCounterVec,
}

/// The cache service.
#[derive(Clone)]
pub struct Cache<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// What the request asks of the cache.
#[derive(Debug, Default, Clone, Copy)]
struct Control {
    lookup: bool,
    store: bool,
    ttl: Option<Duration>,
    /// A `/v1/responses` request: an answer in the Responses format (native) is not kept.
    responses: bool,
}

#[derive(Deserialize, Default)]
struct BodyControl {
    #[serde(rename = "no-cache", default)]
    no_cache: bool,
    #[serde(rename = "no-store", default)]
    no_store: bool,
    #[serde(default)]
    ttl: Option<f64>,
}

/// Starts the cache's lookup of a request before the request reaches the cache layer.
#[derive(Clone)]
pub struct Prefetch {
    shared: Arc<Shared>,
}

/// Removes the in-flight entry when the leading request ends, and hands its answer to the
/// requests waiting on it (dropping it without an answer sends them upstream themselves).
struct Leader {
    shared: Arc<Shared>,
    key: CacheKey,
    sender: Option<watch::Sender<Option<Bytes>>>,
}

// === impl CacheLayer ===

impl CacheLayer {
    /// The cache for `settings`; `deadline` bounds how long a request waits on another's miss.
    /// Entries live in `redis` when given (`cache_params.type: redis`), else in process.
    pub fn new(
        settings: &CacheSettings,
        deadline: Duration,
        results: IntCounterVec,
        redis: Option<&Redis>,
    ) -> Self {
        let store: Arc<dyn CacheStore> = match redis.filter(|_| settings.kind == "redis") {
            Some(redis) => Arc::new(RedisCache::new(redis.clone(), settings.max_bytes)),
            None => Arc::new(Local::new(settings.max_bytes)),
        };
        let shared = Shared {
            store,
            ttl: settings.ttl,
            shared_across_keys: settings.shared_across_keys,
            deadline,
            inflight: Mutex::new(HashMap::new()),
            results,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The handle that starts this cache's lookups early (see [`Lookup`]).
    pub fn prefetch(&self) -> Prefetch {
        Prefetch {
            shared: self.shared.clone(),
        }
    }
}

// === impl Prefetch ===

impl Prefetch {
    /// The lookup the cache layer would make for `request`, started now; `None` when the request
    /// is not looked up (not cacheable, or `no-cache`).
    pub fn start(&self, request: &ProxyRequest) -> Option<BoxFuture<'static, Lookup>> {
        if !Control::read(request).lookup {
            return None;
        }
        let key = self.shared.key_of(request)?;
        let get = self.shared.store.get(&key);
        Some(Box::pin(async move {
            Lookup {
                answer: get.await,
                key,
            }
        }))
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = Cache<S>;
    fn layer(&self, inner: S) -> Cache<S> {
        Cache {
            inner,
            shared: self.shared.clone(),
        }
    }
}

impl<S> Service<ProxyRequest> for Cache<S>
where
    S: Service<ProxyRequest, Response = ProxyResponse, Error = GatewayError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = ProxyResponse;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<ProxyResponse, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: ProxyRequest) -> Self::Future {
        let shared = self.shared.clone();
        let mut inner = super::take_ready(&mut self.inner);
        Box::pin(async move {
            let control = Control::read(&request);
            let looked_up = request.cache_lookup.take();
            let key = match &looked_up {
                Some(lookup) => Some(lookup.key.clone()),
                None => shared.key_of(&request),
            };
            let (Some(key), true) = (key.clone(), control.lookup) else {
                let response = inner.call(request).await?;
                return Ok(shared.finish(
                    response,
                    key.filter(|_| control.store),
                    control,
                    None,
                    "bypass",
                ));
            };
            let found = match looked_up {
                Some(lookup) => lookup.answer,
                None => shared.store.get(&key).await,
            };
            if let Some(answer) = found {
                return Ok(shared.hit(&request, answer));
            }
            // Coalesce: wait for an identical request already on its way upstream.
            let waiting = shared.inflight.lock().get(&key).cloned();
            if let Some(mut rx) = waiting {
                let deadline = request.received + shared.deadline;
                let answer =
                    match tokio::time::timeout_at(deadline, rx.wait_for(Option::is_some)).await {
                        Ok(Ok(answer)) => answer.clone(),
                        _ => None,
                    };
                if let Some(answer) = answer {
                    return Ok(shared.hit(&request, answer));
                }
                let response = inner.call(request).await?;
                return Ok(shared.finish(
                    response,
                    Some(key).filter(|_| control.store),
                    control,
                    None,
                    "miss",
                ));
            }
            let (tx, rx) = watch::channel(None);
            shared.inflight.lock().insert(key.clone(), rx);
            let leader = Leader {
                shared: shared.clone(),
                key: key.clone(),
                sender: Some(tx),
            };
            let response = inner.call(request).await?;
            Ok(shared.finish(
                response,
                Some(key).filter(|_| control.store),
                control,
                Some(leader),
                "miss",
            ))
        })
    }
}

// === impl Shared ===

impl Shared {
    /// The request's cache key (per tenant unless `shared_across_keys`).
    fn key_of(&self, request: &ProxyRequest) -> Option<CacheKey> {
        let tenant = if self.shared_across_keys {
            "shared".to_owned()
        } else {
            request.identity.label()
        };
        key(
            &tenant,
            request.endpoint,
            &request.group.name,
            &request.body,
        )
    }

    /// Labels the answer and arranges for it to be stored (and handed to waiting requests).
    fn finish(
        self: &Arc<Self>,
        mut response: ProxyResponse,
        store_as: Option<CacheKey>,
        control: Control,
        leader: Option<Leader>,
        result: &'static str,
    ) -> ProxyResponse {
        self.results.with_label_values(&[result]).inc();
        response
            .headers
            .insert("x-switchyard-cache", HeaderValue::from_static(result));
        let ttl = control.ttl.unwrap_or(self.ttl);
        let store = self.store.clone();
        let native = control.responses
            && response
                .served_by
                .as_ref()
                .is_some_and(|d| d.config.responses_api);
        let (store_as, leader) = if native {
            (None, None)
        } else {
            (store_as, leader)
        };
        match &mut response.body {
            ReplyBody::Json(answer) => {
                if let Some(key) = store_as {
                    store.put(key, answer.clone(), ttl);
                }
                if let Some(mut leader) = leader {
                    leader.done(answer.clone());
                }
            }
            ReplyBody::Stream(sse) if store_as.is_some() || leader.is_some() => {
                let mut leader = leader;
                sse.as_mut().on_complete(move |answer| {
                    if let Some(key) = store_as {
                        store.put(key, answer.clone(), ttl);
                    }
                    if let Some(leader) = &mut leader {
                        leader.done(answer);
                    }
                });
            }
            // Not cacheable (audio, plain-text transcriptions); the key is `None` for them.
            ReplyBody::Stream(_) | ReplyBody::Other { .. } => {}
        }
        response
    }

    /// A stored answer, as the request wants it.
    fn hit(&self, request: &ProxyRequest, answer: Bytes) -> ProxyResponse {
        self.results.with_label_values(&["hit"]).inc();
        let stream = request.view.stream && request.endpoint == Endpoint::Chat;
        let body = match stream
            .then(|| replay(&answer, request.view.include_usage))
            .flatten()
        {
            Some(sse) => {
                let include_usage = request.view.include_usage;
                let body = SseBody::new(
                    Body::from(sse),
                    Arc::from("cache"),
                    self.deadline,
                    include_usage,
                    false,
                );
                ReplyBody::Stream(Box::pin(body))
            }
            None => ReplyBody::Json(answer),
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("x-switchyard-cache", HeaderValue::from_static("hit"));
        ProxyResponse {
            body,
            served_by: None,
            attempts: 0,
            upstream_wait: Duration::ZERO,
            usage: None,
            overhead: Duration::ZERO,
            headers,
        }
    }
}

// === impl Control ===

impl Control {
    fn read(request: &ProxyRequest) -> Self {
        // Answers are kept in chat format; a group that may answer `/v1/responses` natively
        // is not cached for it.
        let responses = request.responses.is_some();
        let native = responses
            && request
                .group
                .deployments
                .iter()
                .any(|d| d.config.responses_api);
        let mut c = Self {
            lookup: !native,
            store: !native,
            ttl: None,
            responses,
        };
        for value in request.headers.get_all(header::CACHE_CONTROL) {
            let value = value.to_str().unwrap_or_default().to_ascii_lowercase();
            for directive in value.split(',').map(str::trim) {
                match directive {
                    "no-cache" => c.lookup = false,
                    "no-store" => c.store = false,
                    _ => {}
                }
            }
        }
        if let Ok(Some(body)) = request.body.field::<BodyControl>("cache") {
            c.lookup &= !body.no_cache;
            c.store &= !body.no_store;
            c.ttl = body
                .ttl
                .filter(|t| t.is_finite() && *t > 0.0 && *t < 1e8)
                .map(Duration::from_secs_f64);
        }
        c
    }
}

// === impl Leader ===

impl Leader {
    fn done(&mut self, answer: Bytes) {
        if let Some(tx) = self.sender.take() {
            let _ = tx.send(Some(answer));
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.shared.inflight.lock().remove(&self.key);
    }
}
