//! `/v1/chat/completions` and `/v1/embeddings`: read the body (bounded), parse it once, find the
//! model group, and hand the request to the model stack. `run` is the path every model endpoint
//! shares (`/v1/messages` too, with its translation).

use std::sync::Arc;

use axum::{
    Extension,
    body::Body,
    extract::{FromRequestParts, Request, State, rejection::ExtensionRejection},
    http::{HeaderMap, header, request::Parts},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::ServiceExt;

use crate::{
    error::GatewayError,
    middleware::request_id::Received,
    model::{Endpoint, RequestId},
    openai::{ChatView, Form, JsonBody},
    proxy::{Identity, ModelGroup, ProxyRequest, ProxyResponse},
    runtime::{AppState, Runtime},
};

/// POST `/v1/chat/completions`.
pub(super) async fn chat(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    request: Request,
) -> Response {
    forward(&app, Endpoint::Chat, caller, request).await
}

/// POST `/v1/embeddings`.
pub(super) async fn embeddings(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    request: Request,
) -> Response {
    forward(&app, Endpoint::Embeddings, caller, request).await
}

/// Who sent the request, and when: what the edge middleware (request id, key check) put in the
/// request's extensions, taken as one extractor.
pub(super) struct Caller {
    pub(super) id: RequestId,
    pub(super) received: Received,
    pub(super) identity: Identity,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ExtensionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Extension(id) = Extension::from_request_parts(parts, state).await?;
        let Extension(received) = Extension::from_request_parts(parts, state).await?;
        let Extension(identity) = Extension::from_request_parts(parts, state).await?;
        Ok(Self {
            id,
            received,
            identity,
        })
    }
}

/// Turns a body in another wire format into an OpenAI body (`/v1/messages`); the OpenAI
/// endpoints pass theirs through as received.
pub(super) type Translate = fn(&Runtime, Bytes) -> Result<Bytes, GatewayError>;

/// An OpenAI endpoint: the body as received to the model stack (agent mode for chat).
pub(super) async fn forward(
    app: &AppState,
    endpoint: Endpoint,
    caller: Caller,
    request: Request,
) -> Response {
    let rt = app.runtime();
    match prepare(&rt, endpoint, caller, request, |_, bytes| Ok(bytes)).await {
        Ok(request) if endpoint == Endpoint::Chat && super::agent::requested(&request) => {
            super::agent::chat(rt, request).await
        }
        Ok(request) => {
            let attempts = request.attempts.clone();
            match rt.stack.clone().oneshot(request).await {
                Ok(response) => response.into_response(),
                Err(e) => {
                    let mut response = e.into_response();
                    if attempts.get() > 0 {
                        response
                            .headers_mut()
                            .insert("x-switchyard-attempts", attempts.get().into());
                    }
                    response
                }
            }
        }
        Err((model, e)) => {
            app.metrics.rejected(model, e.status().as_u16());
            app.metrics.endpoint(endpoint.label(), e.status().as_u16());
            e.into_response()
        }
    }
}

/// The shared path of a model endpoint in another wire format (`/v1/messages`): read the body
/// (bounded), translate it, parse it once, find the model group, check the key may use it, run
/// the model stack. (Agent mode is an OpenAI-endpoint feature and is not entered here.)
pub(super) async fn run(
    app: &AppState,
    endpoint: Endpoint,
    caller: Caller,
    request: Request,
    translate: Translate,
) -> Result<ProxyResponse, GatewayError> {
    let rt = app.runtime();
    match prepare(&rt, endpoint, caller, request, translate).await {
        Ok(request) => rt.stack.clone().oneshot(request).await,
        Err((model, e)) => {
            app.metrics.rejected(model, e.status().as_u16());
            app.metrics.endpoint(endpoint.label(), e.status().as_u16());
            Err(e)
        }
    }
}

/// The request body, bounded by `max_request_size_mb` (413 beyond it).
pub(super) async fn read_body(
    rt: &Runtime,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, GatewayError> {
    let limit = rt.config.max_request_bytes;
    let too_large = GatewayError::RequestTooLarge { limit_bytes: limit };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large),
        Err(e) => Err(GatewayError::invalid(
            format!("could not read the request body: {e}"),
            None,
        )),
    }
}

/// Everything up to the model stack. On failure, also the model label to count it under.
async fn prepare(
    rt: &Runtime,
    endpoint: Endpoint,
    Caller {
        id,
        received: Received(received),
        identity,
    }: Caller,
    request: Request,
    translate: Translate,
) -> Result<ProxyRequest, (&str, GatewayError)> {
    const UNKNOWN: &str = "unknown";
    let (Parts { headers, .. }, body) = request.into_parts();
    let bytes = read_body(rt, &headers, body)
        .await
        .map_err(|e| (UNKNOWN, e))?;
    // A transcription is a multipart form: its text fields are the body the gateway reads, the
    // form goes upstream as received.
    let (body, form) = match endpoint {
        Endpoint::Transcriptions => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let form = Form::parse(content_type, bytes).map_err(|e| (UNKNOWN, e))?;
            let fields = form.fields().map_err(|e| (UNKNOWN, e))?;
            (fields, Some(Arc::new(form)))
        }
        _ => {
            let bytes = translate(rt, bytes).map_err(|e| (UNKNOWN, e))?;
            (JsonBody::parse(bytes).map_err(|e| (UNKNOWN, e))?, None)
        }
    };
    let view = ChatView::read(&body, endpoint.required_field()).map_err(|e| (UNKNOWN, e))?;
    let group = group_for(rt, &identity, &view.model)?.clone();
    Ok(ProxyRequest {
        id,
        endpoint,
        group,
        body,
        view,
        headers,
        received,
        identity,
        responses: None,
        form,
        attempts: Default::default(),
        cache_lookup: None,
    })
}

/// The model group `model`, if it exists (400 listing the models) and the caller may use it
/// (403). On failure, also the model label to count it under.
pub(super) fn group_for<'a>(
    rt: &'a Runtime,
    identity: &Identity,
    model: &str,
) -> Result<&'a Arc<ModelGroup>, (&'a str, GatewayError)> {
    let Some(group) = rt.models.get(model) else {
        return Err((
            "unknown",
            GatewayError::ModelNotFound {
                model: model.to_owned(),
                available: usable_models(rt, identity),
            },
        ));
    };
    if !identity.allows(&rt.config, model) {
        return Err((
            &group.name,
            GatewayError::Forbidden {
                model: model.to_owned(),
                allowed: usable_models(rt, identity),
            },
        ));
    }
    Ok(group)
}

/// The model names `identity` may use, comma separated: a virtual key is never told of the
/// others.
pub(super) fn usable_models(rt: &Runtime, identity: &Identity) -> String {
    rt.models
        .names()
        .iter()
        .filter(|n| identity.allows(&rt.config, n))
        .map(|n| &**n)
        .collect::<Vec<_>>()
        .join(", ")
}
