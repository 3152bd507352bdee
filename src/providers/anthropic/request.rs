//! OpenAI chat request -> Anthropic Messages request.
//!
//! System and developer messages become `system`; assistant `tool_calls` become `tool_use`
//! blocks; `tool` messages become `tool_result` blocks in a user turn; consecutive turns of one
//! role are merged, as Anthropic requires alternating roles. Parameters Anthropic has no use for
//! (`seed`, `logprobs`, penalties, `response_format`...) are left out rather than sent to fail.

use bytes::Bytes;

use super::wire::{self, Block, Content, MessagesRequest, Metadata, Role, Source, ToolChoiceKind};
use crate::{
    error::GatewayError,
    openai::{
        JsonBody,
        wire::{self as oa, ChatRequest, Part, Stop},
    },
};

/// `max_tokens` when the request names none (Anthropic requires one).
pub(super) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The Anthropic body for `body`, sent to `model`.
pub(super) fn translate(body: &JsonBody, model: &str, stream: bool) -> Result<Bytes, GatewayError> {
    let chat: ChatRequest = serde_json::from_slice(body.raw()).map_err(|e| {
        GatewayError::invalid(
            format!("The request cannot be translated for an Anthropic deployment: {e}"),
            None,
        )
    })?;
    let request = to_anthropic(chat, model, stream)?;
    serde_json::to_vec(&request)
        .map(Bytes::from)
        .map_err(|e| GatewayError::Internal(format!("serialising the Anthropic request: {e}")))
}

/// The typed translation.
pub(super) fn to_anthropic(
    chat: ChatRequest,
    model: &str,
    stream: bool,
) -> Result<MessagesRequest, GatewayError> {
    if chat.n.is_some_and(|n| n > 1) {
        return Err(unsupported("`n` greater than 1", Some("n")));
    }
    let mut system: Vec<Block> = Vec::new();
    let mut turns: Vec<(Role, Vec<Block>)> = Vec::new();
    for message in chat.messages {
        let (role, blocks) = match message {
            oa::Message::System { content } | oa::Message::Developer { content } => {
                system.extend(blocks(content)?);
                continue;
            }
            oa::Message::User { content } => (Role::User, blocks(content)?),
            oa::Message::Assistant {
                content,
                tool_calls,
                thinking_blocks,
            } => {
                // Thinking comes first in an assistant turn, as Anthropic wrote it; a block
                // that does not read as thinking is left out.
                let mut out: Vec<Block> = thinking_blocks
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|b| serde_json::from_value::<Block>(b).ok())
                    .filter(|b| {
                        matches!(b, Block::Thinking { .. } | Block::RedactedThinking { .. })
                    })
                    .collect();
                if let Some(c) = content {
                    out.extend(blocks(c)?);
                }
                for call in tool_calls.unwrap_or_default() {
                    out.push(Block::ToolUse {
                        input: arguments(&call.function.arguments)?,
                        id: call.id,
                        name: call.function.name,
                    });
                }
                (Role::Assistant, out)
            }
            oa::Message::Tool {
                content,
                tool_call_id,
            } => {
                let content = match content {
                    oa::Content::Text(t) => Content::Text(t),
                    parts @ oa::Content::Parts(_) => Content::Blocks(blocks(parts)?),
                };
                let result = Block::ToolResult {
                    tool_use_id: tool_call_id,
                    content: Some(content),
                    is_error: None,
                };
                (Role::User, vec![result])
            }
        };
        if blocks_empty(&blocks) {
            continue; // Anthropic rejects empty turns; an empty message says nothing anyway
        }
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    // A trailing assistant turn is a prefill, which may not end in whitespace.
    if let Some((Role::Assistant, blocks)) = turns.last_mut() {
        if let Some(Block::Text { text, .. }) = blocks.last_mut() {
            text.truncate(text.trim_end().len());
        }
        blocks.retain(|b| !matches!(b, Block::Text { text, .. } if text.is_empty()));
    }
    let tools = chat
        .tools
        .map(|tools| tools.into_iter().map(tool).collect::<Result<Vec<_>, _>>())
        .transpose()?;
    let tool_choice = tool_choice(chat.tool_choice, chat.parallel_tool_calls, tools.is_some())?;
    let stop_sequences = chat.stop.map(|s| match s {
        Stop::One(s) => vec![s],
        Stop::Many(v) => v,
    });
    // Anthropic rejects whitespace-only stop sequences.
    let stop_sequences = stop_sequences
        .map(|v| {
            v.into_iter()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty());
    Ok(MessagesRequest {
        model: model.to_owned(),
        messages: turns
            .into_iter()
            .map(|(role, blocks)| wire::Message {
                role,
                content: content(blocks),
            })
            .collect(),
        system: (!system.is_empty()).then(|| match content(system) {
            Content::Text(t) => wire::System::Text(t),
            Content::Blocks(b) => wire::System::Blocks(b),
        }),
        max_tokens: chat
            .max_completion_tokens
            .or(chat.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS),
        stop_sequences,
        temperature: chat.temperature,
        top_p: chat.top_p,
        top_k: chat.top_k,
        stream: stream.then_some(true),
        tools,
        tool_choice,
        metadata: chat.user.map(|user| Metadata {
            user_id: Some(user),
        }),
        thinking: chat.thinking,
    })
}

/// One plain text block becomes a string; anything else stays blocks.
fn content(mut blocks: Vec<Block>) -> Content {
    match blocks.as_mut_slice() {
        [
            Block::Text {
                text,
                cache_control: None,
            },
        ] => Content::Text(std::mem::take(text)),
        _ => Content::Blocks(blocks),
    }
}

fn blocks_empty(blocks: &[Block]) -> bool {
    blocks
        .iter()
        .all(|b| matches!(b, Block::Text { text, .. } if text.is_empty()))
}

/// Message content as blocks; empty text parts are dropped (Anthropic rejects them).
fn blocks(content: oa::Content) -> Result<Vec<Block>, GatewayError> {
    let parts = match content {
        oa::Content::Text(text) if text.is_empty() => return Ok(Vec::new()),
        oa::Content::Text(text) => {
            return Ok(vec![Block::Text {
                text,
                cache_control: None,
            }]);
        }
        oa::Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Part::Text { text, .. } if text.is_empty() => {}
            Part::Text {
                text,
                cache_control,
            } => out.push(Block::Text {
                text,
                cache_control,
            }),
            Part::ImageUrl { image_url } => out.push(Block::Image {
                source: source(&image_url.url, "image_url")?,
            }),
            Part::File { file } => match file.file_data {
                Some(data) => out.push(Block::Document {
                    source: source(&data, "file")?,
                }),
                None => {
                    return Err(unsupported(
                        "file parts by `file_id` (send `file_data`)",
                        Some("messages"),
                    ));
                }
            },
        }
    }
    Ok(out)
}

