//! Anthropic SSE -> OpenAI chunks, event by event.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::json;

use super::fixture;
use crate::providers::anthropic::stream::{Translator, openai_stream};

/// The events of an SSE fixture, each with its blank line.
fn events(text: &str) -> Vec<String> {
    text.split_inclusive("\n\n").map(str::to_owned).collect()
}

/// A short summary of each OpenAI event in `out`.
fn summarise(out: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(out).unwrap();
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            if e.starts_with(':') {
                return "ping".to_owned();
            }
            let data = e.strip_prefix("data: ").unwrap();
            if data == "[DONE]" {
                return "done".to_owned();
            }
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            if let Some(err) = v.get("error") {
                return format!("error:{}", err["code"].as_str().unwrap());
            }
            if let Some(u) = v.get("usage") {
                assert_eq!(v["choices"], json!([]));
                return format!("usage:{}/{}", u["prompt_tokens"], u["completion_tokens"]);
            }
            let choice = &v["choices"][0];
            if let Some(f) = choice["finish_reason"].as_str() {
                return format!("finish:{f}");
            }
            let delta = &choice["delta"];
            if delta.get("role").is_some() {
                return "role".to_owned();
            }
            if let Some(t) = delta["content"].as_str() {
                return format!("text:{t}");
            }
            if let Some(t) = delta["reasoning_content"].as_str() {
                return format!("reasoning:{t}");
            }
            let call = &delta["tool_calls"][0];
            match call["id"].as_str() {
                Some(id) => format!(
                    "tool[{}]:{id}:{}",
                    call["index"],
                    call["function"]["name"].as_str().unwrap()
                ),
                None => format!(
                    "args[{}]:{}",
                    call["index"],
                    call["function"]["arguments"].as_str().unwrap()
                ),
            }
        })
        .collect()
}

/// Each fixture event translated on its own.
fn per_event(name: &str) -> Vec<Vec<String>> {
    let mut t = Translator::new(1_731_000_000);
    events(&fixture(name))
        .iter()
        .map(|e| {
            let mut out = BytesMut::new();
            t.event(e.as_bytes(), &mut out);
            summarise(&out)
        })
        .collect()
}

fn whole(name: &str) -> Bytes {
    let mut t = Translator::new(1_731_000_000);
    let mut buf = BytesMut::from(fixture(name).as_bytes());
    let mut out = BytesMut::new();
    t.feed(&mut buf, true, &mut out);
    out.freeze()
}

#[test]
fn text_then_parallel_tool_calls_chunk_by_chunk() {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let expected = vec![
        s(&["role"]),
        s(&[]),
        s(&["ping"]),
        s(&["text:I'll check the weather"]),
        s(&["text: in both cities."]),
        s(&[]),
        s(&["tool[0]:toolu_01A09q90qw90lq917835lq9:get_weather"]),
        s(&[]), // an empty input_json_delta carries nothing
        s(&["args[0]:{\"loc"]),
        s(&["args[0]:ation\": \"Par"]),
        s(&["args[0]:is\", \"u"]),
        s(&["args[0]:nit\": \"cel"]),
        s(&["args[0]:sius\"}"]),
        s(&[]),
        s(&["tool[1]:toolu_01B8wq8e7r8t7y6u5i4o3p2:get_weather"]),
        s(&["args[1]:{\"location\""]),
        s(&["args[1]:: \"Tokyo\", "]),
        s(&["args[1]:\"unit\": \"celsius\"}"]),
        s(&[]),
        s(&["finish:tool_calls", "usage:410/120"]),
        s(&["done"]),
    ];
    assert_eq!(per_event("tool_calls.sse"), expected);
}

