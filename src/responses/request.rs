//! A Responses request as a chat completions request, for deployments that do not speak the
//! Responses API: the conversation (`instructions`, input items, a stored conversation it
//! continues), function tools and `tool_choice`, `text.format`, the sampling and output limits.

use serde::Serialize;
use serde_json::{Map, Value, value::RawValue};

use super::wire::{
    Content, CreateRequest, Item, MessageItem, Part, ToolChoice, TypedItem, TypedPart,
};
use crate::{error::GatewayError, openai::wire as oa};

/// The chat body sent to a translated deployment.
#[derive(Debug, Serialize)]
pub struct ChatOut {
    /// The members the chat wire types know.
    #[serde(flatten)]
    pub base: oa::ChatRequest,
    /// `text.format` as `response_format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// `reasoning.effort`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Gateway controls carried over as received (`agent`, `cache`).
    #[serde(flatten)]
    pub controls: Map<String, Value>,
}

/// The conversation as chat messages: `instructions` first, then every item in order.
pub fn messages(
    instructions: Option<&str>,
    items: &[Item],
) -> Result<Vec<oa::Message>, GatewayError> {
    let mut out = Vec::with_capacity(items.len() + 1);
    if let Some(text) = instructions.filter(|t| !t.is_empty()) {
        out.push(oa::Message::System {
            content: oa::Content::Text(text.to_owned()),
        });
    }
    for item in items {
        match item {
            Item::Typed(TypedItem::Message(m)) | Item::Easy(m) => out.push(message(m)?),
            Item::Typed(TypedItem::FunctionCall(call)) => {
                let call = oa::ToolCall {
                    id: call.call_id.clone(),
                    kind: "function".into(),
                    function: oa::FunctionCall {
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                    },
                };
                // Calls following an assistant turn belong to it: one assistant message.
                match out.last_mut() {
                    Some(oa::Message::Assistant { tool_calls, .. }) => {
                        tool_calls.get_or_insert_with(Vec::new).push(call);
                    }
                    _ => out.push(oa::Message::Assistant {
                        content: None,
                        tool_calls: Some(vec![call]),
                        thinking_blocks: None,
                    }),
                }
            }
            Item::Typed(TypedItem::FunctionCallOutput(result)) => out.push(oa::Message::Tool {
                content: oa::Content::Text(text_of(&result.output)),
                tool_call_id: result.call_id.clone(),
            }),
            Item::Other(v) => {
                let kind = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
                // Reasoning from an earlier answer is the model's own scratch work: not resent.
                if kind != "reasoning" {
                    return Err(GatewayError::invalid(
                        format!(
                            "input item type '{kind}' cannot be sent to this model (it has no Responses API); supported: message, function_call, function_call_output"
                        ),
                        Some("input"),
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn message(m: &MessageItem) -> Result<oa::Message, GatewayError> {
    Ok(match m.role.as_str() {
        "assistant" => oa::Message::Assistant {
            content: Some(oa::Content::Text(text_of(&m.content))),
            tool_calls: None,
            thinking_blocks: None,
        },
        // Many OpenAI-compatible servers know only `system`.
        "system" | "developer" => oa::Message::System {
            content: oa::Content::Text(text_of(&m.content)),
        },
        "user" => oa::Message::User {
            content: user_content(&m.content)?,
        },
        other => {
            return Err(GatewayError::invalid(
                format!("unknown message role '{other}'"),
                Some("input"),
            ));
        }
    })
}

fn user_content(content: &Content) -> Result<oa::Content, GatewayError> {
    let parts = match content {
        Content::Text(t) => return Ok(oa::Content::Text(t.clone())),
        Content::Parts(parts) => parts,
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        out.push(match part {
            Part::Typed(
                TypedPart::InputText { text } | TypedPart::OutputText { text, .. },
            ) => oa::Part::Text {
                text: text.clone(),
                cache_control: None,
            },
            Part::Typed(TypedPart::Refusal { refusal }) => oa::Part::Text {
                text: refusal.clone(),
                cache_control: None,
            },
            Part::Typed(TypedPart::InputImage {
                image_url: Some(url),
                ..
            }) => oa::Part::ImageUrl {
                image_url: oa::ImageUrl { url: url.clone() },
            },
            Part::Typed(TypedPart::InputFile {
                file_data: Some(data),
                filename,
                ..
            }) => oa::Part::File {
                file: oa::FileData {
                    filename: filename.clone(),
                    file_data: Some(data.clone()),
                    file_id: None,
                },
            },
            Part::Typed(TypedPart::InputImage { .. } | TypedPart::InputFile { .. }) => {
                return Err(GatewayError::invalid(
                    "an uploaded file (`file_id`) cannot be sent to this model; send the image as a URL or the file as `file_data`",
                    Some("input"),
                ));
            }
            Part::Other(v) => {
                let kind = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
                return Err(GatewayError::invalid(
                    format!("content part type '{kind}' cannot be sent to this model"),
                    Some("input"),
                ));
            }
        });
    }
    Ok(oa::Content::Parts(out))
}

/// The text of message content or a tool result (parts joined).
pub fn text_of(content: &Content) -> String {
    match content {
        Content::Text(t) => t.clone(),
        Content::Parts(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Part::Typed(TypedPart::InputText { text } | TypedPart::OutputText { text, .. }) => {
                    Some(text.as_str())
                }
                Part::Typed(TypedPart::Refusal { refusal }) => Some(refusal.as_str()),
                Part::Typed(_) | Part::Other(_) => None,
            })
            .collect::<Vec<_>>()
            .join(""),
    }
}

/// The built-in tool types a translated deployment cannot run, named for the 400.
pub fn builtin_tools(req: &CreateRequest) -> Vec<String> {
    let mut names: Vec<String> = req
        .tools
        .iter()
        .flatten()
        .filter(|t| t.kind != "function")
        .map(|t| t.kind.clone())
        .collect();
    if let Some(ToolChoice::Named { kind, .. }) = &req.tool_choice {
        if kind != "function" && !names.contains(kind) {
            names.push(kind.clone());
        }
    }
    names
}

/// The chat request for `req` over the whole conversation `items`. `controls`: gateway members
/// (`agent`, `cache`) to carry over. Built-in tools are a 400 naming them, unless
/// `drop_builtin` (only deployments that speak the Responses API will be sent the request).
pub fn to_chat(
    req: &CreateRequest,
    items: &[Item],
    controls: Map<String, Value>,
    drop_builtin: bool,
) -> Result<ChatOut, GatewayError> {
    let builtin = builtin_tools(req);
    if !builtin.is_empty() && !drop_builtin {
        return Err(GatewayError::InvalidRequest {
            message: format!(
                "built-in tool {} cannot run on model '{}': its deployments have no Responses API (only function tools are translated)",
                builtin.join(", "),
                req.model
            ),
            param: Some("tools"),
            code: "unsupported_tool",
        });
    }
    let tools: Vec<oa::Tool> = req
        .tools
        .iter()
        .flatten()
        .filter(|t| t.kind == "function")
        .map(|t| oa::Tool {
            kind: "function".into(),
            function: oa::FunctionDef {
                name: t.name.clone().unwrap_or_default(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            },
        })
        .collect();
    let tool_choice = req.tool_choice.as_ref().and_then(|c| match c {
        ToolChoice::Mode(m) => Some(oa::ToolChoice::Mode(m.clone())),
        ToolChoice::Named { kind, .. } if kind != "function" => None,
        ToolChoice::Named { name, .. } => Some(oa::ToolChoice::Named {
            kind: "function".into(),
            function: oa::Named {
                name: name.clone().unwrap_or_default(),
            },
        }),
    });
    let stream = req.stream == Some(true);
    let base = oa::ChatRequest {
        model: req.model.clone(),
        messages: messages(req.instructions.as_deref(), items)?,
        max_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stream: stream.then_some(true),
        // The Response's usage comes from the usage chunk.
        stream_options: stream.then_some(oa::StreamOptions {
            include_usage: true,
        }),
        tool_choice: tool_choice.filter(|_| !tools.is_empty()),
        parallel_tool_calls: req.parallel_tool_calls.filter(|_| !tools.is_empty()),
        tools: (!tools.is_empty()).then_some(tools),
        user: req.user.clone(),
        ..Default::default()
    };
    Ok(ChatOut {
        base,
        response_format: response_format(req)?,
        reasoning_effort: req.reasoning.as_ref().and_then(|r| r.effort.clone()),
        controls,
    })
}

fn response_format(req: &CreateRequest) -> Result<Option<Value>, GatewayError> {
    let Some(format) = req.text.as_ref().and_then(|t| t.format.as_ref()) else {
        return Ok(None);
    };
    Ok(match format.kind.as_str() {
        "text" => None,
        "json_object" => Some(serde_json::json!({"type": "json_object"})),
        "json_schema" => {
            #[derive(Serialize)]
            struct JsonSchema<'a> {
                name: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                description: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                schema: Option<&'a RawValue>,
                #[serde(skip_serializing_if = "Option::is_none")]
                strict: Option<bool>,
            }
            let schema = JsonSchema {
                name: format.name.as_deref().unwrap_or("response"),
                description: format.description.as_deref(),
                schema: format.schema.as_deref(),
                strict: format.strict,
            };
            let schema = serde_json::to_value(&schema)
                .map_err(|e| GatewayError::Internal(format!("serialising a schema: {e}")))?;
            Some(serde_json::json!({"type": "json_schema", "json_schema": schema}))
        }
        other => {
            return Err(GatewayError::invalid(
                format!("unknown text.format type '{other}'"),
                Some("text.format.type"),
            ));
        }
    })
}
