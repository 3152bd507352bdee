//! `model_info.mode` as LiteLLM uses it: which endpoints a deployment serves.

use crate::model::Endpoint;

/// A deployment's `model_info.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelMode {
    /// No mode (or one switchyard does not route by): every endpoint its provider serves.
    #[default]
    Any,
    /// `chat` (also `responses`): chat and text completions.
    Chat,
    /// `completion`: text completions and chat.
    Completion,
    /// `embedding`: embeddings only.
    Embedding,
    /// `image_generation`.
    ImageGeneration,
    /// `audio_speech`.
    AudioSpeech,
    /// `audio_transcription`.
    AudioTranscription,
    /// `moderation`.
    Moderation,
    /// `rerank`.
    Rerank,
}

// === impl ModelMode ===

impl ModelMode {
    /// The mode for LiteLLM's `model_info.mode` value (`Any` when absent or not one switchyard
    /// routes by, such as `batch` or `realtime`).
    pub fn from_litellm(mode: Option<&str>) -> Self {
        match mode.map(str::trim) {
            Some("chat" | "responses") => Self::Chat,
            Some("completion") => Self::Completion,
            Some("embedding") => Self::Embedding,
            Some("image_generation") => Self::ImageGeneration,
            Some("audio_speech") => Self::AudioSpeech,
            Some("audio_transcription") => Self::AudioTranscription,
            Some("moderation" | "moderations") => Self::Moderation,
            Some("rerank") => Self::Rerank,
            _ => Self::Any,
        }
    }

    /// LiteLLM's name for it (`None` for `Any`).
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Self::Any => return None,
            Self::Chat => "chat",
            Self::Completion => "completion",
            Self::Embedding => "embedding",
            Self::ImageGeneration => "image_generation",
            Self::AudioSpeech => "audio_speech",
            Self::AudioTranscription => "audio_transcription",
            Self::Moderation => "moderation",
            Self::Rerank => "rerank",
        })
    }

    /// Whether a deployment of this mode serves `endpoint`.
    pub fn serves(self, endpoint: Endpoint) -> bool {
        match self {
            Self::Any => true,
            Self::Chat | Self::Completion => {
                matches!(endpoint, Endpoint::Chat | Endpoint::Completions)
            }
            Self::Embedding => endpoint == Endpoint::Embeddings,
            Self::ImageGeneration => endpoint == Endpoint::Images,
            Self::AudioSpeech => endpoint == Endpoint::Speech,
            Self::AudioTranscription => endpoint == Endpoint::Transcriptions,
            Self::Moderation => endpoint == Endpoint::Moderations,
            Self::Rerank => endpoint == Endpoint::Rerank,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_route_to_their_endpoints() {
        let m = ModelMode::from_litellm;
        assert!(m(None).serves(Endpoint::Speech));
        assert!(m(Some("batch")).serves(Endpoint::Chat));
        assert!(m(Some("chat")).serves(Endpoint::Completions));
        assert!(!m(Some("chat")).serves(Endpoint::Embeddings));
        assert!(m(Some("embedding")).serves(Endpoint::Embeddings));
        assert!(!m(Some("embedding")).serves(Endpoint::Chat));
        assert!(m(Some("rerank")).serves(Endpoint::Rerank));
        assert!(!m(Some("image_generation")).serves(Endpoint::Speech));
        assert_eq!(m(Some("audio_speech")).as_str(), Some("audio_speech"));
    }
}
