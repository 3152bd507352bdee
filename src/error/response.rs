//! The one mapping of a `GatewayError` to an OpenAI error body and HTTP response.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;

use super::GatewayError;

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
impl GatewayError {
    /// The OpenAI error envelope as JSON bytes (also used for in-band SSE error events).
    pub fn to_json(&self) -> Bytes {
        let mut message = None;
        let mut code = None;
        if let Self::Upstream(e) = self {
            if let Some(body) = e.passthrough_body() {
                return body;
            }
            // A 5xx is sent in the gateway's envelope (`api_error`) with the upstream's message
            // (and its code, when it names one).
            if e.status.is_server_error() {
                message = Some(e.upstream_message());
                code = e.upstream_code();
            }
        }
        let message = message.unwrap_or_else(|| self.to_string());
        let body = Envelope {
            error: Body {
                message: &message,
                kind: self.error_type(),
                param: self.param(),
                code: code.as_deref().unwrap_or(self.code()),
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
