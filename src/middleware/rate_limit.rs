//! Per-key rate limits (SPEC §7): requests and tokens per minute for each virtual key, GCRA with
//! a burst equal to the limit (`rpm_limit: 3` admits 3 at once, then one every 20 s). Tokens are
//! charged with the usage once it is known. The state sits behind `LimitStore`
//! (`state::limits`: in process, or in Redis shared by every replica).
//!
//! The cache layer's lookup is started here, alongside the admission ([`Prefetch`]): with limits
//! and cache both in Redis, the two commands go out together and share one round trip.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::{FutureExt as _, future::BoxFuture};
use http::{HeaderMap, HeaderValue};
use tower::{Layer, Service};

pub use crate::state::limits::{Headroom, InProcess, LimitStore, RedisLimits};
use crate::{
    error::GatewayError,
    middleware::cache::Prefetch,
    proxy::{Identity, ProxyRequest, ProxyResponse, ReplyBody},
};

/// Wires [`RateLimit`].
#[derive(Clone)]
pub struct RateLimitLayer {
    store: Arc<dyn LimitStore>,
    prefetch: Option<Prefetch>,
}

/// Admits or refuses each request by its key's limits and charges its tokens.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    store: Arc<dyn LimitStore>,
    prefetch: Option<Prefetch>,
}

// === impl RateLimitLayer ===

impl RateLimitLayer {
    /// The layer over `store`.
    pub fn new(store: Arc<dyn LimitStore>) -> Self {
        Self {
            store,
            prefetch: None,
        }
    }

    /// Starts the cache's lookups alongside the admissions (the cache layer sits just inside).
    pub fn with_prefetch(mut self, prefetch: Option<Prefetch>) -> Self {
        self.prefetch = prefetch;
        self
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;
    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            store: self.store.clone(),
            prefetch: self.prefetch.clone(),
        }
    }
}

impl<S> Service<ProxyRequest> for RateLimit<S>
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
        let Identity::Virtual(key) = request.identity else {
            return Box::pin(self.inner.call(request));
        };
        let store = self.store.clone();
        let lookup = self.prefetch.as_ref().and_then(|p| p.start(&request));
        let mut inner = super::take_ready(&mut self.inner);
        Box::pin(async move {
            let headroom = match lookup {
                // Both commands are sent before either answer is awaited.
                Some(lookup) => {
                    let (headroom, lookup) =
                        futures_util::future::try_join(store.admit(key), lookup.map(Ok)).await?;
                    request.cache_lookup = Some(lookup);
                    headroom
                }
                None => store.admit(key).await?,
            };
            let mut response = inner.call(request).await?;
            set_headers(&mut response.headers, &headroom);
            match &mut response.body {
                ReplyBody::Json(_) | ReplyBody::Other { .. } => {
                    store.charge(key, response.usage.map_or(0, |u| u.total_tokens))
                }
                ReplyBody::Stream(sse) => {
                    sse.as_mut().on_end(move |end| {
                        store.charge(key, end.usage.map_or(0, |u| u.total_tokens))
                    });
                }
            }
            Ok(response)
        })
    }
}

/// OpenAI's `x-ratelimit-*` headers for what is left.
pub fn set_headers(headers: &mut HeaderMap, headroom: &[Headroom]) {
    for h in headroom {
        let (limit, remaining, reset) = match h.what {
            "tokens" => (
                "x-ratelimit-limit-tokens",
                "x-ratelimit-remaining-tokens",
                "x-ratelimit-reset-tokens",
            ),
            _ => (
                "x-ratelimit-limit-requests",
                "x-ratelimit-remaining-requests",
                "x-ratelimit-reset-requests",
            ),
        };
        headers.insert(limit, HeaderValue::from(h.limit));
        headers.insert(remaining, HeaderValue::from(h.remaining));
        if let Ok(v) = HeaderValue::from_str(&format!("{}s", h.reset.as_secs_f64().ceil() as u64)) {
            headers.insert(reset, v);
        }
    }
}
