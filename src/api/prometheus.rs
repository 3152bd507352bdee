//! GET `/metrics`: Prometheus text exposition.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::{error::GatewayError, state::AppState};

/// Every metric family.
pub(super) async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    match app.metrics.encode() {
        Ok(text) => {
            let mut response = text.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            response
        }
        Err(e) => GatewayError::Internal(format!("encoding metrics: {e}")).into_response(),
    }
}
