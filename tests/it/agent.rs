//! Agent mode end to end: a mock upstream plays a small model; real exec sandbox; HTTP tool hosts.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    Behavior, MockUpstream, TestGateway, http,
    upstream::{error_json, ok_json},
};

fn reply(message: Value) -> Behavior {
    let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "qwen2.5-coder:3b",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}});
    ok_json(body.to_string())
}

fn says(text: &str) -> Behavior {
    reply(json!({"role": "assistant", "content": text}))
}

fn calls(name: &str, args: Value) -> Behavior {
    reply(json!({"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": args.to_string()}}]}))
}

fn config(model: &MockUpstream, agent: &str) -> String {
    format!(
        "model_list:
  - model_name: small
    litellm_params: {{ model: openai/qwen2.5-coder:3b, api_base: 'http://{}/v1', api_key: k }}
router_settings: {{ num_retries: 0 }}
switchyard_settings:
  agent:
{agent}",
        model.addr
    )
}

const EXEC: &str = "    tools: { exec_python: { enabled: true, timeout_seconds: 5 } }\n    aliases: { python: exec_python }\n";

async fn agent_run(gw: &TestGateway, body: Value) -> Value {
    let resp = http()
        .post(gw.url("/agent/run"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn seed_failure_blank_after_a_tool_still_answers() {
    // qwen2.5-coder:3b: runs the tool, then answers blank, twice.
    let model = MockUpstream::start(says("")).await;
    model.push(calls("exec_python", json!({"code": "print(6*7)"})));
    let gw = TestGateway::start(&config(&model, EXEC)).await;
    let e = agent_run(
        &gw,
        json!({"model": "small", "prompt": "What is 6*7? Use python."}),
    )
    .await;
    assert_eq!(e["ok"], true, "{e:#}");
    assert_eq!(e["stopped_reason"], "tool_output");
    assert!(e["final_answer"].as_str().unwrap().contains("42"), "{e:#}");
    let reqs = model.requests();
    assert_eq!(reqs.len(), 3, "the call, the blank answer, the nudge");
    assert!(
        reqs[0].json()["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["function"]["name"] == "exec_python")
    );
    assert!(
        reqs[2].json().get("tools").is_none(),
        "the nudge offers no tools"
    );
    assert_eq!(e["metrics"]["iterations"], 3);
    assert_eq!(e["metrics"]["tool_calls"], 1);
}

#[tokio::test]
async fn seed_failure_a_model_that_loops_forever_ends_within_the_deadline() {
    // qwen2.5-coder:14b: the same slow tool call, again and again.
    let model = MockUpstream::start(Behavior::Slow(
        Duration::from_millis(700),
        Box::new(calls("exec_python", json!({"code": "print(1)"}))),
    ))
    .await;
    let gw = TestGateway::start(&config(
        &model,
        &format!("{EXEC}    deadline_seconds: 1.5\n    loop_threshold: 10\n"),
    ))
    .await;
    let started = tokio::time::Instant::now();
    let e = agent_run(&gw, json!({"model": "small", "prompt": "loop"})).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (e["ok"].as_bool(), e["stopped_reason"].as_str()),
        (Some(false), Some("deadline"))
    );
    // The same call repeated is caught as a loop well before any client timeout.
    let model = MockUpstream::start(calls("python", json!({"code": "print(1)"}))).await;
    let gw = TestGateway::start(&config(&model, EXEC)).await;
    let e = agent_run(&gw, json!({"model": "small", "prompt": "loop"})).await;
    assert_eq!(e["stopped_reason"], "loop_detected");
    assert_eq!(model.hits(), 3);
}

#[tokio::test]
async fn a_tool_call_written_as_text_runs_in_the_sandbox_and_a_disabled_tool_is_refused() {
    let model = MockUpstream::start(says("The answer is 42.")).await;
    model.push(says(
        "<tool_call>{\"name\": \"exec_shell\", \"arguments\": {\"command\": [\"ls\"]}}</tool_call>",
    ));
    model.push(says(
        "```json\n{\"name\": \"python\", \"arguments\": {\"code\": \"print(6*7)\"}}\n```",
    ));
    let gw = TestGateway::start(&config(&model, EXEC)).await;
    let e = agent_run(
        &gw,
        json!({"model": "small", "messages": [{"role": "user", "content": "6*7?"}]}),
    )
    .await;
    assert_eq!(e["stopped_reason"], "final");
    let tools: Vec<&Value> = e["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert!(
        tools[0]["content"]
            .as_str()
            .unwrap()
            .contains("Unknown tool `exec_shell`"),
        "exec_shell is not enabled: {tools:?}"
    );
    let out: Value = serde_json::from_str(tools[1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        (
            out["rc"].as_i64(),
            out["stdout"].as_str(),
            out["timed_out"].as_bool()
        ),
        (Some(0), Some("42\n"), Some(false))
    );
    let offered = model.requests()[0].json();
    let names: Vec<&str> = offered["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exec_python"], "a disabled tool is never offered");
}

#[tokio::test]
async fn a_chat_completion_asks_for_agent_mode_by_body_or_header() {
    let model = MockUpstream::start(says("Done: 42.")).await;
    model.push(calls("exec_python", json!({"code": "print(42)"})));
    let gw = TestGateway::start(&config(&model, EXEC)).await;
    let body = json!({"model": "small", "messages": [{"role": "user", "content": "go"}], "agent": {"max_iterations": 4}});
    let v: Value = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["content"], "Done: 42.");
    assert_eq!(v["agent"]["ok"], true);
    assert_eq!(v["agent"]["metrics"]["iterations"], 2);
    assert!(
        model
            .requests()
            .iter()
            .all(|r| r.json().get("agent").is_none()),
        "the `agent` field never goes upstream"
    );

    let plain = json!({"model": "small", "messages": [{"role": "user", "content": "go"}]});
    let v: Value = http()
        .post(gw.url("/v1/chat/completions"))
        .header("x-switchyard-agent", "on")
        .json(&plain)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["agent"]["stopped_reason"], "final");
}

/// A tool host: `GET /tools`, then the scripted `/invoke` answers.
async fn tool_host(invoke: Vec<Behavior>) -> MockUpstream {
    let listing = json!({"tools": [{"name": "deploy", "description": "Deploy a service", "parameters": {"type": "object", "properties": {"service": {"type": "string"}}}}]});
    let host = MockUpstream::start(ok_json(
        json!({"ok": true, "result": "deployed"}).to_string(),
    ))
    .await;
    host.push(ok_json(listing.to_string()));
    for b in invoke {
        host.push(b);
    }
    host
}

#[tokio::test]
async fn http_tool_hosts_get_the_callers_authorization_and_429_is_retried() {
    let host = tool_host(vec![error_json(
        429,
        "rate_limit_exceeded",
        "slow down",
        &[("retry-after-ms", "50")],
    )])
    .await;
    let model = MockUpstream::start(says("Deployed.")).await;
    model.push(calls("ops__deploy", json!({"service": "api"})));
    let agent = format!(
        "    http_tools: [ {{ name: ops, base_url: 'http://{}', forward_authorization: true }} ]\n",
        host.addr
    );
    let yaml = config(&model, &agent) + "general_settings: { master_key: sk-caller }\n";
    let gw = TestGateway::start(&yaml).await;
    let resp = http()
        .post(gw.url("/agent/run"))
        .bearer_auth("sk-caller")
        .json(&json!({"model": "small", "prompt": "deploy api"}))
        .send()
        .await
        .unwrap();
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["ok"], true, "{e:#}");
    let reqs = host.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/tools")
    );
    assert_eq!(reqs.len(), 3, "listing, a 429, the retry");
    assert_eq!(
        reqs[2].json(),
        json!({"name": "deploy", "arguments": {"service": "api"}})
    );
    assert_eq!(reqs[2].header("authorization"), Some("Bearer sk-caller"));
    let result = e["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(result["content"].as_str().unwrap()).unwrap(),
        json!({"ok": true, "result": "deployed"})
    );
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"switchyard_agent_tool_calls_total{outcome="ok",tool="ops__deploy"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"switchyard_agent_runs_total{stopped_reason="final"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn a_streaming_run_with_a_slow_tool_survives_a_short_client_read_timeout() {
    let host = tool_host(vec![Behavior::Slow(
        Duration::from_secs(3),
        Box::new(ok_json(json!({"ok": true, "result": "done"}).to_string())),
    )])
    .await;
    let model = MockUpstream::start(says("All done.")).await;
    model.push(calls("ops__deploy", json!({"service": "api"})));
    let agent = format!(
        "    heartbeat_seconds: 0.5\n    http_tools: [ {{ name: ops, base_url: 'http://{}' }} ]\n",
        host.addr
    );
    let gw = TestGateway::start(&config(&model, &agent)).await;
    let client = reqwest::Client::builder()
        .read_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let body = json!({"model": "small", "stream": true, "messages": [{"role": "user", "content": "deploy"}], "agent": {}});
    let resp = client
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp
        .text()
        .await
        .expect("heartbeats keep the 2 s read timeout from firing during the 3 s tool");
    assert!(
        text.matches(": switchyard agent working").count() >= 4,
        "{text}"
    );
    let content: String = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, "All done.");
    assert!(text.trim_end().ends_with("data: [DONE]"));
}

#[tokio::test]
async fn the_responses_api_runs_agent_mode_too() {
    let model = MockUpstream::start(says("Done: 42.")).await;
    let gw = TestGateway::start(&config(&model, "    max_iterations: 3\n")).await;
    let body = json!({"model": "small", "input": "go", "agent": {}});
    let v: Value = http()
        .post(gw.url("/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "response", "{v}");
    assert_eq!(v["output"][0]["content"][0]["text"], "Done: 42.");
    assert_eq!(v["agent"]["stopped_reason"], "final");
    assert!(model.requests()[0].json().get("agent").is_none());

    let streamed = http()
        .post(gw.url("/v1/responses"))
        .header("x-switchyard-agent", "on")
        .json(&json!({"model": "small", "input": "go", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(streamed.contains("event: response.completed"), "{streamed}");
    assert!(streamed.contains(r#""delta":"Done: ""#), "{streamed}");
}
