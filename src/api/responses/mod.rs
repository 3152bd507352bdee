//! `/v1/responses`: the OpenAI Responses API (SPEC §13). POST builds the conversation (a stored
//! one it continues, then its input), turns it into a chat request for the model stack (same
//! keys, limits, cache, router, retries and fallbacks as chat), and answers a Response object or
//! its event stream; GET, DELETE and `input_items` read the store.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::header,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Deserialize;
use tower::ServiceExt;

mod prepare;
pub(super) mod stored;

use prepare::{Prepared, prepare};

use super::forward::{Caller, group_for, read_body};
use crate::{
    error::GatewayError,
    middleware::request_id::Received,
    model::Endpoint,
    openai::JsonBody,
    proxy::{ProxyRequest, ProxyResponse, ReplyBody},
    responses::{
        conversation,
        native::Tap,
        response::{Echo, translate},
        stream::Translator,
        wire::CreateRequest,
    },
    runtime::AppState,
    sse::{AfterDone, Translated},
    state::responses::{ResponseStore, StoredResponse},
    upstream,
};

/// Cap on an agent-mode answer read back for translation.
const MAX_AGENT_BYTES: usize = 16 << 20;

/// POST `/v1/responses`.
pub(super) async fn create(
    State(app): State<Arc<AppState>>,
    Caller {
        id,
        received: Received(received),
        identity,
    }: Caller,
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
        let prepared = prepare(&*store, req, raw, &identity, &group)
            .await
            .map_err(|e| (group.name.to_string(), e))?;
        Ok::<_, (String, GatewayError)>((group, prepared))
    };
    let (group, prepared) = match prepared.await {
        Ok(p) => p,
        Err((model, e)) => {
            app.metrics.rejected(&model, e.status().as_u16());
            return e.into_response();
        }
    };
    let Prepared {
        body,
        view,
        echo,
        items,
        native,
    } = prepared;
    let saver = Saver {
        store: echo.store.then(|| store.clone()),
        owner: identity.label(),
        id: echo.id.clone(),
        input: conversation::to_bytes(&items),
        native_deployment: None,
    };
    let model = view.model.clone();
    let request = ProxyRequest {
        id,
        endpoint: Endpoint::Chat,
        group,
        body,
        view,
        headers: parts.headers,
        received,
        identity,
        responses: Some(Arc::new(native)),
        form: None,
        attempts: Default::default(),
        cache_lookup: None,
    };
    if super::agent::requested(&request) {
        let answer = super::agent::chat(rt, request).await;
        return agent_answer(answer, &echo, &model, saver).await;
    }
    match rt.stack.clone().oneshot(request).await {
        Ok(response) => {
            let native = response
                .served_by
                .as_ref()
                .filter(|d| d.config.responses_api)
                .map(|d| d.id.clone());
            match native {
                Some(deployment) => native_answer(response, deployment, saver),
                None => answer(response, &echo, &model, saver),
            }
        }
        Err(e) => e.into_response(),
    }
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
    native_deployment: Option<String>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
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
                    native_deployment: self.native_deployment,
                },
            );
        }
    }

    /// Saves a native answer under the upstream's own id.
    fn save_native(mut self, response: Bytes) {
        if let Ok(IdOnly { id }) = serde_json::from_slice(&response) {
            self.id = id;
            self.save(response);
        }
    }
}

/// A native answer, passed through as received; kept (under the upstream's id) when the
/// request asked for it, so a follow-up elsewhere can re-send the conversation.
fn native_answer(response: ProxyResponse, deployment: Arc<str>, saver: Saver) -> Response {
    let saver = Saver {
        native_deployment: Some(deployment.to_string()),
        ..saver
    };
    if let ReplyBody::Json(bytes) = &response.body {
        saver.save_native(bytes.clone());
        return response.into_response();
    }
    let (parts, body) = response.into_response().into_parts();
    let on_complete = Box::new(move |r: Bytes| saver.save_native(r));
    let tapped = Translated::new(body, Tap::new(Some(on_complete)), AfterDone::Drain);
    Response::from_parts(parts, Body::new(tapped))
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
