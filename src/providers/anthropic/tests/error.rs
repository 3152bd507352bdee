//! Anthropic errors -> OpenAI errors and the retry table.

use std::time::Duration;

use http::StatusCode;

use super::{fixture, json};
use crate::{
    error::GatewayError,
    providers::anthropic::error::from_status,
    retry::{Decision, FallbackKind, RetryReason, classify},
};

fn error(status: u16, name: &str) -> GatewayError {
    from_status(
        "claude-dep".into(),
        StatusCode::from_u16(status).unwrap(),
        fixture(name).as_bytes(),
        Some(Duration::from_secs(3)),
    )
}

fn body(e: &GatewayError) -> serde_json::Value {
    serde_json::from_slice(&e.to_json()).unwrap()
}

#[test]
fn overloaded_529_is_a_retried_503() {
    let e = error(529, "error_overloaded.json");
    assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(classify(&e), Decision::Retry(RetryReason::ServerError));
    let b = body(&e);
    assert_eq!(b["error"]["type"], "api_error");
    assert_eq!(b["error"]["code"], "overloaded_error");
    assert_eq!(b["error"]["message"], "Overloaded");
}

#[test]
fn client_errors_keep_status_and_message() {
    let e = error(400, "error_invalid_request.json");
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert_eq!(classify(&e), Decision::Fail);
    let b = body(&e);
    assert_eq!(b["error"]["type"], "invalid_request_error");
    assert_eq!(b["error"]["code"], "invalid_request_error");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("max_tokens")
    );

    let e = error(429, "error_rate_limit.json");
    assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(classify(&e), Decision::Retry(RetryReason::RateLimited));
    assert_eq!(body(&e)["error"]["type"], "rate_limit_error");
}

#[test]
fn prompt_too_long_goes_to_context_window_fallbacks() {
    let e = error(400, "error_prompt_too_long.json");
    assert_eq!(body(&e)["error"]["code"], "context_length_exceeded");
    assert_eq!(
        classify(&e),
        Decision::Fallback(FallbackKind::ContextWindow)
    );
}

#[test]
fn auth_failures_are_the_deployments_and_non_json_is_wrapped() {
    let e = error(401, "error_invalid_request.json");
    assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(classify(&e), Decision::Misconfigured);
    let e = from_status(
        "d".into(),
        StatusCode::BAD_GATEWAY,
        b"<html>bad gateway</html>",
        None,
    );
    let b = body(&e);
    assert_eq!(b["error"]["type"], "api_error");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad gateway")
    );
    assert!(json(&fixture("error_overloaded.json")).is_object());
}
