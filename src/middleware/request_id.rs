//! Request id and trace span: every request gets an id (the client's `x-request-id` or a new
//! one) and a span carrying it; the response echoes it (also as LiteLLM's `x-litellm-call-id`).
//! Failures are logged here, once.

use axum::{extract::Request, http::HeaderValue, middleware::Next, response::Response};
use tokio::time::Instant;
use tracing::Instrument;

use crate::{error::LoggedError, model::RequestId};

/// When the request reached the gateway (request extension).
#[derive(Debug, Clone, Copy)]
pub struct Received(pub Instant);

/// axum middleware fn: sets the id, the span and the `x-request-id` response header.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let received = Instant::now();
    let id = RequestId::from_header(request.headers().get("x-request-id"));
    let span = tracing::info_span!("request", id = %id.as_str(), method = %request.method(), path = %request.uri().path());
    request.extensions_mut().insert(id.clone());
    request.extensions_mut().insert(Received(received));
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        // LiteLLM's name for the same id, read by tools written for it.
        response
            .headers_mut()
            .insert("x-litellm-call-id", v.clone());
        response.headers_mut().insert("x-request-id", v);
    }
    let status = response.status();
    span.in_scope(|| match response.extensions().get::<LoggedError>() {
        Some(e) if status.is_server_error() => {
            tracing::warn!(status = status.as_u16(), code = e.code, error = %e.message, "request failed");
        }
        Some(e) => tracing::info!(status = status.as_u16(), code = e.code, error = %e.message, "request rejected"),
        None => tracing::debug!(status = status.as_u16(), elapsed_us = received.elapsed().as_micros() as u64, "request answered"),
    });
    response
}
