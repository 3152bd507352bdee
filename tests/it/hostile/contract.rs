//! Contract details: what the caller sees when retries run out, which retries are counted, and
//! what a virtual key is told.

use serde_json::Value;

use crate::common::{
    Behavior, MockUpstream, TestGateway, chat_body, http,
    upstream::{completion, error_json, ok_json},
};

fn two(a: &MockUpstream, b: &MockUpstream, num_retries: u32) -> String {
    format!(
        "model_list:
  - model_name: gpt
    litellm_params: {{ model: openai/model-a, api_base: 'http://{}/v1', api_key: ka, timeout: 0.3 }}
    model_info: {{ id: dep-a }}
  - model_name: gpt
    litellm_params: {{ model: openai/model-b, api_base: 'http://{}/v1', api_key: kb, timeout: 0.3 }}
    model_info: {{ id: dep-b }}
router_settings: {{ router_core: v1, retry_after: 0, allowed_fails: 100, num_retries: {num_retries} }}
",
        a.addr, b.addr
    )
}

async fn call(
    gw: &TestGateway,
    key: Option<&str>,
    model: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body(model, false));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

#[tokio::test]
async fn moving_off_a_silent_deployment_counts_as_a_timeout_retry() {
    let a = MockUpstream::start(Behavior::Hang).await;
    let b = MockUpstream::start(ok_json(completion("m", "from b"))).await;
    let gw = TestGateway::start(&two(&a, &b, 2)).await;
    let (status, _, body) = call(&gw, None, "gpt").await;
    assert_eq!(status, 200, "{body}");
    let m = gw.metrics().await;
    assert!(
        m.contains("switchyard_retries_total{model=\"gpt\",reason=\"timeout\"} 1"),
        "{m}"
    );
}

#[tokio::test]
async fn the_last_valid_answer_reaches_the_caller_when_retries_run_out() {
    // a: 503 with a message; b: a reset (no valid HTTP answer).
    let a = MockUpstream::start(error_json(503, "overloaded", "a is overloaded", &[])).await;
    let b = MockUpstream::start(Behavior::Reset).await;
    let gw = TestGateway::start(&two(&a, &b, 1)).await;
    let (status, headers, body) = call(&gw, None, "gpt").await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["message"], "a is overloaded", "{body}");
    assert_eq!(
        v["error"]["type"], "api_error",
        "a gateway-sent 5xx: {body}"
    );
    assert_eq!(headers["x-switchyard-attempts"], "2");
}

#[tokio::test]
async fn only_resets_and_garbage_make_a_502() {
    let a = MockUpstream::start(Behavior::Reset).await;
    let b = MockUpstream::start(Behavior::Raw(b"garbage\r\n\r\n".to_vec())).await;
    let gw = TestGateway::start(&two(&a, &b, 1)).await;
    let (status, _, body) = call(&gw, None, "gpt").await;
    assert_eq!(status, 502, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "api_error", "{body}");
}

#[tokio::test]
async fn a_virtual_key_is_told_only_the_models_it_may_use() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let yaml = format!(
        "model_list:
  - {{ model_name: public-one, litellm_params: {{ model: openai/m, api_base: 'http://{0}/v1', api_key: k }} }}
  - {{ model_name: secret-project, litellm_params: {{ model: openai/m, api_base: 'http://{0}/v1', api_key: k }} }}
general_settings: {{ master_key: sk-master-1234 }}
switchyard_settings: {{ keys: [ {{ key: sk-team-1234, models: [public-one] }} ] }}
",
        up.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (status, _, body) = call(&gw, Some("sk-team-1234"), "secret-project").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Models it may use: public-one\""), "{body}");
    let (status, _, body) = call(&gw, Some("sk-team-1234"), "no-such-model").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("public-one") && !body.contains("secret-project"),
        "{body}"
    );
}

#[tokio::test]
async fn deployment_rpm_is_gcra_with_burst_equal_to_the_limit() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let yaml = format!(
        "model_list:
  - {{ model_name: gpt, litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: k, rpm: 2 }} }}
",
        up.addr
    );
    let gw = TestGateway::start(&yaml).await;
    for _ in 0..2 {
        assert_eq!(call(&gw, None, "gpt").await.0, 200, "burst = limit");
    }
    let (status, headers, body) = call(&gw, None, "gpt").await;
    assert_eq!(status, 429, "{body}");
    let after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (29..=30).contains(&after),
        "one emission interval (60 s / rpm 2), not the rest of a minute: {after}"
    );
    assert_eq!(up.hits(), 2);
}
