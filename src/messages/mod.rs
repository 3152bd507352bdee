//! The Anthropic Messages API front door (`POST /v1/messages`, SPEC §3): an Anthropic request is
//! translated into an OpenAI chat request, run through the same model stack as any other
//! (router, retries, cache, keys, limits), and the OpenAI answer translated back: `request`
//! (Anthropic -> OpenAI), `response` (JSON answer), `stream` (SSE answer), plus the token estimate
//! of `/v1/messages/count_tokens` and the Anthropic error shape.

pub mod request;
pub mod response;
pub mod stream;

use bytes::Bytes;
use http::StatusCode;

use crate::{
    openai::wire as oa,
    providers::anthropic::wire::{
        Block, Content, ErrorBody, ErrorEnvelope, MessagesRequest, System,
    },
};

/// About four characters a token over the system prompt, messages and tool definitions.
pub fn estimate_tokens(req: &MessagesRequest) -> u64 {
    fn blocks(blocks: &[Block]) -> usize {
        blocks.iter().map(block).sum()
    }
    fn block(b: &Block) -> usize {
        match b {
            Block::Text { text, .. } => text.len(),
            Block::ToolUse { name, input, .. } => name.len() + input.to_string().len(),
            Block::ToolResult { content, .. } => content.as_ref().map_or(0, content_len),
            Block::Thinking { thinking, .. } => thinking.len(),
            // Anthropic bills an image at roughly (width x height) / 750 tokens; without decoding
            // it, count a typical 1000x1000 picture.
            Block::Image { .. } | Block::Document { .. } => 1334 * 4,
            Block::RedactedThinking { data } => data.len(),
            Block::Other => 0,
        }
    }
    fn content_len(c: &Content) -> usize {
        match c {
            Content::Text(t) => t.len(),
            Content::Blocks(b) => blocks(b),
        }
    }
    let system = match &req.system {
        Some(System::Text(t)) => t.len(),
        Some(System::Blocks(b)) => blocks(b),
        None => 0,
    };
    let messages: usize = req.messages.iter().map(|m| content_len(&m.content)).sum();
    let tools: usize = req
        .tools
        .iter()
        .flatten()
        .map(|t| {
            t.name.len()
                + t.description.as_ref().map_or(0, String::len)
                + t.input_schema.as_ref().map_or(0, |s| s.get().len())
        })
        .sum();
    // A few tokens of framing per message, as the real tokenizer counts.
    let chars = system + messages + tools;
    (chars as u64).div_ceil(4) + 3 * req.messages.len() as u64
}

/// The Anthropic error body for a gateway error answer (an OpenAI envelope), same status.
pub fn error_body(status: StatusCode, openai: &[u8]) -> Bytes {
    let message = serde_json::from_slice::<oa::ErrorEnvelope>(openai)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(openai).chars().take(500).collect());
    let envelope = ErrorEnvelope {
        kind: "error".into(),
        error: ErrorBody {
            kind: error_type(status).into(),
            message,
        },
    };
    serde_json::to_vec(&envelope)
        .map(Bytes::from)
        .unwrap_or_else(|_| {
            Bytes::from_static(
                br#"{"type":"error","error":{"type":"api_error","message":"internal error"}}"#,
            )
        })
}

/// Anthropic's error `type` for a status.
pub fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests;
