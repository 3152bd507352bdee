//! GET `/v1/responses/{id}`, DELETE it, and GET its `input_items`: reads of the store. A key
//! sees only the responses it made (the master key sees every one); anything else is a 404.

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::{
    error::GatewayError,
    proxy::Identity,
    responses::{conversation, wire::Item},
    runtime::AppState,
    state::responses::{ResponseStore, StoredResponse},
};

/// The stored response `id` if `identity` may read it (the master key reads every one).
pub(super) async fn load(
    store: &dyn ResponseStore,
    id: &str,
    identity: &Identity,
) -> Result<Arc<StoredResponse>, GatewayError> {
    match store.get(id).await {
        Some(s) if matches!(identity, Identity::Master) || s.owner == identity.label() => Ok(s),
        _ => Err(GatewayError::ResponseNotFound {
            id: id.to_owned(),
            param: None,
        }),
    }
}

/// GET `/v1/responses/{id}`.
pub(in crate::api) async fn retrieve(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
) -> Response {
    let store = app.responses(&app.runtime());
    match load(&*store, &id, &identity).await {
        Ok(stored) => json_response(stored.response.clone()),
        Err(e) => e.into_response(),
    }
}

/// DELETE `/v1/responses/{id}`.
pub(in crate::api) async fn delete(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
) -> Response {
    let store = app.responses(&app.runtime());
    if let Err(e) = load(&*store, &id, &identity).await {
        return e.into_response();
    }
    store.delete(&id).await;
    Json(json!({"id": id, "object": "response", "deleted": true})).into_response()
}

/// Query of `input_items`.
#[derive(Debug, Deserialize)]
pub(in crate::api) struct Page {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    order: Option<String>,
}

/// GET `/v1/responses/{id}/input_items`: the conversation sent for the response, newest first
/// unless `order=asc`, `limit` (1-100, default 20) items after `after`.
pub(in crate::api) async fn input_items(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Response {
    let store = app.responses(&app.runtime());
    let stored = match load(&*store, &id, &identity).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Ok(mut items) = serde_json::from_slice::<Vec<Item>>(&stored.input) else {
        return GatewayError::Internal("a stored conversation could not be read".into())
            .into_response();
    };
    if page.order.as_deref() != Some("asc") {
        items.reverse();
    }
    if let Some(after) = &page.after {
        if let Some(pos) = items
            .iter()
            .position(|i| conversation::item_id(i) == Some(after.as_str()))
        {
            items.drain(..=pos);
        }
    }
    let limit = page.limit.unwrap_or(20).clamp(1, 100);
    let has_more = items.len() > limit;
    items.truncate(limit);
    let first = items
        .first()
        .and_then(conversation::item_id)
        .map(str::to_owned);
    let last = items
        .last()
        .and_then(conversation::item_id)
        .map(str::to_owned);
    Json(json!({"object": "list", "data": items, "first_id": first, "last_id": last, "has_more": has_more}))
        .into_response()
}

fn json_response(bytes: Bytes) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
