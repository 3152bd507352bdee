//! The retry policy: one classification table for every failure, and the one place backoff is
//! computed (full jitter, at least `retry_after`, honouring the upstream's `Retry-After`).
#![warn(clippy::wildcard_enum_match_arm)]

use std::time::Duration;

use rand::Rng;

use crate::error::{BudgetScope, GatewayError, RateLimitScope, UpstreamError};

/// What the router does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Retry (on another deployment of the group when there is one).
    Retry(RetryReason),
    /// The deployment stayed silent: never try it again for this request; move on at once.
    Silent,
    /// The deployment's own key or model is wrong: cool it down now and move on at once.
    Misconfigured,
    /// Do not retry in this group; go to the fallbacks of this kind.
    Fallback(FallbackKind),
    /// The caller's problem: answer with this error.
    Fail,
}

/// Why an attempt is retried (the `reason` label of `switchyard_retries_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// 429.
    RateLimited,
    /// 500, 502, 503, 504 or a garbled answer.
    ServerError,
    /// Connect error or reset before any response byte.
    Connect,
    /// The attempt timed out (a stream without its first token in time).
    Timeout,
}

/// Which fallback list applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackKind {
    /// `fallbacks`.
    General,
    /// `context_window_fallbacks`.
    ContextWindow,
    /// `content_policy_fallbacks`.
    ContentPolicy,
}

/// Backoff bounds.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// First retry's ceiling; doubles per retry.
    pub base: Duration,
    /// Ceiling of any one wait.
    pub cap: Duration,
    /// `router_settings.retry_after`: the minimum wait.
    pub min: Duration,
}

// === impl RetryReason ===

impl RetryReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::Connect => "connect",
            Self::Timeout => "timeout",
        }
    }
}

/// The classification table (SPEC §6). No wildcard arm: a new error variant forces a decision.
pub fn classify(error: &GatewayError) -> Decision {
    match error {
        GatewayError::Upstream(e) => classify_status(e),
        GatewayError::UpstreamUnreachable { .. } => Decision::Retry(RetryReason::Connect),
        GatewayError::UpstreamGarbled { .. } => Decision::Retry(RetryReason::ServerError),
        GatewayError::UpstreamTimeout { .. } => Decision::Silent,
        GatewayError::NoHealthyDeployment { .. } => Decision::Fallback(FallbackKind::General),
        GatewayError::RateLimited { scope, .. } => match scope {
            RateLimitScope::Deployment => Decision::Fallback(FallbackKind::General),
            RateLimitScope::Key | RateLimitScope::Global => Decision::Fail,
        },
        // A spent model group is out of routing, as if cooled down; a spent key is the caller's.
        GatewayError::BudgetExceeded { scope, .. } => match scope {
            BudgetScope::Model => Decision::Fallback(FallbackKind::General),
            BudgetScope::Key => Decision::Fail,
        },
        GatewayError::InvalidRequest { .. }
        | GatewayError::ModelNotFound { .. }
        | GatewayError::EndpointNotSupported { .. }
        | GatewayError::RequestTooLarge { .. }
        | GatewayError::RequestTimeout { .. }
        | GatewayError::ShuttingDown
        | GatewayError::RouteNotFound { .. }
        | GatewayError::ResponseNotFound { .. }
        | GatewayError::UnknownModel { .. }
        | GatewayError::MethodNotAllowed { .. }
        | GatewayError::Unauthorized { .. }
        | GatewayError::Forbidden { .. }
        | GatewayError::DeadlineExceeded { .. }
        | GatewayError::AgentFailed { .. }
        | GatewayError::LimitsUnavailable
        | GatewayError::Internal(_) => Decision::Fail,
    }
}

fn classify_status(e: &UpstreamError) -> Decision {
    match e.status.as_u16() {
        429 => Decision::Retry(RetryReason::RateLimited),
        500 | 502 | 503 | 504 => Decision::Retry(RetryReason::ServerError),
        401 | 403 | 404 => Decision::Misconfigured,
        400 | 413 | 422 => match special_400(e) {
            Some(kind) => Decision::Fallback(kind),
            None => Decision::Fail,
        },
        500..=599 => Decision::Fallback(FallbackKind::General),
        _ => Decision::Fail,
    }
}

