//! Micro-benchmarks of the per-request work the gateway does on its hot path (SPEC §12):
//!
//! - `json/*`: `JsonBody::parse` + `rewrite` of `model` (what every chat request pays) on the
//!   220-byte bench body and on a ~20 KB body with tools and a long conversation;
//! - `sse/*`: `SseBody` forwarding one stream of 23 `chat.completion.chunk` events (role chunk,
//!   20 content chunks, finish chunk, `[DONE]`), polled to the end with `BodyExt::collect` on a
//!   current-thread runtime; `sse/raw_body_*` is the same body without the wrapper (the floor).
//!   Text tracking (for mid-stream rescue) is on unless the name says otherwise;
//! - `error/*`: `GatewayError::to_json` for an upstream error passed through and a gateway error;
//! - `responses/*`: the chat -> Responses stream translation of `/v1/responses` on translated
//!   deployments (the 24 events of a stream with its usage chunk), per event.
//!
//! Run: `cargo bench --bench micro` (about a minute and a half); one group: `cargo bench --bench micro -- sse`.

use std::{convert::Infallible, hint::black_box, sync::Arc, time::Duration};

use axum::{body::Body, http::StatusCode};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::BodyExt;
use serde_json::json;
use switchyard::{
    error::{GatewayError, UpstreamError},
    openai::{JsonBody, Rewrite},
    responses::{response::Echo, stream::Translator, wire::CreateRequest},
    sse::SseBody,
};

/// The fixed request body of the load benches (`shared/bench`, `benches/load`).
const BENCH_BODY: &str = r#"{"model":"gpt-mock","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short sentence about load testing an HTTP proxy, please."}],"temperature":0.2,"stream":false}"#;

/// What the router rewrites `model` to (a typical upstream model id).
const UPSTREAM_MODEL: &str = "gpt-4o-mini-2024-07-18";

/// A realistic ~20 KB agent-style request: 8 tools with JSON schemas and a 68-message
/// conversation with tool calls and tool results.
fn large_body() -> Bytes {
    let tools: Vec<serde_json::Value> = (0..8)
        .map(|i| {
            json!({
                "type": "function",
                "function": {
                    "name": format!("tool_number_{i}"),
                    "description": format!("Tool {i}: looks up records in the inventory service and returns the matching rows as JSON, sorted by relevance."),
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string", "description": "Free-text search query."},
                            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "description": "Maximum number of rows."},
                            "sort": {"type": "string", "enum": ["relevance", "date", "name"]},
                            "filters": {"type": "object", "properties": {"region": {"type": "string"}, "active": {"type": "boolean"}}},
                        },
                        "required": ["query"],
                        "additionalProperties": false,
                    },
                    "strict": true,
                },
            })
        })
        .collect();
    let mut messages = vec![json!({
        "role": "system",
        "content": "You are an operations assistant for a warehouse. Answer briefly, cite the rows you used, and call tools when you need data. ".repeat(4),
    })];
    for turn in 0..22 {
        messages.push(json!({
            "role": "user",
            "content": format!("Turn {turn}: how many pallets of item SKU-{turn:05} are in the northern region, and which of them expire before the end of the quarter? Please include the bin numbers."),
        }));
        messages.push(json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": format!("call_{turn:024}"),
                "type": "function",
                "function": {"name": format!("tool_number_{}", turn % 8), "arguments": format!("{{\"query\":\"SKU-{turn:05} northern\",\"limit\":20,\"sort\":\"date\"}}")},
            }],
        }));
        messages.push(json!({
            "role": "tool",
            "tool_call_id": format!("call_{turn:024}"),
            "content": format!("[{{\"bin\":\"N-{turn}-01\",\"pallets\":4,\"expires\":\"2026-12-01\"}},{{\"bin\":\"N-{turn}-07\",\"pallets\":2,\"expires\":\"2027-03-15\"}}]"),
        }));
    }
    messages.push(json!({"role": "assistant", "content": "Bins N-21-01 (4 pallets, expiring 2026-12-01) and N-21-07 (2 pallets, 2027-03-15)."}));
    let body = json!({
        "model": "gpt-mock",
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "temperature": 0.2,
        "max_completion_tokens": 512,
        "stream": false,
        "user": "bench-user-0001",
    });
    Bytes::from(body.to_string())
}

