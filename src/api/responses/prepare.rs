//! A `/v1/responses` body made ready for the model stack: the conversation (a stored one it
//! continues, then its input), the chat body for deployments that need a translation, and the
//! body as received for deployments that speak the Responses API.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::stored::load;
use crate::{
    error::GatewayError,
    openai::{ChatView, JsonBody},
    proxy::{Identity, ModelGroup, NativeRequest},
    responses::{
        conversation,
        request::{builtin_tools, to_chat},
        response::Echo,
        wire::{CreateRequest, Item},
    },
    state::responses::ResponseStore,
};

/// What the stack is sent, and what the answer needs.
pub(super) struct Prepared {
    /// The chat body (translated deployments).
    pub(super) body: JsonBody,
    /// Its view.
    pub(super) view: ChatView,
    /// What a translated Response echoes.
    pub(super) echo: Echo,
    /// The whole conversation (stored with the answer).
    pub(super) items: Vec<Item>,
    /// The Responses body (native deployments).
    pub(super) native: NativeRequest,
}

/// Builds everything from the parsed request `req` whose raw body is `raw`.
pub(super) async fn prepare(
    store: &dyn ResponseStore,
    req: CreateRequest,
    raw: JsonBody,
    identity: &Identity,
    group: &ModelGroup,
) -> Result<Prepared, GatewayError> {
    let echo = Echo::new(&req, &raw);
    let group_native = group.deployments.iter().any(|d| d.config.responses_api);
    let mut native_only = false;
    let mut affinity: Option<Arc<str>> = None;
    let mut history = false;
    let mut items = match &req.previous_response_id {
        Some(previous) => match load(store, previous, identity).await {
            Ok(stored) => {
                affinity = stored.native_deployment.as_deref().map(Arc::from);
                history = true;
                conversation::history(&stored)?
            }
            // Not one of the gateway's: only an upstream that speaks the API may know it.
            Err(_) if group_native => {
                native_only = true;
                Vec::new()
            }
            Err(_) => {
                return Err(GatewayError::ResponseNotFound {
                    id: previous.clone(),
                    param: Some("previous_response_id"),
                });
            }
        },
        None => Vec::new(),
    };
    if req.input.is_none() && items.is_empty() {
        return Err(GatewayError::InvalidRequest {
            message: "Missing required parameter: 'input'.".into(),
            param: Some("input"),
            code: "missing_required_parameter",
        });
    }
    items.extend(conversation::input_items(req.input.clone()));
    // Built-in tools run only where the Responses API is spoken.
    if group_native && !builtin_tools(&req).is_empty() {
        native_only = true;
    }
    let mut controls = Map::new();
    for key in ["agent", "cache"] {
        if let Ok(Some(v)) = raw.field::<Value>(key) {
            controls.insert(key.into(), v);
        }
    }
    let chat = to_chat(&req, &items, controls, native_only)?;
    let bytes = serde_json::to_vec(&chat)
        .map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the translated request: {e}")))?;
    let body = JsonBody::parse(bytes)?;
    let view = ChatView::read(&body, "messages")?;
    // For a native deployment that did not make the previous response: the conversation in full.
    let expanded = if history {
        let input = serde_json::to_vec(&conversation::without_ids(&items))
            .map_err(|e| GatewayError::Internal(format!("serialising the conversation: {e}")))?;
        Some(raw.with_member(&["previous_response_id"], "input", &input)?)
    } else {
        None
    };
    Ok(Prepared {
        body,
        view,
        echo,
        items,
        native: NativeRequest {
            body: raw,
            expanded,
            affinity,
            native_only,
        },
    })
}
