//! Which OpenAI endpoint a request is for.

/// Which OpenAI endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/embeddings`.
    Embeddings,
    /// `/v1/completions` (legacy text completions).
    Completions,
    /// `/v1/images/generations`.
    Images,
    /// `/v1/audio/speech` (the answer is audio bytes).
    Speech,
    /// `/v1/audio/transcriptions` (a multipart form in, text or JSON out).
    Transcriptions,
    /// `/v1/moderations`.
    Moderations,
    /// `/v1/rerank` (Cohere's body, as vLLM and LiteLLM take it).
    Rerank,
}

impl Endpoint {
    /// The body member that must be present.
    pub fn required_field(self) -> &'static str {
        match self {
            Self::Chat => "messages",
            Self::Embeddings | Self::Speech | Self::Moderations => "input",
            Self::Completions => "prompt",
            Self::Images => "prompt",
            Self::Transcriptions => "file",
            Self::Rerank => "query",
        }
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat completions",
            Self::Embeddings => "embeddings",
            Self::Completions => "completions",
            Self::Images => "image generations",
            Self::Speech => "audio speech",
            Self::Transcriptions => "audio transcriptions",
            Self::Moderations => "moderations",
            Self::Rerank => "rerank",
        }
    }

    /// The path below an OpenAI-compatible base URL (`{base}/{path}`).
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "chat/completions",
            Self::Embeddings => "embeddings",
            Self::Completions => "completions",
            Self::Images => "images/generations",
            Self::Speech => "audio/speech",
            Self::Transcriptions => "audio/transcriptions",
            Self::Moderations => "moderations",
            Self::Rerank => "rerank",
        }
    }

    /// The bounded `endpoint` metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embeddings => "embeddings",
            Self::Completions => "completions",
            Self::Images => "images",
            Self::Speech => "speech",
            Self::Transcriptions => "transcriptions",
            Self::Moderations => "moderations",
            Self::Rerank => "rerank",
        }
    }

    /// Whether a `stream: true` request is answered as OpenAI SSE chunks.
    pub fn streams(self) -> bool {
        matches!(self, Self::Chat | Self::Completions)
    }

    /// Whether answers may be cached (JSON answers of deterministic-input endpoints).
    pub fn cacheable(self) -> bool {
        match self {
            Self::Chat
            | Self::Embeddings
            | Self::Completions
            | Self::Moderations
            | Self::Rerank => true,
            Self::Images | Self::Speech | Self::Transcriptions => false,
        }
    }

    /// Every endpoint.
    pub const ALL: [Self; 8] = [
        Self::Chat,
        Self::Embeddings,
        Self::Completions,
        Self::Images,
        Self::Speech,
        Self::Transcriptions,
        Self::Moderations,
        Self::Rerank,
    ];
}
