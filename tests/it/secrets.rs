//! No key — master, virtual, rejected or deployment — appears in logs at `RUST_LOG=trace` or in
//! `/metrics`.

use std::{io::Read, process::Stdio};

use crate::common::{
    MockUpstream, chat_body, http,
    upstream::{completion, full_stream, ok_json},
    wait_live,
};

const MASTER: &str = "sk-master-SECRET-1111";
const VIRTUAL: &str = "sk-virtual-SECRET-2222";
const REJECTED: &str = "sk-rejected-SECRET-3333";
const DEPLOYMENT: &str = "sk-deployment-SECRET-4444";

#[tokio::test]
async fn keys_never_reach_logs_or_metrics() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    up.push(ok_json(completion("m", "ok")));
    up.push(full_stream("m", &["a"]));
    let dir = std::env::temp_dir().join(format!("switchyard-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    let yaml = format!(
        "model_list:
  - model_name: gpt
    litellm_params: {{ model: openai/m, api_base: 'http://{}/v1', api_key: os.environ/DEPLOYMENT_KEY }}
general_settings: {{ master_key: os.environ/MASTER_KEY }}
switchyard_settings: {{ keys: [ {{ key: {VIRTUAL}, rpm_limit: 100 }} ] }}
litellm_settings: {{ cache: true }}
",
        up.addr
    );
    std::fs::write(&path, yaml).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "--config",
            path.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .env("RUST_LOG", "trace")
        .env("MASTER_KEY", MASTER)
        .env("DEPLOYMENT_KEY", DEPLOYMENT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_live(&base, 200).await;
    assert!(ready, "the gateway starts");
    let chat = |key: &'static str, stream: bool| {
        http()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key)
            .json(&chat_body("gpt", stream))
            .send()
    };
    assert_eq!(chat(MASTER, false).await.unwrap().status(), 200);
    assert_eq!(chat(VIRTUAL, true).await.unwrap().status(), 200);
    assert_eq!(chat(REJECTED, false).await.unwrap().status(), 401);
    let r = http()
        .get(format!("{base}/v1/models"))
        .header("x-api-key", REJECTED)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let metrics = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        up.requests()
            .iter()
            .all(|r| r.header("authorization") == Some(&format!("Bearer {DEPLOYMENT}")))
    );

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        err.contains("TRACE") || err.contains("DEBUG"),
        "trace logging was on: {}",
        &err[..err.len().min(500)]
    );
    for key in [MASTER, VIRTUAL, REJECTED, DEPLOYMENT] {
        assert!(
            !err.contains(key) && !out.contains(key),
            "{key} leaked into the logs"
        );
        assert!(!metrics.contains(key), "{key} leaked into /metrics");
    }
    let _ = std::fs::remove_dir_all(dir);
}
