//! `/v1/chat/completions` and `/v1/embeddings`: read the body (bounded), parse it once, find the
//! model group, and hand the request to the model stack.

use std::sync::Arc;

use axum::{
    Extension,
    extract::{Request, State},
    http::{header, request::Parts},
    response::{IntoResponse, Response},
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::ServiceExt;

use crate::{
    error::GatewayError,
    middleware::{auth::Identity, request_id::Received},
    openai::{ChatView, JsonBody},
    proxy::{Endpoint, ProxyRequest, RequestId},
    state::{AppState, Runtime},
};

/// POST `/v1/chat/completions`.
pub(super) async fn chat(
    State(app): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    Extension(received): Extension<Received>,
    Extension(identity): Extension<Identity>,
    request: Request,
) -> Response {
    forward(
        &app,
        Endpoint::Chat,
        Caller {
            id,
            received,
            identity,
        },
        request,
    )
    .await
}

/// POST `/v1/embeddings`.
pub(super) async fn embeddings(
    State(app): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    Extension(received): Extension<Received>,
    Extension(identity): Extension<Identity>,
    request: Request,
) -> Response {
    forward(
        &app,
        Endpoint::Embeddings,
        Caller {
            id,
            received,
            identity,
        },
        request,
    )
    .await
}

/// Who sent the request, and when.
struct Caller {
    id: RequestId,
    received: Received,
    identity: Identity,
}

async fn forward(app: &AppState, endpoint: Endpoint, caller: Caller, request: Request) -> Response {
    let rt = app.runtime();
    match prepare(&rt, endpoint, caller, request).await {
        Ok(request) if endpoint == Endpoint::Chat && super::agent::requested(&request) => {
            super::agent::chat(rt, request).await
        }
        Ok(request) => match rt.stack.clone().oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(e) => e.into_response(),
        },
        Err((model, e)) => {
            app.metrics.rejected(model, e.status().as_u16());
            e.into_response()
        }
    }
}

/// The request body, bounded by `max_request_size_mb` (413 beyond it).
pub(super) async fn read_body(
    rt: &Runtime,
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> Result<bytes::Bytes, GatewayError> {
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
) -> Result<ProxyRequest, (&str, GatewayError)> {
    const UNKNOWN: &str = "unknown";
    let (Parts { headers, .. }, body) = request.into_parts();
    let bytes = read_body(rt, &headers, body)
        .await
        .map_err(|e| (UNKNOWN, e))?;
    let body = JsonBody::parse(bytes).map_err(|e| (UNKNOWN, e))?;
    let view = ChatView::read(&body, endpoint.required_field()).map_err(|e| (UNKNOWN, e))?;
    let Some(group) = rt.models.get(&view.model) else {
        let available = rt
            .models
            .names()
            .iter()
            .map(|n| &**n)
            .collect::<Vec<_>>()
            .join(", ");
        return Err((
            UNKNOWN,
            GatewayError::ModelNotFound {
                model: view.model,
                available,
            },
        ));
    };
    if !identity.allows(&rt.config, &view.model) {
        return Err((&group.name, GatewayError::Forbidden { model: view.model }));
    }
    Ok(ProxyRequest {
        id,
        endpoint,
        group: group.clone(),
        body,
        view,
        headers,
        received,
        identity,
    })
}
