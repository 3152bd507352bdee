//! The HTTP surface (SPEC §3): thin handlers over the model stack.

mod agent;
mod forward;
mod health;
mod models;
mod prometheus;

use std::sync::Arc;

use axum::{
    Router,
    extract::Request,
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::{
    error::GatewayError,
    middleware::{auth::require_key, concurrency::limit_parallel, request_id::request_id},
    state::AppState,
};

/// The route table.
pub fn router(state: Arc<AppState>) -> Router {
    // Routes that need a key when keys are configured.
    let keyed = Router::new()
        .route("/v1/chat/completions", post(forward::chat))
        .route("/chat/completions", post(forward::chat))
        .route("/v1/embeddings", post(forward::embeddings))
        .route("/embeddings", post(forward::embeddings))
        .route("/v1/models", get(models::list))
        .route("/agent/run", post(agent::run))
        .route("/models", get(models::list))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ))
        // Outermost of the two: an overloaded gateway refuses before spending anything on a request.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_parallel,
        ));
    keyed
        .route("/health/liveliness", get(health::live))
        .route("/health/liveness", get(health::live))
        .route("/health/readiness", get(health::ready))
        .route("/ready", get(health::ready))
        .route("/metrics", get(prometheus::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

async fn not_found(request: Request) -> Response {
    GatewayError::RouteNotFound {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    GatewayError::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
    .into_response()
}
