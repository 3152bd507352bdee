//! The response cache (SPEC §7).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    Behavior, MockUpstream, TestGateway, chat_body, http, openai_config,
    upstream::{completion, error_json, full_stream, ok_json},
};

const CACHE: &str = "litellm_settings: { cache: true, cache_params: { type: local, ttl: 600 } }\n";

async fn post(gw: &TestGateway, body: &Value, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut r = http().post(gw.url("/v1/chat/completions")).json(body);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("x-switchyard-cache")
        .map_or("", |v| v.to_str().unwrap())
        .to_owned();
    (status, cache, resp.text().await.unwrap())
}

fn keys_config(up: &MockUpstream, extra: &str) -> String {
    openai_config(
        "gpt",
        up,
        &format!(
            "{CACHE}{extra}switchyard_settings:\n  keys: [ {{ key: sk-a }}, {{ key: sk-b }} ]\n"
        ),
    )
}

#[tokio::test]
async fn a_repeated_request_is_served_from_the_cache() {
    let up = MockUpstream::start(ok_json(completion("m", "cached answer"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, CACHE)).await;
    let (s1, c1, b1) = post(&gw, &chat_body("gpt", false), &[]).await;
    let (s2, c2, b2) = post(&gw, &chat_body("gpt", false), &[]).await;
    assert_eq!(
        (s1, c1.as_str(), s2, c2.as_str()),
        (200, "miss", 200, "hit")
    );
    assert_eq!(b1, b2);
    assert_eq!(up.hits(), 1);
    // Key order, stream options, user and metadata do not change the key.
    let same = json!({"metadata": {"trace": 1}, "user": "u7", "messages": [{"content": "hello", "role": "user"}], "model": "gpt"});
    assert_eq!(post(&gw, &same, &[]).await.1, "hit");
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"switchyard_cache_requests_total{result="hit"} 2"#),
        "{m}"
    );
    assert!(m.contains(r#"switchyard_requests_total{deployment="cache",model="gpt",provider="cache",status="200"} 2"#), "{m}");
}

#[tokio::test]
async fn a_streamed_answer_is_stored_and_served_as_json_or_sse() {
    let up = MockUpstream::start(full_stream("m", &["stre", "amed"])).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, CACHE)).await;
    let (_, cache, first) = post(&gw, &chat_body("gpt", true), &[]).await;
    assert_eq!(cache, "miss");
    assert!(first.contains("stre"));
    let (_, cache, json_hit) = post(&gw, &chat_body("gpt", false), &[]).await;
    assert_eq!(cache, "hit");
    let v: Value = serde_json::from_str(&json_hit).unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "streamed");
    assert_eq!(v["object"], "chat.completion");
    let mut asked = chat_body("gpt", true);
    asked["stream_options"] = json!({"include_usage": true});
    let (_, cache, sse) = post(&gw, &asked, &[]).await;
    assert_eq!(cache, "hit");
    let data: Vec<&str> = sse
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    let usage: Value = serde_json::from_str(data[data.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 2);
    let text: String = data
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "streamed");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn two_virtual_keys_never_share_entries_unless_configured() {
    async fn as_key(gw: &TestGateway, key: &str) -> String {
        post(
            gw,
            &chat_body("gpt", false),
            &[("authorization", &format!("Bearer {key}"))],
        )
        .await
        .1
    }
    let up = MockUpstream::start(ok_json(completion("m", "x"))).await;
    let gw = TestGateway::start(&keys_config(&up, "")).await;
    assert_eq!(as_key(&gw, "sk-a").await, "miss");
    assert_eq!(as_key(&gw, "sk-b").await, "miss");
    assert_eq!(as_key(&gw, "sk-a").await, "hit");
    assert_eq!(up.hits(), 2);

    let up = MockUpstream::start(ok_json(completion("m", "x"))).await;
    let shared = keys_config(&up, "").replace("ttl: 600 }", "ttl: 600, shared_across_keys: true }");
    let gw = TestGateway::start(&shared).await;
    assert_eq!(as_key(&gw, "sk-a").await, "miss");
    assert_eq!(as_key(&gw, "sk-b").await, "hit");
}

