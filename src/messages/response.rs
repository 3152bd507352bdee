//! OpenAI `chat.completion` -> Anthropic Message, for the `/v1/messages` front door.

use bytes::Bytes;

use crate::{
    openai::wire::{ChatCompletion, CompletionUsage},
    providers::anthropic::wire::{Block, MessageResponse, Usage},
};

/// The Anthropic answer for an OpenAI answer body; `Err` says why the body is not one.
pub fn translate(body: &[u8]) -> Result<Bytes, String> {
    let completion: ChatCompletion =
        serde_json::from_slice(body).map_err(|e| format!("not a chat completion ({e})"))?;
    let message = to_anthropic(completion);
    serde_json::to_vec(&message)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// The typed translation (the first choice; Anthropic has no `n`).
pub fn to_anthropic(completion: ChatCompletion) -> MessageResponse {
    let mut content = Vec::new();
    let mut finish = None;
    if let Some(choice) = completion.choices.into_iter().next() {
        finish = choice.finish_reason;
        let message = choice.message;
        if let Some(text) = message.content.filter(|t| !t.is_empty()) {
            content.push(Block::Text {
                text,
                cache_control: None,
            });
        }
        for call in message.tool_calls.unwrap_or_default() {
            content.push(Block::ToolUse {
                id: call.id,
                name: call.function.name,
                input: input(&call.function.arguments),
            });
        }
    }
    MessageResponse {
        id: completion.id,
        kind: "message".into(),
        role: "assistant".into(),
        model: completion.model,
        content,
        stop_reason: Some(stop_reason(finish.as_deref()).into()),
        stop_sequence: None,
        usage: usage(completion.usage.as_ref()),
    }
}

/// `finish_reason` -> `stop_reason`. OpenAI does not say whether a stop sequence matched, so
/// `stop` is always `end_turn`.
pub fn stop_reason(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI usage -> Anthropic usage (`input_tokens` without the cached prompt tokens).
pub fn usage(u: Option<&CompletionUsage>) -> Usage {
    let Some(u) = u else {
        return Usage::default();
    };
    let read = u
        .cache_read_input_tokens
        .or(u.prompt_tokens_details.map(|d| d.cached_tokens))
        .filter(|n| *n > 0);
    let created = u.cache_creation_input_tokens;
    Usage {
        input_tokens: u
            .prompt_tokens
            .saturating_sub(read.unwrap_or(0))
            .saturating_sub(created.unwrap_or(0)),
        output_tokens: u.completion_tokens,
        cache_creation_input_tokens: created,
        cache_read_input_tokens: read,
    }
}

/// Tool arguments (JSON text) as the object Anthropic clients expect; anything else is `{}`.
pub fn input(arguments: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => serde_json::Value::Object(Default::default()),
    }
}
