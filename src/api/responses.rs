//! `/v1/responses`: the OpenAI Responses API (SPEC §13). POST builds the conversation (a stored
//! one it continues, then its input), turns it into a chat request for the model stack (same
//! keys, limits, cache, router, retries and fallbacks as chat), and answers a Response object or
//! its event stream; GET, DELETE and `input_items` read the store.

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Body,
    extract::{Path, Query, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::forward::{group_for, read_body};
use crate::{
    error::GatewayError,
    middleware::{auth::Identity, request_id::Received},
    openai::{ChatView, JsonBody},
    proxy::{Endpoint, ProxyRequest, ProxyResponse, ReplyBody, RequestId},
    responses::{
        conversation,
        request::to_chat,
        response::{Echo, translate},
        stream::Translator,
        wire::{CreateRequest, Item},
    },
    runtime::AppState,
    sse::{AfterDone, Translated},
    state::responses::{ResponseStore, StoredResponse},
    upstream,
};

/// Cap on an agent-mode answer read back for translation.
const MAX_AGENT_BYTES: usize = 16 << 20;

/// A request ready for the model stack, with what the answer needs.
struct Prepared {
    request: ProxyRequest,
    echo: Echo,
    /// The conversation sent (stored with the answer).
    items: Vec<Item>,
}

/// POST `/v1/responses`.
pub(super) async fn create(
    State(app): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    Extension(Received(received)): Extension<Received>,
    Extension(identity): Extension<Identity>,
    request: Request,
) -> Response {
    let rt = app.runtime();
    let store = app.responses(&rt);
    let (parts, body) = request.into_parts();
    let prepared = async {
        let unknown = |e| (String::from("unknown"), e);
        let bytes = read_body(&rt, &parts.headers, body)
            .await
            .map_err(unknown)?;
        let raw = JsonBody::parse(bytes).map_err(unknown)?;
        let req: CreateRequest =
            serde_json::from_slice(raw.raw()).map_err(|e| unknown(invalid_body(&e)))?;
        let group = group_for(&rt, &identity, &req.model)
            .map_err(|(m, e)| (m.to_owned(), e))?
            .clone();
        prepare(&*store, req, raw, &identity)
            .await
            .map(|(body, view, echo, items)| Prepared {
                request: ProxyRequest {
                    id,
                    endpoint: Endpoint::Chat,
                    group: group.clone(),
                    body,
                    view,
                    headers: parts.headers.clone(),
                    received,
                    identity: identity.clone(),
                },
                echo,
                items,
            })
            .map_err(|e| (group.name.to_string(), e))
    };
    let Prepared {
        request,
        echo,
        items,
    } = match prepared.await {
        Ok(p) => p,
        Err((model, e)) => {
            app.metrics.rejected(&model, e.status().as_u16());
            return e.into_response();
        }
    };
    let saver = Saver {
        store: echo.store.then(|| store.clone()),
        owner: identity.label(),
        id: echo.id.clone(),
        input: conversation::to_bytes(&items),
    };
    if super::agent::requested(&request) {
        let model = request.view.model.clone();
        let answer = super::agent::chat(rt, request).await;
        return agent_answer(answer, &echo, &model, saver).await;
    }
    let model = request.view.model.clone();
    match rt.stack.clone().oneshot(request).await {
        Ok(response) => answer(response, &echo, &model, saver),
        Err(e) => e.into_response(),
    }
}

/// Everything between the parsed body and the stack: the conversation and the chat body.
async fn prepare(
    store: &dyn ResponseStore,
    req: CreateRequest,
    raw: JsonBody,
    identity: &Identity,
) -> Result<(JsonBody, ChatView, Echo, Vec<Item>), GatewayError> {
    let echo = Echo::new(&req, &raw);
    let mut items = match &req.previous_response_id {
        Some(previous) => {
            let stored = load(store, previous, identity).await.map_err(|_| {
                GatewayError::ResponseNotFound {
                    id: previous.clone(),
                    param: Some("previous_response_id"),
                }
            })?;
            conversation::history(&stored)?
        }
        None => Vec::new(),
    };
    let CreateRequest { input, .. } = &req;
    if input.is_none() && items.is_empty() {
        return Err(GatewayError::InvalidRequest {
            message: "Missing required parameter: 'input'.".into(),
            param: Some("input"),
            code: "missing_required_parameter",
        });
    }
    items.extend(conversation::input_items(input.clone()));
    let mut controls = Map::new();
    for key in ["agent", "cache"] {
        if let Ok(Some(v)) = raw.field::<Value>(key) {
            controls.insert(key.into(), v);
        }
    }
    let chat = to_chat(&req, &items, controls)?;
    let bytes = serde_json::to_vec(&chat)
        .map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the translated request: {e}")))?;
    let body = JsonBody::parse(bytes)?;
    let view = ChatView::read(&body, "messages")?;
    Ok((body, view, echo, items))
}

fn invalid_body(e: &serde_json::Error) -> GatewayError {
    GatewayError::InvalidRequest {
        message: format!("The request body is not a valid Responses request: {e}"),
        param: None,
        code: "invalid_request",
    }
}

/// Keeps a finished response when the request asked for it.
struct Saver {
    store: Option<Arc<dyn ResponseStore>>,
    owner: String,
    id: String,
    input: Bytes,
}

impl Saver {
    fn save(self, response: Bytes) {
        if let Some(store) = self.store {
            store.put(
                self.id,
                StoredResponse {
                    owner: self.owner,
                    response,
                    input: self.input,
                    native_deployment: None,
                },
            );
        }
    }
}

/// The model stack's chat answer as a Response (JSON) or Responses event stream.
fn answer(response: ProxyResponse, echo: &Echo, model: &str, saver: Saver) -> Response {
    if let ReplyBody::Stream(_) = &response.body {
        let (parts, body) = response.into_response().into_parts();
        return Response::from_parts(parts, stream_body(body, echo, model, saver));
    }
    let ReplyBody::Json(bytes) = &response.body else {
        return GatewayError::Internal("unreachable reply body".into()).into_response();
    };
    match translate(bytes, echo).and_then(|r| serde_json::to_vec(&r).map_err(|e| e.to_string())) {
        Ok(json) => {
            let json = Bytes::from(json);
            saver.save(json.clone());
            ProxyResponse {
                body: ReplyBody::Json(json),
                ..response
            }
            .into_response()
        }
        Err(reason) => GatewayError::UpstreamGarbled {
            deployment: response
                .served_by
                .as_ref()
                .map_or_else(|| "cache".into(), |d| d.id.clone()),
            reason,
        }
        .into_response(),
    }
}

fn stream_body(chat: Body, echo: &Echo, model: &str, saver: Saver) -> Body {
    let on_done = Box::new(move |r: &crate::responses::wire::Response| {
        if let Ok(json) = serde_json::to_vec(r) {
            saver.save(Bytes::from(json));
        }
    });
    Body::new(Translated::new(
        chat,
        Translator::new(echo, model, Some(on_done)),
        AfterDone::Drain,
    ))
}

/// An agent-mode chat answer (JSON, SSE or an error) as a Response.
async fn agent_answer(answer: Response, echo: &Echo, model: &str, saver: Saver) -> Response {
    if !answer.status().is_success() {
        return answer;
    }
    let is_sse = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let (mut parts, body) = answer.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if is_sse {
        return Response::from_parts(parts, stream_body(body, echo, model, saver));
    }
    let translated = async {
        let bytes = upstream::collect(body, MAX_AGENT_BYTES).await?;
        let response = translate(&bytes, echo)?;
        serde_json::to_vec(&response).map_err(|e| e.to_string())
    };
    match translated.await {
        Ok(json) => {
            let json = Bytes::from(json);
            saver.save(json.clone());
            Response::from_parts(parts, Body::from(json))
        }
        Err(reason) => GatewayError::Internal(format!("agent answer: {reason}")).into_response(),
    }
}

/// The stored response `id` if `identity` may read it (the master key reads every one).
async fn load(
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
pub(super) async fn retrieve(
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
pub(super) async fn delete(
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
pub(super) struct Page {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    order: Option<String>,
}

/// GET `/v1/responses/{id}/input_items`: the conversation sent for the response, newest first
/// unless `order=asc`, `limit` (1-100, default 20) items after `after`.
pub(super) async fn input_items(
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
