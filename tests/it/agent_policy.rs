//! Agent runs end to end: the run's deadline holds over a slow tool (and kills it), a run that is
//! not ok says so on the chat endpoints, each model call carries bounded sampling (the caller's
//! values win), a model call cut by its timeout is one iteration, and the trace says what the
//! model wrote and what the gateway did with it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    agent_replay::assert_roles_valid,
    common::{Behavior, MockUpstream, TestGateway, http, upstream::ok_json},
};

fn reply(message: Value) -> Behavior {
    let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "qwen2.5-coder:1.5b",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}});
    ok_json(body.to_string())
}

fn says(text: &str) -> Behavior {
    reply(json!({"role": "assistant", "content": text}))
}

fn python(code: &str) -> Behavior {
    reply(json!({"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "exec_python", "arguments": json!({"code": code}).to_string()}}]}))
}

fn config(model: &MockUpstream, params: &str, agent: &str) -> String {
    format!(
        "model_list:
  - model_name: small
    litellm_params: {{ model: openai/qwen2.5-coder:1.5b, api_base: 'http://{}/v1', api_key: k{params} }}
router_settings: {{ num_retries: 0 }}
switchyard_settings:
  agent:
    tools: {{ exec_python: {{ enabled: true, timeout_seconds: 25 }} }}
{agent}",
        model.addr
    )
}

/// Whether a process whose command line holds `marker` is alive.
fn alive(marker: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
    })
}

#[tokio::test]
async fn the_run_deadline_holds_over_a_slow_tool_and_kills_it() {
    // Issue 14: `deadline` came back after 20 s with a 2 s deadline.
    let marker = format!("switchyard-slow-{}", std::process::id());
    let model = MockUpstream::start(says("never asked")).await;
    model.push(python(&format!("import time\ntime.sleep(30)  # {marker}")));
    let gw = TestGateway::start(&config(&model, "", "")).await;
    let started = tokio::time::Instant::now();
    let request = http()
        .post(gw.url("/agent/run"))
        .json(&json!({"model": "small", "prompt": "sleep", "deadline_seconds": 2}))
        .send();
    let running = tokio::spawn(request);
    let seen = async {
        while !alive(&marker) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(2), seen)
            .await
            .is_ok(),
        "the slow program runs (and this test can see it)"
    );
    let resp = running.await.unwrap().unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.headers()["x-switchyard-agent-stopped"], "deadline");
    let e: Value = resp.json().await.unwrap();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert_eq!(
        (e["stopped_reason"].as_str(), e["ok"].as_bool()),
        (Some("deadline"), Some(false))
    );
    assert_roles_valid(e["messages"].as_array().unwrap());
    assert_eq!(model.hits(), 1);
    // The program is stopped with the run (a killed process leaves /proc or keeps no cmdline).
    let gone = async {
        while alive(&marker) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(3), gone)
            .await
            .is_ok(),
        "the tool's process outlived the run's deadline"
    );
}

