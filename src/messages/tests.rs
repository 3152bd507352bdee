//! Front-door translation: Anthropic request -> OpenAI request, OpenAI answer and chunks ->
//! Anthropic message and events (OpenAI upstream fixtures from `tests/fixtures/openai/`).

use bytes::BytesMut;
use http::StatusCode;
use serde_json::json;

use super::{
    error_body, estimate_tokens, request::to_openai, response::translate, stream::Translator,
};
use crate::providers::anthropic::wire::MessagesRequest;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn openai(anthropic: serde_json::Value, extras: bool) -> serde_json::Value {
    let req: MessagesRequest = serde_json::from_value(anthropic).unwrap();
    serde_json::to_value(to_openai(req, extras).unwrap()).unwrap()
}

#[test]
fn a_coding_agent_request_becomes_an_openai_request() {
    let out = openai(
        json!({
            "model": "claude-sonnet", "max_tokens": 1024, "stream": true,
            "system": [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}],
            "metadata": {"user_id": "u-1"}, "stop_sequences": ["</done>"], "temperature": 0.1, "top_k": 5,
            "tools": [
                {"name": "read_file", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
            ],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Fix the bug in main.rs"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I should read it.", "signature": "sig"},
                    {"type": "text", "text": "Reading it."},
                    {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "main.rs"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "fn main() {}"},
                    {"type": "text", "text": "Go on."}]}
            ]
        }),
        false,
    );
    assert_eq!(
        out,
        json!({
            "model": "claude-sonnet", "max_tokens": 1024, "stream": true,
            "stream_options": {"include_usage": true}, "stop": ["</done>"], "temperature": 0.1,
            "user": "u-1",
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "You are a coding agent."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "Fix the bug in main.rs"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
                {"role": "assistant", "content": "Reading it.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"main.rs\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "fn main() {}"},
                {"role": "user", "content": [{"type": "text", "text": "Go on."}]}
            ],
            "tools": [{"type": "function", "function": {"name": "read_file", "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}],
            "tool_choice": "auto", "parallel_tool_calls": false
        })
    );
}

#[test]
fn extras_are_kept_for_anthropic_groups_only() {
    let req = json!({"model": "m", "max_tokens": 5, "top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 1024},
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}]});
    let kept = openai(req.clone(), true);
    assert_eq!(kept["top_k"], 5);
    assert_eq!(kept["thinking"]["budget_tokens"], 1024);
    assert_eq!(
        kept["messages"][0]["content"][0]["cache_control"]["type"],
        "ephemeral"
    );
    let dropped = openai(req, false);
    assert!(dropped.get("top_k").is_none() && dropped.get("thinking").is_none());
}

