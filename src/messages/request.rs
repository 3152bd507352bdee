//! Anthropic Messages request -> OpenAI chat request, for the `/v1/messages` front door.
//!
//! `system` becomes a system message, and so does a `role: "system"` message inside `messages`
//! (Claude Code sends those), in its place; `tool_use` blocks become assistant `tool_calls`
//! (empty or absent input as `{}`); `tool_result` blocks become `tool` messages placed before
//! the rest of their user turn (`is_error` as an `Error: ` prefix, the one way a chat model
//! sees it); images become `image_url` parts (`data:` URLs for inline data), PDFs `file` parts,
//! text documents text. Server tools and their blocks run at Anthropic and are left out.
//! Anthropic-only extras (`cache_control`, `top_k`, `thinking`, thinking blocks in history as
//! `thinking_blocks`) are kept only when `extras` says every deployment of the group is
//! Anthropic; otherwise thinking in history is dropped (a chat model cannot take it back).

use crate::{
    error::GatewayError,
    openai::wire::{
        self as oa, ChatRequest, FileData, FunctionCall, FunctionDef, ImageUrl, Named, Part, Stop,
        StreamOptions, ToolCall,
    },
    providers::anthropic::wire::{
        Block, Content, MessagesRequest, Role, Source, System, ToolChoiceKind,
    },
};

/// The OpenAI request for `req`.
pub fn to_openai(req: MessagesRequest, extras: bool) -> Result<ChatRequest, GatewayError> {
    if req.max_tokens == 0 {
        return Err(GatewayError::InvalidRequest {
            message: "max_tokens: Field required (a number of at least 1)".into(),
            param: Some("max_tokens"),
            code: "missing_required_parameter",
        });
    }
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    match req.system {
        Some(System::Text(text)) if !text.is_empty() => messages.push(oa::Message::System {
            content: oa::Content::Text(text),
        }),
        Some(System::Blocks(blocks)) => {
            let parts = parts(blocks, extras)?;
            if !parts.is_empty() {
                messages.push(oa::Message::System {
                    content: oa::Content::Parts(parts),
                });
            }
        }
        Some(System::Text(_)) | None => {}
    }
    for message in req.messages {
        match (message.role, message.content) {
            (Role::User, Content::Text(text)) => messages.push(oa::Message::User {
                content: oa::Content::Text(text),
            }),
            (Role::Assistant, Content::Text(text)) => messages.push(oa::Message::Assistant {
                content: Some(oa::Content::Text(text)),
                tool_calls: None,
                thinking_blocks: None,
            }),
            (Role::User, Content::Blocks(blocks)) => user_turn(blocks, extras, &mut messages)?,
            (Role::Assistant, Content::Blocks(blocks)) => {
                messages.push(assistant_turn(blocks, extras));
            }
            (Role::System, Content::Text(text)) => messages.push(oa::Message::System {
                content: oa::Content::Text(text),
            }),
            (Role::System, Content::Blocks(blocks)) => {
                let parts = parts(blocks, extras)?;
                if !parts.is_empty() {
                    messages.push(oa::Message::System {
                        content: oa::Content::Parts(parts),
                    });
                }
            }
        }
    }
    let tools: Vec<oa::Tool> = req
        .tools
        .unwrap_or_default()
        .into_iter()
        // Server tools (web search, code execution...) run at Anthropic; they have no OpenAI form.
        .filter(|t| t.kind.as_deref().is_none_or(|k| k == "custom"))
        .map(|t| oa::Tool {
            kind: "function".into(),
            function: FunctionDef {
                name: t.name,
                description: t.description,
                parameters: t.input_schema,
            },
        })
        .collect();
    let has_tools = !tools.is_empty();
    let (tool_choice, parallel) = match req.tool_choice.filter(|_| has_tools) {
        None => (None, None),
        Some(choice) => {
            let mode = |m: &str| Some(oa::ToolChoice::Mode(m.into()));
            let tc = match (choice.kind, choice.name) {
                (ToolChoiceKind::Auto, _) => mode("auto"),
                (ToolChoiceKind::Any, _) => mode("required"),
                (ToolChoiceKind::None, _) => mode("none"),
                (ToolChoiceKind::Tool, Some(name)) => Some(oa::ToolChoice::Named {
                    kind: "function".into(),
                    function: Named { name },
                }),
                (ToolChoiceKind::Tool, None) => {
                    return Err(GatewayError::invalid(
                        "tool_choice.name: Field required for type `tool`",
                        Some("tool_choice"),
                    ));
                }
            };
            (tc, choice.disable_parallel_tool_use.map(|d| !d))
        }
    };
    let stream = req.stream.unwrap_or(false);
    Ok(ChatRequest {
        model: req.model,
        messages,
        max_tokens: Some(req.max_tokens),
        stop: req.stop_sequences.filter(|s| !s.is_empty()).map(Stop::Many),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k.filter(|_| extras),
        stream: stream.then_some(true),
        // Usage arrives in the last chunk; the front door reports it in `message_delta`.
        stream_options: stream.then_some(StreamOptions {
            include_usage: true,
        }),
        tools: has_tools.then_some(tools),
        tool_choice,
        parallel_tool_calls: parallel,
        user: req.metadata.and_then(|m| m.user_id),
        n: None,
        thinking: req.thinking.filter(|_| extras),
        ..ChatRequest::default()
    })
}

