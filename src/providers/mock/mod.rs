//! The built-in `mock` provider: deterministic OpenAI answers with no network, for the default
//! config, demos, tests and benchmarks. Behaviour comes from `litellm_params.mock_*`. Chat and
//! embeddings are here; the other OpenAI endpoints' answers are in `endpoints`.

mod endpoints;

mod script;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::body::Body;
use bytes::Bytes;
use futures_util::{future::BoxFuture, stream};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::{
    config::{DeploymentConfig, MockParams},
    error::{GatewayError, UpstreamError},
    model::Endpoint,
    proxy::{Provider, ProxyRequest, Reply},
    wildcard,
};

/// The mock adapter of one deployment.
#[derive(Debug)]
pub struct Mock {
    deployment: Arc<str>,
    model: Arc<str>,
    params: MockParams,
    calls: AtomicU32,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    role: String,
    #[serde(default)]
    content: Option<serde_json::Value>,
}

// === impl Mock ===

impl Mock {
    /// The mock for one deployment.
    pub fn new(cfg: &DeploymentConfig) -> Self {
        Self {
            deployment: cfg.id.as_str().into(),
            model: cfg.upstream_model.as_str().into(),
            params: cfg.mock.clone(),
            calls: AtomicU32::new(0),
        }
    }

    fn failure(&self) -> Option<GatewayError> {
        let status = self.params.error_status?;
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        if self.params.fail_first.is_some_and(|first| n >= first) {
            return None;
        }
        let status = StatusCode::from_u16(status).ok()?;
        let (kind, code) = match status.as_u16() {
            429 => ("rate_limit_error", "rate_limit_exceeded"),
            400..=499 => ("invalid_request_error", "mock_error"),
            _ => ("api_error", "mock_error"),
        };
        let body = json!({"error": {"message": format!("mock failure ({status})"), "type": kind, "param": null, "code": code}});
        Some(GatewayError::Upstream(UpstreamError {
            deployment: self.deployment.clone(),
            status,
            body: Bytes::from(body.to_string()),
            retry_after: self.params.retry_after,
        }))
    }