/// A `data:` URL becomes inline base64; an http(s) URL stays a URL.
fn source(url: &str, what: &str) -> Result<Source, GatewayError> {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((media_type, data)) = rest.split_once(";base64,") {
            return Ok(Source::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            });
        }
    } else if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(Source::Url {
            url: url.to_owned(),
        });
    }
    Err(GatewayError::invalid(
        format!("`{what}` must be an http(s) URL or a base64 `data:` URL"),
        Some("messages"),
    ))
}

/// Tool-call arguments (JSON text) as the object Anthropic wants; empty text is `{}`.
fn arguments(text: &str) -> Result<serde_json::Value, GatewayError> {
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        _ => Err(GatewayError::invalid(
            "tool call `arguments` must be a JSON object to be sent to an Anthropic deployment",
            Some("messages"),
        )),
    }
}

fn tool(t: oa::Tool) -> Result<wire::Tool, GatewayError> {
    if t.kind != "function" {
        return Err(unsupported("tools other than `function`", Some("tools")));
    }
    let schema = match t.function.parameters {
        Some(p) => p,
        None => serde_json::value::RawValue::from_string(
            r#"{"type":"object","properties":{}}"#.to_owned(),
        )
        .map_err(|e| GatewayError::Internal(e.to_string()))?,
    };
    Ok(wire::Tool {
        kind: None,
        name: t.function.name,
        description: t.function.description,
        input_schema: Some(schema),
    })
}

fn tool_choice(
    choice: Option<oa::ToolChoice>,
    parallel: Option<bool>,
    has_tools: bool,
) -> Result<Option<wire::ToolChoice>, GatewayError> {
    let (kind, name) = match choice {
        None => (ToolChoiceKind::Auto, None),
        Some(oa::ToolChoice::Mode(mode)) => match mode.as_str() {
            "auto" => (ToolChoiceKind::Auto, None),
            "none" => (ToolChoiceKind::None, None),
            "required" => (ToolChoiceKind::Any, None),
            _ => {
                return Err(GatewayError::invalid(
                    format!("unknown `tool_choice` `{mode}`"),
                    Some("tool_choice"),
                ));
            }
        },
        Some(oa::ToolChoice::Named { function, .. }) => (ToolChoiceKind::Tool, Some(function.name)),
    };
    if !has_tools {
        return Ok(None); // Anthropic rejects a tool_choice without tools
    }
    let single = parallel == Some(false) && kind != ToolChoiceKind::None;
    let explicit = kind != ToolChoiceKind::Auto || single;
    Ok(explicit.then_some(wire::ToolChoice {
        kind,
        name,
        disable_parallel_tool_use: single.then_some(true),
    }))
}

fn unsupported(what: &str, param: Option<&'static str>) -> GatewayError {
    GatewayError::InvalidRequest {
        message: format!("{what} cannot be sent to an Anthropic deployment"),
        param,
        code: "unsupported_parameter",
    }
}
