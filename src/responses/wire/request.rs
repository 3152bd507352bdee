//! The create request and its input items.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, value::RawValue};

/// A `POST /v1/responses` body: the members a translation understands; the rest is in `extra`.
#[derive(Debug, Default, Deserialize)]
pub struct CreateRequest {
    /// The model group.
    pub model: String,
    /// A string or a list of items.
    #[serde(default)]
    pub input: Option<Input>,
    /// The system / developer message.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Tool definitions.
    #[serde(default)]
    pub tools: Option<Vec<ToolDef>>,
    /// `auto`, `none`, `required` or a named tool.
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    /// Whether several tool calls may come in one answer.
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    /// Output format.
    #[serde(default)]
    pub text: Option<TextConfig>,
    /// Output cap.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Reasoning effort.
    #[serde(default)]
    pub reasoning: Option<Reasoning>,
    /// Caller's key-value tags (echoed, stored).
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// End-user id.
    #[serde(default)]
    pub user: Option<String>,
    /// Stream the answer as typed events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Keep the response for `previous_response_id` and GET (default true).
    #[serde(default)]
    pub store: Option<bool>,
    /// Continue a stored response.
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// One user message.
    Text(String),
    /// Items.
    Items(Vec<Item>),
}

/// An input (or replayed output) item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Item {
    /// A typed item.
    Typed(TypedItem),
    /// `{"role", "content"}` without a `type` (the SDK's EasyInputMessage).
    Easy(MessageItem),
    /// An item type the gateway does not translate (reasoning, built-in tool calls...).
    Other(Value),
}

/// Items by `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TypedItem {
    /// A message of any role.
    Message(MessageItem),
    /// A function call the model made.
    FunctionCall(FunctionCallItem),
    /// The caller's result of a function call.
    FunctionCallOutput(FunctionCallOutputItem),
}

/// A message item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageItem {
    /// Item id (output messages carry one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `user`, `assistant`, `system` or `developer`.
    pub role: String,
    /// Text or parts.
    pub content: Content,
    /// Other members (`status`...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `function_call` item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// Item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call id a `function_call_output` answers.
    pub call_id: String,
    /// Function name.
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default)]
    pub arguments: String,
    /// Other members (`status`...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `function_call_output` item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FunctionCallOutputItem {
    /// Item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call it answers.
    pub call_id: String,
    /// The result: text, or a list of parts.
    pub output: Content,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a string or parts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<Part>),
}

/// A content part.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Part {
    /// A typed part.
    Typed(TypedPart),
    /// A part type the gateway does not translate.
    Other(Value),
}

/// Content parts by `type`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TypedPart {
    /// User text.
    InputText {
        /// The text.
        text: String,
    },
    /// Assistant text (replayed output).
    OutputText {
        /// The text.
        text: String,
        /// Other members (`annotations`, `logprobs`).
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// A refusal (replayed output).
    Refusal {
        /// The refusal text.
        refusal: String,
    },
    /// An image by URL or `data:` URL.
    InputImage {
        /// The URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_url: Option<String>,
        /// An uploaded file (not translatable).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_id: Option<String>,
        /// `low`, `high`, `auto`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A file as a `data:` URL.
    InputFile {
        /// `data:<type>;base64,...`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_data: Option<String>,
        /// File name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        /// An uploaded file (not translatable).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_id: Option<String>,
    },
}

/// A tool definition: `function`, or a built-in tool named by `type`.
#[derive(Debug, Deserialize)]
pub struct ToolDef {
    /// `function`, `web_search_preview`, `file_search`, `computer_use_preview`...
    #[serde(rename = "type")]
    pub kind: String,
    /// Function name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// JSON schema of the arguments, byte for byte.
    #[serde(default)]
    pub parameters: Option<Box<RawValue>>,
    /// Strict schema adherence.
    #[serde(default)]
    pub strict: Option<bool>,
}

/// `tool_choice`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    /// `auto`, `none`, `required`.
    Mode(String),
    /// `{"type": "function", "name"}` or a built-in tool type.
    Named {
        /// `function` or a built-in type.
        #[serde(rename = "type")]
        kind: String,
        /// Function name.
        #[serde(default)]
        name: Option<String>,
    },
}

/// `text`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextConfig {
    /// The output format.
    #[serde(default)]
    pub format: Option<TextFormat>,
}

/// `text.format`: `text`, `json_object` or `json_schema`.
#[derive(Debug, Clone, Deserialize)]
pub struct TextFormat {
    /// The kind.
    #[serde(rename = "type")]
    pub kind: String,
    /// Schema name.
    #[serde(default)]
    pub name: Option<String>,
    /// The JSON schema.
    #[serde(default)]
    pub schema: Option<Box<RawValue>>,
    /// Strict adherence.
    #[serde(default)]
    pub strict: Option<bool>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `reasoning`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reasoning {
    /// `minimal`, `low`, `medium`, `high`.
    #[serde(default)]
    pub effort: Option<String>,
}