#[tokio::test]
async fn a_run_that_is_not_ok_says_so_on_the_chat_endpoint() {
    // The same call again and again: answered from the earlier result, then loop_detected.
    let model = MockUpstream::start(python("print(17 * 23)")).await;
    let gw = TestGateway::start(&config(&model, "", "")).await;
    let body =
        json!({"model": "small", "messages": [{"role": "user", "content": "17*23?"}], "agent": {}});
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-switchyard-agent-stopped"],
        "loop_detected"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"], "391",
        "the stdout, in plain words"
    );
    assert_eq!(
        v["choices"][0]["finish_reason"], "length",
        "never an ordinary `stop`"
    );
    assert_eq!(v["agent"]["ok"], false);

    let mut stream = body.clone();
    stream["stream"] = json!(true);
    let text = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&stream)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let last: Value = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .last()
        .unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "length");
    assert_eq!(
        (
            last["agent"]["ok"].as_bool(),
            last["agent"]["stopped_reason"].as_str()
        ),
        (Some(false), Some("loop_detected"))
    );

    // An ok run: `stop`, no header.
    let model = MockUpstream::start(says("It is 391.")).await;
    let gw = TestGateway::start(&config(&model, "", "")).await;
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("x-switchyard-agent-stopped").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn each_model_call_is_bounded_and_the_callers_values_win() {
    let model = MockUpstream::start(says("391")).await;
    let gw = TestGateway::start(&config(
        &model,
        "",
        "    max_tokens: 300\n    temperature: 0.5\n",
    ))
    .await;
    let sampled = |i: usize| {
        let b = model.requests()[i].json();
        (b["max_tokens"].as_u64(), b["temperature"].as_f64())
    };
    let run = |body: Value| {
        let url = gw.url("/agent/run");
        async move { http().post(url).json(&body).send().await.unwrap() }
    };
    run(json!({"model": "small", "prompt": "x"})).await;
    assert_eq!(sampled(0), (Some(300), Some(0.5)), "the config's values");
    run(json!({"model": "small", "prompt": "x", "max_tokens": 64, "temperature": 0.0})).await;
    assert_eq!(sampled(1), (Some(64), Some(0.0)), "the run's values win");
    let chat = |body: Value| {
        let url = gw.url("/v1/chat/completions");
        async move { http().post(url).json(&body).send().await.unwrap() }
    };
    let msgs = json!([{"role": "user", "content": "x"}]);
    chat(json!({"model": "small", "messages": msgs, "max_tokens": 77, "temperature": 0.9, "agent": {}})).await;
    assert_eq!(
        sampled(2),
        (Some(77), Some(0.9)),
        "the chat body's values win"
    );
    chat(json!({"model": "small", "messages": msgs, "max_completion_tokens": 88, "agent": {"temperature": 0.1}})).await;
    assert_eq!(sampled(3), (Some(88), Some(0.1)));
}

#[tokio::test]
async fn a_model_call_cut_by_its_timeout_is_one_iteration_and_the_run_goes_on() {
    // A runaway generation: the first call outlives the deployment's 0.5 s timeout.
    let model = MockUpstream::start(says("391")).await;
    model.push(Behavior::Slow(
        Duration::from_secs(3),
        Box::new(says("too late")),
    ));
    let gw = TestGateway::start(&config(&model, ", timeout: 0.5", "")).await;
    let e: Value = http()
        .post(gw.url("/agent/run"))
        .json(&json!({"model": "small", "prompt": "17*23?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            e["ok"].as_bool(),
            e["final_answer"].as_str(),
            e["metrics"]["iterations"].as_u64()
        ),
        (Some(true), Some("391"), Some(2)),
        "{e:#}"
    );
}

#[tokio::test]
async fn the_trace_says_what_the_model_wrote_and_what_the_gateway_did() {
    let dir = std::env::temp_dir().join(format!("switchyard-trace-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.jsonl");
    let garbled = "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(\"391\")\"}}\n</tool_call>";
    let model = MockUpstream::start(says("The answer is 391.")).await;
    model.push(says(garbled));
    model.push(says("<tool_call>\n{{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(17*23)\"}}}\n</tool_call>"));
    model.push(python("print(17*23)"));
    let agent = format!(
        "    trace_path: '{}'\n    trace_text_chars: 40\n",
        path.display()
    );
    let gw = TestGateway::start(&config(&model, "", &agent)).await;
    let e: Value = http()
        .post(gw.url("/agent/run"))
        .json(&json!({"model": "small", "prompt": "17*23?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(e["final_answer"], "The answer is 391.", "{e:#}");
    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<&str> = lines.iter().map(|l| l["step"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        [
            "model",
            "parse_error",
            "nudge", // the garbled call and its correction
            "model",
            "parsed_calls",
            "tool", // the double-brace call, read and run
            "model",
            "repeat_answered_from_earlier_result",
            "nudge", // the repeat
            "model",
            "stop",
        ],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["text"].as_str().unwrap(), &garbled[..40]);
    assert_eq!(lines[0]["text_truncated"], true);
    assert_eq!(lines[2]["kind"], "correction");
    assert!(
        lines[4]["shape"]
            .as_array()
            .unwrap()
            .contains(&json!("double_brace"))
    );
    assert_eq!(lines[4]["calls"][0]["arguments"]["code"], "print(17*23)");
    assert_eq!(lines[8]["kind"], "answer_now");
    assert!(lines.iter().all(|l| l["run"] == lines[0]["run"]));
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_suffix() -> String {
    format!(
        "{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
