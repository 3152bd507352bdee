//! Which adapter a deployment uses.

use super::{
    Endpoint,
    profile::{PROFILES, Profile, Responses},
};

/// Which adapter a deployment uses, from the prefix of `litellm_params.model`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProviderKind {
    /// An OpenAI-compatible vendor.
    OpenAiCompat(&'static Profile),
    /// Anthropic's Messages API.
    Anthropic,
    /// The built-in mock.
    Mock,
}

impl ProviderKind {
    /// The kind for a model prefix such as `openai` or `azure`.
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "mock" => return Some(Self::Mock),
            "anthropic" => return Some(Self::Anthropic),
            _ => {}
        }
        PROFILES
            .iter()
            .find(|p| p.name == prefix)
            .map(Self::OpenAiCompat)
    }

    /// Every supported prefix.
    pub fn names() -> Vec<&'static str> {
        PROFILES
            .iter()
            .map(|p| p.name)
            .chain(["anthropic", "mock"])
            .collect()
    }

    /// The metric label: the prefix.
    pub fn label(&self) -> &'static str {
        match self {
            Self::OpenAiCompat(p) => p.name,
            Self::Anthropic => "anthropic",
            Self::Mock => "mock",
        }
    }

    /// The environment variable LiteLLM reads the key from when `api_key` is absent.
    pub fn default_key_env(&self) -> Option<&'static str> {
        match self {
            Self::OpenAiCompat(p) => p.key_env,
            Self::Anthropic => Some("ANTHROPIC_API_KEY"),
            Self::Mock => None,
        }
    }

    /// The environment variable LiteLLM reads the base URL from when `api_base` is absent.
    pub fn default_base_env(&self) -> Option<&'static str> {
        match self {
            Self::OpenAiCompat(p) => p.base_env,
            Self::Anthropic => Some("ANTHROPIC_API_BASE"),
            Self::Mock => None,
        }
    }

    /// The environment variable for `api_version` (Azure).
    pub fn default_version_env(&self) -> Option<&'static str> {
        match self {
            Self::OpenAiCompat(p) => p.version_env,
            Self::Anthropic | Self::Mock => None,
        }
    }

    /// Whether `api_base` must be given (no public default).
    pub fn needs_api_base(&self) -> bool {
        match self {
            Self::OpenAiCompat(p) => p.default_base.is_none(),
            Self::Anthropic | Self::Mock => false,
        }
    }

    /// Whether the provider is known to continue a trailing assistant message (prefill).
    pub fn accepts_prefill(&self) -> bool {
        match self {
            Self::OpenAiCompat(_) => false,
            // Anthropic continues a trailing assistant message.
            Self::Anthropic | Self::Mock => true,
        }
    }

    /// Whether a deployment at `api_base` speaks the Responses API when its config does not say.
    pub fn speaks_responses(&self, api_base: Option<&str>) -> bool {
        match self {
            Self::OpenAiCompat(p) => match p.responses {
                Responses::No => false,
                Responses::Yes => true,
                Responses::AtDefaultBase => {
                    api_base.is_none_or(|b| Some(b.trim_end_matches('/')) == p.default_base)
                }
            },
            Self::Anthropic | Self::Mock => false,
        }
    }

    /// Whether the adapter serves `endpoint`: the mock all, Anthropic chat only, an
    /// OpenAI-compatible vendor every endpoint (embeddings where its profile says so).
    pub fn serves(&self, endpoint: Endpoint) -> bool {
        match self {
            Self::OpenAiCompat(p) => endpoint != Endpoint::Embeddings || p.embeddings,
            Self::Anthropic => endpoint == Endpoint::Chat,
            Self::Mock => true,
        }
    }
}
