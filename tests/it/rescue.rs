//! Mid-stream rescue (SPEC §6): a stream cut after 40 of 60 tokens is continued elsewhere, and
//! the client never sees a truncated answer presented as complete.

use std::time::Duration;

use crate::common::{
    Behavior, End, MockUpstream, TestGateway, chat_body, http, sse,
    upstream::{chunks, error_json, full_stream},
};

fn words(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("t{i} ")).collect()
}

/// 40 of 60 tokens, then the connection drops.
async fn cut_upstream() -> MockUpstream {
    let w = words(0..40);
    let refs: Vec<&str> = w.iter().map(String::as_str).collect();
    // chunks() = role, one per word, finish, usage: keep the role and the 40 words only.
    let events: Vec<String> = chunks("model-a", &refs).into_iter().take(41).collect();
    MockUpstream::start(sse(events, End::Cut)).await
}

fn stream_of(model: &str, range: std::ops::Range<usize>) -> Behavior {
    let w = words(range);
    full_stream(model, &w.iter().map(String::as_str).collect::<Vec<_>>())
}

fn config(a: &MockUpstream, b: &MockUpstream, b_info: &str, extra: &str) -> String {
    format!(
        "model_list:
  - model_name: gpt
    litellm_params: {{ model: openai/model-a, api_base: 'http://{}/v1', api_key: k }}
    model_info: {{ id: dep-a }}
  - model_name: gpt
    litellm_params: {{ model: openai/model-b, api_base: 'http://{}/v1', api_key: k }}
    model_info: {{ id: dep-b{b_info} }}
router_settings: {{ router_core: v1 }}
{extra}",
        a.addr, b.addr
    )
}

/// The text of a stream, and the data payloads.
async fn stream(gw: &TestGateway) -> (String, Vec<String>) {
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let raw = resp.text().await.unwrap();
    let data: Vec<String> = raw
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_owned)
        .collect();
    let mut text = String::new();
    for d in &data {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(d) {
            text.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
        }
    }
    (text, data)
}

fn full(range: std::ops::Range<usize>) -> String {
    words(range).concat()
}

fn last_message(up: &MockUpstream) -> serde_json::Value {
    let body = up.requests()[0].json();
    body["messages"].as_array().unwrap().last().unwrap().clone()
}

#[tokio::test]
async fn a_prefill_capable_deployment_continues_the_answer() {
    let a = cut_upstream().await;
    let b = MockUpstream::start(stream_of("model-b", 40..60)).await;
    let gw = TestGateway::start(&config(&a, &b, ", supports_assistant_prefill: true", "")).await;
    let (text, data) = stream(&gw).await;
    assert_eq!(text, full(0..60));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert!(!data.iter().any(|d| d.contains("\"error\"")));
    assert_eq!(
        last_message(&b),
        serde_json::json!({"role": "assistant", "content": full(0..40)})
    );
}

#[tokio::test]
async fn a_deployment_without_prefill_restarts_and_only_the_extension_is_forwarded() {
    let a = cut_upstream().await;
    let b = MockUpstream::start(stream_of("model-b", 0..60)).await;
    let gw = TestGateway::start(&config(&a, &b, "", "")).await;
    let (text, data) = stream(&gw).await;
    assert_eq!(text, full(0..60), "each token exactly once");
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(
        last_message(&b)["role"],
        "user",
        "no prefill to a model that cannot take one"
    );
}

#[tokio::test]
async fn a_restart_whose_chunks_split_differently_still_matches() {
    let a = MockUpstream::start(Behavior::Sse {
        events: chunks("a", &["Hel", "lo ", "wor"])
            .into_iter()
            .take(4)
            .collect(),
        delay: Duration::ZERO,
        end: End::Cut,
    })
    .await;
    let b = MockUpstream::start(full_stream("b", &["Hello", " world", " again"])).await;
    let gw = TestGateway::start(&config(&a, &b, ", supports_assistant_prefill: false", "")).await;
    let (text, _) = stream(&gw).await;
    assert_eq!(text, "Hello world again");
    assert_eq!(last_message(&b)["role"], "user");
}

