//! Against a real small model, when one is at hand: `SWITCHYARD_TEST_LLAMA_URL` is the base URL
//! of an OpenAI-compatible server (e.g. `llama-server -m qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
//! --jinja --port 8080` and `SWITCHYARD_TEST_LLAMA_URL=http://127.0.0.1:8080/v1`;
//! `SWITCHYARD_TEST_LLAMA_MODEL` names the model, default `local`). Without it the test says it
//! is skipped and passes.

use std::{io::Write as _, time::Duration};

use serde_json::{Value, json};

use crate::{agent_replay::assert_roles_valid, common::TestGateway};

/// Written straight to stderr, which the test harness does not capture, so it is seen.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[tokio::test]
async fn a_local_small_model_completes_simple_computing_tasks() {
    let Ok(url) = std::env::var("SWITCHYARD_TEST_LLAMA_URL") else {
        say(
            "agent_llama: SKIPPED — set SWITCHYARD_TEST_LLAMA_URL to an OpenAI-compatible llama.cpp server (e.g. http://127.0.0.1:8080/v1) to run it",
        );
        return;
    };
    let model = std::env::var("SWITCHYARD_TEST_LLAMA_MODEL").unwrap_or_else(|_| "local".into());
    let gw = TestGateway::start(&format!(
        "model_list:
  - model_name: small
    litellm_params: {{ model: 'openai/{model}', api_base: '{url}', api_key: none, timeout: 120 }}
switchyard_settings:
  agent:
    deadline_seconds: 180
    aliases: {{ python: exec_python }}
    tools: {{ exec_python: {{ enabled: true, timeout_seconds: 10 }} }}
"
    ))
    .await;
    let tasks = [
        ("Use python to compute 17 * 23.", "391"),
        (
            "Use python to compute the SHA-256 hex digest of the ASCII string 'switchyard'.",
            "3e865a8f1fca8d39afb548a7b2ff97019d9f12a3af0a846d4ef83b584b59fd0d",
        ),
        (
            "Use python to compute how many days there are from 2025-01-01 to 2025-12-26.",
            "359",
        ),
        (
            "Use python to compute the sum of the integers from 1 to 100.",
            "5050",
        ),
    ];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(240))
        .build()
        .unwrap();
    let mut right = 0;
    for (prompt, want) in tasks {
        let e: Value = client
            .post(gw.url("/agent/run"))
            .json(&json!({"model": "small", "prompt": prompt}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let answer = e["final_answer"].as_str().unwrap_or_default();
        say(&format!(
            "agent_llama: {prompt:?} -> ok={} stopped={} iterations={} answer={answer:?}",
            e["ok"], e["stopped_reason"], e["metrics"]["iterations"]
        ));
        assert_roles_valid(e["messages"].as_array().unwrap());
        if e["ok"] == true {
            assert!(!answer.trim().is_empty());
            assert!(
                !answer.contains("\"rc\"") && !answer.contains("<tool_call>"),
                "{answer}"
            );
        }
        right += usize::from(e["ok"] == true && answer.contains(want));
    }
    say(&format!("agent_llama: {right} of {} right", tasks.len()));
    assert!(
        right * 4 >= tasks.len() * 3,
        "{right} of {} right",
        tasks.len()
    );
}
