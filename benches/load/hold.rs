//! The memory measurement: many streams held open through the gateway at once.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::Duration,
};

use anyhow::bail;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use tokio::{sync::Semaphore, task::JoinSet, time::Instant};

use crate::{
    client::{CHAT_PATH, DONE, chat_body, connect},
    gateway::{Gateway, rss_kb},
    mock::Mock,
};

pub(crate) struct HoldResult {
    pub(crate) streams: usize,
    pub(crate) opened: usize,
    pub(crate) open_secs: f64,
    pub(crate) mock_held: u64,
    pub(crate) rss_open_kb: u64,
    pub(crate) rss_peak_streaming_kb: u64,
    pub(crate) rss_after_kb: u64,
    pub(crate) completed: usize,
    pub(crate) failed: usize,
    pub(crate) stream_secs: f64,
    pub(crate) first_error: Option<String>,
}

/// Opens `n` streams through the gateway, waits until each has its first event, samples the
/// gateway's RSS, then releases them and samples the peak while they finish.
pub(crate) async fn hold_streams(
    gateway: &Gateway,
    mock: &Mock,
    n: usize,
) -> anyhow::Result<HoldResult> {
    mock.release.send_replace(false);
    let addr = gateway.addr;
    let host = HeaderValue::from_str(&addr.to_string())?;
    let body = chat_body("gpt-mock-hold", true);
    let opened = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(Semaphore::new(64));
    let t0 = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..n {
        let (opened, ended, connecting, host, body) = (
            opened.clone(),
            ended.clone(),
            connecting.clone(),
            host.clone(),
            body.clone(),
        );
        let stream = async move {
            let permit = connecting.acquire_owned().await?;
            let mut sender = connect(addr).await?;
            drop(permit);
            sender.ready().await?;
            let req = Request::builder()
                .method(Method::POST)
                .uri(CHAT_PATH)
                .header(header::HOST, host)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(body))?;
            let resp = sender.send_request(req).await?;
            if !resp.status().is_success() {
                bail!("HTTP {}", resp.status());
            }
            let mut body = resp.into_body();
            let mut first = true;
            let mut tail: Vec<u8> = Vec::new();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    if data.is_empty() {
                        continue;
                    }
                    if std::mem::take(&mut first) {
                        opened.fetch_add(1, Relaxed);
                    }
                    tail.extend_from_slice(&data);
                    if tail.len() > DONE.len() {
                        tail.drain(..tail.len() - DONE.len());
                    }
                }
            }
            if tail != DONE {
                bail!("stream did not end with data: [DONE]");
            }
            anyhow::Ok(())
        };
        set.spawn(async move {
            let result = stream.await;
            ended.fetch_add(1, Relaxed);
            result
        });
    }
    // Wait (bounded) until every stream has its first event, or until nothing more can open.
    let open_deadline = t0 + Duration::from_secs(60);
    while opened.load(Relaxed) + ended.load(Relaxed) < n && Instant::now() < open_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let open_secs = t0.elapsed().as_secs_f64();
    let opened_n = opened.load(Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mock_held = mock.stats.held_now.load(Relaxed);
    let rss_open_kb = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    eprintln!(
        "load: {opened_n}/{n} streams open through the gateway in {open_secs:.2}s (mock holds {mock_held}); gateway RSS {:.1} MiB",
        rss_open_kb as f64 / 1024.0
    );

    mock.release.send_replace(true);
    let t1 = Instant::now();
    let finish_deadline = Instant::now() + Duration::from_secs(60);
    let mut peak = rss_open_kb;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut completed, mut failed, mut first_error) = (0, 0, None);
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => completed += 1,
                Some(Ok(Err(e))) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| format!("{e:#}"));
                }
                Some(Err(e)) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            },
            _ = tick.tick() => peak = peak.max(rss_kb(gateway.pid, "VmRSS").unwrap_or(0)),
            () = tokio::time::sleep_until(finish_deadline) => {
                failed += set.len();
                first_error.get_or_insert_with(|| "streams still open after 60 s".to_owned());
                set.shutdown().await;
                break;
            }
        }
    }
    let stream_secs = t1.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kb = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    eprintln!(
        "load: streams done in {stream_secs:.2}s: {completed} complete, {failed} failed; peak RSS {:.1} MiB, after {:.1} MiB",
        peak as f64 / 1024.0,
        rss_after_kb as f64 / 1024.0
    );
    Ok(HoldResult {
        streams: n,
        opened: opened_n,
        open_secs,
        mock_held,
        rss_open_kb,
        rss_peak_streaming_kb: peak,
        rss_after_kb,
        completed,
        failed,
        stream_secs,
        first_error,
    })
}
