//! Graceful drain, and the binary's signals: SIGHUP reload and SIGTERM exit.

use std::{process::Stdio, time::Duration};

use crate::common::{
    Behavior, End, MockUpstream, TestGateway, chat_body, http, openai_config, upstream::chunks,
};

#[tokio::test]
async fn shutdown_drains_an_in_flight_stream() {
    let mut events = chunks("m", &["slow ", "but ", "complete"]);
    events.push("data: [DONE]\n\n".into());
    let up = MockUpstream::start(Behavior::Sse {
        events,
        delay: Duration::from_millis(150),
        end: End::Clean,
    })
    .await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let mut resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", true))
        .send()
        .await
        .unwrap();
    let mut text = String::from_utf8(resp.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    let stopping = tokio::spawn(gw.stop());
    while let Some(chunk) = resp.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        text.contains("complete") && text.trim_end().ends_with("data: [DONE]"),
        "{text}"
    );
    stopping.await.unwrap().unwrap();
}

struct Child(std::process::Child);

/// Lines the child writes to stderr, as they come.
fn log_lines(child: &mut Child) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    use std::io::BufRead;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let stderr = child.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits (bounded) for a log line containing `needle`.
async fn wait_log(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>, needle: &str) -> bool {
    let found = async {
        while let Some(line) = rx.recv().await {
            if line.contains(needle) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(Duration::from_secs(10), found)
        .await
        .unwrap_or(false)
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn signal(child: &Child, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn model_names(port: u16) -> Option<Vec<String>> {
    let v: serde_json::Value = http()
        .get(format!("http://127.0.0.1:{port}/v1/models"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(
        v["data"]
            .as_array()?
            .iter()
            .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
            .collect(),
    )
}

#[tokio::test]
async fn the_binary_reloads_on_sighup_keeps_the_old_config_on_error_and_exits_0_on_sigterm() {
    let up = MockUpstream::start(Behavior::Hang).await;
    let dir = std::env::temp_dir().join(format!("switchyard-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    std::fs::write(&path, openai_config("first", &up, "")).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args([
                "--config",
                path.to_str().unwrap(),
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut logs = log_lines(&mut child);
    assert!(
        wait_log(&mut logs, "switchyard listening").await,
        "the gateway starts"
    );
    assert_eq!(model_names(port).await.unwrap(), ["first"]);

    std::fs::write(&path, openai_config("second", &up, "")).unwrap();
    signal(&child, "-HUP");
    assert!(wait_log(&mut logs, "config reloaded").await);
    assert_eq!(
        model_names(port).await.unwrap(),
        ["second"],
        "SIGHUP loads the new config"
    );

    std::fs::write(&path, "model_list: [ { model_name: broken } ]").unwrap();
    signal(&child, "-HUP");
    assert!(wait_log(&mut logs, "config reload rejected").await);
    assert_eq!(
        model_names(port).await.unwrap(),
        ["second"],
        "a bad config leaves the old one in force"
    );

    signal(&child, "-TERM");
    let status = tokio::task::spawn_blocking(move || {
        let c = &mut child;
        c.0.wait()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(dir);
}
