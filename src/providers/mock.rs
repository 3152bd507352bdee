//! The built-in `mock` provider: deterministic OpenAI answers with no network, for the default
//! config, demos, tests and benchmarks. Behaviour comes from `litellm_params.mock_*`.

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

use super::{Provider, Reply};
use crate::{
    config::{DeploymentConfig, MockParams},
    error::{GatewayError, UpstreamError},
    proxy::{Endpoint, ProxyRequest},
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
        let full = match &self.params.response {
            Some(text) => text.clone(),
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