#[tokio::test]
async fn a_restart_that_diverges_ends_with_the_original_failure() {
    let a = cut_upstream().await;
    let b = MockUpstream::start(full_stream("model-b", &["something ", "else"])).await;
    let gw = TestGateway::start(&config(&a, &b, "", "")).await;
    let (text, data) = stream(&gw).await;
    assert_eq!(
        text,
        full(0..40),
        "nothing of the diverging answer reaches the client"
    );
    assert!(!data.iter().any(|d| d == "[DONE]"));
    let last: serde_json::Value = serde_json::from_str(data.last().unwrap()).unwrap();
    let message = last["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("dep-a") && message.contains("failed mid-stream"),
        "{message}"
    );
}

#[tokio::test]
async fn a_deployment_that_rejects_the_prefill_is_skipped_for_the_next() {
    let a = cut_upstream().await;
    let b = MockUpstream::start(error_json(
        400,
        "invalid_request",
        "assistant prefill is not supported",
        &[],
    ))
    .await;
    let c = MockUpstream::start(stream_of("model-c", 0..60)).await;
    let extra = format!(
        "  - model_name: gpt\n    litellm_params: {{ model: openai/model-c, api_base: 'http://{}/v1', api_key: k }}\n    model_info: {{ id: dep-c }}\n",
        c.addr
    );
    let yaml = config(&a, &b, ", supports_assistant_prefill: true", "")
        .replace("router_settings:", &format!("{extra}router_settings:"));
    let gw = TestGateway::start(&yaml).await;
    let (text, data) = stream(&gw).await;
    assert_eq!(text, full(0..60));
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    assert_eq!((b.hits(), c.hits()), (1, 1));
}

#[tokio::test]
async fn the_rescue_can_continue_on_a_fallback_group() {
    let a = cut_upstream().await;
    let b = MockUpstream::start(stream_of("model-b", 0..60)).await;
    let yaml = format!(
        "model_list:
  - {{ model_name: gpt, litellm_params: {{ model: openai/model-a, api_base: 'http://{}/v1', api_key: k }}, model_info: {{ id: dep-a }} }}
  - {{ model_name: backup, litellm_params: {{ model: openai/model-b, api_base: 'http://{}/v1', api_key: k }} }}
router_settings: {{ fallbacks: [ {{ gpt: [backup] }} ] }}
",
        a.addr, b.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (text, _) = stream(&gw).await;
    assert_eq!(text, full(0..60));
}

#[tokio::test]
async fn with_rescue_off_a_cut_stream_ends_with_an_error_and_no_done() {
    let a = cut_upstream().await;
    let b = MockUpstream::start(stream_of("model-b", 0..60)).await;
    let gw = TestGateway::start(&config(
        &a,
        &b,
        "",
        "switchyard_settings: { router: { midstream_rescue: false } }\n",
    ))
    .await;
    let (text, data) = stream(&gw).await;
    assert_eq!(text, full(0..40));
    assert!(!data.iter().any(|d| d == "[DONE]"));
    assert!(data.last().unwrap().contains("\"error\""));
    assert_eq!(b.hits(), 0);
}

#[tokio::test]
async fn the_mock_provider_continues_its_own_answer_from_a_prefill() {
    let a = cut_upstream().await;
    let yaml = format!(
        "model_list:
  - {{ model_name: gpt, litellm_params: {{ model: openai/model-a, api_base: 'http://{}/v1', api_key: k }} }}
  - {{ model_name: gpt, litellm_params: {{ model: mock/m, mock_response: '{}' }} }}
router_settings: {{ router_core: v1 }}
",
        a.addr,
        full(0..60).trim_end()
    );
    let gw = TestGateway::start(&yaml).await;
    let (text, data) = stream(&gw).await;
    assert_eq!(text, full(0..60).trim_end());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
}