/// A user turn: its tool results as `tool` messages first (they must follow the assistant's
/// calls), then the rest as one user message.
fn user_turn(
    blocks: Vec<Block>,
    extras: bool,
    messages: &mut Vec<oa::Message>,
) -> Result<(), GatewayError> {
    let mut rest = Vec::new();
    for block in blocks {
        match block {
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => {
                let failed = is_error == Some(true);
                let content = match content {
                    Some(Content::Text(t)) if failed => oa::Content::Text(format!("Error: {t}")),
                    Some(Content::Text(t)) => oa::Content::Text(t),
                    Some(Content::Blocks(inner)) => {
                        let mut texts = Vec::new();
                        if failed {
                            texts.push(Part::Text {
                                text: "Error:".into(),
                                cache_control: None,
                            });
                        }
                        for b in inner {
                            match b {
                                Block::Text { text, .. } => texts.push(Part::Text {
                                    text,
                                    cache_control: None,
                                }),
                                Block::Document {
                                    source: Source::Text { data },
                                } => texts.push(Part::Text {
                                    text: data,
                                    cache_control: None,
                                }),
                                // An image in a tool result can only travel in the user turn.
                                other => rest.push(other),
                            }
                        }
                        match texts.is_empty() {
                            true => oa::Content::Text(String::new()),
                            false => oa::Content::Parts(texts),
                        }
                    }
                    None if failed => oa::Content::Text("Error".into()),
                    None => oa::Content::Text(String::new()),
                };
                messages.push(oa::Message::Tool {
                    content,
                    tool_call_id: tool_use_id,
                });
            }
            other => rest.push(other),
        }
    }
    let parts = parts(rest, extras)?;
    if !parts.is_empty() {
        messages.push(oa::Message::User {
            content: oa::Content::Parts(parts),
        });
    }
    Ok(())
}

/// An assistant turn: text joined, `tool_use` blocks as tool calls, thinking kept as
/// `thinking_blocks` for Anthropic (`extras`) and left out otherwise.
fn assistant_turn(blocks: Vec<Block>, extras: bool) -> oa::Message {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    let mut thinking = Vec::new();
    for block in blocks {
        match block {
            Block::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(&t),
            Block::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name,
                    arguments: match input {
                        serde_json::Value::Null => "{}".into(),
                        input => input.to_string(),
                    },
                },
            }),
            b @ (Block::Thinking { .. } | Block::RedactedThinking { .. }) if extras => {
                if let Ok(v) = serde_json::to_value(&b) {
                    thinking.push(v);
                }
            }
            Block::Image { .. }
            | Block::Document { .. }
            | Block::ToolResult { .. }
            | Block::Thinking { .. }
            | Block::RedactedThinking { .. }
            | Block::Other => {}
        }
    }
    // A turn that held only thinking is still a turn: empty text keeps the roles alternating.
    if text.is_none() && calls.is_empty() && thinking.is_empty() {
        text = Some(String::new());
    }
    oa::Message::Assistant {
        content: text.map(oa::Content::Text),
        tool_calls: (!calls.is_empty()).then_some(calls),
        thinking_blocks: (!thinking.is_empty()).then_some(thinking),
    }
}

/// Text, image and document blocks as OpenAI content parts.
fn parts(blocks: Vec<Block>, extras: bool) -> Result<Vec<Part>, GatewayError> {
    let mut out = Vec::with_capacity(blocks.len());
    for block in blocks {
        match block {
            Block::Text {
                text,
                cache_control,
            } => out.push(Part::Text {
                text,
                cache_control: cache_control.filter(|_| extras),
            }),
            Block::Image { source } => out.push(Part::ImageUrl {
                image_url: ImageUrl {
                    url: url(source, "image")?,
                },
            }),
            Block::Document {
                source: Source::Text { data },
            } => out.push(Part::Text {
                text: data,
                cache_control: None,
            }),
            Block::Document { source } => out.push(Part::File {
                file: FileData {
                    filename: Some("document.pdf".into()),
                    file_data: Some(url(source, "document")?),
                    file_id: None,
                },
            }),
            Block::ToolUse { .. }
            | Block::ToolResult { .. }
            | Block::Thinking { .. }
            | Block::RedactedThinking { .. }
            | Block::Other => {}
        }
    }
    Ok(out)
}

fn url(source: Source, what: &str) -> Result<String, GatewayError> {
    match source {
        Source::Base64 { media_type, data } => Ok(format!("data:{media_type};base64,{data}")),
        Source::Url { url } => Ok(url),
        Source::Text { .. } | Source::Other => Err(GatewayError::invalid(
            format!("{what} sources other than `base64` and `url` cannot be routed"),
            Some("messages"),
        )),
    }
}
