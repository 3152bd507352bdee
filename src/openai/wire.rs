//! Typed OpenAI chat wire format, for the translators that must read or write a whole request,
//! answer or chunk (the Anthropic provider and the `/v1/messages` front door). The pass-through
//! path never uses these: it reads only `ChatView` and forwards the raw bytes.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A chat completions request: the fields a translator understands. Unknown fields are ignored.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model name.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Legacy output cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Output cap (wins over `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling (not OpenAI's; a vendor extra some clients send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Stream the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Tool definitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Tool choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether several tool calls may come in one answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Anthropic's extended-thinking object, passed on as is when a client sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Box<RawValue>>,
}

/// `stop`: one string or several.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One sequence.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a usage chunk at the end.
    #[serde(default)]
    pub include_usage: bool,
}

/// One message, by role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
    /// System prompt.
    System {
        /// Text.
        content: Content,
    },
    /// System prompt under its newer name.
    Developer {
        /// Text.
        content: Content,
    },
    /// The user.
    User {
        /// Text and images.
        content: Content,
    },
    /// The model.
    Assistant {
        /// Text (null when the turn is only tool calls).
        #[serde(default)]
        content: Option<Content>,
        /// Tool calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<ToolCall>>,
        /// Anthropic thinking blocks of this turn (LiteLLM's convention), kept only on the way to
        /// Anthropic deployments, which need them back when thinking is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thinking_blocks: Option<Vec<serde_json::Value>>,
    },
    /// A tool's result.
    Tool {
        /// The result.
        content: Content,
        /// The call it answers.
        tool_call_id: String,
    },
}

/// Message content: a string or typed parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<Part>),
}

/// One content part.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Anthropic prompt-caching marker (LiteLLM's convention), passed on to Anthropic.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<serde_json::Value>,
    },
    /// An image by URL (`https:` or a `data:` URL).
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    /// A file (a PDF as a `data:` URL).
    File {
        /// The file.
        file: FileData,
    },
}

/// `image_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageUrl {
    /// The URL.
    pub url: String,
}

/// `file`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileData {
    /// File name (OpenAI wants one with `file_data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// `data:<media type>;base64,<data>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// An uploaded file's id (not translatable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

/// A tool call of an assistant message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default = "function")]
    pub kind: String,
    /// The call.
    pub function: FunctionCall,
}

/// Function name and arguments (a JSON text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default)]
    pub arguments: String,
}

/// A tool definition.
#[derive(Debug, Serialize, Deserialize)]
pub struct Tool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: FunctionDef,
}

/// A function definition.
#[derive(Debug, Serialize, Deserialize)]
pub struct FunctionDef {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the arguments, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Box<RawValue>>,
}

/// `tool_choice`: a mode or a named function.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `auto`, `none` or `required`.
    Mode(String),
    /// `{"type": "function", "function": {"name": ...}}`.
    Named {
        /// Always `function`.
        #[serde(rename = "type")]
        kind: String,
        /// The function.
        function: Named,
    },
}

/// A function by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Named {
    /// Name.
    pub name: String,
}

/// A complete `chat.completion`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// `chat.completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Choices.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<CompletionUsage>,
}

/// One choice of a completion.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Choice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The message.
    #[serde(default)]
    pub message: AnswerMessage,
    /// Always null here.
    #[serde(default)]
    pub logprobs: Option<serde_json::Value>,
    /// Why it ended.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The assistant message of a completion.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AnswerMessage {
    /// `assistant`.
    #[serde(default)]
    pub role: String,
    /// Text (null when there is none).
    #[serde(default)]
    pub content: Option<String>,
    /// Reasoning text (the convention of DeepSeek, vLLM and LiteLLM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
}

/// Usage with the details translators carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionUsage {
    /// Prompt tokens, cached ones included.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
    /// `cached_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Tokens written to Anthropic's prompt cache (LiteLLM's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Tokens read from Anthropic's prompt cache (LiteLLM's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// `prompt_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens served from a cache.
    #[serde(default)]
    pub cached_tokens: u64,
}

/// One `chat.completion.chunk` (or an in-band error event).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Chunk {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Choices (empty on the usage chunk).
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Usage, on the usage chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<CompletionUsage>,
    /// An in-band error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// One choice of a chunk.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The delta.
    #[serde(default)]
    pub delta: Delta,
    /// Always null here.
    #[serde(default)]
    pub logprobs: Option<serde_json::Value>,
    /// Set on the chunk that ends the choice.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A delta.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant`, on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Reasoning text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Tool-call fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

/// A tool-call fragment: id, type and name on the first, argument text on the rest.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call of the answer.
    #[serde(default)]
    pub index: u32,
    /// Call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name and argument fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
}

/// Name and argument fragment.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FunctionDelta {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Argument text fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// An OpenAI error envelope.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// An OpenAI error.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Message.
    #[serde(default)]
    pub message: String,
    /// `invalid_request_error`, `api_error`...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Offending parameter.
    #[serde(default)]
    pub param: Option<String>,
    /// Cause.
    #[serde(default)]
    pub code: Option<String>,
}

fn function() -> String {
    "function".into()
}
