//! The load generator: keep-alive HTTP/1.1 connections, one request loop per connection, and
//! latency percentiles.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpStream, task::JoinSet, time::Instant};

use crate::groups::Mode;

pub(crate) const CHAT_PATH: &str = "/v1/chat/completions";
/// The fixed bench body for `model`: 220 bytes for `gpt-mock` without streaming, the body of
/// `shared/bench` and `benches/micro.rs`.
pub(crate) fn chat_body(model: &str, stream: bool) -> Bytes {
    Bytes::from(format!(
        r#"{{"model":"{model}","messages":[{{"role":"system","content":"You are a helpful assistant."}},{{"role":"user","content":"Write one short sentence about load testing an HTTP proxy, please."}}],"temperature":0.2,"stream":{stream}}}"#
    ))
}
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// What every request of a cell sends, and what it checks beyond the status.
#[derive(Clone)]
pub(crate) struct Call {
    pub(crate) host: HeaderValue,
    pub(crate) body: Bytes,
    /// `Authorization` value, when the gateway wants a key.
    pub(crate) auth: Option<HeaderValue>,
    /// Count answers without `x-switchyard-cache: hit` (the cache-hit cells).
    pub(crate) expect_hit: bool,
}

pub(crate) struct Exchange {
    pub(crate) status: StatusCode,
    /// `x-switchyard-cache`, read only when the call expects a hit.
    pub(crate) cache: Option<HeaderValue>,
    ttfb: Duration,
    total: Duration,
    ends_with_done: bool,
}

/// One request on a keep-alive connection, body read to the end.
pub(crate) async fn exchange(sender: &mut Sender, call: &Call) -> anyhow::Result<Exchange> {
    sender.ready().await?;
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(CHAT_PATH)
        .header(header::HOST, call.host.clone())
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(auth) = &call.auth {
        req = req.header(header::AUTHORIZATION, auth.clone());
    }
    let req = req.body(Full::new(call.body.clone()))?;
    let t0 = Instant::now();
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let cache = call
        .expect_hit
        .then(|| resp.headers().get("x-switchyard-cache").cloned())
        .flatten();
    let mut body = resp.into_body();
    let mut ttfb = None;
    let mut tail: Vec<u8> = Vec::with_capacity(64);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if data.is_empty() {
                continue;
            }
            ttfb.get_or_insert_with(|| t0.elapsed());
            tail.extend_from_slice(&data[data.len().saturating_sub(DONE.len())..]);
            if tail.len() > DONE.len() {
                tail.drain(..tail.len() - DONE.len());
            }
        }
    }
    let total = t0.elapsed();
    Ok(Exchange {
        status,
        cache,
        ttfb: ttfb.unwrap_or(total),
        total,
        ends_with_done: tail == DONE,
    })
}

#[derive(Default)]
pub(crate) struct WorkerStats {
    pub(crate) total_ns: Vec<u64>,
    pub(crate) ttfb_ns: Vec<u64>,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) non_2xx: u64,
    pub(crate) bad_body: u64,
    pub(crate) not_hit: u64,
    pub(crate) first_error: Option<String>,
    finished: Option<Instant>,
}

const MAX_ERRORS_PER_WORKER: u64 = 1000;

async fn worker(
    mut sender: Sender,
    addr: SocketAddr,
    call: Call,
    mode: Mode,
    deadline: Instant,
) -> WorkerStats {
    let mut st = WorkerStats {
        total_ns: Vec::with_capacity(4096),
        ttfb_ns: Vec::with_capacity(4096),
        ..WorkerStats::default()
    };
    while Instant::now() < deadline && st.errors < MAX_ERRORS_PER_WORKER {
        match exchange(&mut sender, &call).await {
            Ok(x) => {
                st.total_ns
                    .push(u64::try_from(x.total.as_nanos()).unwrap_or(u64::MAX));
                st.ttfb_ns
                    .push(u64::try_from(x.ttfb.as_nanos()).unwrap_or(u64::MAX));
                if !x.status.is_success() {
                    st.non_2xx += 1;
                    st.first_error
                        .get_or_insert_with(|| format!("HTTP {}", x.status));
                } else if mode == Mode::Stream && !x.ends_with_done {
                    st.bad_body += 1;
                    st.first_error
                        .get_or_insert_with(|| "stream did not end with data: [DONE]".to_owned());
                } else if call.expect_hit && x.cache.as_ref().is_none_or(|v| v != "hit") {
                    st.not_hit += 1;
                    st.first_error
                        .get_or_insert_with(|| format!("x-switchyard-cache: {:?}", x.cache));
                } else {
                    st.ok += 1;
                }
            }
            Err(e) => {
                st.errors += 1;
                st.first_error.get_or_insert_with(|| format!("{e:#}"));
                match connect(addr).await {
                    Ok(s) => sender = s,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }
    st.finished = Some(Instant::now());
    st
}

#[derive(Clone, Copy, Default)]
pub(crate) struct Pcts {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
    pub(crate) mean: f64,
}

/// Percentiles (nearest rank) in microseconds.
pub(crate) fn pcts(mut ns: Vec<u64>) -> Pcts {
    if ns.is_empty() {
        return Pcts::default();
    }
    ns.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * ns.len() as f64).ceil() as usize).clamp(1, ns.len());
        ns[rank - 1] as f64 / 1000.0
    };
    let mean = ns.iter().map(|&v| v as f64).sum::<f64>() / ns.len() as f64 / 1000.0;
    Pcts {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: at(1.0),
        mean,
    }
}

/// `concurrency` workers, each on its own connection, until `duration` has passed (the request
/// in flight at the deadline is finished and counted). Returns the stats and the wall time.
pub(crate) async fn drive(
    addr: SocketAddr,
    call: &Call,
    mode: Mode,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<WorkerStats>, f64)> {
    let mut senders = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        senders.push(
            connect(addr)
                .await
                .with_context(|| format!("connecting to {addr}"))?,
        );
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut set = JoinSet::new();
    for sender in senders {
        set.spawn(worker(sender, addr, call.clone(), mode, deadline));
    }
    let mut out = Vec::with_capacity(concurrency);
    let mut last = start;
    while let Some(joined) = set.join_next().await {
        let st = joined?;
        if let Some(f) = st.finished {
            last = last.max(f);
        }
        out.push(st);
    }
    Ok((out, last.duration_since(start).as_secs_f64()))
}
