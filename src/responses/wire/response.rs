//! The Response object, its output items and usage.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
