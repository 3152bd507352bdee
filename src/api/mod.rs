//! The HTTP surface (SPEC §3): thin handlers over the model stack.

mod agent;
mod auth;
mod concurrency;
mod endpoints;
mod forward;
mod health;
mod health_check;
mod info;
mod messages;
mod models;
mod prometheus;
mod responses;
mod spend;

use std::sync::Arc;

use axum::{
    Router,
    extract::Request,
    response::{IntoResponse, Response},
    routing::{get, post},
};

use self::{auth::require_key, concurrency::limit_parallel};
use crate::{error::GatewayError, middleware::request_id::request_id, runtime::AppState};

/// The route table.
pub fn router(state: Arc<AppState>) -> Router {
    // Routes that need a key when keys are configured.
    let openai = with_key(
        Router::new()
            .route("/v1/chat/completions", post(forward::chat))
            .route("/chat/completions", post(forward::chat))
            .route("/v1/embeddings", post(forward::embeddings))
            .route("/embeddings", post(forward::embeddings))
            .route("/v1/models", get(models::list))
            .route("/agent/run", post(agent::run))
            .route("/key/info", get(spend::key_info))
            .route("/spend/keys", get(spend::keys))
            .route("/v1/responses", post(responses::create))
            .route("/responses", post(responses::create))
            .route(
                "/v1/responses/{id}",
                get(responses::stored::retrieve).delete(responses::stored::delete),
            )
            .route(
                "/v1/responses/{id}/input_items",
                get(responses::stored::input_items),
            )
            .route("/v1/completions", post(endpoints::completions))
            .route("/completions", post(endpoints::completions))
            .route("/v1/images/generations", post(endpoints::images))
            .route("/images/generations", post(endpoints::images))
            .route("/v1/audio/speech", post(endpoints::speech))
            .route("/audio/speech", post(endpoints::speech))
            .route("/v1/audio/transcriptions", post(endpoints::transcriptions))
            .route("/audio/transcriptions", post(endpoints::transcriptions))
            .route("/v1/moderations", post(endpoints::moderations))
            .route("/moderations", post(endpoints::moderations))
            .route("/v1/rerank", post(endpoints::rerank))
            .route("/rerank", post(endpoints::rerank))
            .route("/v2/rerank", post(endpoints::rerank))
            .route("/models", get(models::list))
            .route("/model/info", get(info::model_info))
            .route("/v1/model/info", get(info::model_info))
            .route("/model_group/info", get(info::model_group_info))
            .route("/health", get(health_check::check))
            .route("/v1/models/{*id}", get(models::retrieve))
            .route("/models/{*id}", get(models::retrieve)),
        &state,
    );
    // The Anthropic front door: its errors, the key check's included, in Anthropic's shape.
    let anthropic = with_key(
        Router::new()
            .route("/v1/messages", post(messages::create))
            .route("/v1/messages/count_tokens", post(messages::count_tokens)),
        &state,
    )
    .route_layer(axum::middleware::from_fn(messages::anthropic_errors));
    let keyed = openai.merge(anthropic);
    keyed
        .route("/health/liveliness", get(health::live))
        .route("/health/liveness", get(health::live))
        .route("/health/readiness", get(health::ready))
        .route("/ready", get(health::ready))
        .route("/metrics", get(prometheus::metrics))
        .route("/", get(models::root))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// The key check (outermost: a caller without a key costs no body read), then load shedding,
/// which reads the body (bounded in time and bytes) before a request counts as in flight.
fn with_key(routes: Router<Arc<AppState>>, state: &Arc<AppState>) -> Router<Arc<AppState>> {
    routes
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_parallel,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ))
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
