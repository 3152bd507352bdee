//! Agent mode over HTTP: `POST /agent/run` answers the envelope; a chat completion with an
//! `agent` object (or `x-switchyard-agent: on`) answers a chat completion carrying the envelope in
//! its `agent` field — as SSE when `stream` is true, with comment heartbeats while the run works.
//! A run that is not ok says so: header `x-switchyard-agent-stopped: <reason>` (when the answer
//! is not streamed) and `finish_reason: "length"` — the answer is incomplete — never `stop`.

use std::{convert::Infallible, sync::Arc};

use axum::{
    Extension, Json,
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::forward::read_body;
use crate::{
    agent::{Envelope, Overrides, RunRequest},
    error::GatewayError,
    model::{RequestId, usd},
    proxy::{Identity, ProxyRequest},
    runtime::{AppState, Runtime},
    spend::{COST_HEADERS, Payer},
};

/// The `/agent/run` body: `{model, messages}` or `{model, prompt}`, plus overrides.
#[derive(Deserialize)]
struct RunBody {
    model: String,
    #[serde(default)]
    messages: Option<Vec<Value>>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(flatten)]
    overrides: Overrides,
}

/// Whether a chat completion asks for agent mode.
pub(super) fn requested(request: &ProxyRequest) -> bool {
    request.body.has("agent")
        || request
            .headers
            .get("x-switchyard-agent")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("on"))
}