#[tokio::test]
async fn per_request_controls() {
    let up = MockUpstream::start(ok_json(completion("m", "x"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, CACHE)).await;
    // no-store: answered, not stored.
    assert_eq!(
        post(
            &gw,
            &chat_body("gpt", false),
            &[("cache-control", "no-store")]
        )
        .await
        .1,
        "miss"
    );
    assert_eq!(post(&gw, &chat_body("gpt", false), &[]).await.1, "miss");
    // Stored now; no-cache skips the lookup.
    assert_eq!(
        post(
            &gw,
            &chat_body("gpt", false),
            &[("cache-control", "no-cache")]
        )
        .await
        .1,
        "bypass"
    );
    let mut body = chat_body("gpt", false);
    body["cache"] = json!({"no-cache": true});
    assert_eq!(post(&gw, &body, &[]).await.1, "bypass");
    assert!(
        up.requests()
            .iter()
            .all(|r| r.json().get("cache").is_none()),
        "the `cache` field is stripped"
    );
    assert_eq!(post(&gw, &chat_body("gpt", false), &[]).await.1, "hit");
    assert_eq!(up.hits(), 4);
}

#[tokio::test]
async fn a_per_request_ttl_expires_the_entry() {
    let up = MockUpstream::start(ok_json(completion("m", "x"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, CACHE)).await;
    let mut body = chat_body("gpt", false);
    // Long enough that the hit below lands inside it on a loaded 2-core machine.
    body["cache"] = json!({"ttl": 2});
    assert_eq!(post(&gw, &body, &[]).await.1, "miss");
    assert_eq!(post(&gw, &body, &[]).await.1, "hit");
    // The entry's lifetime passing is the behaviour under test.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(post(&gw, &body, &[]).await.1, "miss");
}

#[tokio::test]
async fn only_successful_answers_are_stored() {
    let up = MockUpstream::start(ok_json(completion("m", "x"))).await;
    up.push(error_json(500, "e", "boom", &[]));
    let gw = TestGateway::start(&openai_config(
        "gpt",
        &up,
        &format!("{CACHE}router_settings: {{ num_retries: 0 }}\n"),
    ))
    .await;
    assert_eq!(post(&gw, &chat_body("gpt", false), &[]).await.0, 500);
    assert_eq!(post(&gw, &chat_body("gpt", false), &[]).await.1, "miss");
    assert_eq!(post(&gw, &chat_body("gpt", false), &[]).await.1, "hit");
}

#[tokio::test]
async fn identical_concurrent_misses_make_one_upstream_call() {
    let up = MockUpstream::start(Behavior::Slow(
        Duration::from_millis(500),
        Box::new(ok_json(completion("m", "once"))),
    ))
    .await;
    let gw = TestGateway::start(&openai_config("gpt", &up, CACHE)).await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (client, url) = (http(), gw.url("/v1/chat/completions"));
        calls.spawn(async move {
            let r = client
                .post(url)
                .json(&chat_body("gpt", false))
                .send()
                .await
                .unwrap();
            let cache = r.headers()["x-switchyard-cache"]
                .to_str()
                .unwrap()
                .to_owned();
            (r.status().as_u16(), cache, r.text().await.unwrap())
        });
    }
    let mut results = Vec::new();
    while let Some(r) = calls.join_next().await {
        results.push(r.unwrap());
    }
    assert_eq!(
        up.hits(),
        1,
        "one upstream call for 50 identical concurrent misses"
    );
    assert!(
        results
            .iter()
            .all(|(s, _, b)| *s == 200 && b.contains("once"))
    );
    assert_eq!(results.iter().filter(|(_, c, _)| c == "miss").count(), 1);
}
