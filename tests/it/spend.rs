//! Cost and spend (SPEC §14): cost headers, the spend metric, key budgets, model-group budgets,
//! `/key/info` and `/spend/keys`; never a key value in any of them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Behavior, End, MockUpstream, TestGateway, chat_body, http, upstream::ok_json};

const MASTER: &str = "sk-master-secret-1";
const TEAM: &str = "sk-team-secret-2";
const OTHER: &str = "sk-other-secret-3";

/// 1000 prompt tokens (800 of them cached) and 500 completion tokens. On gpt-4o
/// ($2.50 / $1.25 cached / $10 per 1M): 200 * 2.5 + 800 * 1.25 + 500 * 10 = 6500 µ$.
const USAGE: &str = r#"{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,"prompt_tokens_details":{"cached_tokens":800,"audio_tokens":null}}"#;
const COST: &str = "0.006500";

fn answer() -> Behavior {
    let usage: Value = serde_json::from_str(USAGE).unwrap();
    ok_json(
        json!({"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": usage})
        .to_string(),
    )
}

fn stream(delay: Duration) -> Behavior {
    let usage: Value = serde_json::from_str(USAGE).unwrap();
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    Behavior::Sse {
        events: vec![
            chunk(json!({"role": "assistant", "content": "h"}), Value::Null),
            chunk(json!({"content": "i"}), Value::Null),
            chunk(json!({}), json!("stop")),
            format!(
                "data: {}\n\n",
                json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", "choices": [], "usage": usage})
            ),
            "data: [DONE]\n\n".into(),
        ],
        delay,
        end: End::Clean,
    }
}

/// Group `g` on `openai/gpt-4o` (priced by the table), and the keys.
fn config(upstream: &MockUpstream, keys: &str, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n      api_base: http://{}/v1\n      api_key: sk-deployment-secret\n    model_info: {{ id: dep-g }}\n{extra}general_settings: {{ master_key: {MASTER} }}\nswitchyard_settings:\n  keys: [{keys}]\n",
        upstream.addr
    )
}

