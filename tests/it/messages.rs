//! The Anthropic front door (`/v1/messages`) end to end: OpenAI and Anthropic upstreams, stream
//! and not, tool use, errors in Anthropic's shape, keys, cache, `count_tokens`.

use serde_json::{Value, json};

use crate::{
    common::{MockUpstream, TestGateway, http, openai_config},
    providers::{json_fixture, sse_fixture},
};

fn fixture(path: &str) -> String {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap()
}

fn anthropic_config(up: &MockUpstream, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: claude\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5-20250929\n      api_base: http://{}\n      api_key: sk-ant-deployment\n      timeout: 5\n    model_info: {{ id: dep-claude }}\n{extra}",
        up.addr
    )
}

fn request(model: &str, stream: bool) -> Value {
    json!({"model": model, "max_tokens": 256, "stream": stream,
        "tools": [{"name": "get_weather", "description": "Current weather",
            "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}],
        "messages": [{"role": "user", "content": "Weather in Paris and Tokyo?"}]})
}

async fn post(gw: &TestGateway, path: &str, body: &Value) -> reqwest::Response {
    http()
        .post(gw.url(path))
        .header("x-api-key", "sk-client")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `(event name, data)` of each SSE event.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

/// Rebuilds the message from its events, as the Anthropic SDKs do.
fn assemble(events: &[(String, Value)]) -> Value {
    let mut message = Value::Null;
    let mut json_bufs: Vec<String> = Vec::new();
    for (name, data) in events {
        match name.as_str() {
            "message_start" => message = data["message"].clone(),
            "content_block_start" => {
                let i = data["index"].as_u64().unwrap() as usize;
                assert_eq!(i, message["content"].as_array().unwrap().len());
                message["content"]
                    .as_array_mut()
                    .unwrap()
                    .push(data["content_block"].clone());
                json_bufs.push(String::new());
            }
            "content_block_delta" => {
                let i = data["index"].as_u64().unwrap() as usize;
                let d = &data["delta"];
                match d["type"].as_str().unwrap() {
                    "text_delta" => {
                        let t = message["content"][i]["text"].as_str().unwrap().to_owned();
                        message["content"][i]["text"] = json!(t + d["text"].as_str().unwrap());
                    }
                    "input_json_delta" => {
                        json_bufs[i].push_str(d["partial_json"].as_str().unwrap())
                    }
                    other => panic!("unexpected delta {other}"),
                }
            }
            "content_block_stop" => {
                let i = data["index"].as_u64().unwrap() as usize;
                if message["content"][i]["type"] == "tool_use" && !json_bufs[i].is_empty() {
                    message["content"][i]["input"] = serde_json::from_str(&json_bufs[i]).unwrap();
                }
            }
            "message_delta" => {
                message["stop_reason"] = data["delta"]["stop_reason"].clone();
                message["usage"]["output_tokens"] = data["usage"]["output_tokens"].clone();
                message["usage"]["input_tokens"] = data["usage"]["input_tokens"].clone();
            }
            "message_stop" | "ping" => {}
            other => panic!("unexpected event {other}: {data}"),
        }
    }
    assert_eq!(events.last().unwrap().0, "message_stop");
    message
}

fn weather_blocks() -> Value {
    json!([
        {"type": "text", "text": "I'll check the weather in both cities."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "Paris", "unit": "celsius"}},
        {"type": "tool_use", "id": "toolu_01B8wq8e7r8t7y6u5i4o3p2", "name": "get_weather", "input": {"location": "Tokyo", "unit": "celsius"}}
    ])
}

#[tokio::test]
async fn openai_upstream_with_tools_non_stream_and_stream() {
    let up = MockUpstream::start(json_fixture("openai/tool_calls.json", 200)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let resp = post(&gw, "/v1/messages", &request("gpt", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-switchyard-model-id"], "dep-gpt");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["content"], weather_blocks());
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 410, "output_tokens": 120})
    );
    // The upstream got an OpenAI request.
    let sent = up.requests()[0].json();
    assert_eq!(sent["model"], "upstream-gpt");
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(sent["max_tokens"], 256);

    up.push(sse_fixture("openai/tool_calls.sse"));
    let resp = post(&gw, "/v1/messages", &request("gpt", true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let evs = events(&resp.text().await.unwrap());
    let message = assemble(&evs);
    assert_eq!(message["content"], weather_blocks());
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["usage"]["output_tokens"], 120);
    assert_eq!(message["usage"]["input_tokens"], 410);
    assert_eq!(
        up.requests()[1].json()["stream_options"]["include_usage"],
        true
    );
}

#[tokio::test]
async fn anthropic_upstream_round_trips_request_and_answer() {
    let up = MockUpstream::start(json_fixture("anthropic/tool_calls.json", 200)).await;
    let gw = TestGateway::start(&anthropic_config(&up, "")).await;
    // A full conversation goes out to Anthropic as it came in.
    let mut original: Value =
        serde_json::from_str(&fixture("anthropic/request_full.anthropic.json")).unwrap();
    original["model"] = json!("claude");
    original["stream"] = json!(false);
    let resp = post(&gw, "/v1/messages", &original).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let mut sent = up.requests()[0].json();
    assert_eq!(
        up.requests()[0].header("x-api-key"),
        Some("sk-ant-deployment")
    );
    assert_eq!(sent["model"], "claude-sonnet-4-5-20250929");
    sent["model"] = json!("claude");
    original.as_object_mut().unwrap().remove("stream");
    assert_eq!(sent, original);
    // The answer comes back as Anthropic sent it (ids, blocks, stop reason, usage).
    let mut recorded: Value = serde_json::from_str(&fixture("anthropic/tool_calls.json")).unwrap();
    recorded["stop_sequence"] = Value::Null;
    assert_eq!(v, recorded);

    up.push(sse_fixture("anthropic/tool_calls.sse"));
    let resp = post(&gw, "/v1/messages", &request("claude", true)).await;
    let message = assemble(&events(&resp.text().await.unwrap()));
    assert_eq!(message["id"], "msg_01Aq9w938a90dw8q");
    assert_eq!(message["content"], weather_blocks());
    assert_eq!(message["usage"]["input_tokens"], 410);
}

#[tokio::test]
async fn errors_are_in_anthropic_shape() {
    let up = MockUpstream::start(json_fixture("anthropic/error_overloaded.json", 529)).await;
    let cfg = format!(
        "model_list:\n  - model_name: claude\n    litellm_params:\n      model: anthropic/claude-sonnet-4-5-20250929\n      api_base: http://{}\n      api_key: sk-ant-deployment\n  - model_name: nope\n    litellm_params: {{ model: mock/nope }}\nrouter_settings: {{ num_retries: 0 }}\ngeneral_settings: {{ master_key: sk-client }}\nswitchyard_settings:\n  keys:\n    - {{ key: sk-other, models: [nope] }}\n",
        up.addr
    );
    let gw = TestGateway::start(&cfg).await;
    let check = |v: &Value, kind: &str| {
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert!(v["error"]["message"].is_string());
    };
    let resp = post(&gw, "/v1/messages", &request("claude", false)).await;
    assert_eq!(resp.status(), 503);
    check(&resp.json().await.unwrap(), "overloaded_error");

    let resp = http()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "wrong")
        .json(&request("claude", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    check(&resp.json().await.unwrap(), "authentication_error");

    let resp = http()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "sk-other")
        .json(&request("claude", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    check(&resp.json().await.unwrap(), "permission_error");

    let resp = post(&gw, "/v1/messages", &request("no-such-model", false)).await;
    assert_eq!(resp.status(), 400);
    check(&resp.json().await.unwrap(), "invalid_request_error");

    let resp = post(
        &gw,
        "/v1/messages",
        &json!({"model": "claude", "messages": "hi"}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    check(&resp.json().await.unwrap(), "invalid_request_error");
}

#[tokio::test]
async fn cache_applies_to_the_front_door() {
    let up = MockUpstream::start(json_fixture("openai/text.json", 200)).await;
    let gw = TestGateway::start(&openai_config(
        "gpt",
        &up,
        "litellm_settings: { cache: true }\n",
    ))
    .await;
    let body = json!({"model": "gpt", "max_tokens": 50, "messages": [{"role": "user", "content": "Hello"}]});
    let first = post(&gw, "/v1/messages", &body).await;
    assert_eq!(first.headers()["x-switchyard-cache"], "miss");
    let first: Value = first.json().await.unwrap();
    let second = post(&gw, "/v1/messages", &body).await;
    assert_eq!(second.headers()["x-switchyard-cache"], "hit");
    assert_eq!(second.json::<Value>().await.unwrap(), first);
    // A streamed hit replays as Anthropic events.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let resp = post(&gw, "/v1/messages", &streamed).await;
    assert_eq!(resp.headers()["x-switchyard-cache"], "hit");
    let message = assemble(&events(&resp.text().await.unwrap()));
    assert_eq!(
        message["content"][0]["text"],
        "Hello! How can I help you today?"
    );
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn count_tokens_estimates() {
    let up = MockUpstream::start(json_fixture("openai/text.json", 200)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let resp = post(
        &gw,
        "/v1/messages/count_tokens",
        &json!({"model": "gpt", "system": "x".repeat(400), "messages": [{"role": "user", "content": "y".repeat(400)}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v, json!({"input_tokens": 203}));
    assert_eq!(up.hits(), 0);
    let resp = post(
        &gw,
        "/v1/messages/count_tokens",
        &json!({"model": "nope", "messages": []}),
    )
    .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn count_tokens_asks_anthropic_deployments_and_estimates_when_they_fail() {
    let up = MockUpstream::start(crate::common::upstream::ok_json(
        r#"{"input_tokens": 42}"#.to_owned(),
    ))
    .await;
    let gw = TestGateway::start(&anthropic_config(&up, "")).await;
    let body = json!({"model": "claude", "max_tokens": 10, "system": "x".repeat(400),
        "messages": [{"role": "user", "content": "y".repeat(400)}]});
    let resp = post(&gw, "/v1/messages/count_tokens", &body).await;
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"input_tokens": 42})
    );
    let sent = &up.requests()[0];
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-deployment"));
    let sent = sent.json();
    assert_eq!(sent["model"], "claude-sonnet-4-5-20250929");
    assert!(sent.get("max_tokens").is_none(), "{sent}");
    assert_eq!(sent["messages"], body["messages"]);

    up.push(json_fixture("anthropic/error_overloaded.json", 529));
    let resp = post(&gw, "/v1/messages/count_tokens", &body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"input_tokens": 203})
    );
}

#[tokio::test]
async fn an_upstream_error_mid_stream_is_an_anthropic_error_event() {
    let up = MockUpstream::start(sse_fixture("anthropic/error_midstream.sse")).await;
    let gw = TestGateway::start(&anthropic_config(&up, "")).await;
    let resp = post(
        &gw,
        "/v1/messages",
        &json!({"model": "claude", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let evs = events(&resp.text().await.unwrap());
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(evs[3].1["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn a_streamed_front_door_answer_is_cached() {
    let up = MockUpstream::start(sse_fixture("openai/tool_calls.sse")).await;
    let gw = TestGateway::start(&openai_config(
        "gpt",
        &up,
        "litellm_settings: { cache: true }\n",
    ))
    .await;
    let resp = post(&gw, "/v1/messages", &request("gpt", true)).await;
    assert_eq!(resp.headers()["x-switchyard-cache"], "miss");
    let streamed = assemble(&events(&resp.text().await.unwrap()));
    // The stored answer serves the same request as JSON.
    let mut hit = None;
    for _ in 0..50 {
        let resp = post(&gw, "/v1/messages", &request("gpt", false)).await;
        if resp
            .headers()
            .get("x-switchyard-cache")
            .is_some_and(|v| v == "hit")
        {
            hit = Some(resp.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let hit = hit.expect("the streamed answer was stored");
    assert_eq!(hit["content"], streamed["content"]);
    assert_eq!(hit["content"], weather_blocks());
}
