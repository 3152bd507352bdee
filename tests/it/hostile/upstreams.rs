//! Upstreams that would exhaust the gateway or leak through it: endless preambles, endless
//! events, endless streams, absurd `Retry-After`s, keys quoted in errors, garbage.

use std::time::Duration;

use serde_json::Value;

use crate::common::{
    Behavior, End, MockUpstream, TestGateway, chat_body, http, openai_config, sse,
    upstream::{chunks, completion, error_json, full_stream, ok_json},
};

/// Group `gpt` = [dep-a on `a`, dep-b on `b`] (v1 core: a first while healthy), plus `extra`.
fn two(a: &MockUpstream, b: &MockUpstream, extra: &str) -> String {
    format!(
        "model_list:
  - model_name: gpt
    litellm_params: {{ model: openai/model-a, api_base: 'http://{}/v1', api_key: sk-key-of-a-SECRET, timeout: 2 }}
    model_info: {{ id: dep-a }}
  - model_name: gpt
    litellm_params: {{ model: openai/model-b, api_base: 'http://{}/v1', api_key: sk-key-of-b-SECRET, timeout: 2 }}
    model_info: {{ id: dep-b }}
router_settings: {{ router_core: v1, retry_after: 0, allowed_fails: 100 }}
{extra}",
        a.addr, b.addr
    )
}

async fn call(
    gw: &TestGateway,
    path: &str,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = http().post(gw.url(path)).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

/// A whole streamed answer as bytes (bounded by the client's timeout).
async fn stream_bytes(gw: &TestGateway) -> Vec<u8> {
    let mut resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        out.extend_from_slice(&chunk);
    }
    out
}

fn role_chunk() -> String {
    chunks("m", &[])[0].clone()
}

#[tokio::test]
async fn a_preamble_without_content_is_capped_and_the_request_fails_over() {
    // Role chunks and comments, ~40 KiB of them, then nothing.
    let mut events = vec![role_chunk()];
    events.extend((0..400).map(|_| format!(": {}\n\n", "p".repeat(100))));
    let a = MockUpstream::start(sse(events, End::Hang)).await;
    let b = MockUpstream::start(full_stream("m", &["from ", "b"])).await;
    let extra = "switchyard_settings:\n  router: { max_before_first_token_kb: 4 }\n";
    let gw = TestGateway::start(&two(&a, &b, extra)).await;
    let text = String::from_utf8(stream_bytes(&gw).await).unwrap();
    assert!(text.contains("from ") && text.contains("[DONE]"), "{text}");
    assert!(
        !text.contains("ppppp"),
        "nothing of the dropped attempt reached the client"
    );
}

#[tokio::test]
async fn an_endless_event_is_capped_and_ends_the_stream_with_an_error() {
    let mut events = chunks("m", &["hello"])[..2].to_vec();
    // One event that never ends: 64 KiB of data without its blank line.
    events.push(format!("data: {}", "x".repeat(64 * 1024)));
    let up = MockUpstream::start(sse(events, End::Hang)).await;
    let extra = "switchyard_settings:\n  router: { max_event_kb: 8, midstream_rescue: false }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let text = String::from_utf8(stream_bytes(&gw).await).unwrap();
    assert!(text.contains("hello"), "{text}");
    assert!(text.contains("over 8192 bytes"), "{text}");
    assert!(!text.contains("[DONE]") && !text.contains("xxxx"), "{text}");
}

