//! An upstream's own error answer, kept whole: passed through to the caller or classified.

use std::{sync::Arc, time::Duration};

use axum::http::StatusCode;
use bytes::Bytes;

use super::ErrorKind;

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

// === impl UpstreamError ===

impl UpstreamError {
    /// The status the caller sees: the upstream's own, except that a 401/403/404 means the
    /// deployment's key or model is wrong, which is a gateway-side (502) problem, not the caller's.
    pub(super) fn client_status(&self) -> StatusCode {
        match self.status.as_u16() {
            401 | 403 | 404 => StatusCode::BAD_GATEWAY,
            _ => self.status,
        }
    }

    pub(super) fn code(&self) -> &'static str {
        match self.status.as_u16() {
            401 | 403 => "upstream_auth_failed",
            404 => "upstream_model_not_found",
            429 => "rate_limit_exceeded",
            400..=499 => "upstream_invalid_request",
            _ => "upstream_error",
        }
    }

    pub(super) fn kind(&self) -> ErrorKind {
        match self.status.as_u16() {
            429 => ErrorKind::RateLimited,
            401 | 403 | 404 => ErrorKind::Misconfigured,
            400..=499 => ErrorKind::UpstreamClient,
            _ => ErrorKind::ServerError,
        }
    }

    /// The upstream body as is, when it is an OpenAI error envelope the caller may see: the
    /// caller's own 4xx (a 5xx goes in the gateway's `api_error` envelope).
    pub(super) fn passthrough_body(&self) -> Option<Bytes> {
        if matches!(self.status.as_u16(), 401 | 403 | 404) || !self.status.is_client_error() {
            return None; // it describes the gateway's credentials, not the caller's request
        }
        serde_json::from_slice::<UpstreamEnvelope<'_>>(&self.body).ok()?;
        Some(self.body.clone())
    }

    /// The upstream envelope's `code`, when it is a short printable string.
    pub(super) fn upstream_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let code = v.pointer("/error/code")?.as_str()?;
        (!code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| code.to_owned())
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
