//! Clients that would exhaust the gateway: slow headers, idle keep-alive, too many connections,
//! trickled bodies, and connections that must not hold up the exit.

use std::time::Duration;

use super::raw::{BOUND, read_response, read_until_closed, send};
use crate::common::{
    Behavior, End, MockUpstream, TestGateway, chat_body, http, openai_config, upstream::chunks,
    upstream::completion, upstream::ok_json,
};

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

const CHAT_HEAD: &str =
    "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n";

#[tokio::test]
async fn headers_that_trickle_or_never_come_are_cut_off() {
    let up = MockUpstream::start(ok_json(completion("m", "hi"))).await;
    let extra = "switchyard_settings:\n  server: { header_read_timeout_seconds: 0.2 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    // Half a header, then nothing.
    let mut half = send(
        gw.addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n",
    )
    .await;
    // Nothing at all.
    let mut silent = send(gw.addr, b"").await;
    assert!(
        read_until_closed(&mut half).await.is_some(),
        "a connection whose headers never complete is closed"
    );
    assert!(
        read_until_closed(&mut silent).await.is_some(),
        "a connection that never sends a request is closed"
    );
    let m = gw.metrics().await;
    assert!(
        metric(
            &m,
            "switchyard_connections_closed_total{reason=\"header_timeout\"}"
        ) + metric(&m, "switchyard_connections_closed_total{reason=\"idle\"}")
            >= 2.0,
        "{m}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let up = MockUpstream::start(ok_json(completion("m", "hi"))).await;
    let extra = "switchyard_settings:\n  server: { idle_timeout_seconds: 0.2 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let mut s = send(gw.addr, b"GET /health/liveness HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    assert!(
        read_until_closed(&mut s).await.is_some(),
        "kept alive past the idle timeout"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once_and_counted() {
    let up = MockUpstream::start(ok_json(completion("m", "hi"))).await;
    let extra = "switchyard_settings:\n  server: { max_connections: 2 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    // Two connections that hold their slots (one answered and kept alive, one mid-request).
    let mut first = send(gw.addr, b"GET /health/liveness HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(read_response(&mut first).await.starts_with("HTTP/1.1 200"));
    let mut second = send(gw.addr, b"GET /health/liveness HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(read_response(&mut second).await.starts_with("HTTP/1.1 200"));
    let mut third = send(gw.addr, b"GET /health/liveness HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(
        read_until_closed(&mut third).await.as_deref(),
        Some(""),
        "the connection over the cap is closed without an answer"
    );
    // Freeing a slot lets the next one in; the refusal was counted.
    drop(first);
    // The first slot frees when the gateway sees the close: until then a new connection is
    // refused at once, so retry, bounded overall.
    let deadline = tokio::time::Instant::now() + BOUND;
    let m = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never freed"
        );
        let mut s = send(
            gw.addr,
            b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        if let Some(text) = read_until_closed(&mut s).await.filter(|t| !t.is_empty()) {
            break text;
        }
    };
    assert!(
        metric(&m, "switchyard_connections_refused_total") >= 1.0,
        "{m}"
    );
    assert!(metric(&m, "switchyard_open_connections") >= 1.0, "{m}");
    drop(second);
}

#[tokio::test]
async fn a_trickled_body_holds_no_permit_and_times_out() {
    let up = MockUpstream::start(ok_json(completion("m", "hi"))).await;
    let extra = "general_settings: { max_parallel_requests: 1 }\nswitchyard_settings:\n  server: { body_read_timeout_seconds: 0.3 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    // Complete headers, a promised body of 200 bytes, 10 sent.
    let head = format!("{CHAT_HEAD}content-length: 200\r\n\r\n{{\"model\":");
    let mut slow = send(gw.addr, head.as_bytes()).await;
    // The only permit is free for a request whose body has arrived.
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // The trickler gets a 408 in the OpenAI shape once its time is up.
    let answer = read_response(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[tokio::test]
async fn a_slowloris_connection_does_not_hold_the_exit() {
    let up = MockUpstream::start(ok_json(completion("m", "hi"))).await;
    let extra = "switchyard_settings:\n  drain_timeout_seconds: 60\n  server: { header_read_timeout_seconds: 60 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let mut half = send(
        gw.addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n",
    )
    .await;
    // A complete request on another connection proves the server has taken both in.
    let resp = http().get(gw.url("/health/liveness")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::timeout(BOUND, gw.stop())
        .await
        .expect("the exit does not wait on a connection with no request in flight")
        .unwrap();
    assert!(read_until_closed(&mut half).await.is_some());
}

#[tokio::test]
async fn a_stream_longer_than_the_drain_ends_with_an_error_event() {
    let up = MockUpstream::start(Behavior::Sse {
        events: chunks("m", &["never ", "ends"])[..2].to_vec(),
        delay: Duration::ZERO,
        end: End::Hang,
    })
    .await;
    let extra = "switchyard_settings:\n  drain_timeout_seconds: 0.2\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let mut resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", true))
        .send()
        .await
        .unwrap();
    let mut text = String::from_utf8(resp.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    let stopping = tokio::spawn(gw.stop());
    while let Ok(Some(chunk)) = resp.chunk().await {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(text.contains("server_shutting_down"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    tokio::time::timeout(BOUND, stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn over_http2_a_trickled_body_holds_no_permit_either() {
    use http_body_util::{BodyExt, StreamBody};
    use hyper::body::Frame;

    let up = MockUpstream::start(ok_json(completion("m", "hi"))).await;
    let extra = "general_settings: { max_parallel_requests: 1 }\nswitchyard_settings:\n  server: { body_read_timeout_seconds: 0.3 }\n";
    let gw = TestGateway::start(&openai_config("gpt", &up, extra)).await;
    let tcp = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    // A body that sends its first bytes and then nothing, on an h2 stream.
    let (tx, rx) =
        tokio::sync::mpsc::channel::<Result<Frame<bytes::Bytes>, std::convert::Infallible>>(1);
    tx.send(Ok(Frame::data(bytes::Bytes::from_static(b"{\"model\":"))))
        .await
        .unwrap();
    let body = StreamBody::new(tokio_stream_from(rx));
    let request = http::Request::post(format!("http://{}/v1/chat/completions", gw.addr))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let slow = tokio::spawn(async move { sender.send_request(request).await });
    // Another client's complete request is admitted: the trickler holds no permit.
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let answer = tokio::time::timeout(BOUND, slow)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(answer.status(), 408);
    let text = answer.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("request_timeout"));
    drop(tx);
}

/// An mpsc receiver as a `Stream` (no tokio-stream dependency).
fn tokio_stream_from<T>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