#[tokio::test]
async fn the_deadline_ends_a_stream_that_never_ends() {
    let mut events = chunks("m", &["tick"])[..2].to_vec();
    events.extend((0..2000).map(|_| chunks("m", &["tick"])[1].clone()));
    let up = MockUpstream::start(Behavior::Sse {
        events,
        delay: Duration::from_millis(20),
        end: End::Clean,
    })
    .await;
    let extra = "switchyard_settings:\n  router: { deadline_seconds: 0.5 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let text = String::from_utf8(stream_bytes(&gw).await).unwrap();
    assert!(text.contains("tick"), "{text}");
    assert!(text.contains("deadline_exceeded"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
}

#[tokio::test]
async fn a_garbled_stream_never_forwards_bytes_that_are_not_sse_text() {
    let mut events = chunks("m", &["fine"])[..2].to_vec();
    events.push("\u{1}garbage line\n\n".into());
    let up = MockUpstream::start(Behavior::Raw(
        [
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n".to_vec(),
            events.concat().into_bytes(),
            b"data: \xff\xfe\xfd not utf-8\n\n".to_vec(),
            b"\xc3\x28 raw\n\n".to_vec(),
        ]
        .concat(),
    ))
    .await;
    let extra = "switchyard_settings:\n  router: { midstream_rescue: false }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let bytes = stream_bytes(&gw).await;
    let text = std::str::from_utf8(&bytes).expect("only UTF-8 reaches the client");
    assert!(text.contains("fine"), "{text}");
    assert!(!text.contains("garbage") && !text.contains("raw"), "{text}");
    for event in text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        assert!(
            event.starts_with("data: ") || event.starts_with(':'),
            "{event:?}"
        );
    }
}

#[tokio::test]
async fn an_absurd_retry_after_is_clamped() {
    let up = MockUpstream::start(ok_json(completion("m", "back"))).await;
    up.push(error_json(
        429,
        "rate_limit_exceeded",
        "slow down",
        &[("retry-after", "99999999999999999999")],
    ));
    let extra = "switchyard_settings:\n  router: { max_retry_after_seconds: 0.2 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let (status, _, body) = call(&gw, "/v1/chat/completions", chat_body("gpt", false)).await;
    assert_eq!(
        status, 200,
        "the wait is the cap, within the deadline: {body}"
    );
    assert_eq!(up.hits(), 2);
}

#[tokio::test]
async fn a_deployment_resting_past_the_deadline_answers_503_with_retry_after_and_is_not_ready() {
    let up = MockUpstream::start(error_json(
        429,
        "rate_limit_exceeded",
        "slow down",
        &[("retry-after", "99999999999999999999")],
    ))
    .await;
    let extra =
        "switchyard_settings:\n  router: { max_retry_after_seconds: 30, deadline_seconds: 1 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let (status, headers, _) = call(&gw, "/v1/chat/completions", chat_body("gpt", false)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "30", "the upstream's wait, clamped");
    let (status, headers, body) = call(&gw, "/v1/chat/completions", chat_body("gpt", false)).await;
    assert_eq!(status, 503, "{body}");
    let after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&after), "{after}");
    let ready = http()
        .get(gw.url("/health/readiness"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn a_404_for_an_endpoint_the_deployment_does_not_serve_is_not_a_cooldown() {
    let up = MockUpstream::start(ok_json(completion("m", "chat still works"))).await;
    up.push(error_json(404, "not_found", "no such endpoint", &[]));
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (status, _, body) = call(
        &gw,
        "/v1/embeddings",
        serde_json::json!({"model": "gpt", "input": "hi"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("does not support embeddings"), "{body}");
    let (status, _, body) = call(&gw, "/v1/chat/completions", chat_body("gpt", false)).await;
    assert_eq!(status, 200, "the chat deployment did not cool down: {body}");
    assert!(
        !gw.metrics()
            .await
            .contains("switchyard_deployment_cooldown{deployment=\"dep-gpt\"} 1")
    );
}

#[tokio::test]
async fn configured_secrets_quoted_by_an_upstream_are_redacted() {
    let a = MockUpstream::start(error_json(
        400,
        "invalid_api_key",
        "Incorrect API key provided: sk-key-of-a-SECRET (also sk-key-of-b-SECRET)",
        &[],
    ))
    .await;
    let b = MockUpstream::start(ok_json(completion("m", "unused"))).await;
    let gw = TestGateway::start(&two(&a, &b, "")).await;
    let (status, _, body) = call(&gw, "/v1/chat/completions", chat_body("gpt", false)).await;
    assert_eq!(status, 400);
    assert!(!body.contains("SECRET"), "{body}");
    assert!(body.contains("[REDACTED]"), "{body}");
    // In a 5xx too, and in a stream's error event.
    a.push(error_json(
        500,
        "boom",
        "server saw sk-key-of-a-SECRET",
        &[],
    ));
    b.push(sse(
        vec![
            chunks("m", &["x"])[1].clone(),
            "data: {\"error\": {\"message\": \"bad key sk-key-of-b-SECRET\", \"type\": \"server_error\"}}\n\n".into(),
        ],
        End::Clean,
    ));
    let text = String::from_utf8(stream_bytes(&gw).await).unwrap();
    assert!(!text.contains("SECRET"), "{text}");
}

#[tokio::test]
async fn answers_outside_the_protocol_are_clear_502s() {
    for raw in [
        b"HTTP/1.1 999 Odd\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 302 Found\r\nlocation: http://example.com/\r\ncontent-length: 0\r\n\r\n"
            .to_vec(),
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4\r\n\r\n\xff\xfe{}"
            .to_vec(),
        b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 13\r\n\r\n<html></html>"
            .to_vec(),
    ] {
        let up = MockUpstream::start(Behavior::Raw(raw.clone())).await;
        let gw = TestGateway::start(&openai_config(
            "gpt",
            &up,
            "router_settings: { num_retries: 0 }\n",
        ))
        .await;
        let (status, headers, body) =
            call(&gw, "/v1/chat/completions", chat_body("gpt", false)).await;
        assert_eq!(status, 502, "{}: {body}", String::from_utf8_lossy(&raw));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["type"], "api_error", "{body}");
        assert_eq!(v["error"]["code"], "upstream_invalid_response", "{body}");
        assert_eq!(headers["x-switchyard-attempts"], "1");
    }
}
