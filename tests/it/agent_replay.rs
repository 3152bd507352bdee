//! Replays of small-model transcripts (tests/fixtures/agent/*.json) through a scripted upstream,
//! with the real exec sandbox: each run ends with the right answer and stopped reason, and a
//! role-valid transcript. A fixture holds the task, the model's replies in order (the last one
//! repeats) and what the run must end with.

use serde_json::{Value, json};

use crate::common::{Behavior, MockUpstream, TestGateway, http, upstream::ok_json};

fn completion(reply: &Value) -> Behavior {
    let mut message = json!({"role": "assistant", "content": reply.get("content").cloned().unwrap_or(Value::Null)});
    if let Some(calls) = reply.get("tool_calls") {
        message["tool_calls"] = calls.clone();
    }
    let finish = reply.get("finish_reason").cloned().unwrap_or_else(|| {
        json!(if reply.get("tool_calls").is_some() {
            "tool_calls"
        } else {
            "stop"
        })
    });
    let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "qwen2.5-coder",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 200, "completion_tokens": 30, "total_tokens": 230}});
    ok_json(body.to_string())
}

/// Never two assistant messages in a row; every `tool` message answers a call of the assistant
/// message before it.
pub(crate) fn assert_roles_valid(messages: &[Value]) {
    let mut open: Vec<String> = Vec::new();
    let mut previous = "";
    for m in messages {
        let role = m["role"].as_str().unwrap();
        assert!(
            !(role == "assistant" && previous == "assistant"),
            "two assistant messages in a row: {messages:#?}"
        );
        match role {
            "assistant" => {
                open = m["tool_calls"].as_array().map_or(Vec::new(), |c| {
                    c.iter()
                        .map(|c| c["id"].as_str().unwrap().to_owned())
                        .collect()
                });
            }
            "tool" => assert!(
                open.iter()
                    .any(|id| id == m["tool_call_id"].as_str().unwrap()),
                "a tool message without its call: {messages:#?}"
            ),
            _ => open.clear(),
        }
        previous = role;
    }
}

async fn replay(name: &str) {
    let path = format!(
        "{}/tests/fixtures/agent/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let replies = fixture["replies"].as_array().unwrap();
    let model = MockUpstream::start(completion(replies.last().unwrap())).await;
    for r in &replies[..replies.len() - 1] {
        model.push(completion(r));
    }
    let gw = TestGateway::start(&format!(
        "model_list:
  - model_name: small
    litellm_params: {{ model: openai/qwen2.5-coder, api_base: 'http://{}/v1', api_key: k }}
router_settings: {{ num_retries: 0 }}
switchyard_settings:
  agent:
    tools: {{ exec_python: {{ enabled: true, timeout_seconds: 10 }} }}
",
        model.addr
    ))
    .await;
    let mut body = json!({"model": "small", "prompt": fixture["task"]});
    if let Some(Value::Object(o)) = fixture.get("overrides") {
        for (k, v) in o {
            body[k] = v.clone();
        }
    }
    let resp = http()
        .post(gw.url("/agent/run"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let stopped = resp
        .headers()
        .get("x-switchyard-agent-stopped")
        .map(|v| v.to_str().unwrap().to_owned());
    let e: Value = resp.json().await.unwrap();
    let expect = &fixture["expect"];
    let ctx = format!("{name}: {e:#}");
    assert_eq!(e["stopped_reason"], expect["stopped_reason"], "{ctx}");
    assert_eq!(e["ok"], expect["ok"], "{ctx}");
    assert_eq!(
        stopped.as_deref(),
        (e["ok"] == false).then(|| e["stopped_reason"].as_str().unwrap()),
        "a run that is not ok says so in a header: {ctx}"
    );
    let answer = e["final_answer"].as_str().unwrap();
    if let Some(want) = expect.get("final_answer") {
        assert_eq!(answer, want.as_str().unwrap(), "{ctx}");
    }
    if let Some(want) = expect.get("final_answer_contains") {
        assert!(answer.contains(want.as_str().unwrap()), "{ctx}");
    }
    assert!(
        !answer.contains("\"rc\"")
            && !answer.contains("<tool_call>")
            && !answer.contains("\"name\""),
        "never a JSON envelope or call text as the answer: {ctx}"
    );
    for (key, metric) in [("tool_calls", "tool_calls"), ("iterations", "iterations")] {
        if let Some(want) = expect.get(key) {
            assert_eq!(&e["metrics"][metric], want, "{key}: {ctx}");
        }
    }
    let messages = e["messages"].as_array().unwrap();
    assert_roles_valid(messages);
    if let Some(want) = expect.get("tool_stdout") {
        let out: Value = serde_json::from_str(
            messages.iter().find(|m| m["role"] == "tool").unwrap()["content"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            out["stdout"].as_str().unwrap().trim(),
            want.as_str().unwrap(),
            "{ctx}"
        );
    }
    if let Some(want) = expect.get("first_assistant_content") {
        assert_eq!(&messages[1]["content"], want, "{ctx}");
    }
    let requests = model.requests();
    assert_eq!(
        requests.len() as u64,
        e["metrics"]["iterations"].as_u64().unwrap()
    );
    let no_tools: Vec<usize> = expect
        .get("no_tools_on")
        .and_then(Value::as_array)
        .map_or(Vec::new(), |a| {
            a.iter().map(|i| i.as_u64().unwrap() as usize).collect()
        });
    for (i, r) in requests.iter().enumerate() {
        let body = r.json();
        assert_eq!(
            (body["max_tokens"].as_u64(), body["temperature"].as_f64()),
            (Some(1024), Some(0.2)),
            "every model call is bounded: {name} call {i}"
        );
        assert_eq!(
            body.get("tools").is_none(),
            no_tools.contains(&i),
            "tools offered on call {i} of {name}"
        );
    }
}

macro_rules! replays {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            replay(stringify!($name)).await;
        }
    )*};
}

replays!(
    bare_json,
    fenced_json,
    tool_call_tag_double_brace,
    response_wrapper,
    triple_quoted_code,
    string_concatenation,
    raw_newlines,
    echoed_result,
    schema_arguments,
    repeat_after_success,
    repeat_then_call_again,
    unreadable_then_fixed,
    unreadable_twice,
    runaway_repeated_lines,
    python_block,
    prose_only,
    failed_program_then_blank,
);
