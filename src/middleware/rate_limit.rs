//! Per-key rate limits (SPEC §7): requests and tokens per minute for each virtual key, GCRA with
//! a burst equal to the limit (`rpm_limit: 3` admits 3 at once, then one every 20 s). Tokens are
//! charged with the usage once it is known. The state sits behind `LimitStore`, so a shared
//! (Redis) store can replace the in-process one without touching the layer.

use std::{
    num::NonZeroU32,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::BoxFuture;
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::{InMemoryState, NotKeyed},
};
use http::{HeaderMap, HeaderValue};
use tower::{Layer, Service};

use crate::{
    config::VirtualKeyConfig,
    error::{GatewayError, LimitInfo, RateLimitScope},
    middleware::auth::Identity,
    proxy::{ProxyRequest, ProxyResponse, ReplyBody},
};

/// Where limit state lives.
pub trait LimitStore: Send + Sync {
    /// Admits one request of virtual key `key`, or says when to retry.
    fn admit(&self, key: usize) -> Result<Vec<Headroom>, GatewayError>;
    /// Charges `tokens` of usage to virtual key `key`.
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

/// Wires [`RateLimit`].
#[derive(Clone)]
pub struct RateLimitLayer {
    store: Arc<dyn LimitStore>,
}

/// Admits or refuses each request by its key's limits and charges its tokens.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    store: Arc<dyn LimitStore>,
}

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
    fn admit(&self, key: usize) -> Result<Vec<Headroom>, GatewayError> {
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
                    return Err(GatewayError::RateLimited {
                        scope: RateLimitScope::Key,
                        retry_after: Some(not_until.wait_time_from(self.clock.now())),
                        limit: Some(LimitInfo {
                            what: limit.what,
                            limit: limit.per_minute,
                        }),
                    });
                }
            }
        }
        Ok(headroom)
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

// === impl RateLimitLayer ===

impl RateLimitLayer {
    /// The layer over `store`.
    pub fn new(store: Arc<dyn LimitStore>) -> Self {
        Self { store }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;
    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            store: self.store.clone(),
        }
    }
}

impl<S> Service<ProxyRequest> for RateLimit<S>
where
    S: Service<ProxyRequest, Response = ProxyResponse, Error = GatewayError> + Send,
    S::Future: Send + 'static,
{
    type Response = ProxyResponse;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<ProxyResponse, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ProxyRequest) -> Self::Future {
        let Identity::Virtual(key) = request.identity else {
            return Box::pin(self.inner.call(request));
        };
        let headroom = match self.store.admit(key) {
            Ok(h) => h,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let store = self.store.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
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
        }])
    }

    #[test]
    fn burst_equals_the_limit() {
        let s = store(Some(3), None);
        for remaining in [2, 1, 0] {
            let h = s.admit(0).unwrap();
            assert_eq!(
                (h[0].what, h[0].limit, h[0].remaining),
                ("requests", 3, remaining)
            );
        }
        let GatewayError::RateLimited {
            retry_after, scope, ..
        } = s.admit(0).unwrap_err()
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
        s.admit(0).unwrap();
        s.charge(0, 600);
        let h = s.admit(0).unwrap();
        // 1000 - 1 (admission) - 599 (the rest of the usage) - 1 (this admission), give or take refill.
        assert!((399..=401).contains(&h[0].remaining), "{h:?}");
        s.charge(0, 5000);
        assert!(s.admit(0).is_err(), "spent tokens refuse the next request");
        assert!(store(None, None).admit(0).unwrap().is_empty());
    }
}
