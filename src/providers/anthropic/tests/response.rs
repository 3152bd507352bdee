//! Anthropic answer -> OpenAI `chat.completion`.

use serde_json::json;

use super::{fixture, json};
use crate::providers::anthropic::response::{finish_reason, translate};

fn openai(name: &str) -> serde_json::Value {
    serde_json::from_slice(&translate(fixture(name).as_bytes(), 1_731_000_000).unwrap()).unwrap()
}

#[test]
fn text_answer() {
    assert_eq!(
        openai("text.json"),
        json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "object": "chat.completion", "created": 1_731_000_000,
            "model": "claude-sonnet-4-5-20250929",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}
        })
    );
}

#[test]
fn text_and_parallel_tool_calls() {
    let out = openai("tool_calls.json");
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["content"],
        "I'll check the weather in both cities."
    );
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    for (call, (id, city)) in calls.iter().zip([
        ("toolu_01A09q90qw90lq917835lq9", "Paris"),
        ("toolu_01B8wq8e7r8t7y6u5i4o3p2", "Tokyo"),
    ]) {
        assert_eq!(call["id"], id);
        assert_eq!(call["type"], "function");
        assert_eq!(call["function"]["name"], "get_weather");
        let args: serde_json::Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"location": city, "unit": "celsius"}));
    }
}

#[test]
fn cache_usage_and_thinking() {
    let out = openai("cached_thinking.json");
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 21 + 1000 + 2048, "completion_tokens": 30, "total_tokens": 3099,
            "prompt_tokens_details": {"cached_tokens": 2048},
            "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 2048})
    );
    let message = &out["choices"][0]["message"];
    assert_eq!(message["content"], "Autumn moonlight");
    assert_eq!(message["reasoning_content"], "The user wants a haiku.");
}

#[test]
fn stop_reasons() {
    for (stop, finish) in [
        (Some("end_turn"), "stop"),
        (Some("stop_sequence"), "stop"),
        (Some("max_tokens"), "length"),
        (Some("tool_use"), "tool_calls"),
        (Some("refusal"), "content_filter"),
        (Some("pause_turn"), "stop"),
        (None, "stop"),
    ] {
        assert_eq!(finish_reason(stop), finish, "{stop:?}");
    }
    assert_eq!(
        openai("stop_sequence.json")["choices"][0]["finish_reason"],
        "stop"
    );
    assert_eq!(
        openai("max_tokens.json")["choices"][0]["finish_reason"],
        "length"
    );
}

#[test]
fn garbage_is_an_error() {
    assert!(translate(b"<html>", 0).is_err());
    assert!(translate(b"[]", 0).is_err());
    assert!(json(&fixture("text.json")).is_object());
}
