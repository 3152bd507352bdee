//! GET `/v1/models`: the public model names in OpenAI list format; `/v1/models/{id}`; `/`.

use std::sync::Arc;

use axum::{
    Extension, Json,
    extract::{Path, State},
};
use serde::Serialize;

use crate::{error::GatewayError, proxy::Identity, runtime::AppState};

#[derive(Serialize)]
pub(super) struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

#[derive(Serialize)]
pub(super) struct Model {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

/// The list of model groups.
pub(super) async fn list(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
) -> Json<ModelList> {
    let rt = app.runtime();
    let data = rt
        .models
        .names()
        .iter()
        .filter(|name| identity.allows(&rt.config, name))
        .map(|name| Model {
            id: name.to_string(),
            object: "model",
            created: 0,
            owned_by: "switchyard",
        })
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}

/// GET `/v1/models/{id}` (the SDKs' `models.retrieve`): the model object, or a 404 in OpenAI's
/// shape for a name that is not served or that the caller's key may not use.
pub(super) async fn retrieve(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
) -> Result<Json<Model>, GatewayError> {
    let rt = app.runtime();
    match rt.models.get(&id) {
        Some(group) if identity.allows(&rt.config, &id) => Ok(Json(Model {
            id: group.name.to_string(),
            object: "model",
            created: 0,
            owned_by: "switchyard",
        })),
        _ => Err(GatewayError::UnknownModel { model: id }),
    }
}

/// GET and HEAD `/`: 200 (clients such as Claude Code probe the base URL).
pub(super) async fn root() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "name": "switchyard",
        "version": env!("CARGO_PKG_VERSION"),
        "status": "ok",
    }))
}
