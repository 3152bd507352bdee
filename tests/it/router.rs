//! Retries, silence, cooldowns and fallbacks against misbehaving upstreams (SPEC §6).

use std::time::Duration;

use serde_json::Value;

use crate::common::{
    Behavior, End, MockUpstream, TestGateway, chat_body, http, sse,
    upstream::{chunks, completion, error_json, full_stream, ok_json},
};

/// Group `gpt` = [dep-a on `a`, dep-b on `b`] (v1 core: a first while healthy), plus `extra`.
fn two(a: &MockUpstream, b: &MockUpstream, extra: &str) -> String {
    format!(
        "model_list:
  - model_name: gpt
    litellm_params: {{ model: openai/model-a, api_base: 'http://{}/v1', api_key: ka, timeout: 2 }}
    model_info: {{ id: dep-a }}
  - model_name: gpt
    litellm_params: {{ model: openai/model-b, api_base: 'http://{}/v1', api_key: kb, timeout: 2 }}
    model_info: {{ id: dep-b }}
router_settings: {{ router_core: v1, retry_after: 0 }}
{extra}",
        a.addr, b.addr
    )
}

async fn call(gw: &TestGateway, body: Value) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).map_or("", |v| v.to_str().unwrap())
}

async fn metrics(gw: &TestGateway) -> String {
    gw.metrics().await
}

