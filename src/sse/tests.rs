use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::body::Body;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http_body_util::BodyExt;

use super::*;

/// Captures the end hook's report.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::OnceLock<StreamEnd>>);

impl Captured {
    fn get(&self) -> StreamEnd {
        *self.0.get().expect("the hook fired")
    }
}

fn chunk(content: &str, finish: Option<&str>) -> String {
    let c = serde_json::json!({"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

const USAGE: &str = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n";

/// Runs `frames` (as separate body frames) through an `SseBody`; returns the output and the report.
async fn run(frames: Vec<&str>, keep_usage: bool) -> (String, StreamEnd) {
    let owned: Vec<Result<Bytes, Infallible>> = frames
        .into_iter()
        .map(|f| Ok(Bytes::from(f.to_owned())))
        .collect();
    let inner = Body::from_stream(stream::iter(owned));
    let mut body = Box::pin(SseBody::new(
        inner,
        Arc::from("dep"),
        Duration::from_secs(60),
        keep_usage,
        false,
    ));
    let captured = Captured::default();
    let c = captured.clone();
    body.as_mut().on_end(move |end| {
        let _ = c.0.set(end);
    });
    let out = body.collect().await.unwrap().to_bytes();
    (String::from_utf8(out.to_vec()).unwrap(), captured.get())
}

#[tokio::test]
async fn forwards_events_and_reads_usage() {
    let (out, end) = run(
        vec![
            &chunk("a", None),
            &chunk("", Some("stop")),
            USAGE,
            "data: [DONE]\n\n",
        ],
        false,
    )
    .await;
    assert!(
        !out.contains("usage"),
        "the usage chunk is dropped when not asked for: {out}"
    );
    assert!(out.ends_with("data: [DONE]\n\n"));
    assert_eq!(end.outcome, Outcome::Complete);
    assert_eq!(end.usage.map(|u| u.total_tokens), Some(5));
    assert!(end.first_content.is_some());

    let (out, _) = run(
        vec![&chunk("a", Some("stop")), USAGE, "data: [DONE]\n\n"],
        true,
    )
    .await;
    assert!(out.contains("\"usage\""));
}

#[tokio::test]
async fn reassembles_an_event_split_over_frames() {
    let whole = chunk("hello", Some("stop")) + "data: [DONE]\n\n";
    let (a, b) = whole.split_at(17);
    let (b, c) = b.split_at(b.len() - 3);
    let (out, end) = run(vec![a, b, c], false).await;
    assert_eq!(out, whole);
    assert_eq!(end.outcome, Outcome::Complete);
}

#[tokio::test]
async fn adds_done_after_a_finished_answer_and_errors_after_an_unfinished_one() {
    let (out, end) = run(vec![&chunk("x", Some("stop"))], false).await;
    assert!(out.ends_with("data: [DONE]\n\n"), "{out}");
    assert_eq!(end.outcome, Outcome::Complete);

    let (out, end) = run(vec![&chunk("x", None)], false).await;
    assert!(!out.contains("[DONE]"));
    assert!(out.ends_with("\n\n") && out.contains("\"error\""), "{out}");
    assert_eq!(end.outcome, Outcome::Failed("upstream_stream_incomplete"));
}

#[tokio::test]
async fn a_last_event_without_its_blank_line_still_counts() {
    let last = chunk("x", Some("stop"));
    let (out, end) = run(vec![last.trim_end()], false).await;
    assert_eq!(out, format!("{last}data: [DONE]\n\n"));
    assert_eq!(end.outcome, Outcome::Complete);
}

#[tokio::test]
async fn drops_garbage_and_anything_after_done() {
    let (out, _) = run(
        vec![
            "data: {oops\n\n",
            &chunk("ok", Some("stop")),
            "data: [DONE]\n\n",
            &chunk("late", None),
        ],
        false,
    )
    .await;
    assert!(!out.contains("oops") && !out.contains("late"), "{out}");
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn multi_line_data_is_joined() {
    let event = "data: {\"choices\":\ndata: [{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n";
    let (out, end) = run(vec![event], false).await;
    assert!(out.starts_with(event), "{out}");
    assert_eq!(end.outcome, Outcome::Complete);
}

#[tokio::test]
async fn an_upstream_error_event_is_forwarded_and_not_followed_by_done() {
    let (out, end) = run(
        vec![
            &chunk("a", None),
            "data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
        ],
        false,
    )
    .await;
    assert!(out.contains("overloaded"));
    assert!(!out.contains("[DONE]"));
    assert!(matches!(end.outcome, Outcome::Failed(_)));
}

#[tokio::test(start_paused = true)]
async fn silence_past_the_idle_timeout_ends_the_stream_with_an_error() {
    let first = chunk("partial", None);
    let frames = stream::iter(vec![Ok::<_, Infallible>(Bytes::from(first.clone()))])
        .chain(stream::pending());
    let mut body = Box::pin(SseBody::new(
        Body::from_stream(frames),
        Arc::from("dep"),
        Duration::from_secs(10),
        false,
        false,
    ));
    let captured = Captured::default();
    let c = captured.clone();
    body.as_mut().on_end(move |end| {
        let _ = c.0.set(end);
    });
    let started = tokio::time::Instant::now();
    let out = body.collect().await.unwrap().to_bytes();
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(10),
        "ends exactly at the idle timeout (paused clock)"
    );
    let out = String::from_utf8(out.to_vec()).unwrap();
    assert!(
        out.starts_with(&first) && out.contains("sent nothing for 10s"),
        "{out}"
    );
    assert_eq!(
        captured.get().outcome,
        Outcome::Failed("upstream_stream_idle")
    );
}

#[tokio::test]
async fn a_client_that_leaves_is_reported() {
    let captured = Captured::default();
    let c = captured.clone();
    let mut body = Box::pin(SseBody::new(
        Body::from_stream(stream::pending::<Result<Bytes, Infallible>>()),
        Arc::from("d"),
        Duration::from_secs(1),
        false,
        false,
    ));
    body.as_mut().on_end(move |end| {
        let _ = c.0.set(end);
    });
    drop(body);
    assert_eq!(captured.get().outcome, Outcome::ClientGone);
}

#[tokio::test]
async fn priming_holds_everything_up_to_the_first_content_for_the_client() {
    let role = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
    let frames: Vec<Result<Bytes, Infallible>> = vec![
        Ok(Bytes::from(role)),
        Ok(Bytes::from(chunk("hi", None))),
        Ok(Bytes::from(chunk("", Some("stop")))),
    ];
    let mut body = Box::pin(SseBody::new(
        Body::from_stream(stream::iter(frames)),
        Arc::from("d"),
        Duration::from_secs(5),
        false,
        false,
    ));
    std::future::poll_fn(|cx| body.as_mut().poll_prime(cx))
        .await
        .unwrap();
    let out = body.collect().await.unwrap().to_bytes();
    let out = String::from_utf8(out.to_vec()).unwrap();
    assert_eq!(
        out,
        format!(
            "{role}{}{}data: [DONE]\n\n",
            chunk("hi", None),
            chunk("", Some("stop"))
        )
    );
}

#[tokio::test]
async fn priming_reports_a_stream_that_fails_before_its_first_content() {
    let frames: Vec<Result<Bytes, Infallible>> = vec![Ok(Bytes::from("data: {garbage\n\n"))];
    let mut body = Box::pin(SseBody::new(
        Body::from_stream(stream::iter(frames)),
        Arc::from("d"),
        Duration::from_secs(5),
        false,
        false,
    ));
    let primed = std::future::poll_fn(|cx| body.as_mut().poll_prime(cx)).await;
    assert_eq!(primed, Err("upstream_stream_incomplete"));
}
