//! Views of `chat.completion.chunk` events: just what the gateway reads on the way past.

use serde::Deserialize;

use super::Usage;

/// One streamed chunk, partially parsed.
#[derive(Debug, Deserialize)]
pub struct ChunkView {
    /// Choices (empty on the usage-only chunk).
    #[serde(default)]
    pub choices: Vec<ChoiceView>,
    /// Usage, on the last chunk when asked for.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// An in-band error event from the upstream.
    #[serde(default)]
    pub error: Option<serde::de::IgnoredAny>,
}

/// One choice of a chunk.
#[derive(Debug, Deserialize)]
pub struct ChoiceView {
    /// Which choice (0 unless `n > 1`).
    #[serde(default)]
    pub index: u32,
    /// Non-null on the chunk that ends the choice.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The delta.
    #[serde(default)]
    pub delta: Option<DeltaView>,
}

/// The parts of a delta that count as content.
#[derive(Debug, Deserialize)]
pub struct DeltaView {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Tool-call fragments.
    #[serde(default)]
    pub tool_calls: Option<serde::de::IgnoredAny>,
}

impl ChunkView {
    /// Whether this chunk carries answer content (text or a tool call).
    pub fn has_content(&self) -> bool {
        self.choices.iter().any(|c| {
            c.delta.as_ref().is_some_and(|d| {
                d.content.as_deref().is_some_and(|t| !t.is_empty()) || d.tool_calls.is_some()
            })
        })
    }

    /// Whether a choice finished in this chunk.
    pub fn finishes(&self) -> bool {
        self.choices.iter().any(|c| c.finish_reason.is_some())
    }
}
