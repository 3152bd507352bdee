//! The connection cap follows the open-file limit: with `ulimit -n 64`, idle sockets cannot
//! starve the process of file descriptors; the refusals are logged and the gateway recovers.

use std::{process::Stdio, time::Duration};

use tokio::io::AsyncBufReadExt;

use super::raw::{BOUND, read_until_closed, send};
use crate::common::{MockUpstream, http, openai_config, upstream::completion, upstream::ok_json};

#[tokio::test]
async fn idle_sockets_past_the_file_limit_are_refused_logged_and_recovered_from() {
    let up = MockUpstream::start(ok_json(completion("m", "hi"))).await;
    let dir = std::env::temp_dir().join(format!("switchyard-fdlimit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.yaml");
    let extra = "switchyard_settings:\n  server: { header_read_timeout_seconds: 0.5 }\n";
    std::fs::write(&path, openai_config("gpt", &up, extra)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let command = format!(
        "ulimit -n 64 && exec '{}' --config '{}' --host 127.0.0.1 --port {port}",
        env!("CARGO_BIN_EXE_switchyard"),
        path.display()
    );
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", &command])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let needle = "max_connections is more than half";
    let found = async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
            if line.contains(needle) {
                return true;
            }
        }
        false
    };
    assert!(
        tokio::time::timeout(BOUND, found).await.unwrap_or(false),
        "the cap follows the limit"
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Wait (bounded) until it listens.
    let deadline = tokio::time::Instant::now() + BOUND;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gateway never listened"
        );
        tokio::task::yield_now().await;
    }
    // 40 silent sockets: more than the 32 the limit allows.
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(send(addr, b"").await);
    }
    let mut refused = 0;
    for s in &mut idle {
        if read_until_closed(s).await.is_some() {
            refused += 1;
        }
    }
    assert!(
        refused >= 8,
        "every socket is closed: over the cap at once, the rest when idle"
    );
    // Recovered: a real request is served.
    let resp = http()
        .get(format!("http://{addr}/health/liveness"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = child.start_kill();
    let rest = async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), rest).await;
    assert!(log.contains("connection limit reached"), "{log}");
    let _ = std::fs::remove_dir_all(dir);
}
