//! Bad input and failing upstreams: every answer is an OpenAI error body with the right status.

use std::time::Duration;

use serde_json::Value;

use crate::common::{
    Behavior, MockUpstream, TestGateway, chat_body, http, openai_config,
    upstream::{completion, error_json, ok_json},
};

async fn post(
    gw: &TestGateway,
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, headers, json)
}

/// These tests check error mapping, not routing: one attempt, no cooldown.
const ONE_ATTEMPT: &str =
    "router_settings: { num_retries: 0, allowed_fails: 1000, cooldown_time: 0 }\n";

fn assert_error(json: &Value, ty: &str, code: &str) {
    let e = &json["error"];
    assert_eq!(e["type"], ty, "{json}");
    assert_eq!(e["code"], code, "{json}");
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{json}"
    );
    assert!(e.get("param").is_some(), "{json}");
}

#[tokio::test]
async fn malformed_requests_are_400s() {
    let gw = TestGateway::start(switchyard::config::DEFAULT_CONFIG).await;
    let cases: Vec<(&str, &str)> = vec![
        ("{not json", "invalid_json"),
        ("", "invalid_json"),
        ("[1,2]", "invalid_json"),
        (r#"{"messages":[]}"#, "missing_model"),
        (r#"{"model":5,"messages":[]}"#, "invalid_type"),
        (r#"{"model":"gpt-4o"}"#, "missing_required_parameter"),
        (r#"{"model":"gpt-4o","messages":{}}"#, "invalid_type"),
        (
            r#"{"model":"gpt-4o","messages":[],"stream":"yes"}"#,
            "invalid_type",
        ),
    ];
    for (body, code) in cases {
        let (status, _, json) = post(&gw, body).await;
        assert_eq!(status, 400, "{body}");
        assert_error(&json, "invalid_request_error", code);
    }
    let (status, _, json) = post(&gw, r#"{"model":"gpt-5-turbo","messages":[]}"#).await;
    assert_eq!(status, 400);
    assert_error(&json, "invalid_request_error", "model_not_found");
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gpt-4o-mini") && message.contains("gpt-mock"),
        "{message}"
    );
}

#[tokio::test]
async fn oversized_bodies_are_413s() {
    let gw = TestGateway::start(&format!(
        "{}\ngeneral_settings: {{ max_request_size_mb: 0.01 }}\n",
        switchyard::config::DEFAULT_CONFIG
    ))
    .await;
    let big = format!(
        r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(20_000)
    );
    let (status, _, json) = post(&gw, big.clone()).await;
    assert_eq!(status, 413);
    assert_error(&json, "invalid_request_error", "request_too_large");
    // Without a content-length (chunked), the limit still holds.
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(big)];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, _, _) = post(&gw, body).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let gw = TestGateway::start(switchyard::config::DEFAULT_CONFIG).await;
    let resp = http().get(gw.url("/v1/nothing-here")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_error(&resp.json().await.unwrap(), "not_found_error", "not_found");
    let resp = http()
        .get(gw.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_error(
        &resp.json().await.unwrap(),
        "invalid_request_error",
        "method_not_allowed",
    );
}

#[tokio::test]
async fn upstream_4xx_passes_through_with_its_status_and_body() {
    let up = MockUpstream::start(error_json(
        400,
        "invalid_value",
        "temperature must be <= 2",
        &[],
    ))
    .await;
    let gw = TestGateway::start(&openai_config("gpt", &up, ONE_ATTEMPT)).await;
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(json["error"]["message"], "temperature must be <= 2");
    assert_eq!(json["error"]["code"], "invalid_value");
}

#[tokio::test]
async fn upstream_429_and_5xx_keep_their_status() {
    let up = MockUpstream::start(error_json(
        429,
        "rate_limit_exceeded",
        "slow down",
        &[("retry-after", "7")],
    ))
    .await;
    let gw = TestGateway::start(&openai_config("gpt", &up, ONE_ATTEMPT)).await;
    let (status, headers, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(json["error"]["message"], "slow down");

    for code in [500u16, 503] {
        up.push(Behavior::Json {
            status: code,
            body: "<html>upstream broke</html>".into(),
            headers: vec![],
        });
        let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
        assert_eq!(status, code);
        assert_error(&json, "api_error", "upstream_error");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("upstream broke")
        );
    }
}

#[tokio::test]
async fn an_upstream_that_rejects_the_deployment_key_is_a_502_not_a_401() {
    let up = MockUpstream::start(error_json(
        401,
        "invalid_api_key",
        "Incorrect API key provided: sk-depl***",
        &[],
    ))
    .await;
    let gw = TestGateway::start(&openai_config("gpt", &up, ONE_ATTEMPT)).await;
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 502);
    assert_error(&json, "api_error", "upstream_auth_failed");
    assert!(!json.to_string().contains("sk-depl"), "{json}");
    up.push(error_json(404, "model_not_found", "no such model", &[]));
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 502);
    assert_error(&json, "api_error", "upstream_model_not_found");
}

#[tokio::test]
async fn unreachable_reset_garbled_and_silent_upstreams() {
    // Connection refused: a port that was just freed.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = closed.local_addr().unwrap();
    drop(closed);
    let yaml = format!(
        "model_list:\n  - model_name: dead\n    litellm_params: {{ model: openai/x, api_base: 'http://{dead}/v1', api_key: sk-deployment-secret }}\n{ONE_ATTEMPT}"
    );
    let gw = TestGateway::start(&yaml).await;
    let (status, _, json) = post(&gw, chat_body("dead", false).to_string()).await;
    assert_eq!(status, 502);
    assert_error(&json, "api_error", "upstream_unreachable");
    assert!(!json.to_string().contains("sk-deployment-secret"));

    let up = MockUpstream::start(Behavior::Reset).await;
    let gw = TestGateway::start(
        &openai_config("gpt", &up, ONE_ATTEMPT).replace("timeout: 5", "timeout: 0.5"),
    )
    .await;
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 502);
    assert_error(&json, "api_error", "upstream_unreachable");

    up.push(ok_json("{\"choices\": [truncated".into()));
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 502);
    assert_error(&json, "api_error", "upstream_invalid_response");

    up.push(Behavior::Raw(b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()));
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 502);
    assert_error(&json, "api_error", "upstream_unreachable");

    up.push(Behavior::Hang);
    let started = tokio::time::Instant::now();
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 504);
    assert_error(&json, "api_error", "upstream_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the 0.5 s attempt timeout applies"
    );

    up.push(ok_json(completion("m", "recovered")));
    let (status, _, json) = post(&gw, chat_body("gpt", false).to_string()).await;
    assert_eq!(status, 200, "{json}");
}
