//! OpenAI request -> Anthropic request.

use serde_json::json;

use super::{body, fixture, json};
use crate::providers::anthropic::request::{DEFAULT_MAX_TOKENS, translate};

fn anthropic(openai: serde_json::Value, stream: bool) -> serde_json::Value {
    let bytes = translate(&body(&openai.to_string()), "claude-x", stream).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn full_conversation_matches_the_recorded_request() {
    let openai = fixture("request_full.openai.json");
    let out = translate(&body(&openai), "claude-sonnet-4-5-20250929", true).unwrap();
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(out, json(&fixture("request_full.anthropic.json")));
}

#[test]
fn defaults_and_plain_system_prompt() {
    let out = anthropic(
        json!({"model": "m", "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hi"}]}),
        false,
    );
    assert_eq!(
        out,
        json!({"model": "claude-x", "system": "Be terse.", "max_tokens": DEFAULT_MAX_TOKENS,
            "messages": [{"role": "user", "content": "hi"}]})
    );
    let out = anthropic(
        json!({"model": "m", "max_tokens": 7, "stop": "END", "messages": [{"role": "user", "content": "hi"}]}),
        true,
    );
    assert_eq!(out["max_tokens"], 7);
    assert_eq!(out["stop_sequences"], json!(["END"]));
    assert_eq!(out["stream"], true);
}

#[test]
fn tool_choice_modes() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let choice = |choice: serde_json::Value, parallel: Option<bool>| {
        let mut req = json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": tools, "tool_choice": choice});
        if let Some(p) = parallel {
            req["parallel_tool_calls"] = json!(p);
        }
        anthropic(req, false)["tool_choice"].clone()
    };
    assert_eq!(choice(json!("auto"), None), serde_json::Value::Null);
    assert_eq!(choice(json!("none"), None), json!({"type": "none"}));
    assert_eq!(choice(json!("required"), None), json!({"type": "any"}));
    assert_eq!(
        choice(json!({"type": "function", "function": {"name": "f"}}), None),
        json!({"type": "tool", "name": "f"})
    );
    assert_eq!(
        choice(json!("auto"), Some(false)),
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    // A function without parameters gets an empty object schema.
    let out = anthropic(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools}),
        false,
    );
    assert_eq!(
        out["tools"][0]["input_schema"],
        json!({"type": "object", "properties": {}})
    );
    // No tools: no tool_choice (Anthropic rejects one alone).
    let out = anthropic(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
        false,
    );
    assert!(out.get("tool_choice").is_none());
}

#[test]
fn empty_and_null_contents_are_dropped_and_turns_merged() {
    let out = anthropic(
        json!({"model": "m", "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": ""}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "ok"}]}),
        false,
    );
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}
        ])
    );
}

#[test]
fn cache_control_and_documents_pass_on() {
    let out = anthropic(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "long context", "cache_control": {"type": "ephemeral"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}}]}]}),
        false,
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "long context", "cache_control": {"type": "ephemeral"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}}
        ])
    );
}

#[test]
fn untranslatable_requests_are_400s() {
    let cases = [
        json!({"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]}),
        json!({"model": "m", "messages": [{"role": "assistant", "content": null, "tool_calls": [
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": "[1,"}}]}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "custom", "function": {"name": "f"}}]}),
    ];
    for case in cases {
        let e = translate(&body(&case.to_string()), "c", false).unwrap_err();
        assert_eq!(e.status(), http::StatusCode::BAD_REQUEST, "{case}: {e}");
    }
}
