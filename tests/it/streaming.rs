//! SSE pass-through: usage, `[DONE]`, cut and silent upstreams, garbage, client disconnects.

use std::time::Duration;

use crate::common::{
    Behavior, End, MockUpstream, TestGateway, chat_body, http, openai_config, sse,
    upstream::{chunks, full_stream},
};

/// The `data:` payloads of an SSE body.
fn data_lines(text: &str) -> Vec<&str> {
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect()
}

async fn stream_text(gw: &TestGateway, body: serde_json::Value) -> (reqwest::StatusCode, String) {
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(status != 200 || resp.headers()["content-type"] == "text/event-stream");
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn usage_chunk_is_forwarded_only_when_the_client_asked() {
    let up = MockUpstream::start(full_stream("m", &["a", "b"])).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;

    let (_, text) = stream_text(&gw, chat_body("gpt", true)).await;
    let data = data_lines(&text);
    assert!(!text.contains("\"usage\""), "{text}");
    assert_eq!(data.last(), Some(&"[DONE]"));

    let mut asked = chat_body("gpt", true);
    asked["stream_options"] = serde_json::json!({"include_usage": true});
    let (_, text) = stream_text(&gw, asked).await;
    let data = data_lines(&text);
    let usage: serde_json::Value = serde_json::from_str(data[data.len() - 2]).unwrap();
    assert_eq!(usage["choices"], serde_json::json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 2);
    assert_eq!(data.last(), Some(&"[DONE]"));
}

#[tokio::test]
async fn a_stream_without_done_is_finished_when_the_upstream_body_ends() {
    let events = chunks("m", &["x"]);
    let up = MockUpstream::start(sse(events, End::Clean)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (status, text) = stream_text(&gw, chat_body("gpt", true)).await;
    assert_eq!(status, 200);
    assert_eq!(data_lines(&text).last(), Some(&"[DONE]"));
    assert!(!text.contains("\"error\""));
}

#[tokio::test]
async fn a_cut_stream_ends_with_an_error_event_and_no_done() {
    // 3 of 6 content chunks, then the connection drops without the terminating chunk.
    let events: Vec<String> = chunks("m", &["one ", "two ", "three ", "four ", "five ", "six"])
        .into_iter()
        .take(4)
        .collect();
    let up = MockUpstream::start(sse(events, End::Cut)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (status, text) = stream_text(&gw, chat_body("gpt", true)).await;
    assert_eq!(status, 200);
    let data = data_lines(&text);
    assert!(
        text.contains("three"),
        "content before the cut is forwarded: {text}"
    );
    assert!(!text.contains("[DONE]"), "{text}");
    let last: serde_json::Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "api_error");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dep-gpt")
    );
}

#[tokio::test]
async fn a_clean_end_before_any_finish_reason_is_an_incomplete_answer() {
    let events: Vec<String> = chunks("m", &["one ", "two"]).into_iter().take(2).collect();
    let up = MockUpstream::start(sse(events, End::Clean)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (_, text) = stream_text(&gw, chat_body("gpt", true)).await;
    assert!(!text.contains("[DONE]"));
    assert!(
        data_lines(&text)
            .last()
            .unwrap()
            .contains("ended before the answer was complete"),
        "{text}"
    );
}

#[tokio::test]
async fn unparsable_events_are_skipped_not_fatal() {
    let mut events = chunks("m", &["good ", "answer"]);
    events.insert(2, "data: {not json at all\n\n".into());
    events.insert(3, ": a comment line\n\n".into());
    events.push("data: [DONE]\n\n".into());
    let up = MockUpstream::start(sse(events, End::Clean)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (_, text) = stream_text(&gw, chat_body("gpt", true)).await;
    assert!(!text.contains("not json"), "{text}");
    assert!(text.contains(": a comment line"));
    assert!(text.contains("answer"));
    assert_eq!(data_lines(&text).last(), Some(&"[DONE]"));
}

#[tokio::test]
async fn a_silent_upstream_mid_stream_ends_the_stream_with_an_error() {
    let events: Vec<String> = chunks("m", &["partial"]).into_iter().take(2).collect();
    let up = MockUpstream::start(sse(events, End::Hang)).await;
    let extra = "switchyard_settings:\n  router:\n    stream_idle_timeout_seconds: 0.3\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let (_, text) = stream_text(&gw, chat_body("gpt", true)).await;
    assert!(text.contains("partial"));
    assert!(!text.contains("[DONE]"));
    assert!(
        data_lines(&text)
            .last()
            .unwrap()
            .contains("sent nothing for 0.3s"),
        "{text}"
    );
    assert!(
        up.wait_disconnect(Duration::from_secs(5)).await,
        "the gateway closes the silent upstream"
    );
}

#[tokio::test]
async fn events_split_across_reads_and_crlf_framing_are_reassembled() {
    let whole: String = chunks("m", &["split ", "me"])
        .concat()
        .replace("\n\n", "\r\n\r\n")
        + "data: [DONE]\r\n\r\n";
    // One SSE event cut into 7-byte pieces, each its own HTTP chunk.
    let pieces: Vec<String> = whole
        .as_bytes()
        .chunks(7)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let up = MockUpstream::start(sse(pieces, End::Clean)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (_, text) = stream_text(&gw, chat_body("gpt", true)).await;
    assert!(text.contains("split ") && text.contains("\"me\""), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(!text.contains("\"error\""));
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_cancels_the_upstream_request() {
    let events: Vec<String> = chunks("m", &["first"]).into_iter().take(2).collect();
    let up = MockUpstream::start(sse(events, End::Hang)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let mut resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", true))
        .send()
        .await
        .unwrap();
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(std::str::from_utf8(&first).unwrap().starts_with("data: "));
    drop(resp);
    assert!(
        up.wait_disconnect(Duration::from_secs(5)).await,
        "upstream connection closed after the client left"
    );
}

#[tokio::test]
async fn a_client_that_leaves_before_the_answer_cancels_the_upstream_request() {
    let up = MockUpstream::start(Behavior::Hang).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let client = http();
    let url = gw.url("/v1/chat/completions");
    let request =
        tokio::spawn(async move { client.post(url).json(&chat_body("gpt", false)).send().await });
    assert!(up.wait_requests(1, Duration::from_secs(5)).await);
    request.abort();
    assert!(
        up.wait_disconnect(Duration::from_secs(5)).await,
        "upstream connection closed after the client left"
    );
}

#[tokio::test]
async fn a_json_answer_to_a_streaming_request_is_a_502() {
    let up = MockUpstream::start(crate::common::upstream::ok_json(
        crate::common::upstream::completion("m", "x"),
    ))
    .await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (status, text) = stream_text(&gw, chat_body("gpt", true)).await;
    assert_eq!(status, 502);
    assert!(text.contains("upstream_invalid_response"), "{text}");
}