#[test]
fn tool_choice_kinds_and_missing_max_tokens() {
    let choice = |tc: serde_json::Value| {
        openai(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"name": "f", "input_schema": {"type": "object"}}], "tool_choice": tc}),
            false,
        )["tool_choice"]
            .clone()
    };
    assert_eq!(choice(json!({"type": "any"})), "required");
    assert_eq!(choice(json!({"type": "none"})), "none");
    assert_eq!(
        choice(json!({"type": "tool", "name": "f"})),
        json!({"type": "function", "function": {"name": "f"}})
    );
    let req: MessagesRequest =
        serde_json::from_value(json!({"model": "m", "messages": []})).unwrap();
    assert_eq!(
        to_openai(req, false).unwrap_err().status(),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn an_openai_answer_becomes_an_anthropic_message() {
    let out: serde_json::Value =
        serde_json::from_slice(&translate(fixture("openai/tool_calls.json").as_bytes()).unwrap())
            .unwrap();
    assert_eq!(
        out,
        json!({
            "id": "chatcmpl-AXv2Tools", "type": "message", "role": "assistant", "model": "gpt-4o-2024-08-06",
            "content": [
                {"type": "text", "text": "I'll check the weather in both cities."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "Paris", "unit": "celsius"}},
                {"type": "tool_use", "id": "toolu_01B8wq8e7r8t7y6u5i4o3p2", "name": "get_weather", "input": {"location": "Tokyo", "unit": "celsius"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 410, "output_tokens": 120}
        })
    );
    let out: serde_json::Value =
        serde_json::from_slice(&translate(fixture("openai/max_tokens.json").as_bytes()).unwrap())
            .unwrap();
    assert_eq!(out["stop_reason"], "max_tokens");
    let cached = json!({"id": "c", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 2, "total_tokens": 102, "prompt_tokens_details": {"cached_tokens": 64}}});
    let out: serde_json::Value =
        serde_json::from_slice(&translate(cached.to_string().as_bytes()).unwrap()).unwrap();
    assert_eq!(
        out["usage"],
        json!({"input_tokens": 36, "output_tokens": 2, "cache_read_input_tokens": 64})
    );
    assert_eq!(out["stop_reason"], "end_turn");
    assert!(translate(b"<html>").is_err());
}

/// `event` name and a short summary of each Anthropic event in `out`.
fn summarise(out: &[u8]) -> Vec<String> {
    std::str::from_utf8(out)
        .unwrap()
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').unwrap();
            let name = name.strip_prefix("event: ").unwrap();
            let v: serde_json::Value =
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(v["type"], name, "{e}");
            match name {
                "content_block_start" => {
                    let b = &v["content_block"];
                    match b["type"].as_str().unwrap() {
                        "tool_use" => format!(
                            "start[{}]:tool:{}:{}",
                            v["index"],
                            b["id"].as_str().unwrap(),
                            b["name"].as_str().unwrap()
                        ),
                        other => format!("start[{}]:{other}", v["index"]),
                    }
                }
                "content_block_delta" => {
                    let d = &v["delta"];
                    match d["type"].as_str().unwrap() {
                        "text_delta" => {
                            format!("text[{}]:{}", v["index"], d["text"].as_str().unwrap())
                        }
                        _ => format!(
                            "json[{}]:{}",
                            v["index"],
                            d["partial_json"].as_str().unwrap()
                        ),
                    }
                }
                "content_block_stop" => format!("stop[{}]", v["index"]),
                "message_delta" => format!(
                    "delta:{}:{}/{}",
                    v["delta"]["stop_reason"].as_str().unwrap(),
                    v["usage"]["input_tokens"],
                    v["usage"]["output_tokens"]
                ),
                "error" => format!("error:{}", v["error"]["type"].as_str().unwrap()),
                other => other.to_owned(),
            }
        })
        .collect()
}

fn per_event(text: &str) -> Vec<Vec<String>> {
    let mut t = Translator::default();
    text.split_inclusive("\n\n")
        .map(|e| {
            let mut out = BytesMut::new();
            t.event(e.as_bytes(), &mut out);
            summarise(&out)
        })
        .collect()
}

#[test]
fn openai_chunks_become_anthropic_events_one_by_one() {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let events = per_event(&fixture("openai/tool_calls.sse"));
    let expected = vec![
        s(&["message_start"]),
        s(&["start[0]:text", "text[0]:I'll check the weather"]),
        s(&["text[0]: in both cities."]),
        s(&[
            "stop[0]",
            "start[1]:tool:toolu_01A09q90qw90lq917835lq9:get_weather",
        ]),
        s(&["json[1]:{\"loc"]),
        s(&["json[1]:ation\": \"Par"]),
        s(&["json[1]:is\", \"u"]),
        s(&["json[1]:nit\": \"cel"]),
        s(&["json[1]:sius\"}"]),
        s(&[
            "stop[1]",
            "start[2]:tool:toolu_01B8wq8e7r8t7y6u5i4o3p2:get_weather",
        ]),
        s(&["json[2]:{\"location\""]),
        s(&["json[2]:: \"Tokyo\", "]),
        s(&["json[2]:\"unit\": \"celsius\"}"]),
        s(&["stop[2]"]),
        s(&[]),
        s(&["delta:tool_use:410/120", "message_stop"]),
    ];
    assert_eq!(events, expected);
}