#[test]
fn chunks_are_complete_openai_chunks() {
    let out = whole("text.sse");
    let first = std::str::from_utf8(&out)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .strip_prefix("data: ")
        .unwrap()
        .to_owned();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&first).unwrap(),
        json!({"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "object": "chat.completion.chunk",
            "created": 1_731_000_000, "model": "claude-sonnet-4-5-20250929",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                "logprobs": null, "finish_reason": null}]})
    );
    assert_eq!(
        summarise(&out),
        [
            "role",
            "ping",
            "text:Hello",
            "text:! How can I",
            "text: help you today?",
            "finish:stop",
            "usage:12/9",
            "done"
        ]
    );
}

#[test]
fn arguments_reassemble_from_fragments() {
    let out = whole("tool_calls.sse");
    let mut args = [String::new(), String::new()];
    for line in summarise(&out) {
        if let Some(rest) = line.strip_prefix("args[") {
            let (i, frag) = rest.split_once("]:").unwrap();
            args[i.parse::<usize>().unwrap()].push_str(frag);
        }
    }
    for (a, city) in args.iter().zip(["Paris", "Tokyo"]) {
        let v: serde_json::Value = serde_json::from_str(a).unwrap();
        assert_eq!(v, json!({"location": city, "unit": "celsius"}));
    }
}

#[test]
fn stop_reasons_usage_cache_and_thinking() {
    let tail = |name: &str| {
        summarise(&whole(name))
            .into_iter()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        tail("max_tokens.sse"),
        ["done", "usage:14/5", "finish:length"]
    );
    assert_eq!(
        tail("stop_sequence.sse"),
        ["done", "usage:15/8", "finish:stop"]
    );
    let all = summarise(&whole("cached_thinking.sse"));
    assert!(all.contains(&"reasoning:The user wants a haiku.".to_owned()));
    assert!(all.contains(&"usage:3069/30".to_owned()), "{all:?}");
}

#[test]
fn an_error_event_ends_the_stream_with_an_openai_error() {
    assert_eq!(
        summarise(&whole("error_midstream.sse")),
        ["role", "text:Hello", "error:overloaded_error"]
    );
    // Nothing after the error is translated.
    let mut t = Translator::new(0);
    let mut buf = BytesMut::from(
        format!("{}{}", fixture("error_midstream.sse"), fixture("text.sse")).as_bytes(),
    );
    let mut out = BytesMut::new();
    t.feed(&mut buf, false, &mut out);
    assert!(t.done);
    assert_eq!(summarise(&out).last().unwrap(), "error:overloaded_error");
}

#[test]
fn any_split_of_the_bytes_gives_the_same_output() {
    let text = fixture("tool_calls.sse").replace("\n", "\r\n");
    let expected = whole("tool_calls.sse");
    for size in [1, 2, 3, 7, 13, 64, 500] {
        let mut t = Translator::new(1_731_000_000);
        let mut buf = BytesMut::new();
        let mut out = BytesMut::new();
        for piece in text.as_bytes().chunks(size) {
            buf.extend_from_slice(piece);
            t.feed(&mut buf, false, &mut out);
        }
        t.feed(&mut buf, true, &mut out);
        assert_eq!(summarise(&out), summarise(&expected), "split {size}");
    }
}

#[test]
fn unknown_and_garbled_events_are_skipped() {
    let mut t = Translator::new(0);
    let mut out = BytesMut::new();
    t.event(
        b"event: future_event\ndata: {\"type\":\"future_event\"}",
        &mut out,
    );
    t.event(b"data: {not json", &mut out);
    t.event(b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"citations_delta\",\"citation\":{}}}", &mut out);
    assert!(out.is_empty());
}

#[tokio::test]
async fn the_body_translates_as_bytes_arrive() {
    let text = fixture("tool_calls.sse");
    let pieces: Vec<Result<Bytes, std::io::Error>> = text
        .as_bytes()
        .chunks(37)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(pieces));
    let out = openai_stream(body, 1_731_000_000)
        .collect()
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(summarise(&out), summarise(&whole("tool_calls.sse")));

    let cut: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(events(&text)[0].clone())),
        Err(std::io::Error::other("reset")),
    ];
    let body = Body::from_stream(futures_util::stream::iter(cut));
    assert!(openai_stream(body, 0).collect().await.is_err());
}
