//! `POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic front door. The request
//! is translated to OpenAI's format and takes the same path as `/v1/chat/completions`
//! (`forward::run`: body limit, parse, model group, key check, the model stack); the answer is
//! translated back. Every error on these routes, the key check's included, is written in
//! Anthropic's shape by `anthropic_errors`.

use std::sync::Arc;

use axum::{
    Extension, Json,
    body::Body,
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use bytes::Bytes;

use super::forward::{self, Caller};
use crate::{
    error::GatewayError,
    messages::{self, stream::anthropic_stream},
    model::{Endpoint, ProviderKind},
    openai::JsonBody,
    providers::anthropic::wire::{MessagesRequest, TokenCount},
    proxy::{Identity, ProxyResponse, ReplyBody},
    runtime::{AppState, Runtime},
    upstream,
};

/// Cap on a gateway error body read back for rewriting (they are small JSON objects).
const MAX_ERROR_BYTES: usize = 1 << 20;

/// POST `/v1/messages`.
pub(super) async fn create(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    request: Request,
) -> Response {
    match forward::run(&app, Endpoint::Chat, caller, request, translate).await {
        Ok(response) => answer(response),
        Err(e) => e.into_response(),
    }
}

/// POST `/v1/messages/count_tokens`: the upstream's count where a deployment of the group can
/// give one (Anthropic), else an estimate (about four characters a token).
pub(super) async fn count_tokens(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    request: Request,
) -> Response {
    let rt = app.runtime();
    let (parts, body) = request.into_parts();
    let counted = async {
        let bytes = forward::read_body(&rt, &parts.headers, body).await?;
        let req = parse(&bytes)?;
        let group = forward::group_for(&rt, &identity, &req.model).map_err(|(_, e)| e)?;
        // The first deployment that can count (Anthropic's own endpoint) answers exactly.
        let raw = JsonBody::parse(bytes)?;
        for deployment in &group.deployments {
            let Some(counting) = deployment.provider.count_tokens(&raw) else {
                continue;
            };
            match tokio::time::timeout(deployment.config.timeout, counting).await {
                Ok(Ok(input_tokens)) => return Ok(TokenCount { input_tokens }),
                Ok(Err(e)) => {
                    tracing::debug!(deployment = %deployment.id, error = %e, "count_tokens failed; estimating");
                }
                Err(_) => {
                    tracing::debug!(deployment = %deployment.id, "count_tokens timed out; estimating");
                }
            }
            break;
        }
        Ok::<_, GatewayError>(TokenCount {
            input_tokens: messages::estimate_tokens(&req),
        })
    };
    match counted.await {
        Ok(count) => Json(count).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Rewrites any error answer of the routes it wraps into Anthropic's error shape, same status
/// and headers (`Retry-After` included).
pub(super) async fn anthropic_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = upstream::collect(body, MAX_ERROR_BYTES)
        .await
        .unwrap_or_default();
    let translated = messages::error_body(parts.status, &bytes);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(translated))
}

/// The Anthropic body as an OpenAI chat body. Anthropic-only extras (`cache_control`, `top_k`,
/// `thinking`) are kept when every deployment of the group is Anthropic.
fn translate(rt: &Runtime, bytes: Bytes) -> Result<Bytes, GatewayError> {
    let req = parse(&bytes)?;
    let extras = rt.models.get(&req.model).is_some_and(|g| {
        g.deployments
            .iter()
            .all(|d| d.config.provider == ProviderKind::Anthropic)
    });
    let chat = messages::request::to_openai(req, extras)?;
    serde_json::to_vec(&chat)
        .map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the translated request: {e}")))
}

fn parse(bytes: &[u8]) -> Result<MessagesRequest, GatewayError> {
    serde_json::from_slice(bytes).map_err(|e| GatewayError::InvalidRequest {
        message: format!("The request body is not a valid Anthropic Messages request: {e}"),
        param: None,
        code: "invalid_request",
    })
}

/// The model stack's OpenAI answer in Anthropic's format.
fn answer(response: ProxyResponse) -> Response {
    if let ReplyBody::Stream(_) = &response.body {
        let (parts, body) = response.into_response().into_parts();
        return Response::from_parts(parts, Body::new(anthropic_stream(body)));
    }
    let ReplyBody::Json(bytes) = &response.body else {
        return GatewayError::Internal("unreachable reply body".into()).into_response();
    };
    match messages::response::translate(bytes) {
        Ok(translated) => ProxyResponse {
            body: ReplyBody::Json(translated),
            ..response
        }
        .into_response(),
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