/// POST `/agent/run`.
pub(super) async fn run(
    State(app): State<Arc<AppState>>,
    Extension(id): Extension<RequestId>,
    Extension(identity): Extension<Identity>,
    request: Request,
) -> Response {
    let rt = app.runtime();
    let (parts, body) = request.into_parts();
    let parsed = async {
        let bytes = read_body(&rt, &parts.headers, body).await?;
        let body: RunBody =
            serde_json::from_slice(&bytes).map_err(|e| GatewayError::InvalidRequest {
                message: format!("expected {{\"model\", \"messages\" or \"prompt\"}}: {e}"),
                param: None,
                code: "invalid_agent_request",
            })?;
        if rt.models.get(&body.model).is_none() {
            return Err(GatewayError::ModelNotFound {
                model: body.model,
                available: super::forward::usable_models(&rt, &identity),
            });
        }
        if !identity.allows(&rt.config, &body.model) {
            return Err(GatewayError::Forbidden {
                model: body.model,
                allowed: super::forward::usable_models(&rt, &identity),
            });
        }
        // A spent key is refused before the run starts (each model call is checked too).
        rt.spend.admit(Payer::from(&identity)).await?;
        let messages = match (body.messages, body.prompt) {
            (Some(m), _) if !m.is_empty() => m,
            (_, Some(p)) if !p.trim().is_empty() => vec![json!({"role": "user", "content": p})],
            _ => {
                return Err(GatewayError::invalid(
                    "give `messages` (non-empty) or `prompt`",
                    Some("messages"),
                ));
            }
        };
        Ok(RunRequest {
            model: body.model,
            messages,
            overrides: body.overrides,
            identity: identity.clone(),
            request_id: id,
            headers: parts.headers.clone(),
        })
    };
    match parsed.await {
        Ok(run) => {
            let envelope = rt.agent.run(&rt.stack, &rt.models, run).await;
            let stopped = stopped_header(&envelope);
            let cost = usd(envelope.metrics.cost_micros);
            let mut response = with_stopped(Json(envelope).into_response(), stopped);
            if let Ok(v) = HeaderValue::from_str(&cost) {
                for name in COST_HEADERS {
                    response.headers_mut().insert(name, v.clone());
                }
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// The header that says a run is not ok.
pub(super) const STOPPED_HEADER: &str = "x-switchyard-agent-stopped";

/// `x-switchyard-agent-stopped: <reason>` for a run that is not ok.
fn stopped_header(envelope: &Envelope) -> Option<HeaderValue> {
    (!envelope.ok).then(|| HeaderValue::from_static(envelope.stopped_reason.label()))
}

fn with_stopped(mut response: Response, stopped: Option<HeaderValue>) -> Response {
    if let Some(v) = stopped {
        response.headers_mut().insert(STOPPED_HEADER, v);
    }
    response
}

/// The `finish_reason` of a run's answer: `stop` only when the run is ok.
fn finish_reason(envelope: &Envelope) -> &'static str {
    if envelope.ok { "stop" } else { "length" }
}

/// A chat completion answered in agent mode.
pub(super) async fn chat(rt: Arc<Runtime>, request: ProxyRequest) -> Response {
    let mut overrides = match request.body.field::<Overrides>("agent") {
        Ok(o) => o.unwrap_or_default(),
        Err(e) => {
            return GatewayError::invalid(
                format!("`agent` must be an object of overrides: {e}"),
                Some("agent"),
            )
            .into_response();
        }
    };
    // The caller's sampling on the chat body applies to the run's calls (`agent` wins over it).
    let number = |key: &str| request.body.field::<f64>(key).ok().flatten();
    if overrides.max_tokens.is_none() {
        overrides.max_tokens = number("max_completion_tokens")
            .or_else(|| number("max_tokens"))
            .filter(|n| *n >= 1.0)
            .map(|n| n.min(f64::from(u32::MAX)) as u32);
    }
    if overrides.temperature.is_none() {
        overrides.temperature = number("temperature");
    }
    let messages: Vec<Value> = request
        .body
        .field("messages")
        .ok()
        .flatten()
        .unwrap_or_default();
    let (stream, include_usage) = (request.view.stream, request.view.include_usage);
    let id = request.id.clone();
    let run = RunRequest {
        model: request.view.model.clone(),
        messages,
        overrides,
        identity: request.identity.clone(),
        request_id: request.id.clone(),
        headers: request.headers.clone(),
    };
    if stream {
        return streamed(rt, run, id, include_usage);
    }
    let envelope = rt.agent.run(&rt.stack, &rt.models, run).await;
    let stopped = stopped_header(&envelope);
    if !envelope.ok && envelope.final_answer.trim().is_empty() {
        return with_stopped(failed(&envelope).into_response(), stopped);
    }
    with_stopped(Json(completion(&id, &envelope)).into_response(), stopped)
}

fn failed(envelope: &Envelope) -> GatewayError {
    GatewayError::AgentFailed {
        reason: envelope.stopped_reason.label(),
        detail: envelope.error.clone().unwrap_or_else(|| "no answer".into()),
    }
}

fn created() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn usage(envelope: &Envelope) -> Value {
    let m = &envelope.metrics;
    json!({"prompt_tokens": m.prompt_tokens, "completion_tokens": m.completion_tokens, "total_tokens": m.prompt_tokens + m.completion_tokens})
}

/// The chat completion of a run, with the envelope in `agent`.
fn completion(id: &RequestId, envelope: &Envelope) -> Value {
    json!({
        "id": format!("chatcmpl-{}", id.as_str()), "object": "chat.completion", "created": created(),
        "model": envelope.metrics.used_model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": envelope.final_answer}, "finish_reason": finish_reason(envelope)}],
        "usage": usage(envelope),
        "agent": envelope,
    })
}

/// SSE: heartbeats while the run works, then the answer as chunks. A client that leaves cancels
/// the run (its model and tool calls with it).
fn streamed(rt: Arc<Runtime>, run: RunRequest, id: RequestId, include_usage: bool) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let heartbeat = rt.config.agent.heartbeat;
    tokio::spawn(async move {
        let agent = rt.agent.clone();
        let running = agent.run(&rt.stack, &rt.models, run);
        tokio::pin!(running);
        // The first comment goes out at once, so the client's headers and first byte arrive.
        let mut ticks = tokio::time::interval(heartbeat);
        let envelope = loop {
            tokio::select! {
                envelope = &mut running => break envelope,
                _ = ticks.tick() => {
                    if tx.send(Bytes::from_static(b": switchyard agent working\n\n")).await.is_err() {
                        return; // the client left: dropping `running` cancels the run
                    }
                }
            }
        };
        for event in answer_events(&id, &envelope, include_usage) {
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The answer as `chat.completion.chunk` events, or an in-band error without `[DONE]`.
fn answer_events(id: &RequestId, envelope: &Envelope, include_usage: bool) -> Vec<Bytes> {
    if !envelope.ok && envelope.final_answer.trim().is_empty() {
        return vec![Bytes::from(format!(
            "data: {}\n\n",
            String::from_utf8_lossy(&failed(envelope).to_json())
        ))];
    }
    let (chunk_id, model, created) = (
        format!("chatcmpl-{}", id.as_str()),
        envelope.metrics.used_model.clone(),
        created(),
    );
    let chunk = |choices: Value, extra: Option<(&str, Value)>| {
        let mut c = json!({"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices});
        if let Some((k, v)) = extra {
            c[k] = v;
        }
        Bytes::from(format!("data: {c}\n\n"))
    };
    let mut events = vec![chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
        None,
    )];
    for piece in envelope.final_answer.split_inclusive(' ') {
        events.push(chunk(
            json!([{"index": 0, "delta": {"content": piece}, "finish_reason": null}]),
            None,
        ));
    }
    let agent = serde_json::to_value(envelope).unwrap_or(Value::Null);
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish_reason(envelope)}]),
        Some(("agent", agent)),
    ));
    if include_usage {
        events.push(chunk(json!([]), Some(("usage", usage(envelope)))));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}
