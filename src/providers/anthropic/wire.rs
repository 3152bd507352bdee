//! The Anthropic Messages API wire format (version `2023-06-01`): requests, answers, stream
//! events and errors. Shared by the provider (which writes requests and reads answers) and the
//! `/v1/messages` front door (which reads requests and writes answers).
//!
//! Opaque JSON nested inside tagged enums (a tool's `input`) is a `serde_json::Value`, because a
//! `RawValue` cannot be read through serde's buffered enum content; at the top level of plain
//! structs (tool schemas, `thinking`) it is kept byte for byte as a `RawValue`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// `POST /v1/messages` body.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// Model.
    pub model: String,
    /// The conversation (user and assistant turns).
    pub messages: Vec<Message>,
    /// System prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    /// Output cap (required by Anthropic; absent reads as 0, which the front door refuses, and
    /// `count_tokens` bodies have none).
    #[serde(default)]
    pub max_tokens: u32,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Temperature (0-1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Stream the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tool definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Tool choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Request metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Extended thinking, passed on as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Box<RawValue>>,
}

/// `system`: a string or text blocks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum System {
    /// Plain text.
    Text(String),
    /// Blocks (only text blocks are meaningful).
    Blocks(Vec<Block>),
}

/// `metadata`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// One turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    /// `user` or `assistant`.
    pub role: Role,
    /// Content.
    pub content: Content,
}

/// A turn's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user (tool results included).
    User,
    /// The model.
    Assistant,
    /// A system message inside `messages` (Claude Code sends these to models whose names are not
    /// Claude's); the front door reads it, the provider never writes it.
    System,
}

/// Content: a string or blocks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Blocks.
    Blocks(Vec<Block>),
}

/// A content block.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Prompt-caching marker.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<serde_json::Value>,
    },
    /// An image.
    Image {
        /// Where it is.
        source: Source,
    },
    /// A document (PDF).
    Document {
        /// Where it is.
        source: Source,
    },
    /// A tool call by the model.
    ToolUse {
        /// Call id (`toolu_...`).
        id: String,
        /// Tool name.
        name: String,
        /// Arguments (a JSON object; absent reads as `null`, sent on as `{}`).
        #[serde(default)]
        input: serde_json::Value,
    },
    /// A tool's result, in a user turn.
    ToolResult {
        /// The call it answers.
        tool_use_id: String,
        /// The result.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<Content>,
        /// The tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    /// Extended-thinking text.
    Thinking {
        /// The reasoning.
        #[serde(default)]
        thinking: String,
        /// Its signature.
        #[serde(default)]
        signature: String,
    },
    /// Extended thinking the API returned encrypted.
    RedactedThinking {
        /// The encrypted reasoning.
        #[serde(default)]
        data: String,
    },
    /// Any other block (server tool calls and results, ...): skipped by translators.
    #[serde(other)]
    Other,
}

/// An image or document source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    /// Inline data.
    Base64 {
        /// `image/png`, `application/pdf`...
        media_type: String,
        /// Base64 data.
        data: String,
    },
    /// A URL.
    Url {
        /// The URL.
        url: String,
    },
    /// Plain text (a text document).
    Text {
        /// The text.
        data: String,
    },
    /// Anything else (a file id, plain text): not translatable.
    #[serde(other)]
    Other,
}

/// A tool definition.
#[derive(Debug, Serialize, Deserialize)]
pub struct Tool {
    /// Server tools carry a versioned type (`web_search_20250305`); custom tools none or `custom`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the input, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Box<RawValue>>,
}

/// `tool_choice`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolChoice {
    /// `auto`, `any`, `tool` or `none`.
    #[serde(rename = "type")]
    pub kind: ToolChoiceKind,
    /// The tool, for `tool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At most one tool call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// The kinds of `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceKind {
    /// The model decides.
    Auto,
    /// Some tool must be called.
    Any,
    /// This tool must be called.
    Tool,
    /// No tool may be called.
    None,
}

/// A complete answer (`type: message`); also the `message` of `message_start`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MessageResponse {
    /// `msg_...`.
    #[serde(default)]
    pub id: String,
    /// `message`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `assistant`.
    #[serde(default)]
    pub role: String,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Blocks.
    #[serde(default)]
    pub content: Vec<Block>,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `pause_turn`, `refusal`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The stop sequence that matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Usage.
    #[serde(default)]
    pub usage: Usage,
}

/// Usage. `input_tokens` excludes the cached prompt tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Uncached prompt tokens (`message_delta` may carry `null`: read as 0, "not reported").
    #[serde(default, deserialize_with = "null_as_zero")]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub output_tokens: u64,
    /// Prompt tokens written to the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Prompt tokens read from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// One stream event (the `data` of an SSE event; its `type` repeats the SSE `event` name).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The answer starts; `message.content` is empty.
    MessageStart {
        /// The message so far.
        message: MessageResponse,
    },
    /// A block starts.
    ContentBlockStart {
        /// Block index.
        index: u32,
        /// The block (empty text, or a tool call with empty input).
        content_block: Block,
    },
    /// A block grows.
    ContentBlockDelta {
        /// Block index.
        index: u32,
        /// The fragment.
        delta: BlockDelta,
    },
    /// A block ends.
    ContentBlockStop {
        /// Block index.
        index: u32,
    },
    /// Top-level changes: the stop reason and cumulative usage.
    MessageDelta {
        /// Stop reason.
        delta: MessageDelta,
        /// Usage so far (`output_tokens` cumulative).
        #[serde(default)]
        usage: Usage,
    },
    /// The answer is complete.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// An error mid-stream.
    Error {
        /// The error.
        error: ErrorBody,
    },
    /// An event type this version does not know: ignored.
    #[serde(other)]
    Other,
}

/// A block fragment.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// Text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// A fragment of a tool call's input JSON.
    InputJsonDelta {
        /// The fragment.
        partial_json: String,
    },
    /// Reasoning text.
    ThinkingDelta {
        /// The text.
        thinking: String,
    },
    /// Anything else (signatures, citations): ignored.
    #[serde(other)]
    Other,
}

/// `message_delta.delta`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct MessageDelta {
    /// Why it ended.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The stop sequence that matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// An error answer: `{"type": "error", "error": {...}}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// `error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The error.
    pub error: ErrorBody,
}

/// An error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `invalid_request_error`, `overloaded_error`...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Message.
    #[serde(default)]
    pub message: String,
}

/// `POST /v1/messages/count_tokens` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct TokenCount {
    /// Prompt tokens.
    pub input_tokens: u64,
}

fn null_as_zero<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Option::<u64>::deserialize(d).map(Option::unwrap_or_default)
}
