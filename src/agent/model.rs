//! Model calls of a run go through the whole model stack — limits, cache, router, retries,
//! metrics — exactly like a client's request.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tower::ServiceExt;

use super::{
    parse::value_at,
    run::{Call, ModelCall, ModelReply, Sampling},
};
use crate::{
    error::GatewayError,
    model::{Endpoint, RequestId},
    openai::{ChatView, JsonBody},
    proxy::{Identity, ModelTable, ProxyRequest, ProxyService, ReplyBody},
};

/// Calls models through the stack, as the caller.
pub(super) struct StackModel {
    /// The model stack of the runtime the run started on.
    pub(super) stack: ProxyService,
    /// Its model groups.
    pub(super) models: Arc<ModelTable>,
    /// The caller (limits, cache tenancy).
    pub(super) identity: Identity,
    /// The run's request id; model calls get `<id>.<n>`.
    pub(super) request_id: RequestId,
    /// Model calls made so far.
    pub(super) calls: std::sync::atomic::AtomicU32,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<crate::openai::Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireCall>,
}

#[derive(Deserialize)]
struct WireCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Option<String>,
}

impl ModelCall for StackModel {
    fn call<'a>(
        &'a self,
        model: &'a str,
        messages: &'a [Value],
        tools: &'a [Value],
        sampling: Sampling,
    ) -> BoxFuture<'a, Result<ModelReply, GatewayError>> {
        Box::pin(async move {
            let mut body = json!({"model": model, "messages": messages,
                "max_tokens": sampling.max_tokens, "temperature": sampling.temperature});
            if !tools.is_empty() {
                body["tools"] = Value::Array(tools.to_vec());
                body["tool_choice"] = json!("auto");
            }
            let body = JsonBody::parse(Bytes::from(body.to_string()))?;
            let view = ChatView::read(&body, "messages")?;
            let group =
                self.models
                    .get(model)
                    .cloned()
                    .ok_or_else(|| GatewayError::ModelNotFound {
                        model: model.to_owned(),
                        available: self
                            .models
                            .names()
                            .iter()
                            .map(|n| &**n)
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
            let n = self
                .calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            let id = RequestId::from_header(
                http::HeaderValue::from_str(&format!("{}.{n}", self.request_id.as_str()))
                    .ok()
                    .as_ref(),
            );
            let request = ProxyRequest {
                id,
                endpoint: Endpoint::Chat,
                group,
                body,
                view,
                headers: Default::default(),
                received: Instant::now(),
                identity: self.identity.clone(),
                responses: None,
                form: None,
                attempts: Default::default(),
                cache_lookup: None,
            };
            let response = self.stack.clone().oneshot(request).await?;
            let cost_micros = crate::spend::cost_from_headers(&response.headers);
            let ReplyBody::Json(bytes) = response.body else {
                return Err(GatewayError::Internal(
                    "a non-streaming model call was answered with a stream".into(),
                ));
            };
            let completion: Completion =
                serde_json::from_slice(&bytes).map_err(|e| GatewayError::UpstreamGarbled {
                    deployment: response
                        .served_by
                        .as_ref()
                        .map_or_else(|| Arc::from("cache"), |d| d.id.clone()),
                    reason: format!("not a chat completion: {e}"),
                })?;
            let usage = completion.usage.unwrap_or_default();
            let choice = completion.choices.into_iter().next();
            let truncated = choice
                .as_ref()
                .is_some_and(|c| c.finish_reason.as_deref() == Some("length"));
            let (content, tool_calls) = match choice.map(|c| c.message) {
                Some(m) => (m.content.unwrap_or_default(), m.tool_calls),
                None => (String::new(), Vec::new()),
            };
            let tool_calls = tool_calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let raw = c.function.arguments.unwrap_or_default();
                    // Arguments in the model's own dialect (Python strings, raw newlines) are read
                    // as the text parser reads them; what cannot be read stays a string.
                    let arguments = match raw.trim() {
                        "" => json!({}),
                        text => {
                            serde_json::from_str(text).unwrap_or_else(|_| match value_at(text, 0) {
                                Ok((v, end, _)) if text[end..].trim().is_empty() => v,
                                _ => Value::String(raw.clone()),
                            })
                        }
                    };
                    Call {
                        id: c
                            .id
                            .filter(|id| !id.is_empty())
                            .unwrap_or_else(|| format!("call_{n}_{i}")),
                        name: c.function.name,
                        arguments,
                    }
                })
                .collect();
            Ok(ModelReply {
                content,
                tool_calls,
                truncated,
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                cost_micros,
            })
        })
    }
}