#[tokio::test]
async fn a_429_with_retry_after_moves_to_the_other_deployment_at_once() {
    let a = MockUpstream::start(error_json(
        429,
        "rate_limit_exceeded",
        "busy",
        &[("retry-after", "30")],
    ))
    .await;
    let b = MockUpstream::start(ok_json(completion("model-b", "from b"))).await;
    let gw = TestGateway::start(&two(&a, &b, "")).await;
    let started = tokio::time::Instant::now();
    let (status, h, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no wait for a's Retry-After"
    );
    assert_eq!(header(&h, "x-switchyard-model-id"), "dep-b");
    assert_eq!(header(&h, "x-switchyard-attempts"), "2");
    // a asked for 30 s: the next request goes straight to b.
    let (_, h, _) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(header(&h, "x-switchyard-attempts"), "1");
    assert_eq!((a.hits(), b.hits()), (1, 2));
    assert!(
        metrics(&gw)
            .await
            .contains(r#"switchyard_retries_total{model="gpt",reason="rate_limited"} 1"#)
    );
}

#[tokio::test]
async fn a_429_forever_without_retry_after_ends_as_429_after_the_retries() {
    let a = MockUpstream::start(error_json(429, "rate_limit_exceeded", "slow down", &[])).await;
    let yaml = format!(
        "model_list:\n  - model_name: gpt\n    litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: k }}\nrouter_settings: {{ num_retries: 2, allowed_fails: 100 }}\n",
        a.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (status, h, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("slow down"));
    assert_eq!(
        header(&h, "x-switchyard-attempts"),
        "3",
        "error answers carry the attempts too"
    );
    assert_eq!(a.hits(), 3, "the first attempt and num_retries = 2 retries");
}

#[tokio::test]
async fn a_500_once_is_retried() {
    let a = MockUpstream::start(ok_json(completion("model-a", "ok"))).await;
    a.push(error_json(500, "server_error", "oops", &[]));
    let yaml = format!(
        "model_list:\n  - model_name: gpt\n    litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: k }}\n",
        a.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (status, h, _) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-switchyard-attempts"), "2");
    assert_eq!(a.hits(), 2);
}

#[tokio::test]
async fn a_503_forever_falls_back_and_the_answer_names_the_fallback_model_and_usage() {
    let a = MockUpstream::start(error_json(503, "unavailable", "down", &[])).await;
    let c = MockUpstream::start(ok_json(completion("claude-via-c", "from the fallback"))).await;
    let yaml = format!(
        "model_list:
  - model_name: gpt
    litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: k }}
  - model_name: backup
    litellm_params: {{ model: openai/claude-via-c, api_base: 'http://{}/v1', api_key: k }}
    model_info: {{ id: dep-c }}
router_settings: {{ num_retries: 1, fallbacks: [ {{ gpt: [backup] }} ] }}
",
        a.addr, c.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (status, h, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["model"], "claude-via-c");
    assert_eq!(v["usage"]["total_tokens"], 10);
    assert_eq!(header(&h, "x-switchyard-model-id"), "dep-c");
    assert_eq!(header(&h, "x-switchyard-attempts"), "3");
    assert_eq!(c.requests()[0].json()["model"], "claude-via-c");
    let m = metrics(&gw).await;
    assert!(
        m.contains(r#"switchyard_fallbacks_total{from="gpt",to="backup"} 1"#),
        "{m}"
    );
    assert!(m.contains(r#"switchyard_requests_total{deployment="dep-c",model="gpt",provider="openai",status="200"} 1"#), "{m}");
}

#[tokio::test]
async fn without_fallbacks_the_last_upstream_answer_is_returned() {
    let a = MockUpstream::start(error_json(503, "unavailable", "still down", &[])).await;
    let b = MockUpstream::start(error_json(503, "unavailable", "b down too", &[])).await;
    let gw = TestGateway::start(&two(&a, &b, "")).await;
    let (status, _, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("down"), "{body}");
}

#[tokio::test]
async fn a_reset_before_headers_is_retried_on_the_other_deployment() {
    let a = MockUpstream::start(Behavior::Reset).await;
    let b = MockUpstream::start(ok_json(completion("model-b", "ok"))).await;
    let gw = TestGateway::start(&two(&a, &b, "")).await;
    let (status, h, _) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-switchyard-model-id"), "dep-b");
}

#[tokio::test]
async fn a_silent_upstream_is_not_tried_again_for_the_request() {
    let a = MockUpstream::start(Behavior::Hang).await;
    let b = MockUpstream::start(ok_json(completion("model-b", "ok"))).await;
    b.push(error_json(500, "e", "b fails", &[]));
    b.push(error_json(500, "e", "b fails", &[]));
    let gw = TestGateway::start(&two(&a, &b, "").replace("timeout: 2", "timeout: 0.3")).await;
    let (status, h, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(a.hits(), 1, "the silent deployment got one chance");
    assert_eq!(b.hits(), 3);
    assert_eq!(header(&h, "x-switchyard-attempts"), "4");
}

#[tokio::test]
async fn a_stream_without_a_first_token_in_time_fails_over_invisibly() {
    let mut slow = chunks("model-a", &["late"]);
    slow.push("data: [DONE]\n\n".into());
    // The role chunk comes at once, the first content only after 20 s.
    let a = MockUpstream::start(Behavior::Sse {
        events: slow,
        delay: Duration::from_secs(20),
        end: End::Clean,
    })
    .await;
    let b = MockUpstream::start(full_stream("model-b", &["fast ", "answer"])).await;
    let extra = "switchyard_settings: { router: { first_token_timeout_seconds: 0.3 } }\n";
    let gw = TestGateway::start(&two(&a, &b, extra)).await;
    let started = tokio::time::Instant::now();
    let (status, h, text) = call(&gw, chat_body("gpt", true)).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(header(&h, "x-switchyard-model-id"), "dep-b");
    assert!(text.contains("fast ") && !text.contains("late"), "{text}");
    assert!(
        !text.contains("\"error\""),
        "the client never saw the first attempt: {text}"
    );
    assert_eq!(a.hits(), 1);
}

#[tokio::test]
async fn a_stream_that_breaks_before_its_first_token_switches_upstream() {
    let broken: Vec<String> = chunks("model-a", &["x"]).into_iter().take(1).collect();
    let a = MockUpstream::start(sse(broken, End::Cut)).await;
    let b = MockUpstream::start(full_stream("model-b", &["whole"])).await;
    let gw = TestGateway::start(&two(&a, &b, "")).await;
    let (status, h, text) = call(&gw, chat_body("gpt", true)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-switchyard-model-id"), "dep-b");
    assert_eq!(
        text.matches("\"role\"").count(),
        1,
        "only b's role chunk reached the client: {text}"
    );
    assert!(text.trim_end().ends_with("[DONE]"));
}

#[tokio::test]
async fn context_window_and_content_policy_errors_take_their_own_fallbacks() {
    let a = MockUpstream::start(error_json(
        400,
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens",
        &[],
    ))
    .await;
    let big = MockUpstream::start(ok_json(completion("big-context", "fits"))).await;
    let safe = MockUpstream::start(ok_json(completion("lenient", "allowed"))).await;
    let generic = MockUpstream::start(ok_json(completion("generic", "nope"))).await;
    let yaml = format!(
        "model_list:
  - {{ model_name: small, litellm_params: {{ model: openai/small, api_base: 'http://{}/v1', api_key: k }} }}
  - {{ model_name: big, litellm_params: {{ model: openai/big-context, api_base: 'http://{}/v1', api_key: k }} }}
  - {{ model_name: safe, litellm_params: {{ model: openai/lenient, api_base: 'http://{}/v1', api_key: k }} }}
  - {{ model_name: generic, litellm_params: {{ model: openai/generic, api_base: 'http://{}/v1', api_key: k }} }}
router_settings:
  fallbacks: [ {{ small: [generic] }} ]
  context_window_fallbacks: [ {{ small: [big] }} ]
  content_policy_fallbacks: [ {{ small: [safe] }} ]
",
        a.addr, big.addr, safe.addr, generic.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (status, _, body) = call(&gw, chat_body("small", false)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("fits"));
    assert_eq!(
        a.hits(),
        1,
        "a context-window error is not retried on the same model"
    );

    a.push(error_json(400, "content_policy_violation", "flagged", &[]));
    let (status, _, body) = call(&gw, chat_body("small", false)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("allowed"));

    a.push(error_json(
        400,
        "invalid_value",
        "temperature too high",
        &[],
    ));
    let (status, _, body) = call(&gw, chat_body("small", false)).await;
    assert_eq!(status, 400, "a plain 400 is the caller's: {body}");
    assert!(body.contains("temperature too high"));
    assert_eq!(generic.hits(), 0);
    assert_eq!(a.hits(), 3);
}

#[tokio::test]
async fn a_wrong_deployment_key_cools_that_deployment_and_the_other_serves() {
    let a = MockUpstream::start(error_json(401, "invalid_api_key", "bad key", &[])).await;
    let b = MockUpstream::start(ok_json(completion("model-b", "ok"))).await;
    let gw = TestGateway::start(
        &two(
            &a,
            &b,
            "router_settings: { router_core: v1, cooldown_time: 60 }\n",
        )
        .replace("router_settings: { router_core: v1, retry_after: 0 }\n", ""),
    )
    .await;
    for _ in 0..3 {
        let (status, h, _) = call(&gw, chat_body("gpt", false)).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "x-switchyard-model-id"), "dep-b");
    }
    assert_eq!(a.hits(), 1, "cooled down after one 401");
    assert!(
        metrics(&gw)
            .await
            .contains(r#"switchyard_deployment_cooldown{deployment="dep-a"} 1"#)
    );
}

#[tokio::test]
async fn every_deployment_cooled_and_no_fallback_is_503_with_retry_after_and_not_ready() {
    let a = MockUpstream::start(error_json(500, "e", "broken", &[])).await;
    let yaml = format!(
        "model_list:\n  - model_name: gpt\n    litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: k }}\nrouter_settings: {{ num_retries: 0, allowed_fails: 0, cooldown_time: 30 }}\n",
        a.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (status, _, _) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 500, "the upstream's own answer first");
    let (status, h, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("no_healthy_deployment"));
    let retry_after: u64 = header(&h, "retry-after").parse().unwrap();
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    let ready = http()
        .get(gw.url("/health/readiness"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(a.hits(), 1);
}

#[tokio::test]
async fn a_provider_down_then_recovered_gets_traffic_back_within_one_cooldown() {
    let a = MockUpstream::start(ok_json(completion("m", "back"))).await;
    a.push(error_json(500, "e", "down", &[]));
    a.push(error_json(500, "e", "down", &[]));
    let yaml = format!(
        "model_list:\n  - model_name: gpt\n    litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: k }}\nrouter_settings: {{ num_retries: 0, allowed_fails: 1, cooldown_time: 0.5 }}\n",
        a.addr
    );
    let gw = TestGateway::start(&yaml).await;
    assert_eq!(call(&gw, chat_body("gpt", false)).await.0, 500);
    assert_eq!(call(&gw, chat_body("gpt", false)).await.0, 500);
    assert_eq!(
        call(&gw, chat_body("gpt", false)).await.0,
        503,
        "cooled down"
    );
    // Waiting out the cooldown is the behaviour under test, not synchronisation.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, _, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(
        status, 200,
        "the probe succeeds and closes the circuit: {body}"
    );
    assert_eq!(call(&gw, chat_body("gpt", false)).await.0, 200);
    assert_eq!(
        http()
            .get(gw.url("/health/readiness"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_request() {
    let a = MockUpstream::start(Behavior::Hang).await;
    let b = MockUpstream::start(Behavior::Hang).await;
    let extra = "switchyard_settings: { router: { deadline_seconds: 0.5 } }\n";
    let gw = TestGateway::start(&two(&a, &b, extra).replace("timeout: 2", "timeout: 10")).await;
    let started = tokio::time::Instant::now();
    let (status, _, body) = call(&gw, chat_body("gpt", false)).await;
    assert_eq!(status, 504, "{body}");
    assert!(body.contains("deadline_exceeded"));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn weighted_shuffle_spreads_by_weight() {
    let a = MockUpstream::start(ok_json(completion("a", "a"))).await;
    let b = MockUpstream::start(ok_json(completion("b", "b"))).await;
    let yaml = two(&a, &b, "")
        .replace("router_core: v1", "router_core: v2")
        .replace(
            "api_key: ka, timeout: 2",
            "api_key: ka, timeout: 2, weight: 3",
        )
        .replace(
            "api_key: kb, timeout: 2",
            "api_key: kb, timeout: 2, weight: 1",
        );
    let gw = TestGateway::start(&yaml).await;
    for _ in 0..400 {
        assert_eq!(call(&gw, chat_body("gpt", false)).await.0, 200);
    }
    let share = a.hits() as f64 / 400.0;
    // Expected 0.75; the binomial standard deviation at n = 400 is about 0.022.
    assert!((0.65..=0.85).contains(&share), "a got {share}");
}
