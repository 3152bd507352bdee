//! GET `/metrics`: Prometheus text exposition.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::auth::identify;
use crate::{error::GatewayError, runtime::AppState};

/// Every metric family. Open unless `switchyard_settings.metrics_require_key`.
pub(super) async fn metrics(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let rt = app.runtime();
    if rt.config.metrics_require_key {
        if let Err(e) = identify(&rt.config, &headers) {
            return e.into_response();
        }
    }
    match app.metrics.encode() {
        Ok(text) => {
            let mut response = text.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Err(e) => GatewayError::Internal(format!("encoding metrics: {e}")).into_response(),
    }
}
