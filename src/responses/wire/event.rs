//! The stream events.

use serde::Serialize;

use super::{OutputContent, OutputItem, Response};

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
