//! `GatewayError`: every failure a request can meet, and its one mapping to an OpenAI error body.
#![warn(clippy::wildcard_enum_match_arm)]

use std::{sync::Arc, time::Duration};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Serialize;

/// A failure on the request path. `IntoResponse` turns it into an OpenAI error envelope.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The caller sent something malformed (bad JSON, a missing or mistyped field).
    #[error("{message}")]
    InvalidRequest {
        /// Human-readable reason.
        message: String,
        /// The offending body field, when there is one.
        param: Option<&'static str>,
        /// Machine-readable cause.
        code: &'static str,
    },
    /// The requested model name is not in the config.
    #[error(
        "The model `{model}` does not exist or is not served by this gateway. Available models: {available}"
    )]
    ModelNotFound {
        /// What the caller asked for.
        model: String,
        /// The public model names, comma separated.
        available: String,
    },
    /// The model exists but none of its deployments serves this endpoint.
    #[error("The model `{model}` does not support {endpoint}")]
    EndpointNotSupported {
        /// The model group.
        model: String,
        /// The endpoint asked for, e.g. "embeddings".
        endpoint: &'static str,
    },
    /// The body is larger than `general_settings.max_request_size_mb`.
    #[error("Request body is larger than the limit of {limit_bytes} bytes")]
    RequestTooLarge {
        /// The configured limit.
        limit_bytes: usize,
    },
    /// No route matches.
    #[error("Unknown route: {method} {path}")]
    RouteNotFound {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// No key, or a key that is not the master key nor a virtual key.
    #[error("{message}")]
    Unauthorized {
        /// What was wrong (never the key).
        message: String,
    },
    /// The key may not use this model.
    #[error("This API key may not use model `{model}`")]
    Forbidden {
        /// The model group.
        model: String,
    },
    /// The route exists but not for this method.
    #[error("Method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// The upstream answered with an HTTP error status.
    #[error("{0}")]
    Upstream(UpstreamError),
    /// The upstream could not be reached (connect error, reset before any response byte).
    #[error("Could not reach upstream deployment `{deployment}`: {reason}")]
    UpstreamUnreachable {
        /// Deployment id.
        deployment: Arc<str>,
        /// What went wrong, without secrets.
        reason: String,
    },
    /// The upstream answered 200 with a body that is not what the protocol says.
    #[error("Upstream deployment `{deployment}` sent an invalid response: {reason}")]
    UpstreamGarbled {
        /// Deployment id.
        deployment: Arc<str>,
        /// What was wrong with it.
        reason: String,
    },
    /// The upstream did not answer within the per-attempt timeout.
    #[error("Upstream deployment `{deployment}` did not answer within {}s", after.as_secs_f64())]
    UpstreamTimeout {
        /// Deployment id.
        deployment: Arc<str>,
        /// The timeout that expired.
        after: Duration,
    },
    /// A limit of the gateway's own was reached.
    #[error("Rate limit reached ({} limit); retry later", scope.label())]
    RateLimited {
        /// Which limit.
        scope: RateLimitScope,
        /// When to retry.
        retry_after: Option<Duration>,
        /// The limit that was reached, for the `x-ratelimit-*` headers.
        limit: Option<LimitInfo>,
    },
    /// The whole-request deadline passed (all attempts and fallbacks included).
    #[error("The request did not complete within its deadline of {}s", after.as_secs_f64())]
    DeadlineExceeded {
        /// The deadline.
        after: Duration,
    },
    /// No deployment of the group can take traffic now.
    #[error("No healthy deployment is available for model `{model}`")]
    NoHealthyDeployment {
        /// The model group.
        model: String,
        /// When the first one becomes available again.
        retry_after: Option<Duration>,
    },
    /// An agent run ended without any answer to give.
    #[error("The agent run stopped ({reason}) without an answer: {detail}")]
    AgentFailed {
        /// The stopped reason.
        reason: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// A bug or an impossible state; the message carries no secrets.
    #[error("Internal error: {0}")]
    Internal(String),
}

/// A limit that was reached: `requests` or `tokens` per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    /// `requests` or `tokens`.
    pub what: &'static str,
    /// Per minute.
    pub limit: u64,
}

