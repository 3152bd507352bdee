//! Views of `chat.completion.chunk` events: just what the gateway reads on the way past, borrowed
//! from the event's bytes (no allocation for text without escapes).

use std::borrow::Cow;

use serde::{Deserialize, de::IgnoredAny};

use super::Usage;

/// One streamed chunk, partially parsed.
#[derive(Debug, Deserialize)]
pub struct ChunkView<'a> {
    /// Choices (empty on the usage-only chunk).
    #[serde(default, borrow)]
    pub choices: Vec<ChoiceView<'a>>,
    /// Usage, on the last chunk when asked for.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// An in-band error event from the upstream.
    #[serde(default)]
    pub error: Option<IgnoredAny>,
}

/// One choice of a chunk.
#[derive(Debug, Deserialize)]
pub struct ChoiceView<'a> {
    /// Which choice (0 unless `n > 1`).
    #[serde(default)]
    pub index: u32,
    /// Non-null on the chunk that ends the choice.
    #[serde(default, borrow)]
    pub finish_reason: Option<Cow<'a, str>>,
    /// The delta.
    #[serde(default, borrow)]
    pub delta: Option<DeltaView<'a>>,
    /// The text of a `text_completion` chunk (`/v1/completions` streams).
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

/// The parts of a delta that count as content.
#[derive(Debug, Deserialize)]
pub struct DeltaView<'a> {
    /// Text.
    #[serde(default, borrow)]
    pub content: Option<Cow<'a, str>>,
    /// Tool-call fragments.
    #[serde(default)]
    pub tool_calls: Option<IgnoredAny>,
}

impl ChunkView<'_> {
    /// Whether this chunk carries answer content (text or a tool call).
    pub fn has_content(&self) -> bool {
        self.choices.iter().any(|c| {
            c.text.as_deref().is_some_and(|t| !t.is_empty())
                || c.delta.as_ref().is_some_and(|d| {
                    d.content.as_deref().is_some_and(|t| !t.is_empty()) || d.tool_calls.is_some()
                })
        })
    }

    /// Whether a choice finished in this chunk.
    pub fn finishes(&self) -> bool {
        self.choices.iter().any(|c| c.finish_reason.is_some())
    }
}
