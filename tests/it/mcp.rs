//! MCP tools in an agent run, over both transports, against a small `rmcp` server.

use std::sync::Arc;

use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::LocalSessionManager,
};
use serde_json::{Value, json};
use switchyard::testing::McpFixture;

use crate::common::{MockUpstream, TestGateway, http, upstream::ok_json};

fn reply(message: Value) -> crate::common::Behavior {
    let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}});
    ok_json(body.to_string())
}

/// A run whose model calls `calc__add` with 2 and 40, then answers with the tool's result.
async fn run_with(mcp_server: &str) -> (Value, MockUpstream) {
    let model = MockUpstream::start(reply(
        json!({"role": "assistant", "content": "The sum is 42."}),
    ))
    .await;
    model.push(reply(json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "calc__add", "arguments": "{\"a\": 2, \"b\": 40}"}}]})));
    let yaml = format!(
        "model_list:\n  - {{ model_name: small, litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: k }} }}\nswitchyard_settings:\n  agent:\n    mcp_servers: [ {mcp_server} ]\n",
        model.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let resp = http()
        .post(gw.url("/agent/run"))
        .json(&json!({"model": "small", "prompt": "2+40?"}))
        .send()
        .await
        .unwrap();
    (resp.json().await.unwrap(), model)
}

fn assert_ran_add(envelope: &Value, model: &MockUpstream) {
    assert_eq!(envelope["ok"], true, "{envelope:#}");
    let tool = envelope["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert_eq!(tool["content"], "42");
    let offered = model.requests()[0].json();
    let names: Vec<&str> = offered["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"calc__add") && names.contains(&"calc__shout"),
        "{names:?}"
    );
    let add = offered["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "calc__add")
        .unwrap();
    assert!(
        add["function"]["parameters"]["properties"]
            .get("a")
            .is_some(),
        "the server's schema is offered: {add}"
    );
}

#[tokio::test]
async fn mcp_over_streamable_http() {
    let service = StreamableHttpService::new(
        || Ok(McpFixture::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (envelope, model) = run_with(&format!("{{ name: calc, url: 'http://{addr}/mcp' }}")).await;
    assert_ran_add(&envelope, &model);
}

#[tokio::test]
async fn mcp_over_stdio() {
    let fixture = env!("CARGO_BIN_EXE_switchyard-mcp-fixture");
    let (envelope, model) = run_with(&format!("{{ name: calc, command: ['{fixture}'] }}")).await;
    assert_ran_add(&envelope, &model);
}
