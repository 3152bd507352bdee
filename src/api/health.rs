//! Health endpoints: liveness (the process serves) and readiness (config loaded, every model group
//! has a deployment that can take traffic).

use std::sync::Arc;

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;

use crate::runtime::AppState;

#[derive(Serialize)]
pub(super) struct Readiness {
    status: &'static str,
    version: &'static str,
    models: Vec<String>,
    deployments: usize,
    healthy_deployments: usize,
}

/// GET `/health/liveliness`, `/health/liveness`.
pub(super) async fn live() -> &'static str {
    "I'm alive!"
}

/// GET `/health/readiness`, `/ready`.
pub(super) async fn ready(State(app): State<Arc<AppState>>) -> (StatusCode, Json<Readiness>) {
    let rt = app.runtime();
    let now = tokio::time::Instant::now();
    let deployments = rt.config.deployments.len();
    let healthy = |g: &crate::proxy::ModelGroup| {
        g.deployments
            .iter()
            .filter(|d| !d.state.is_resting(now))
            .count()
    };
    let healthy_deployments = rt.models.groups().map(|g| healthy(g)).sum();
    let ready = rt.models.groups().all(|g| healthy(g) > 0);
    let body = Readiness {
        status: if ready { "healthy" } else { "unhealthy" },
        version: env!("CARGO_PKG_VERSION"),
        models: rt.models.names().iter().map(|n| n.to_string()).collect(),
        deployments,
        healthy_deployments,
    };
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}
