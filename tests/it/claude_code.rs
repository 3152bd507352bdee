//! Claude Code with any model: recorded request shapes (`tests/fixtures/claude-code/`: a system
//! array with `cache_control`, tools with a server tool, thinking, `metadata.user_id`, a tool
//! loop with thinking and redacted thinking in history, `is_error` results, a `role: "system"`
//! message inside `messages`, images and documents, `stream: true`, Claude Code's headers)
//! through `/v1/messages` to the mock, to an OpenAI-compatible upstream (checking the faithful
//! translation it receives) and to an Anthropic upstream (thinking kept, `anthropic-*` headers
//! passed on).

use serde_json::{Value, json};

use crate::common::{
    MockUpstream, TestGateway, http, openai_config,
    upstream::{full_stream, ok_json},
};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/claude-code/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The fixture `name` asking for `model`.
fn request(name: &str, model: &str, stream: bool) -> Value {
    let mut body = fixture(name);
    body["model"] = json!(model);
    body["stream"] = json!(stream);
    body
}

async fn send(gw: &TestGateway, body: &Value) -> reqwest::Response {
    let mut req = http().post(gw.url("/v1/messages")).bearer_auth("sk-client");
    for (k, v) in fixture("headers.json").as_object().unwrap() {
        req = req.header(k, v.as_str().unwrap());
    }
    req.json(body).send().await.unwrap()
}

/// The SSE event names of a stream.
fn event_names(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect()
}

#[tokio::test]
async fn every_claude_code_shape_works_on_the_mock() {
    let gw = TestGateway::start(
        "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params: { model: mock/gpt-4o-mini }\n",
    )
    .await;
    for name in ["first-turn.json", "tool-loop.json"] {
        let r = send(&gw, &request(name, "gpt-4o-mini", true)).await;
        assert_eq!(r.status(), 200, "{name}");
        let text = r.text().await.unwrap();
        let names = event_names(&text);
        assert_eq!(names.first(), Some(&"message_start"), "{name}: {text}");
        assert_eq!(names.last(), Some(&"message_stop"), "{name}: {text}");
        assert!(names.contains(&"content_block_delta"), "{name}: {text}");

        let r = send(&gw, &request(name, "gpt-4o-mini", false)).await;
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["content"][0]["type"], "text");
    }
    // The last user text is what the mock echoes: the translation kept it.
    let v: Value = send(&gw, &request("tool-loop.json", "gpt-4o-mini", false))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        v["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("thanks, summarise it"),
        "{v}"
    );
}

#[tokio::test]
async fn an_openai_compatible_upstream_gets_a_faithful_chat_request() {
    let up = MockUpstream::start(full_stream("upstream-g", &["Done", "."])).await;
    let gw = TestGateway::start(&openai_config("g", &up, "")).await;
    let r = send(&gw, &request("tool-loop.json", "g", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        event_names(&r.text().await.unwrap()).last(),
        Some(&"message_stop")
    );

    let got = up.requests().pop().unwrap().json();
    assert_eq!(got["model"], "upstream-g");
    assert_eq!(got["stream"], true);
    assert_eq!(
        got["user"],
        "user_4f1c0e9b2a_account_5d7e2c1a_session_0c9f8e7d"
    );
    let text = got.to_string();
    // Nothing Anthropic-only reaches a chat model.
    for absent in [
        "cache_control",
        "thinking",
        "signature",
        "redacted",
        "srvtoolu",
        "web_search",
        "context_management",
    ] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }
    let tools: Vec<&str> = got["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["Bash", "Glob", "Read"]);
    assert_eq!(got["tool_choice"], "auto");

    let m = got["messages"].as_array().unwrap();
    let roles: Vec<&str> = m.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles,
        [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "system",
            "assistant",
            "tool",
            "user"
        ]
    );
    assert_eq!(m[2]["content"], "I'll find the Rust files first.");
    assert_eq!(m[2]["tool_calls"][0]["id"], "toolu_01A");
    assert_eq!(
        m[2]["tool_calls"][0]["function"]["arguments"],
        r#"{"pattern":"src/**/*.rs"}"#
    );
    assert_eq!(m[3]["tool_call_id"], "toolu_01A");
    // Empty input is `{}`; the server tool call is not a client tool call.
    assert_eq!(m[4]["tool_calls"].as_array().unwrap().len(), 1);
    assert_eq!(m[4]["tool_calls"][0]["function"]["arguments"], "{}");
    assert!(
        m[5]["content"]
            .as_str()
            .unwrap()
            .starts_with("Error: <tool_use_error>")
    );
    assert_eq!(
        m[6]["content"],
        "The user changed the working directory to /home/user/project/src."
    );
    assert_eq!(m[8]["tool_call_id"], "toolu_01D");
    let parts = m[9]["content"].as_array().unwrap();
    let kinds: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["image_url", "text", "text", "text"]);
    assert!(
        parts[0]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert_eq!(parts[1]["text"], "CONTRIBUTING: run cargo fmt.");
}

#[tokio::test]
async fn an_anthropic_upstream_keeps_thinking_and_gets_claude_codes_headers() {
    let up = MockUpstream::start(ok_json(
        json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1}})
        .to_string(),
    ))
    .await;
    let yaml = format!(
        "model_list:\n  - model_name: claude\n    litellm_params: {{ model: anthropic/claude-sonnet-4-5, api_base: 'http://{}', api_key: sk-ant-deployment }}\n",
        up.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let r = send(&gw, &request("tool-loop.json", "claude", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["content"][0]["text"], "ok");

    let got = up.requests().pop().unwrap();
    let headers = fixture("headers.json");
    assert_eq!(
        got.header("anthropic-beta"),
        headers["anthropic-beta"].as_str()
    );
    assert_eq!(
        got.header("anthropic-dangerous-direct-browser-access"),
        Some("true")
    );
    assert_eq!(got.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(got.header("x-api-key"), Some("sk-ant-deployment"));
    let body = got.json();
    assert_eq!(body["thinking"]["budget_tokens"], 31999);
    // The system message inside `messages` joins the system prompt.
    let system = body["system"].to_string();
    assert!(system.contains("changed the working directory"), "{system}");
    let m = body["messages"].as_array().unwrap();
    assert_eq!(m[1]["role"], "assistant");
    assert_eq!(m[1]["content"][0]["type"], "thinking");
    assert_eq!(m[1]["content"][0]["signature"], "EqQBCkYIBxgCKkBsig0001");
    assert_eq!(m[3]["content"][0]["type"], "redacted_thinking");
    assert_eq!(m[3]["content"][1]["type"], "tool_use");
    assert_eq!(m[3]["content"][1]["input"], json!({}));
    // Prompt caching markers on text survive to Anthropic.
    assert!(body.to_string().contains("cache_control"));
}
