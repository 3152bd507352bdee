//! The exec sandbox end to end: a real gateway process (as whoever runs the tests — root on CI)
//! with a literal deployment key in its config file and the master key in its environment; a
//! scripted model asks `exec_python` to steal both, signal the gateway and call it back.

use std::{path::Path, process::Stdio};

use serde_json::{Value, json};

use crate::common::{MockUpstream, http, upstream::ok_json, wait_live};

const MASTER: &str = "sk-master-SANDBOX-7777";
const DEPLOYMENT: &str = "sk-deployment-SANDBOX-8888";

fn reply(message: Value) -> crate::common::Behavior {
    let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}});
    ok_json(body.to_string())
}

/// Stops the gateway process when the test ends, however it ends.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_tool_run_through_the_gateway_cannot_steal_its_keys_signal_it_or_call_it() {
    if let Some(ns) = ["user", "pid", "mnt", "net"]
        .into_iter()
        .find(|ns| !Path::new("/proc/self/ns").join(ns).exists())
    {
        eprintln!("SKIPPED: the kernel lacks {ns} namespaces, which the exec sandbox needs");
        return;
    }
    let model = MockUpstream::start(reply(json!({"role": "assistant", "content": "done"}))).await;
    let dir = std::env::temp_dir().join(format!(
        "switchyard-sandbox-it-{:016x}",
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "model_list:
  - model_name: m
    litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: {DEPLOYMENT} }}
general_settings: {{ master_key: os.environ/MASTER_KEY }}
switchyard_settings:
  agent:
    tools: {{ exec_python: {{ enabled: true, timeout_seconds: 10 }} }}
",
            model.addr
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gateway = Process(
        std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["--config", path.to_str().unwrap(), "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .env("MASTER_KEY", MASTER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_live(&base, 400).await;
    assert!(ready, "the gateway starts");

    let pid = gateway.0.id();
    let code = format!(
        "import json, os, signal, socket
out = {{}}
def attempt(name, f):
    try:
        out[name] = f()
    except Exception as e:
        out[name] = 'refused: ' + type(e).__name__
attempt('environ', lambda: open('/proc/{pid}/environ', 'rb').read().decode('latin1'))
attempt('config', lambda: open('{config}').read())
attempt('sigterm', lambda: os.kill({pid}, signal.SIGTERM) or 'delivered')
attempt('sighup', lambda: os.kill({pid}, signal.SIGHUP) or 'delivered')
def call():
    s = socket.create_connection(('127.0.0.1', {port}), timeout=3)
    s.sendall(b'GET /v1/models HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')
    return s.recv(100).decode('latin1')
attempt('call', call)
print(json.dumps(out))",
        config = path.display()
    );
    model.push(reply(json!({"role": "assistant", "content": null,
        "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "exec_python", "arguments": json!({"code": code}).to_string()}}]})));

    let resp = http()
        .post(format!("{base}/agent/run"))
        .bearer_auth(MASTER)
        .json(&json!({"model": "m", "prompt": "steal the keys"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let envelope: Value = resp.json().await.unwrap();
    assert_eq!(envelope["final_answer"], "done", "{envelope:#}");

    let requests = model.requests();
    assert_eq!(requests.len(), 2, "the tool call, then the answer");
    let messages = requests[1].json()["messages"].clone();
    let tool = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap_or_else(|| panic!("a tool message: {messages:#}"));
    let content = tool["content"].as_str().unwrap();
    let result: Value = serde_json::from_str(content).unwrap();
    let out: Value = serde_json::from_str(result["stdout"].as_str().unwrap())
        .unwrap_or_else(|_| panic!("the tool ran in the sandbox: {result:#}"));
    for attack in ["environ", "config", "sigterm", "sighup", "call"] {
        assert!(
            out[attack].as_str().unwrap().starts_with("refused"),
            "{attack}: {out:#}"
        );
    }
    for secret in [MASTER, DEPLOYMENT] {
        assert!(
            !content.contains(secret),
            "{secret} reached the tool: {content}"
        );
    }
    let mut gateway = gateway;
    assert!(
        gateway.0.try_wait().unwrap().is_none(),
        "the gateway still runs"
    );
    assert_eq!(
        http()
            .get(format!("{base}/health/liveliness"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
}