    fn chat(&self, request: &ProxyRequest) -> Reply {
        let messages: Vec<Message> = request
            .body
            .field("messages")
            .ok()
            .flatten()
            .unwrap_or_default();
        let prompt_tokens = messages
            .iter()
            .map(|m| estimate_tokens(&text_of(m)))
            .sum::<u64>()
            .max(1);
        let last_text = messages.last().map(text_of).unwrap_or_default();
        let tools: Vec<script::Tool> = request
            .body
            .field("tools")
            .ok()
            .flatten()
            .unwrap_or_default();
        let tool_choice: Option<serde_json::Value> =
            request.body.field("tool_choice").ok().flatten();
        let parallel = request
            .body
            .field::<bool>("parallel_tool_calls")
            .ok()
            .flatten()
            .unwrap_or(true);
        let calls = script::tool_calls(
            &messages,
            &tools,
            tool_choice.as_ref(),
            parallel,
            &last_text,
            request.id.as_str(),
        );
        if !calls.is_empty() {
            return self.tool_answer(request, &calls, prompt_tokens);
        }
        let full = match &self.params.response {
            Some(text) => text.clone(),
            None if messages.last().is_some_and(|m| m.role == "tool") => {
                let result: String = last_text.chars().take(200).collect();
                format!("The tool returned: {result}")
            }
            None => {
                let last = messages
                    .iter()
                    .rev()
                    .find(|m| m.role == "user")
                    .map(text_of)
                    .unwrap_or_default();
                let last: String = last.chars().take(200).collect();
                format!("This is a mock response from switchyard. You said: {last}")
            }
        };
        let response_format: Option<serde_json::Value> =
            request.body.field("response_format").ok().flatten();
        let full = script::formatted(response_format.as_ref(), &full).unwrap_or(full);
        // An assistant prefill: continue after it when it is the start of the answer.
        let prefill = messages
            .last()
            .filter(|m| m.role == "assistant")
            .map(text_of);
        let text = match prefill.as_deref().and_then(|p| full.strip_prefix(p)) {
            Some(rest) => rest.to_owned(),
            None => full,
        };
        let limit = request
            .body
            .field::<u64>("max_completion_tokens")
            .ok()
            .flatten()
            .or_else(|| request.body.field::<u64>("max_tokens").ok().flatten());
        let mut words: Vec<&str> = text.split_inclusive(' ').collect();
        let mut finish = "stop";
        if let Some(limit) = limit.filter(|l| (*l as usize) < words.len()) {
            words.truncate(limit as usize);
            finish = "length";
        }
        let completion_tokens = words.len() as u64;
        let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens});
        let id = format!("chatcmpl-{}", request.id.as_str());
        let created = now_secs();
        let model = wildcard::upstream_model(&self.model, &request.group.name, &request.view.model);
        let model = &*model;
        if !request.view.stream {
            let body = json!({
                "id": id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": words.concat()},
                    "logprobs": null, "finish_reason": finish}],
                "usage": usage,
            });
            return Reply::Json(Bytes::from(body.to_string()));
        }
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            let c = json!({"id": &id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
            Bytes::from(format!("data: {c}\n\n"))
        };
        let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), None)];
        events.extend(words.iter().map(|w| chunk(json!({"content": w}), None)));
        events.push(chunk(json!({}), Some(finish)));
        // Always sent, as the OpenAI-compatible adapter always asks for it; the SSE body drops
        // it when the client did not ask for usage.
        let c = json!({"id": &id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [], "usage": usage});
        events.push(Bytes::from(format!("data: {c}\n\n")));
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        Reply::Sse(paced(events, self.params.chunk_delay))
    }

    /// An answer that calls `calls`; streamed, each call's arguments come in three fragments
    /// after the first (which carries the id and name), as real servers send them.
    fn tool_answer(
        &self,
        request: &ProxyRequest,
        calls: &[script::Call],
        prompt_tokens: u64,
    ) -> Reply {
        let completion_tokens = calls
            .iter()
            .map(|c| estimate_tokens(&c.arguments) + 3)
            .sum::<u64>();
        let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens});
        let id = format!("chatcmpl-{}", request.id.as_str());
        let created = now_secs();
        if !request.view.stream {
            let tool_calls: Vec<_> = calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                .collect();
            let body = json!({
                "id": id, "object": "chat.completion", "created": created, "model": &*self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": tool_calls},
                    "logprobs": null, "finish_reason": "tool_calls"}],
                "usage": usage,
            });
            return Reply::Json(Bytes::from(body.to_string()));
        }
        let chunk = |delta: serde_json::Value, finish: Option<&str>| {
            let c = json!({"id": &id, "object": "chat.completion.chunk", "created": created, "model": &*self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
            Bytes::from(format!("data: {c}\n\n"))
        };
        let mut events = vec![chunk(json!({"role": "assistant", "content": null}), None)];
        for (i, call) in calls.iter().enumerate() {
            events.push(chunk(
                json!({"tool_calls": [{"index": i, "id": call.id, "type": "function",
                    "function": {"name": call.name, "arguments": ""}}]}),
                None,
            ));
            let chars: Vec<char> = call.arguments.chars().collect();
            for piece in chars.chunks(chars.len().div_ceil(3).max(1)) {
                let piece: String = piece.iter().collect();
                events.push(chunk(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                    None,
                ));
            }
        }
        events.push(chunk(json!({}), Some("tool_calls")));
        let c = json!({"id": &id, "object": "chat.completion.chunk", "created": created, "model": &*self.model,
            "choices": [], "usage": usage});
        events.push(Bytes::from(format!("data: {c}\n\n")));
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        Reply::Sse(paced(events, self.params.chunk_delay))
    }

    fn embeddings(&self, request: &ProxyRequest) -> Reply {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Input {
            One(String),
            Many(Vec<serde_json::Value>),
        }
        let inputs: Vec<String> = match request.body.field::<Input>("input") {
            Ok(Some(Input::One(s))) => vec![s],
            Ok(Some(Input::Many(v))) => v.iter().map(|x| x.to_string()).collect(),
            _ => vec![String::new()],
        };
        let dims = self.params.embedding_dims;
        let data: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": vector(text, dims)}))
            .collect();
        let tokens: u64 = inputs.iter().map(|t| estimate_tokens(t)).sum();
        let model = wildcard::upstream_model(&self.model, &request.group.name, &request.view.model);
        let body = json!({"object": "list", "data": data, "model": &*model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}});
        Reply::Json(Bytes::from(body.to_string()))
    }
}

impl Provider for Mock {
    fn send(&self, request: &ProxyRequest) -> BoxFuture<'static, Result<Reply, GatewayError>> {
        let latency = self.params.latency;
        let result = match self.failure() {
            Some(e) => Err(e),
            None => Ok(match request.endpoint {
                Endpoint::Chat => self.chat(request),
                Endpoint::Embeddings => self.embeddings(request),
                Endpoint::Completions => endpoints::completion(self, request),
                Endpoint::Images => endpoints::images(request),
                Endpoint::Speech => endpoints::speech(request),
                Endpoint::Transcriptions => endpoints::transcription(request),
                Endpoint::Moderations => endpoints::moderation(self, request),
                Endpoint::Rerank => endpoints::rerank(self, request),
            }),
        };
        Box::pin(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            result
        })
    }
}

/// The SSE events as a body, `delay` apart (one frame when there is no delay).
fn paced(events: Vec<Bytes>, delay: Duration) -> Body {
    if delay.is_zero() {
        return Body::from(events.concat());
    }
    let s = stream::unfold(
        (events.into_iter(), true),
        move |(mut it, first)| async move {
            let next = it.next()?;
            if !first {
                tokio::time::sleep(delay).await;
            }
            Some((Ok::<_, std::convert::Infallible>(next), (it, false)))
        },
    );
    Body::from_stream(s)
}

fn text_of(m: &Message) -> String {
    match &m.content {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// About four characters a token, as the usual rule of thumb.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// A deterministic unit vector derived from the text (FNV-1a of the text, then a splitmix64
/// finaliser per dimension).
fn vector(text: &str, dims: usize) -> Vec<f32> {
    let mut seed: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let raw: Vec<f32> = (0..dims as u64)
        .map(|d| {
            let mut z = seed.wrapping_add(d.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            ((z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