/// A context-window or content-policy error, by code or by the wording providers use.
fn special_400(e: &UpstreamError) -> Option<FallbackKind> {
    let text = String::from_utf8_lossy(&e.body).to_ascii_lowercase();
    let context = [
        "context_length_exceeded",
        "context length",
        "context window",
        "maximum context",
        "too many tokens",
        "prompt is too long",
    ];
    if context.iter().any(|needle| text.contains(needle)) {
        return Some(FallbackKind::ContextWindow);
    }
    if text.contains("content_policy_violation")
        || text.contains("content_filter")
        || text.contains("content management policy")
    {
        return Some(FallbackKind::ContentPolicy);
    }
    None
}

// === impl Backoff ===

impl Backoff {
    /// The wait before retry number `retry` (0-based): full jitter in
    /// `[0, min(cap, base * 2^retry)]`, raised to `min` and to the upstream's `Retry-After`.
    pub fn delay(&self, retry: u32, upstream: Option<Duration>) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << retry.min(16))
            .min(self.cap);
        let jittered = ceiling.mul_f64(rand::rng().random::<f64>());
        jittered.max(self.min).max(upstream.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use http::StatusCode;

    use super::*;

    fn upstream(status: u16, body: &str) -> GatewayError {
        GatewayError::Upstream(UpstreamError {
            deployment: Arc::from("d"),
            status: StatusCode::from_u16(status).unwrap(),
            body: Bytes::from(body.to_owned()),
            retry_after: None,
        })
    }

    #[test]
    fn the_table() {
        use Decision::*;
        let cases = [
            (upstream(429, ""), Retry(RetryReason::RateLimited)),
            (upstream(500, ""), Retry(RetryReason::ServerError)),
            (upstream(502, ""), Retry(RetryReason::ServerError)),
            (upstream(503, ""), Retry(RetryReason::ServerError)),
            (upstream(504, ""), Retry(RetryReason::ServerError)),
            (upstream(501, ""), Fallback(FallbackKind::General)),
            (upstream(400, r#"{"error":{"message":"bad"}}"#), Fail),
            (upstream(401, ""), Misconfigured),
            (upstream(403, ""), Misconfigured),
            (upstream(404, ""), Misconfigured),
            (
                upstream(400, r#"{"error":{"code":"context_length_exceeded"}}"#),
                Fallback(FallbackKind::ContextWindow),
            ),
            (
                upstream(
                    400,
                    r#"{"error":{"message":"This model's maximum context length is 8192 tokens"}}"#,
                ),
                Fallback(FallbackKind::ContextWindow),
            ),
            (
                upstream(400, r#"{"error":{"code":"content_policy_violation"}}"#),
                Fallback(FallbackKind::ContentPolicy),
            ),
            (
                GatewayError::UpstreamUnreachable {
                    deployment: "d".into(),
                    reason: "reset".into(),
                },
                Retry(RetryReason::Connect),
            ),
            (
                GatewayError::UpstreamTimeout {
                    deployment: "d".into(),
                    after: Duration::from_secs(1),
                },
                Silent,
            ),
            (GatewayError::invalid("x", None), Fail),
        ];
        for (error, want) in cases {
            assert_eq!(classify(&error), want, "{error}");
        }
    }

    #[test]
    fn backoff_is_jittered_bounded_and_honours_minimums() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            min: Duration::ZERO,
        };
        for retry in 0..20 {
            let d = b.delay(retry, None);
            let ceiling = Duration::from_millis(100)
                .saturating_mul(1 << retry.min(16))
                .min(Duration::from_secs(2));
            assert!(d <= ceiling, "{retry}: {d:?}");
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| b.delay(3, None)).collect();
        assert!(spread.len() > 40, "full jitter spreads the waits");
        let with_min = Backoff {
            min: Duration::from_millis(500),
            ..b
        };
        assert!(with_min.delay(0, None) >= Duration::from_millis(500));
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }
}