/// Which of the gateway's limits was reached (the `scope` label of `switchyard_rate_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitScope {
    /// A virtual key's rpm/tpm.
    Key,
    /// Every deployment of the group is at its rpm/tpm.
    Deployment,
    /// `max_parallel_requests`.
    Global,
}

impl RateLimitScope {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Deployment => "deployment",
            Self::Global => "global",
        }
    }
}

/// An upstream's own HTTP error answer, kept whole so it can be passed through or classified.
#[derive(Debug, Clone)]
pub struct UpstreamError {
    /// Deployment id that answered.
    pub deployment: Arc<str>,
    /// The upstream status.
    pub status: StatusCode,
    /// The upstream body (an OpenAI error envelope when the upstream speaks OpenAI).
    pub body: Bytes,
    /// `Retry-After` / `retry-after-ms` from the upstream, if any.
    pub retry_after: Option<Duration>,
}

/// The bounded classification of an error, used as a metric label and for logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's fault (4xx before any upstream call).
    Client,
    /// The upstream rate-limited (429).
    RateLimited,
    /// The upstream failed with 5xx.
    ServerError,
    /// The upstream rejected the deployment's own key or model (401/403/404).
    Misconfigured,
    /// The upstream returned another 4xx, which belongs to the caller.
    UpstreamClient,
    /// Connection-level failure.
    Connect,
    /// A timeout.
    Timeout,
    /// Garbled upstream data.
    Garbled,
    /// Nothing to route to.
    Unavailable,
    /// Gateway bug.
    Internal,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: &'a str,
}

/// The upstream's own error envelope, checked before passing it through untouched.
#[derive(serde::Deserialize)]
struct UpstreamEnvelope<'a> {
    #[serde(borrow)]
    error: UpstreamBody<'a>,
}

#[derive(serde::Deserialize)]
struct UpstreamBody<'a> {
    #[serde(borrow, default)]
    message: Option<std::borrow::Cow<'a, str>>,
}

// === impl GatewayError ===