async fn post(gw: &TestGateway, key: &str, body: &Value) -> reqwest::Response {
    http()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get(gw: &TestGateway, key: &str, path: &str) -> (u16, String) {
    let r = http()
        .get(gw.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn key_spend(gw: &TestGateway, key: &str) -> f64 {
    let (status, text) = get(gw, key, "/key/info").await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str::<Value>(&text).unwrap()["info"]["spend"]
        .as_f64()
        .unwrap()
}

fn assert_no_keys(text: &str) {
    for secret in [MASTER, TEAM, OTHER, "sk-deployment-secret"] {
        assert!(!text.contains(secret), "a key leaked: {text}");
    }
}

#[tokio::test]
async fn json_and_streamed_answers_cost_the_same_with_cached_tokens_priced_as_cached() {
    let upstream = MockUpstream::start(answer()).await;
    let keys = format!("{{key: {TEAM}, key_alias: team-a}}, {{key: {OTHER}}}");
    let gw = TestGateway::start(&config(&upstream, &keys, "")).await;

    let r = post(&gw, TEAM, &chat_body("g", false)).await;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["x-switchyard-response-cost"], COST);
    assert_eq!(h["x-litellm-response-cost"], COST);
    for (_, v) in h {
        assert_no_keys(v.to_str().unwrap_or_default());
    }
    assert_eq!(key_spend(&gw, TEAM).await, 0.0065);

    // The same usage read from a stream is charged the same, when the stream ends.
    upstream.push(stream(Duration::ZERO));
    let r = post(&gw, TEAM, &chat_body("g", true)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("[DONE]"));
    let mut spent = 0.0;
    for _ in 0..100 {
        spent = key_spend(&gw, TEAM).await;
        if spent > 0.0065 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(spent, 0.013);

    // The master key's answers are counted under `master`, another key's under `key-1`.
    post(&gw, MASTER, &chat_body("g", false)).await;
    post(&gw, OTHER, &chat_body("g", false)).await;
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(
            r#"switchyard_spend_usd_total{deployment="dep-g",key="team-a",model="g"} 0.013"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(r#"key="master",model="g"} 0.0065"#));
    assert!(metrics.contains(r#"key="key-1",model="g"} 0.0065"#));
    assert_no_keys(&metrics);
}

#[tokio::test]
async fn a_deployment_price_override_wins_and_unknown_models_cost_nothing() {
    let upstream = MockUpstream::start(answer()).await;
    let extra = format!(
        "  - model_name: cheap\n    litellm_params: {{ model: openai/gpt-4o, api_base: 'http://{a}/v1', api_key: k, input_cost_per_token: 0.000001 }}\n    model_info: {{ output_cost_per_token: 0.000002 }}\n  - model_name: unknown\n    litellm_params: {{ model: openai/no-such-model, api_base: 'http://{a}/v1', api_key: k }}\n",
        a = upstream.addr
    );
    let gw = TestGateway::start(&config(&upstream, &format!("{{key: {TEAM}}}"), &extra)).await;
    // 1000 prompt tokens at $1 / 1M: the table's cache price stays ($1.25 / 1M for 800):
    // 200 * 1 + 800 * 1.25 + 500 * 2 = 2200 µ$.
    let r = post(&gw, TEAM, &chat_body("cheap", false)).await;
    assert_eq!(r.headers()["x-switchyard-response-cost"], "0.002200");
    let r = post(&gw, TEAM, &chat_body("unknown", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-response-cost"], "0.000000");
}

#[tokio::test]
async fn a_spent_key_is_refused_before_reaching_upstream_and_a_started_stream_finishes() {
    let upstream = MockUpstream::start(answer()).await;
    // Budget 0.01: the first answer (0.0065) leaves it under, the second takes it over.
    let keys = format!(
        "{{key: {TEAM}, key_alias: team-a, max_budget: 0.01, budget_duration: 1h}}, {{key: {OTHER}}}"
    );
    let gw = TestGateway::start(&config(&upstream, &keys, "")).await;
    assert_eq!(post(&gw, TEAM, &chat_body("g", false)).await.status(), 200);

    // A slow stream starts while the key is under budget; a JSON answer then spends the
    // budget; the stream still finishes whole and is charged.
    upstream.push(stream(Duration::from_millis(150)));
    let slow = post(&gw, TEAM, &chat_body("g", true)).await;
    assert_eq!(slow.status(), 200);
    upstream.wait_requests(2, Duration::from_secs(5)).await;
    assert_eq!(post(&gw, TEAM, &chat_body("g", false)).await.status(), 200);
    let text = slow.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let hits = upstream.hits();

    let r = post(&gw, TEAM, &chat_body("g", false)).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("team-a"), "{message}");
    assert_no_keys(message);
    assert_eq!(upstream.hits(), hits, "a spent key never reaches upstream");
    // Streams and agent runs are refused too; other keys are not.
    assert_eq!(post(&gw, TEAM, &chat_body("g", true)).await.status(), 400);
    let run = http()
        .post(gw.url("/agent/run"))
        .bearer_auth(TEAM)
        .json(&json!({"model": "g", "prompt": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 400);
    assert_eq!(post(&gw, OTHER, &chat_body("g", false)).await.status(), 200);
    let spent = key_spend(&gw, TEAM).await;
    assert!(
        (spent - 0.0195).abs() < 1e-9,
        "three answers charged: {spent}"
    );
}

#[tokio::test]
async fn key_info_and_spend_keys_show_spend_and_never_a_key() {
    let upstream = MockUpstream::start(answer()).await;
    let keys = format!(
        "{{key: {TEAM}, key_alias: team-a, models: [g], rpm_limit: 100, max_budget: 5, budget_duration: 30d}}, {{key: {OTHER}}}"
    );
    let gw = TestGateway::start(&config(&upstream, &keys, "")).await;
    post(&gw, TEAM, &chat_body("g", false)).await;

    let (status, own) = get(&gw, TEAM, "/key/info").await;
    assert_eq!(status, 200);
    assert_no_keys(&own);
    let own: Value = serde_json::from_str(&own).unwrap();
    let info = &own["info"];
    assert_eq!(info["key_alias"], "team-a");
    assert_eq!(info["spend"], 0.0065);
    assert_eq!(info["max_budget"], 5.0);
    assert_eq!(info["budget_duration"], "30d");
    assert_eq!(info["models"], json!(["g"]));
    assert_eq!(info["rpm_limit"], 100);
    assert!(info["budget_reset_at"].as_str().unwrap().ends_with('Z'));
    let token = own["key"].as_str().unwrap();
    assert_eq!(token.len(), 64);

    // The master key asks about any key, by value or by token.
    for asked in [TEAM, token] {
        let (status, text) = get(&gw, MASTER, &format!("/key/info?key={asked}")).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["key"], token);
    }
    // A virtual key cannot read another key's info nor the list.
    assert_eq!(
        get(&gw, OTHER, &format!("/key/info?key={TEAM}")).await.0,
        403
    );
    assert_eq!(get(&gw, OTHER, "/spend/keys").await.0, 403);
    assert_eq!(get(&gw, "sk-wrong", "/spend/keys").await.0, 401);

    let (status, all) = get(&gw, MASTER, "/spend/keys").await;
    assert_eq!(status, 200);
    assert_no_keys(&all);
    let all: Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[1]["key_alias"], "key-1");
    assert_eq!(all[1]["spend"], 0.0);
}

#[tokio::test]
async fn a_spent_model_group_falls_back_like_a_cooled_down_one() {
    let upstream = MockUpstream::start(answer()).await;
    let extra = format!(
        "  - model_name: b\n    litellm_params: {{ model: openai/gpt-4o, api_base: 'http://{}/v1', api_key: k }}\n    model_info: {{ id: dep-b }}\nrouter_settings: {{ fallbacks: [{{g: [b]}}] }}\n",
        upstream.addr
    );
    // g's budget is below one answer: the first spends it.
    let text = config(&upstream, &format!("{{key: {TEAM}}}"), &extra).replace(
        "model_info: { id: dep-g }",
        "model_info: { id: dep-g, max_budget: 0.001, budget_duration: 1d }",
    );
    let gw = TestGateway::start(&text).await;
    let first = post(&gw, TEAM, &chat_body("g", false)).await;
    assert_eq!(first.headers()["x-switchyard-model-id"], "dep-g");
    let second = post(&gw, TEAM, &chat_body("g", false)).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["x-switchyard-model-id"], "dep-b");
    assert_eq!(upstream.hits(), 2);
}

#[tokio::test]
async fn an_agent_run_reports_the_sum_of_its_model_calls() {
    let upstream = MockUpstream::start(answer()).await;
    let gw = TestGateway::start(&config(&upstream, &format!("{{key: {TEAM}}}"), "")).await;
    let r = http()
        .post(gw.url("/agent/run"))
        .bearer_auth(TEAM)
        .json(&json!({"model": "g", "prompt": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-response-cost"], COST);
    let envelope: Value = r.json().await.unwrap();
    assert_eq!(envelope["metrics"]["response_cost"], 0.0065, "{envelope}");
    assert_eq!(key_spend(&gw, TEAM).await, 0.0065);
}

#[tokio::test]
async fn anthropic_cache_reads_and_writes_are_priced_as_such_streamed_or_not() {
    use crate::providers::{json_fixture, sse_fixture};
    let upstream = MockUpstream::start(json_fixture("anthropic/cached_thinking.json", 200)).await;
    let gw = TestGateway::start(&format!(
        "model_list:\n  - model_name: m\n    litellm_params: {{ model: anthropic/claude-sonnet-4-5-20250929, api_base: 'http://{}', api_key: k }}\n    model_info: {{ id: dep-m }}\n",
        upstream.addr
    ))
    .await;
    // $3 / 1M uncached, $0.30 cache read, $3.75 cache write, $15 output:
    // 21 * 3 + 2048 * 0.3 + 1000 * 3.75 + 30 * 15 = 4877.4 µ$.
    let r = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("m", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-response-cost"], "0.004877");
    // The Anthropic front door's answers too.
    upstream.push(json_fixture("anthropic/cached_thinking.json", 200));
    let r = http()
        .post(gw.url("/v1/messages"))
        .json(&json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-response-cost"], "0.004877");
    upstream.push(sse_fixture("anthropic/cached_thinking.sse"));
    let r = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("m", true))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("[DONE]"));
    // Three answers of 4877 µ$ each.
    let prefix = r#"switchyard_spend_usd_total{deployment="dep-m",key="anonymous",model="m"} "#;
    let mut spent = 0.0;
    for _ in 0..100 {
        let metrics = gw.metrics().await;
        spent = metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map_or(0.0, |v| v.parse::<f64>().unwrap());
        if spent > 0.01 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!((spent - 0.014631).abs() < 1e-9, "{spent}");
}
