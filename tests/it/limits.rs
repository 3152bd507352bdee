//! Per-key rpm/tpm and the global `max_parallel_requests` (SPEC §7).

use std::time::Duration;

use crate::common::{
    MockUpstream, TestGateway, chat_body, http, openai_config,
    upstream::{completion, ok_json},
};

async fn gateway(limits: &str) -> (MockUpstream, TestGateway) {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let keys = format!(
        "switchyard_settings:\n  keys:\n    - {{ key: sk-limited, {limits} }}\n    - {{ key: sk-free }}\n"
    );
    let gw = TestGateway::start(&openai_config("gpt", &up, &keys)).await;
    (up, gw)
}

async fn call(gw: &TestGateway, key: &str) -> reqwest::Response {
    http()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&chat_body("gpt", false))
        .send()
        .await
        .unwrap()
}

fn h<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

#[tokio::test]
async fn rpm_admits_the_burst_then_429_with_retry_after_and_ratelimit_headers() {
    let (up, gw) = gateway("rpm_limit: 3").await;
    for remaining in ["2", "1", "0"] {
        let r = call(&gw, "sk-limited").await;
        assert_eq!(r.status(), 200);
        assert_eq!(h(&r, "x-ratelimit-limit-requests"), "3");
        assert_eq!(h(&r, "x-ratelimit-remaining-requests"), remaining);
        assert!(h(&r, "x-ratelimit-reset-requests").ends_with('s'));
    }
    let r = call(&gw, "sk-limited").await;
    assert_eq!(r.status(), 429);
    let retry_after: u64 = h(&r, "retry-after").parse().unwrap();
    assert!(
        (1..=20).contains(&retry_after),
        "one request every 20 s: {retry_after}"
    );
    assert_eq!(h(&r, "x-ratelimit-remaining-requests"), "0");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(up.hits(), 3, "a refused request never reaches the upstream");
    // Another key is not affected.
    assert_eq!(call(&gw, "sk-free").await.status(), 200);
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"switchyard_rate_limited_total{scope="key"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn tpm_is_charged_with_the_usage() {
    // Every answer uses 10 tokens: 25 per minute allow the third request, not a fourth.
    let (_up, gw) = gateway("tpm_limit: 25").await;
    for _ in 0..3 {
        assert_eq!(call(&gw, "sk-limited").await.status(), 200);
    }
    let r = call(&gw, "sk-limited").await;
    assert_eq!(r.status(), 429);
    assert_eq!(h(&r, "x-ratelimit-limit-tokens"), "25");
}

#[tokio::test]
async fn max_parallel_requests_sheds_load_at_once_and_health_still_answers() {
    let yaml = "model_list:\n  - model_name: slow\n    litellm_params: { model: mock/slow, mock_latency_ms: 2000 }\ngeneral_settings: { max_parallel_requests: 20 }\n";
    let gw = TestGateway::start(yaml).await;
    let client = http();
    let started = tokio::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let (c, url) = (client.clone(), gw.url("/v1/chat/completions"));
        calls.spawn(async move {
            let r = c
                .post(url)
                .json(&chat_body("slow", false))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            (status, body)
        });
    }
    // While 20 requests hold every slot for 2 s, health answers at once.
    let health = client
        .get(gw.url("/health/readiness"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "health did not wait for the slow requests"
    );
    let (mut ok, mut shed) = (0, 0);
    while let Some(result) = calls.join_next().await {
        let (status, body) = result.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                assert!(body.contains("rate_limit_exceeded"), "{body}");
                shed += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok + shed, 500);
    assert!(
        (20..=40).contains(&ok),
        "at most 20 in flight at a time: {ok} answered"
    );
    let m = gw.metrics().await;
    assert!(
        m.contains(&format!(
            r#"switchyard_rate_limited_total{{scope="global"}} {shed}"#
        )),
        "{m}"
    );
}
