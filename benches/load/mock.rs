//! The in-process mock OpenAI upstream: `POST /v1/chat/completions`, JSON or SSE, and held
//! streams for the memory measurement.

use std::{
    convert::Infallible,
    fmt::Write as _,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context as _;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{
    net::TcpSocket,
    sync::{oneshot, watch},
    task::JoinSet,
};

use crate::mock_sse::{HeldGuard, MockSse};

#[derive(Default)]
pub(crate) struct MockStats {
    chat: AtomicU64,
    stream: AtomicU64,
    bad: AtomicU64,
    pub(crate) held_now: AtomicU64,
    held_total: AtomicU64,
    pub(crate) conns: AtomicU64,
}

pub(crate) struct MockStatsSnapshot {
    pub(crate) chat: u64,
    pub(crate) stream: u64,
    pub(crate) bad: u64,
    pub(crate) held_total: u64,
}

impl MockStats {
    pub(crate) fn snapshot(&self) -> MockStatsSnapshot {
        MockStatsSnapshot {
            chat: self.chat.load(Relaxed),
            stream: self.stream.load(Relaxed),
            bad: self.bad.load(Relaxed),
            held_total: self.held_total.load(Relaxed),
        }
    }
}

struct MockConfig {
    chunks: usize,
    hold_chunk_delay: Duration,
    hold_max: Duration,
    release: watch::Receiver<bool>,
    stats: Arc<MockStats>,
    next_id: AtomicU64,
}

pub(crate) struct Mock {
    pub(crate) addr: SocketAddr,
    pub(crate) stats: Arc<MockStats>,
    pub(crate) release: watch::Sender<bool>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    /// Starts the mock on its own thread and runtime (`threads` workers).
    pub(crate) fn start(threads: usize) -> anyhow::Result<Self> {
        let stats = Arc::new(MockStats::default());
        let (release, release_rx) = watch::channel(false);
        let cfg = Arc::new(MockConfig {
            chunks: 20,
            hold_chunk_delay: Duration::from_millis(50),
            hold_max: Duration::from_secs(60),
            release: release_rx,
            stats: stats.clone(),
            next_id: AtomicU64::new(1),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mock-main".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("mock")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match bind_listener() {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(listener.local_addr().map_err(|e| e.to_string()));
                    mock_serve(listener, cfg, shutdown_rx).await;
                });
            })?;
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the mock did not start")?
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            addr,
            stats,
            release,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bind_listener() -> std::io::Result<tokio::net::TcpListener> {
    let sock = TcpSocket::new_v4()?;
    sock.set_reuseaddr(true)?;
    sock.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    sock.listen(4096)
}

async fn mock_serve(
    listener: tokio::net::TcpListener,
    cfg: Arc<MockConfig>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await; // e.g. EMFILE
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        cfg.stats.conns.fetch_add(1, Relaxed);
        let cfg = cfg.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| mock_handle(req, cfg.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
    conns.shutdown().await;
}

type MockBody = Either<Full<Bytes>, MockSse>;

fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<MockBody> {
    let mut r = Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn mock_error(status: StatusCode, message: &str) -> Response<MockBody> {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    full(status, "application/json", body.to_string())
}

async fn mock_handle(
    req: Request<Incoming>,
    cfg: Arc<MockConfig>,
) -> Result<Response<MockBody>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/chat/completions" | "/chat/completions") => mock_chat(req, &cfg).await,
        (&Method::GET, "/health") => full(StatusCode::OK, "text/plain", "ok\n"),
        _ => mock_error(StatusCode::NOT_FOUND, "Unknown request URL"),
    })
}

const PIECES: [&str; 20] = [
    "This",
    " is",
    " a",
    " mock",
    " reply",
    " from",
    " the",
    " upstream",
    " server",
    ".",
    " It",
    " streams",
    " one",
    " short",
    " token",
    " per",
    " chunk",
    " for",
    " benchmarks",
    ".",
];

fn usage_json(prompt: usize, completion: usize) -> String {
    format!(
        r#""usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}"#,
        prompt + completion
    )
}

async fn mock_chat(req: Request<Incoming>, cfg: &Arc<MockConfig>) -> Response<MockBody> {
    cfg.stats.chat.fetch_add(1, Relaxed);
    let bad = |msg: &str| {
        cfg.stats.bad.fetch_add(1, Relaxed);
        mock_error(StatusCode::BAD_REQUEST, msg)
    };
    let Ok(body) = req.into_body().collect().await.map(|c| c.to_bytes()) else {
        return bad("could not read the body");
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("the body is not JSON");
    };
    let Some(model) = v.get("model").and_then(Value::as_str) else {
        return bad("you must provide a model parameter");
    };
    if !v.get("messages").is_some_and(Value::is_array) {
        return bad("Missing required parameter: 'messages'.");
    }
    let stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = stream
        && v.pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let hold = model.ends_with("-hold");
    let model_json = Value::String(model.to_owned()).to_string();
    let prompt = (body.len() / 4).max(1);
    let id = cfg.next_id.fetch_add(1, Relaxed);
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = cfg.chunks;
    if !stream {
        let text: String = PIECES.iter().cycle().take(n).copied().collect();
        let s = format!(
            r#"{{"id":"chatcmpl-mock{id:016x}","object":"chat.completion","created":{created},"model":{model_json},"choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}","refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"stop"}}],{},"service_tier":"default","system_fingerprint":"fp_mock"}}"#,
            usage_json(prompt, n)
        );
        return full(StatusCode::OK, "application/json", s);
    }
    cfg.stats.stream.fetch_add(1, Relaxed);
    let prefix = format!(
        r#"data: {{"id":"chatcmpl-mock{id:016x}","object":"chat.completion.chunk","created":{created},"model":{model_json},"service_tier":"default","system_fingerprint":"fp_mock","choices":["#
    );
    let usage_null = if include_usage {
        r#","usage":null"#
    } else {
        ""
    };
    let mut s = String::with_capacity((prefix.len() + 120) * (n + 4));
    let mut ends = Vec::with_capacity(n + 4);
    let mut push = |s: &mut String, delta: &str, finish: &str| {
        let _ = write!(
            s,
            r#"{prefix}{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]{usage_null}}}"#
        );
        s.push_str("\n\n");
        ends.push(s.len());
    };
    push(
        &mut s,
        r#"{"role":"assistant","content":"","refusal":null}"#,
        "null",
    );
    for p in PIECES.iter().cycle().take(n) {
        push(&mut s, &format!(r#"{{"content":"{p}"}}"#), "null");
    }
    push(&mut s, "{}", r#""stop""#);
    if include_usage {
        let _ = write!(s, "{prefix}],{}}}\n\n", usage_json(prompt, n));
        ends.push(s.len());
    }
    s.push_str("data: [DONE]\n\n");
    ends.push(s.len());

    let (gate, held, delay) = if hold {
        let mut rx = cfg.release.clone();
        let max = cfg.hold_max;
        let gate: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let wait = async {
                loop {
                    let released = *rx.borrow_and_update();
                    if released || rx.changed().await.is_err() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(max, wait).await;
        });
        cfg.stats.held_now.fetch_add(1, Relaxed);
        cfg.stats.held_total.fetch_add(1, Relaxed);
        (
            Some(gate),
            Some(HeldGuard(cfg.stats.clone())),
            cfg.hold_chunk_delay,
        )
    } else {
        (None, None, Duration::ZERO)
    };
    let body = MockSse {
        data: Bytes::from(s),
        ends,
        next: 0,
        pos: 0,
        delay,
        sleep: None,
        gate,
        held,
    };
    let mut r = Response::new(Either::Right(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
