//! The Responses API wire format (the openai SDK's `types/responses`): the request members the
//! gateway reads or translates, input and output items, the Response object, usage and the
//! stream events. Unknown members are kept (`extra`) so stored items replay as received.

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

/// The Response object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// `resp_...`.
    pub id: String,
    /// Always `response`.
    pub object: String,
    /// Unix seconds.
    pub created_at: u64,
    /// `completed`, `incomplete`, `in_progress`, `failed`.
    pub status: String,
    /// The failure of a `failed` response.
    pub error: Option<Value>,
    /// Why a response is `incomplete`.
    pub incomplete_details: Option<IncompleteDetails>,
    /// Echo of the request.
    pub instructions: Option<String>,
    /// Echo of the request.
    pub max_output_tokens: Option<u32>,
    /// The model that answered.
    pub model: String,
    /// Output items.
    pub output: Vec<OutputItem>,
    /// Echo of the request.
    pub parallel_tool_calls: bool,
    /// Echo of the request.
    pub previous_response_id: Option<String>,
    /// Echo of the request.
    pub reasoning: Value,
    /// Whether it is stored.
    pub store: bool,
    /// Echo of the request.
    pub temperature: Option<f64>,
    /// Echo of the request (`{"format": {"type": "text"}}` by default).
    pub text: Value,
    /// Echo of the request.
    pub tool_choice: Value,
    /// Echo of the request.
    pub tools: Value,
    /// Echo of the request.
    pub top_p: Option<f64>,
    /// Always `disabled`.
    pub truncation: String,
    /// Token usage.
    pub usage: Option<ResponseUsage>,
    /// Echo of the request.
    pub user: Option<String>,
    /// Echo of the request.
    pub metadata: Map<String, Value>,
    /// Other members (the agent envelope in agent mode).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `incomplete_details`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens` or `content_filter`.
    pub reason: String,
}

/// An output item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// An assistant message.
    Message {
        /// `msg_...`.
        id: String,
        /// `in_progress`, `completed`, `incomplete`.
        status: String,
        /// Always `assistant`.
        role: String,
        /// Text parts.
        content: Vec<OutputContent>,
    },
    /// A function call.
    FunctionCall {
        /// `fc_...`.
        id: String,
        /// `call_...`.
        call_id: String,
        /// Function name.
        name: String,
        /// Arguments as JSON text.
        arguments: String,
        /// `in_progress`, `completed`.
        status: String,
    },
}

/// A part of an output message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    /// Text.
    OutputText {
        /// The text.
        text: String,
        /// Always empty here.
        annotations: Vec<Value>,
        /// Always empty here.
        #[serde(default)]
        logprobs: Vec<Value>,
    },
    /// A refusal.
    Refusal {
        /// The refusal text.
        refusal: String,
    },
}

/// Responses usage.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ResponseUsage {
    /// Prompt tokens, cached included.
    pub input_tokens: u64,
    /// Of which cached.
    pub input_tokens_details: InputDetails,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Of which reasoning.
    pub output_tokens_details: OutputDetails,
    /// Both.
    pub total_tokens: u64,
}

/// `input_tokens_details`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct InputDetails {
    /// Prompt tokens read from a cache.
    #[serde(default)]
    pub cached_tokens: u64,
}

/// `output_tokens_details`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct OutputDetails {
    /// Reasoning tokens.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