fn bench_json(c: &mut Criterion) {
    let bodies = [
        ("bench_220b", Bytes::from_static(BENCH_BODY.as_bytes())),
        ("tools_20kb", large_body()),
    ];
    let rewrite = Rewrite {
        model: Some(UPSTREAM_MODEL),
        ..Rewrite::default()
    };
    let mut group = c.benchmark_group("json");
    for (name, raw) in &bodies {
        eprintln!("json/{name}: {} bytes", raw.len());
        group.throughput(Throughput::Bytes(raw.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", name), raw, |b, raw| {
            b.iter(|| {
                JsonBody::parse(black_box(raw.clone())).map(|body| black_box(body).raw().len())
            });
        });
        group.bench_with_input(
            BenchmarkId::new("parse_rewrite_model", name),
            raw,
            |b, raw| {
                b.iter(|| {
                    JsonBody::parse(black_box(raw.clone()))
                        .map(|body| body.rewrite(black_box(&rewrite)))
                });
            },
        );
    }
    group.finish();
}

/// One upstream stream as the mock upstream sends it: role chunk, `content` chunks (one token
/// each), finish chunk, optionally the usage-only chunk, then `[DONE]`. One `Bytes` per event.
fn stream_events(content: usize, usage_chunk: bool) -> Vec<Bytes> {
    const PIECES: [&str; 20] = [
        "This",
        " is",
        " a",
        " mock",
        " reply",
        " from",
        " the",
        " upstream",
        " server",
        ".",
        " It",
        " streams",
        " one",
        " short",
        " token",
        " per",
        " chunk",
        " for",
        " benchmarks",
        ".",
    ];
    let prefix = r#"data: {"id":"chatcmpl-mock00000000000004d2","object":"chat.completion.chunk","created":1763750000,"model":"gpt-mock","service_tier":"default","system_fingerprint":"fp_mock","choices":["#;
    let usage_null = if usage_chunk { r#","usage":null"# } else { "" };
    let event = |delta: &str, finish: &str| {
        Bytes::from(
            format!(
                r#"{prefix}{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]{usage_null}}}"#
            ) + "\n\n",
        )
    };
    let mut events = vec![event(
        r#"{"role":"assistant","content":"","refusal":null}"#,
        "null",
    )];
    for piece in PIECES.iter().cycle().take(content) {
        events.push(event(&format!(r#"{{"content":"{piece}"}}"#), "null"));
    }
    events.push(event("{}", r#""stop""#));
    if usage_chunk {
        events.push(Bytes::from(format!(
            r#"{prefix}],"usage":{{"prompt_tokens":55,"completion_tokens":{content},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}}}"#,
            55 + content
        ) + "\n\n"));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

fn per_event_body(events: &[Bytes]) -> Body {
    let owned: Vec<Result<Bytes, Infallible>> = events.iter().map(|e| Ok(e.clone())).collect();
    Body::from_stream(futures_util::stream::iter(owned))
}

fn one_frame_body(events: &[Bytes]) -> Body {
    Body::from(events.concat())
}

/// Wraps `body` like the gateway does and reads it to the end; returns the bytes forwarded.
/// `track_text`: keep the forwarded text for a mid-stream rescue (on with the default config,
/// `midstream_rescue: true`).
async fn forward(body: Body, keep_usage_chunk: bool, track_text: bool) -> usize {
    let sse = SseBody::new(
        body,
        Arc::from("bench-deployment"),
        Duration::from_secs(60),
        keep_usage_chunk,
        track_text,
    );
    match sse.collect().await {
        Ok(collected) => collected.to_bytes().len(),
        Err(never) => match never {},
    }
}

async fn raw(body: Body) -> usize {
    body.collect().await.map_or(0, |c| c.to_bytes().len())
}

fn bench_sse(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        eprintln!("sse benches skipped: no tokio runtime");
        return;
    };
    let plain = stream_events(20, false);
    let with_usage = stream_events(20, true);
    let plain_bytes: usize = plain.iter().map(Bytes::len).sum();
    eprintln!(
        "sse: {} events, {plain_bytes} bytes per stream ({} events with the usage chunk)",
        plain.len(),
        with_usage.len()
    );

    // Sanity: the wrapper forwards the stream unchanged, and drops only the usage chunk.
    let forwarded = rt.block_on(forward(per_event_body(&plain), false, true));
    let usage_dropped = rt.block_on(forward(per_event_body(&with_usage), false, true));
    let usage_len = with_usage[with_usage.len() - 2].len();
    let with_usage_bytes: usize = with_usage.iter().map(Bytes::len).sum();
    if forwarded != plain_bytes || usage_dropped != with_usage_bytes - usage_len {
        eprintln!(
            "warning: SseBody forwarded {forwarded}/{plain_bytes} and {usage_dropped}/{} bytes",
            with_usage_bytes - usage_len
        );
    }

    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Elements(1)); // per stream
    group.bench_function("raw_body_23_events_per_event_frames", |b| {
        b.iter(|| rt.block_on(raw(per_event_body(black_box(&plain)))));
    });
    group.bench_function("sse_body_23_events_per_event_frames", |b| {
        b.iter(|| rt.block_on(forward(per_event_body(black_box(&plain)), false, true)));
    });
    group.bench_function(
        "sse_body_23_events_per_event_frames_no_text_tracking",
        |b| {
            b.iter(|| rt.block_on(forward(per_event_body(black_box(&plain)), false, false)));
        },
    );
    group.bench_function("sse_body_23_events_one_frame", |b| {
        b.iter(|| rt.block_on(forward(one_frame_body(black_box(&plain)), false, true)));
    });
    group.bench_function("sse_body_24_events_usage_chunk_dropped", |b| {
        b.iter(|| rt.block_on(forward(per_event_body(black_box(&with_usage)), false, true)));
    });
    group.finish();
}

fn bench_errors(c: &mut Criterion) {
    let upstream_body = Bytes::from_static(
        br#"{"error":{"message":"Rate limit reached for requests (injected by mock-upstream). Please try again in 1000ms.","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
    );
    let passthrough = GatewayError::Upstream(UpstreamError {
        deployment: Arc::from("openai-gpt-mock-0"),
        status: StatusCode::TOO_MANY_REQUESTS,
        body: upstream_body,
        retry_after: Some(Duration::from_millis(1000)),
    });
    let gateway = GatewayError::ModelNotFound {
        model: "gpt-unknown".to_owned(),
        available: "gpt-4o, gpt-4o-mini, gpt-mock, text-embedding-3-small".to_owned(),
    };
    let mut group = c.benchmark_group("error");
    group.bench_function("to_json_upstream_passthrough_429", |b| {
        b.iter(|| black_box(&passthrough).to_json())
    });
    group.bench_function("to_json_gateway_model_not_found", |b| {
        b.iter(|| black_box(&gateway).to_json())
    });
    group.finish();
}

fn bench_responses(c: &mut Criterion) {
    let raw = r#"{"model":"gpt-mock","input":"Write one short sentence about load testing.","stream":true}"#;
    let (Ok(body), Ok(req)) = (
        JsonBody::parse(Bytes::from_static(raw.as_bytes())),
        serde_json::from_str::<CreateRequest>(raw),
    ) else {
        eprintln!("responses benches skipped: bad request body");
        return;
    };
    let echo = Echo::new(&req, &body);
    // The events without their blank lines, as the translator's framing hands them over.
    let events: Vec<Bytes> = stream_events(20, true)
        .into_iter()
        .map(|e| e.slice(..e.len() - 2))
        .collect();
    let translate = |events: &[Bytes]| {
        let mut translator = Translator::new(&echo, "gpt-mock", None);
        let mut out = bytes::BytesMut::new();
        for event in events {
            translator.event(event, &mut out);
        }
        out.len()
    };
    let written = translate(&events);
    eprintln!(
        "responses: {} chat events -> {written} bytes of Responses events",
        events.len()
    );
    let mut group = c.benchmark_group("responses");
    group.throughput(Throughput::Elements(events.len() as u64)); // per event
    group.bench_function("chat_to_responses_stream_24_events", |b| {
        b.iter(|| translate(black_box(&events)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60);
    targets = bench_json, bench_sse, bench_errors, bench_responses
}
criterion_main!(benches);