impl GatewayError {
    /// A 400 with `code: invalid_request_error`-style details.
    pub fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            param,
            code: "invalid_request",
        }
    }

    /// The HTTP status the caller sees.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. } => StatusCode::BAD_REQUEST,
            Self::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Upstream(e) => e.client_status(),
            Self::UpstreamUnreachable { .. }
            | Self::UpstreamGarbled { .. }
            | Self::AgentFailed { .. } => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout { .. } | Self::DeadlineExceeded { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NoHealthyDeployment { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The bounded kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::RequestTooLarge { .. }
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. } => ErrorKind::Client,
            Self::Upstream(e) => e.kind(),
            Self::UpstreamUnreachable { .. } => ErrorKind::Connect,
            Self::UpstreamGarbled { .. } => ErrorKind::Garbled,
            Self::AgentFailed { .. } => ErrorKind::Internal,
            Self::UpstreamTimeout { .. } | Self::DeadlineExceeded { .. } => ErrorKind::Timeout,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::NoHealthyDeployment { .. } => ErrorKind::Unavailable,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The deployment the error came from, if an upstream was involved.
    pub fn deployment(&self) -> Option<&Arc<str>> {
        match self {
            Self::Upstream(e) => Some(&e.deployment),
            Self::UpstreamUnreachable { deployment, .. }
            | Self::UpstreamGarbled { deployment, .. }
            | Self::UpstreamTimeout { deployment, .. } => Some(deployment),
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::RequestTooLarge { .. }
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::DeadlineExceeded { .. }
            | Self::RateLimited { .. }
            | Self::NoHealthyDeployment { .. }
            | Self::AgentFailed { .. }
            | Self::Internal(_) => None,
        }
    }

    /// The OpenAI `type` field.
    fn error_type(&self) -> &'static str {
        match self.status().as_u16() {
            400 | 405 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            _ => "api_error",
        }
    }

    /// The OpenAI `code` field: a string naming the cause.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { code, .. } => code,
            Self::ModelNotFound { .. } => "model_not_found",
            Self::EndpointNotSupported { .. } => "endpoint_not_supported",
            Self::RequestTooLarge { .. } => "request_too_large",
            Self::RouteNotFound { .. } => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Unauthorized { .. } => "invalid_api_key",
            Self::Forbidden { .. } => "model_not_allowed",
            Self::Upstream(e) => e.code(),
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamGarbled { .. } => "upstream_invalid_response",
            Self::AgentFailed { .. } => "agent_failed",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::DeadlineExceeded { .. } => "deadline_exceeded",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::NoHealthyDeployment { .. } => "no_healthy_deployment",
            Self::Internal(_) => "internal_error",
        }
    }

    fn param(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest { param, .. } => *param,
            Self::ModelNotFound { .. } | Self::EndpointNotSupported { .. } => Some("model"),
            Self::RequestTooLarge { .. }
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::Upstream(_)
            | Self::UpstreamUnreachable { .. }
            | Self::UpstreamGarbled { .. }
            | Self::AgentFailed { .. }
            | Self::UpstreamTimeout { .. }
            | Self::DeadlineExceeded { .. }
            | Self::RateLimited { .. }
            | Self::NoHealthyDeployment { .. }
            | Self::Internal(_) => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Upstream(e) => e.retry_after,
            Self::NoHealthyDeployment { retry_after, .. }
            | Self::RateLimited { retry_after, .. } => *retry_after,
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::RequestTooLarge { .. }
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::UpstreamUnreachable { .. }
            | Self::UpstreamGarbled { .. }
            | Self::AgentFailed { .. }
            | Self::UpstreamTimeout { .. }
            | Self::DeadlineExceeded { .. }
            | Self::Internal(_) => None,
        }
    }

    /// The OpenAI error envelope as JSON bytes (also used for in-band SSE error events).
    pub fn to_json(&self) -> Bytes {
        if let Self::Upstream(e) = self {
            if let Some(body) = e.passthrough_body() {
                return body;
            }
        }
        let message = self.to_string();
        let body = Envelope {
            error: Body {
                message: &message,
                kind: self.error_type(),
                param: self.param(),
                code: self.code(),
            },
        };
        // Serialising a struct of strings cannot fail; fall back to a fixed body regardless.
        serde_json::to_vec(&body).map(Bytes::from).unwrap_or_else(|_| {
            Bytes::from_static(br#"{"error":{"message":"internal error","type":"api_error","param":null,"code":"internal_error"}}"#)
        })
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.to_json()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(after) = self.retry_after() {
            // Round up: a client that waits the whole seconds must find the way open.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            if let Self::RateLimited {
                limit: Some(info), ..
            } = &self
            {
                let (limit, remaining, reset) = match info.what {
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
                headers.insert(limit, HeaderValue::from(info.limit));
                headers.insert(remaining, HeaderValue::from(0));
                if let Ok(v) = HeaderValue::from_str(&format!("{secs}s")) {
                    headers.insert(reset, v);
                }
            }
        }
        response.extensions_mut().insert(LoggedError {
            message: self.to_string().into(),
            code: self.code(),
        });
        response
    }
}

/// Stored in response extensions so the edge logs the failure once (SPEC: no logging in constructors).
#[derive(Debug, Clone)]
pub struct LoggedError {
    /// The error message (no secrets).
    pub message: Arc<str>,
    /// The error code.
    pub code: &'static str,
}

// === impl UpstreamError ===

impl UpstreamError {
    /// The status the caller sees: the upstream's own, except that a 401/403/404 means the
    /// deployment's key or model is wrong, which is a gateway-side (502) problem, not the caller's.
    fn client_status(&self) -> StatusCode {
        match self.status.as_u16() {
            401 | 403 | 404 => StatusCode::BAD_GATEWAY,
            _ => self.status,
        }
    }

