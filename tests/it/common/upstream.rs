//! A raw-TCP HTTP/1.1 mock upstream: full control over what goes on the wire (resets, hangs,
//! cut chunked streams, garbage), and a record of every request it received.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Notify,
};

/// What the mock does with one request.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// A complete answer.
    Json {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
    /// An SSE answer (chunked), one chunk per event, `delay` apart, ending as `end` says.
    Sse {
        events: Vec<String>,
        delay: Duration,
        end: End,
    },
    /// Read the request, never answer; notes when the peer closes.
    Hang,
    /// Read the request, then close the connection with nothing written.
    Reset,
    /// Write these bytes and close.
    Raw(Vec<u8>),
    /// Wait, then behave as the inner behaviour.
    Slow(Duration, Box<Behavior>),
}

/// How an SSE answer ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Terminating chunk, connection kept.
    Clean,
    /// Connection closed without the terminating chunk.
    Cut,
    /// Nothing more is sent; the connection stays open.
    Hang,
}

/// One received request.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    /// A header value by (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct Shared {
    default: Mutex<Behavior>,
    script: Mutex<VecDeque<Behavior>>,
    requests: Mutex<Vec<Recorded>>,
    connections: AtomicUsize,
    disconnects: AtomicUsize,
    disconnected: Notify,
    received: Notify,
}

/// A running mock upstream.
#[derive(Clone)]
pub struct MockUpstream {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl MockUpstream {
    /// Starts a mock that answers every request with `default` (after any scripted ones).
    pub async fn start(default: Behavior) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            default: Mutex::new(default),
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            disconnects: AtomicUsize::new(0),
            disconnected: Notify::new(),
            received: Notify::new(),
        });
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(socket, s.clone()));
            }
        });
        Self { addr, shared }
    }

    /// The next requests get these behaviours, in order, before the default applies again.
    pub fn push(&self, b: Behavior) {
        self.shared.script.lock().unwrap().push_back(b);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many TCP connections the gateway opened.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// How many requests were received.
    pub fn hits(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// Waits until a hanging request's connection is closed by the gateway (bounded by `within`).
    pub async fn wait_disconnect(&self, within: Duration) -> bool {
        let seen = self.shared.disconnected.notified();
        if self.shared.disconnects.load(Ordering::SeqCst) > 0 {
            return true;
        }
        tokio::time::timeout(within, seen).await.is_ok()
    }

    /// Waits until `n` requests have arrived (bounded by `within`).
    pub async fn wait_requests(&self, n: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.received.notified();
            if self.hits() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.hits() >= n;
            }
        }
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    let _ = socket.set_nodelay(true);
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buf).await else {
            return;
        };
        shared.requests.lock().unwrap().push(request);
        shared.received.notify_waiters();
        let behavior = shared
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| shared.default.lock().unwrap().clone());
        let behavior = match behavior {
            Behavior::Slow(delay, inner) => {
                tokio::time::sleep(delay).await;
                *inner
            }
            other => other,
        };
        match behavior {
            Behavior::Json {
                status,
                body,
                headers,
            } => {
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if socket.write_all(head.as_bytes()).await.is_err()
                    || socket.write_all(body.as_bytes()).await.is_err()
                {
                    return;
                }
            }
            Behavior::Sse { events, delay, end } => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for (i, e) in events.iter().enumerate() {
                    if i > 0 && !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let chunk = format!("{:x}\r\n{e}\r\n", e.len());
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        note_disconnect(&shared);
                        return;
                    }
                }
                match end {
                    End::Clean => {
                        if socket.write_all(b"0\r\n\r\n").await.is_err() {
                            return;
                        }
                    }
                    End::Cut => return,
                    End::Hang => {
                        wait_close(&mut socket).await;
                        note_disconnect(&shared);
                        return;
                    }
                }
            }
            Behavior::Hang => {
                wait_close(&mut socket).await;
                note_disconnect(&shared);
                return;
            }
            Behavior::Reset => {
                #[expect(
                    deprecated,
                    reason = "a zero linger sends RST, which is the point of this behaviour"
                )]
                let _ = socket.set_linger(Some(Duration::ZERO));
                return;
            }
            Behavior::Raw(bytes) => {
                let _ = socket.write_all(&bytes).await;
                return;
            }
            Behavior::Slow(..) => return, // unwrapped above; nesting is not supported
        }
    }
}

fn note_disconnect(shared: &Shared) {
    shared.disconnects.fetch_add(1, Ordering::SeqCst);
    shared.disconnected.notify_waiters();
}

async fn wait_close(socket: &mut TcpStream) {
    let mut scratch = [0u8; 1024];
    while let Ok(n) = socket.read(&mut scratch).await {
        if n == 0 {
            return;
        }
    }
}

async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    let mut scratch = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = socket.read(&mut scratch).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&scratch[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + len {
        let n = socket.read(&mut scratch).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&scratch[..n]);
    }
    let body = Bytes::copy_from_slice(&buf[body_start..body_start + len]);
    buf.drain(..body_start + len);
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}

/// A `chat.completion` body.
pub fn completion(model: &str, text: &str) -> String {
    serde_json::json!({
        "id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    })
    .to_string()
}

/// SSE events for `words` (role chunk, one chunk per word, finish chunk, usage chunk), no `[DONE]`.
pub fn chunks(model: &str, words: &[&str]) -> Vec<String> {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        let c = serde_json::json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut out = vec![chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    )];
    out.extend(
        words
            .iter()
            .map(|w| chunk(serde_json::json!({"content": w}), None)),
    );
    out.push(chunk(serde_json::json!({}), Some("stop")));
    let usage = serde_json::json!({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
        "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": words.len(), "total_tokens": 5 + words.len()}});
    out.push(format!("data: {usage}\n\n"));
    out
}

/// An SSE answer of `events`, sent back to back, ending as `end` says.
pub fn sse(events: Vec<String>, end: End) -> Behavior {
    Behavior::Sse {
        events,
        delay: Duration::ZERO,
        end,
    }
}

/// A 200 JSON behaviour.
pub fn ok_json(body: String) -> Behavior {
    Behavior::Json {
        status: 200,
        body,
        headers: vec![],
    }
}

/// An error behaviour with an OpenAI error body.
pub fn error_json(status: u16, code: &str, message: &str, headers: &[(&str, &str)]) -> Behavior {
    let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}});
    Behavior::Json {
        status,
        body: body.to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// A complete stream: the chunks, then `[DONE]`.
pub fn full_stream(model: &str, words: &[&str]) -> Behavior {
    let mut events = chunks(model, words);
    events.push("data: [DONE]\n\n".into());
    Behavior::Sse {
        events,
        delay: Duration::ZERO,
        end: End::Clean,
    }
}
