//! Property-based fuzzing (proptest, stable toolchain) of what parses hostile bytes: the request
//! parser, the SSE pass-through and the `/v1/messages` translators. Each property is "never
//! panics, never hangs, and what it emits is well formed". `PROPTEST_CASES` sets the cases per
//! property (CI runs more of them, bounded in time, with `cargo test --lib fuzz_`).

use std::convert::Infallible;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::stream;
use http_body_util::BodyExt;
use proptest::prelude::*;

use crate::{
    messages::{request::to_openai, response, stream::Translator},
    openai::{ChatView, JsonBody, body::Rewrite},
    providers::anthropic::wire::MessagesRequest,
    sse::{SseBody, StreamLimits},
};

/// Pieces of the formats under test, so cases reach past the first parse error.
const TOKENS: &[&str] = &[
    "data: ",
    "data:",
    ": ping",
    "event: ",
    "id: 1",
    "\n",
    "\n\n",
    "\r\n",
    "\r\n\r\n",
    "[DONE]",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "0",
    "-1",
    "1e999",
    "\"model\"",
    "\"messages\"",
    "\"role\"",
    "\"user\"",
    "\"assistant\"",
    "\"content\"",
    "\"choices\"",
    "\"delta\"",
    "\"index\"",
    "\"finish_reason\"",
    "\"stop\"",
    "\"usage\"",
    "\"tool_calls\"",
    "\"error\"",
    "\"type\"",
    "\"text\"",
    "\"tool_use\"",
    "\"input\"",
    "\"max_tokens\"",
    "1024",
    "\"message_start\"",
    "\"content_block_delta\"",
    "\"text_delta\"",
    "\"message_stop\"",
    "\"stream\"",
    "\\u0000",
    "\\ud800",
    "\u{1F600}",
    "\u{FEFF}",
    "\u{0}",
];

/// Arbitrary bytes, or a splice of format tokens and bytes.
fn hostile() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => proptest::sample::select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..8),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec(token, 0..96).prop_map(|parts| parts.concat()),
    ]
}

/// `bytes` cut into frames at `cuts` (positions modulo the length).
fn frames(bytes: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for c in at.into_iter().chain([bytes.len()]) {
        out.push(Bytes::copy_from_slice(&bytes[start..c]));
        start = c;
    }
    out
}

fn body_of(frames: Vec<Bytes>) -> Body {
    Body::from_stream(stream::iter(
        frames.into_iter().map(Ok::<Bytes, Infallible>),
    ))
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
}

/// Failing cases are reported, not written to the source tree.
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every event the client gets is SSE text: UTF-8, each line a field or a comment.
fn assert_sse_text(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("only UTF-8 reaches the client");
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        assert!(
            line.is_empty()
                || line.starts_with("data:")
                || line.starts_with(':')
                || line.starts_with("event:")
                || line.starts_with("id:")
                || line.starts_with("retry:")
                || ["data", "event", "id", "retry"].contains(&line),
            "not an SSE line: {line:?}"
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_request_parser(bytes in hostile()) {
        if let Ok(body) = JsonBody::parse(Bytes::from(bytes)) {
            let _ = ChatView::read(&body, "messages");
            let rewritten = body.rewrite(&Rewrite {
                model: Some("upstream/model"),
                remove: &["cache", "agent"],
                include_usage: true,
            });
            // A rewritten body is JSON again.
            let v: serde_json::Value = serde_json::from_slice(&rewritten).unwrap();
            prop_assert_eq!(v["model"].as_str(), Some("upstream/model"));
            let _ = body.with_message(r#"{"role":"assistant","content":"x"}"#);
        }
    }

    #[test]
    fn fuzz_sse_pass_through(bytes in hostile(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let out = RUNTIME.with(|rt| rt.block_on(async {
            let body = SseBody::new(
                body_of(frames(&bytes, &cuts)),
                "fuzz".into(),
                std::time::Duration::from_secs(300),
                false,
                true,
            )
            .with_limits(StreamLimits { max_event_bytes: 256, max_before_first_token_bytes: 256 });
            Body::new(body).collect().await.unwrap().to_bytes()
        }));
        assert_sse_text(&out);
        let text = String::from_utf8_lossy(&out);
        let events: Vec<&str> = text.split("\n\n").filter(|e| !e.trim().is_empty()).collect();
        if let Some(i) = events.iter().position(|e| e.trim() == "data: [DONE]") {
            prop_assert_eq!(i, events.len() - 1, "[DONE] is the last event: {:?}", events);
        }
    }

    #[test]
    fn fuzz_messages_translators(bytes in hostile(), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        // Anthropic request -> OpenAI request.
        if let Ok(req) = serde_json::from_slice::<MessagesRequest>(&bytes) {
            let _ = to_openai(req, true);
        }
        // OpenAI answer -> Anthropic answer.
        let _ = response::translate(&bytes);
        // OpenAI stream -> Anthropic stream, fed in arbitrary frames.
        let mut t = Translator::default();
        let mut buf = BytesMut::new();
        let mut out = BytesMut::new();
        for frame in frames(&bytes, &cuts) {
            buf.extend_from_slice(&frame);
            t.feed(&mut buf, false, &mut out);
        }
        t.feed(&mut buf, true, &mut out);
        prop_assert!(std::str::from_utf8(&out).is_ok());
    }
}
