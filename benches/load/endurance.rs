//! `--endurance`: what the gateway keeps after hostile patterns (docs/benchmarks.md, "Memory
//! after abandoned streams and a soak"). Two measurements on the plain gateway:
//! - abandoned streams: `--abandon N` streams opened (first event received), then every client
//!   goes away at once; RSS before, while open, and after the gateway has let go;
//! - a mixed soak for `--soak-secs S` at `--soak-concurrency C`: in turn a JSON call, a stream
//!   read to its end, and a stream dropped after its first event; RSS sampled every second, and
//!   once more after the load stops.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::Duration,
};

use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use tokio::{task::JoinSet, time::Instant};

use crate::{
    client::{CHAT_PATH, chat_body, connect},
    gateway::{Gateway, rss_kb},
    mock::Mock,
};

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Sends one chat call on a fresh connection; reads `frames` data frames of the answer (all
/// when `None`), then drops the connection.
async fn call(
    addr: std::net::SocketAddr,
    model: &str,
    stream: bool,
    frames: Option<usize>,
) -> anyhow::Result<()> {
    let mut sender = connect(addr).await?;
    sender.ready().await?;
    let req = Request::builder()
        .method(Method::POST)
        .uri(CHAT_PATH)
        .header(header::HOST, HeaderValue::from_str(&addr.to_string())?)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(chat_body(model, stream)))?;
    let resp = sender.send_request(req).await?;
    anyhow::ensure!(resp.status().is_success(), "HTTP {}", resp.status());
    let mut body = resp.into_body();
    let mut seen = 0;
    while let Some(frame) = body.frame().await {
        if frame?.into_data().is_ok_and(|d| !d.is_empty()) {
            seen += 1;
            if frames.is_some_and(|n| seen >= n) {
                return Ok(()); // the client goes away mid-answer
            }
        }
    }
    Ok(())
}

/// Opens `n` held streams, waits for their first events, drops them all; returns a report.
pub(crate) async fn abandon(gateway: &Gateway, mock: &Mock, n: usize) -> String {
    mock.release.send_replace(false);
    let before = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    let opened = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    let connecting = Arc::new(tokio::sync::Semaphore::new(64));
    for _ in 0..n {
        let (addr, opened, connecting) = (gateway.addr, opened.clone(), connecting.clone());
        set.spawn(async move {
            let permit = connecting.acquire_owned().await;
            let mut sender = connect(addr).await?;
            drop(permit);
            sender.ready().await?;
            let req = Request::builder()
                .method(Method::POST)
                .uri(CHAT_PATH)
                .header(header::HOST, HeaderValue::from_str(&addr.to_string())?)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(chat_body("gpt-mock-hold", true)))?;
            let mut body = sender.send_request(req).await?.into_body();
            while let Some(frame) = body.frame().await {
                if frame?.into_data().is_ok_and(|d| !d.is_empty()) {
                    opened.fetch_add(1, Relaxed);
                    break;
                }
            }
            // Hold the connection until the bench drops every client at once.
            std::future::pending::<()>().await;
            anyhow::Ok(())
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while opened.load(Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    set.shutdown().await; // every client leaves
    mock.release.send_replace(true);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    mock.release.send_replace(false);
    format!(
        "| abandoned streams | {} of {n} opened | {:.1} MiB before | {:.1} MiB open | {:.1} MiB 3 s after all left |",
        opened.load(Relaxed),
        mib(before),
        mib(open),
        mib(after)
    )
}

/// The mixed soak; returns a report.
pub(crate) async fn soak(gateway: &Gateway, duration: Duration, concurrency: usize) -> String {
    let start = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + duration;
    let mut set = JoinSet::new();
    for worker in 0..concurrency {
        let (addr, done, failed) = (gateway.addr, done.clone(), failed.clone());
        set.spawn(async move {
            let mut i = worker;
            while Instant::now() < until {
                let result = match i % 3 {
                    0 => call(addr, "gpt-mock", false, None).await,
                    1 => call(addr, "gpt-mock", true, None).await,
                    _ => call(addr, "gpt-mock", true, Some(1)).await,
                };
                match result {
                    Ok(()) => done.fetch_add(1, Relaxed),
                    Err(_) => failed.fetch_add(1, Relaxed),
                };
                i += 1;
            }
        });
    }
    let mut peak = start;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < until {
        tick.tick().await;
        peak = peak.max(rss_kb(gateway.pid, "VmRSS").unwrap_or(0));
    }
    while set.join_next().await.is_some() {}
    tokio::time::sleep(Duration::from_secs(3)).await;
    let end = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    format!(
        "| mixed soak, {:.0} s at c={concurrency} | {} calls ({} failed) | {:.1} MiB at start | {:.1} MiB peak | {:.1} MiB 3 s after |",
        duration.as_secs_f64(),
        done.load(Relaxed),
        failed.load(Relaxed),
        mib(start),
        mib(peak),
        mib(end)
    )
}