#[test]
fn a_name_sent_after_the_id_still_opens_one_complete_block() {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let text = [
        chunk(json!({"role": "assistant"}), None),
        chunk(json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"arguments": ""}}]}), None),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"name": "lookup", "arguments": "{\"q\":"}}]}), None),
        chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}), None),
        chunk(json!({}), Some("tool_calls")),
        ": keep-alive\n\n".to_owned(),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let all: Vec<String> = per_event(&text).into_iter().flatten().collect();
    assert_eq!(
        all,
        [
            "message_start",
            "start[0]:tool:call_9:lookup",
            "json[0]:{\"q\":",
            "json[0]:1}",
            "stop[0]",
            "ping",
            "delta:tool_use:0/0",
            "message_stop"
        ]
    );
}

#[test]
fn errors_and_early_ends() {
    let mut t = Translator::default();
    let mut out = BytesMut::new();
    let mut buf = BytesMut::from(
        &b"data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"error\":{\"message\":\"cut\",\"type\":\"api_error\",\"code\":\"upstream_stream_cut\"}}\n\n"[..],
    );
    t.feed(&mut buf, false, &mut out);
    assert_eq!(
        summarise(&out),
        [
            "message_start",
            "start[0]:text",
            "text[0]:Hel",
            "error:api_error"
        ]
    );
    assert!(t.done);
    let mut t = Translator::default();
    let mut out = BytesMut::new();
    t.event(
        br#"data: {"error":{"message":"Overloaded","type":"api_error","param":null,"code":"overloaded_error"}}"#,
        &mut out,
    );
    assert_eq!(summarise(&out), ["error:overloaded_error"]);
    // The body ends with neither [DONE] nor an error: an error, never a complete-looking answer.
    let mut t = Translator::default();
    let mut out = BytesMut::new();
    t.feed(&mut BytesMut::new(), true, &mut out);
    assert_eq!(summarise(&out), ["error:api_error"]);
}

#[test]
fn errors_in_anthropic_shape() {
    let body = error_body(
        StatusCode::TOO_MANY_REQUESTS,
        br#"{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}"#,
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
    );
    let v: serde_json::Value =
        serde_json::from_slice(&error_body(StatusCode::SERVICE_UNAVAILABLE, b"oops")).unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
}

#[test]
fn token_estimate_counts_system_messages_and_tools() {
    let req: MessagesRequest = serde_json::from_value(json!({"model": "m",
        "system": "x".repeat(40),
        "messages": [{"role": "user", "content": "y".repeat(80)}],
        "tools": [{"name": "abcd", "input_schema": {"type":"object"}}]}))
    .unwrap();
    // (40 + 80 + 4 + 17) / 4 rounded up, plus 3 for the one message.
    assert_eq!(estimate_tokens(&req), 36 + 3);
}

#[test]
fn text_and_a_tool_call_in_one_chunk_and_arguments_with_the_finish() {
    let chunk = |delta: serde_json::Value, finish: Option<&str>| {
        format!(
            "data: {}\n\n",
            json!({"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let text = [
        chunk(
            json!({"role": "assistant", "content": "Let me look.", "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{\"dir\":"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"/tmp\"}"}}]}),
            Some("tool_calls"),
        ),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let all: Vec<String> = per_event(&text).into_iter().flatten().collect();
    assert_eq!(
        all,
        [
            "message_start",
            "start[0]:text",
            "text[0]:Let me look.",
            "stop[0]",
            "start[1]:tool:call_1:ls",
            "json[1]:{\"dir\":",
            "json[1]:\"/tmp\"}",
            "stop[1]",
            "delta:tool_use:0/0",
            "message_stop"
        ]
    );
}
