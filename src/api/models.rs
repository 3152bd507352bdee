//! GET `/v1/models`: the public model names in OpenAI list format.

use std::sync::Arc;

use axum::{Extension, Json, extract::State};
use serde::Serialize;

use crate::{middleware::auth::Identity, runtime::AppState};

#[derive(Serialize)]
pub(super) struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

#[derive(Serialize)]
struct Model {
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