    fn code(&self) -> &'static str {
        match self.status.as_u16() {
            401 | 403 => "upstream_auth_failed",
            404 => "upstream_model_not_found",
            429 => "rate_limit_exceeded",
            400..=499 => "upstream_invalid_request",
            _ => "upstream_error",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self.status.as_u16() {
            429 => ErrorKind::RateLimited,
            401 | 403 | 404 => ErrorKind::Misconfigured,
            400..=499 => ErrorKind::UpstreamClient,
            _ => ErrorKind::ServerError,
        }
    }

    /// The upstream body as is, when it is an OpenAI error envelope the caller may see.
    fn passthrough_body(&self) -> Option<Bytes> {
        if matches!(self.status.as_u16(), 401 | 403 | 404) {
            return None; // it describes the gateway's credentials, not the caller's request
        }
        serde_json::from_slice::<UpstreamEnvelope<'_>>(&self.body).ok()?;
        Some(self.body.clone())
    }

    /// The upstream's error message, or a short printable excerpt of its body.
    pub fn upstream_message(&self) -> String {
        if let Ok(env) = serde_json::from_slice::<UpstreamEnvelope<'_>>(&self.body) {
            if let Some(m) = env.error.message {
                return m.into_owned();
            }
        }
        let text = String::from_utf8_lossy(&self.body);
        let excerpt: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
        excerpt
    }
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status.as_u16() {
            401 | 403 => write!(
                f,
                "Upstream deployment `{}` rejected the gateway's credentials ({})",
                self.deployment, self.status
            ),
            404 => write!(
                f,
                "Upstream deployment `{}` does not know its configured model ({})",
                self.deployment, self.status
            ),
            _ => write!(
                f,
                "Upstream deployment `{}` answered {}: {}",
                self.deployment,
                self.status,
                self.upstream_message()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(status: u16, body: &'static str) -> GatewayError {
        GatewayError::Upstream(UpstreamError {
            deployment: "d1".into(),
            status: StatusCode::from_u16(status).unwrap(),
            body: Bytes::from_static(body.as_bytes()),
            retry_after: None,
        })
    }

    #[test]
    fn upstream_openai_error_passes_through_verbatim() {
        let body = r#"{"error":{"message":"bad temp","type":"invalid_request_error","param":"temperature","code":null}}"#;
        let e = upstream(400, body);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(&e.to_json()[..], body.as_bytes());
    }

    #[test]
    fn upstream_auth_failure_is_502_and_hides_upstream_body() {
        let e = upstream(
            401,
            r#"{"error":{"message":"Incorrect API key provided: sk-abc"}}"#,
        );
        assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
        let json = String::from_utf8(e.to_json().to_vec()).unwrap();
        assert!(json.contains("upstream_auth_failed"), "{json}");
        assert!(!json.contains("sk-abc"), "{json}");
    }

    #[test]
    fn non_json_upstream_error_is_wrapped() {
        let e = upstream(503, "<html>Service Unavailable</html>");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["error"]["type"], "api_error");
        assert_eq!(v["error"]["code"], "upstream_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Service Unavailable")
        );
    }

    #[test]
    fn statuses_and_types() {
        let cases: Vec<(GatewayError, u16, &str)> = vec![
            (
                GatewayError::invalid("x", None),
                400,
                "invalid_request_error",
            ),
            (
                GatewayError::RequestTooLarge { limit_bytes: 1 },
                413,
                "invalid_request_error",
            ),
            (
                GatewayError::RouteNotFound {
                    method: "GET".into(),
                    path: "/x".into(),
                },
                404,
                "not_found_error",
            ),
            (upstream(429, "{}"), 429, "rate_limit_error"),
            (
                GatewayError::UpstreamTimeout {
                    deployment: "d".into(),
                    after: Duration::from_secs(1),
                },
                504,
                "api_error",
            ),
            (
                GatewayError::NoHealthyDeployment {
                    model: "m".into(),
                    retry_after: None,
                },
                503,
                "api_error",
            ),
        ];
        for (e, status, ty) in cases {
            assert_eq!(e.status().as_u16(), status, "{e}");
            let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
            assert_eq!(v["error"]["type"], ty, "{e}");
            assert!(v["error"]["code"].is_string());
        }
    }
}