/// A stream event (its `type` and `sequence_number` are written around it).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum Event<'a> {
    /// The response exists.
    #[serde(rename = "response.created")]
    Created {
        /// Counter.
        sequence_number: u64,
        /// The response so far.
        response: &'a Response,
    },
    /// The response is being generated.
    #[serde(rename = "response.in_progress")]
    InProgress {
        /// Counter.
        sequence_number: u64,
        /// The response so far.
        response: &'a Response,
    },
    /// An output item starts.
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        /// Counter.
        sequence_number: u64,
        /// Its index in `output`.
        output_index: usize,
        /// The item so far.
        item: &'a OutputItem,
    },
    /// An output item is complete.
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        /// Counter.
        sequence_number: u64,
        /// Its index in `output`.
        output_index: usize,
        /// The complete item.
        item: &'a OutputItem,
    },
    /// A content part of a message starts.
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        /// Counter.
        sequence_number: u64,
        /// The message item.
        item_id: &'a str,
        /// Its index in `output`.
        output_index: usize,
        /// The part's index.
        content_index: usize,
        /// The part so far.
        part: &'a OutputContent,
    },
    /// A content part is complete.
    #[serde(rename = "response.content_part.done")]
    PartDone {
        /// Counter.
        sequence_number: u64,
        /// The message item.
        item_id: &'a str,
        /// Its index in `output`.
        output_index: usize,
        /// The part's index.
        content_index: usize,
        /// The complete part.
        part: &'a OutputContent,
    },
    /// More text.
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        /// Counter.
        sequence_number: u64,
        /// The message item.
        item_id: &'a str,
        /// Its index in `output`.
        output_index: usize,
        /// The part's index.
        content_index: usize,
        /// The new text.
        delta: &'a str,
        /// Always empty here.
        logprobs: [(); 0],
    },
    /// The text is complete.
    #[serde(rename = "response.output_text.done")]
    TextDone {
        /// Counter.
        sequence_number: u64,
        /// The message item.
        item_id: &'a str,
        /// Its index in `output`.
        output_index: usize,
        /// The part's index.
        content_index: usize,
        /// The whole text.
        text: &'a str,
        /// Always empty here.
        logprobs: [(); 0],
    },
    /// More function-call arguments.
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta {
        /// Counter.
        sequence_number: u64,
        /// The function call item.
        item_id: &'a str,
        /// Its index in `output`.
        output_index: usize,
        /// The new arguments text.
        delta: &'a str,
    },
    /// The arguments are complete.
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone {
        /// Counter.
        sequence_number: u64,
        /// The function call item.
        item_id: &'a str,
        /// Its index in `output`.
        output_index: usize,
        /// Function name.
        name: &'a str,
        /// The whole arguments text.
        arguments: &'a str,
    },
    /// The response completed.
    #[serde(rename = "response.completed")]
    Completed {
        /// Counter.
        sequence_number: u64,
        /// The complete response.
        response: &'a Response,
    },
    /// The response ended early (output cap, content filter).
    #[serde(rename = "response.incomplete")]
    Incomplete {
        /// Counter.
        sequence_number: u64,
        /// The response.
        response: &'a Response,
    },
    /// The stream broke: no completion follows.
    #[serde(rename = "error")]
    Error {
        /// Counter.
        sequence_number: u64,
        /// Error code.
        code: &'a str,
        /// What happened.
        message: &'a str,
        /// Always null here.
        param: Option<&'a str>,
    },
}

// === impl Event ===

impl Event<'_> {
    /// The event's `type` (also its SSE `event:` name).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created { .. } => "response.created",
            Self::InProgress { .. } => "response.in_progress",
            Self::ItemAdded { .. } => "response.output_item.added",
            Self::ItemDone { .. } => "response.output_item.done",
            Self::PartAdded { .. } => "response.content_part.added",
            Self::PartDone { .. } => "response.content_part.done",
            Self::TextDelta { .. } => "response.output_text.delta",
            Self::TextDone { .. } => "response.output_text.done",
            Self::ArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Self::ArgumentsDone { .. } => "response.function_call_arguments.done",
            Self::Completed { .. } => "response.completed",
            Self::Incomplete { .. } => "response.incomplete",
            Self::Error { .. } => "error",
        }
    }
}

/// A fresh id with `prefix` (`resp`, `msg`, `fc`, `call`): 128 random bits in hex.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:032x}", rand::random::<u128>())
}
