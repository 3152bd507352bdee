//! Anthropic errors -> OpenAI errors. An HTTP error keeps its status except Anthropic's 529
//! `overloaded_error`, which becomes 503 so the retry table treats it as the 503 it means; the
//! body becomes an OpenAI envelope whose `code` names the Anthropic error type.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::StatusCode;

use super::wire::{ErrorBody, ErrorEnvelope};
use crate::{
    error::{GatewayError, UpstreamError},
    openai::wire as oa,
};

/// The gateway error for an Anthropic HTTP error answer.
pub(super) fn from_status(
    deployment: Arc<str>,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> GatewayError {
    let status = match status.as_u16() {
        529 => StatusCode::SERVICE_UNAVAILABLE,
        _ => status,
    };
    let error = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(envelope) => envelope.error,
        Err(_) => ErrorBody {
            kind: kind_for_status(status).into(),
            message: String::from_utf8_lossy(body)
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect(),
        },
    };
    GatewayError::Upstream(UpstreamError {
        deployment,
        status,
        body: openai_body(&error),
        retry_after,
    })
}

/// The OpenAI error envelope (JSON) for an Anthropic error, for HTTP bodies and in-band events.
pub(super) fn openai_body(error: &ErrorBody) -> Bytes {
    let (kind, code) = openai_kind(error);
    let envelope = oa::ErrorEnvelope {
        error: oa::ErrorBody {
            message: error.message.clone(),
            kind: kind.into(),
            param: None,
            code: Some(code.into()),
        },
    };
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(br#"{"error":{"message":"upstream error","type":"api_error","param":null,"code":"upstream_error"}}"#))
}

/// OpenAI `type` and `code` for an Anthropic error type.
fn openai_kind(error: &ErrorBody) -> (&'static str, &str) {
    let kind = match error.kind.as_str() {
        "invalid_request_error" | "request_too_large" => "invalid_request_error",
        "authentication_error" => "authentication_error",
        "permission_error" => "permission_error",
        "not_found_error" => "not_found_error",
        "rate_limit_error" => "rate_limit_error",
        _ => "api_error", // api_error, overloaded_error, and types added later
    };
    // OpenAI's code for a prompt over the context window, so clients (and the context-window
    // fallbacks) recognise it.
    if error.message.contains("prompt is too long") {
        return (kind, "context_length_exceeded");
    }
    let code = match error.kind.as_str() {
        "" => "upstream_error",
        other => other,
    };
    (kind, code)
}

/// The Anthropic error type for an HTTP status, when the body does not say.
fn kind_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}
