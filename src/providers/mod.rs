//! Providers: how one deployment is spoken to. One OpenAI-compatible adapter serves every vendor
//! that speaks the OpenAI wire format (differences are rows of its `Profile` table); `mock` is
//! built in; `anthropic` is a native API translated both ways. Every provider answers in OpenAI
//! format.

pub mod anthropic;
pub mod by_prefix;
pub mod mock;
pub mod openai_compat;

use std::{fmt, sync::Arc};

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;

pub use openai_compat::Profile;

use crate::{
    config::DeploymentConfig,
    error::GatewayError,
    openai::JsonBody,
    proxy::{Endpoint, ProxyRequest},
    upstream::HttpClient,
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

/// An upstream answer in OpenAI format.
pub enum Reply {
    /// A complete JSON body (status 200).
    Json(Bytes),
    /// A complete Response object (a native `/v1/responses` answer, status 200).
    ResponsesJson(Bytes),
    /// An SSE body of `chat.completion.chunk` (or `text_completion`) events (status 200).
    Sse(Body),
    /// An SSE body of Responses API events (a native `/v1/responses` stream, status 200).
    ResponsesSse(Body),
    /// Another complete body, passed through with its content type (speech audio, a
    /// transcription as text).
    Other {
        /// The upstream's `content-type`.
        content_type: http::HeaderValue,
        /// The bytes.
        bytes: Bytes,
    },
}

/// One deployment's adapter. Errors are `GatewayError`s that know their status and cause.
pub trait Provider: Send + Sync + fmt::Debug {
    /// Sends one attempt of `request`. The caller bounds it with the deployment's timeout.
    fn send(&self, request: &ProxyRequest) -> BoxFuture<'static, Result<Reply, GatewayError>>;

    /// Counts the prompt tokens of an Anthropic Messages body (`/v1/messages/count_tokens`), if
    /// the upstream can; `None` when it cannot, and the front door estimates instead.
    fn count_tokens(
        &self,
        _anthropic_body: &JsonBody,
    ) -> Option<BoxFuture<'static, Result<u64, GatewayError>>> {
        None
    }
}

/// Gateway-only body fields, stripped before forwarding (SPEC §7).
pub const GATEWAY_FIELDS: &[&str] = &["cache", "agent"];

// === impl ProviderKind ===

impl ProviderKind {
    /// The kind for a model prefix such as `openai` or `azure`.
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "mock" => return Some(Self::Mock),
            "anthropic" => return Some(Self::Anthropic),
            _ => {}
        }
        openai_compat::PROFILES
            .iter()
            .find(|p| p.name == prefix)
            .map(Self::OpenAiCompat)
    }

    /// Every supported prefix.
    pub fn names() -> Vec<&'static str> {
        openai_compat::PROFILES
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
                openai_compat::Responses::No => false,
                openai_compat::Responses::Yes => true,
                openai_compat::Responses::AtDefaultBase => {
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

/// Builds the adapter for one deployment.
pub fn build(cfg: &DeploymentConfig, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
    if !cfg.by_prefix.is_empty() {
        return Ok(Arc::new(by_prefix::ByPrefix::new(cfg, client)?));
    }
    Ok(match cfg.provider {
        ProviderKind::OpenAiCompat(profile) => Arc::new(openai_compat::OpenAiCompat::new(
            profile,
            cfg,
            client.clone(),
        )?),
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(cfg, client.clone())?),
        ProviderKind::Mock => Arc::new(mock::Mock::new(cfg)),
    })
}
