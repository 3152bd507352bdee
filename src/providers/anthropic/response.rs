//! Anthropic Message -> OpenAI `chat.completion`: text blocks become `content`, `tool_use`
//! blocks `tool_calls` (ids and names kept, `input` as JSON text), thinking `reasoning_content`;
//! `stop_reason` becomes `finish_reason` and usage is mapped with the cache counts reported.

use bytes::Bytes;

use super::wire::{Block, MessageResponse, Usage};
use crate::openai::wire::{
    AnswerMessage, ChatCompletion, Choice, CompletionUsage, FunctionCall, PromptTokensDetails,
    ToolCall,
};

/// The OpenAI answer for an Anthropic answer body; `Err` says why the body is not one.
pub(super) fn translate(body: &[u8], created: u64) -> Result<Bytes, String> {
    let message: MessageResponse =
        serde_json::from_slice(body).map_err(|e| format!("not an Anthropic message ({e})"))?;
    if message.kind != "message" {
        return Err(format!("expected `type: message`, got `{}`", message.kind));
    }
    let completion = to_openai(message, created);
    serde_json::to_vec(&completion)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// The typed translation.
pub(super) fn to_openai(message: MessageResponse, created: u64) -> ChatCompletion {
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for block in message.content {
        match block {
            Block::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(&t),
            Block::Thinking { thinking, .. } => reasoning
                .get_or_insert_with(String::new)
                .push_str(&thinking),
            Block::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            Block::Image { .. }
            | Block::Document { .. }
            | Block::ToolResult { .. }
            | Block::RedactedThinking { .. }
            | Block::Other => {}
        }
    }
    let finish = finish_reason(message.stop_reason.as_deref());
    ChatCompletion {
        id: message.id,
        object: "chat.completion".into(),
        created,
        model: message.model,
        choices: vec![Choice {
            index: 0,
            message: AnswerMessage {
                role: "assistant".into(),
                content: text,
                reasoning_content: reasoning,
                tool_calls: (!calls.is_empty()).then_some(calls),
            },
            logprobs: None,
            finish_reason: Some(finish.into()),
        }],
        usage: Some(usage(&message.usage)),
    }
}

/// `stop_reason` -> `finish_reason`.
pub(super) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn, or none given
        _ => "stop",
    }
}

/// Anthropic usage -> OpenAI usage. Anthropic's `input_tokens` leaves out cached prompt tokens;
/// OpenAI's `prompt_tokens` includes them, with the cached part in `prompt_tokens_details`.
pub(super) fn usage(u: &Usage) -> CompletionUsage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let created = u.cache_creation_input_tokens.unwrap_or(0);
    let prompt = u.input_tokens + read + created;
    CompletionUsage {
        prompt_tokens: prompt,
        completion_tokens: u.output_tokens,
        total_tokens: prompt + u.output_tokens,
        prompt_tokens_details: (u.cache_read_input_tokens.is_some()
            || u.cache_creation_input_tokens.is_some())
        .then_some(PromptTokensDetails {
            cached_tokens: read,
        }),
        cache_creation_input_tokens: u.cache_creation_input_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
    }
}
