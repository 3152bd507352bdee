//! Providers: how one deployment is spoken to. One OpenAI-compatible adapter serves every vendor
//! that speaks the OpenAI wire format (differences are rows of the `Profile` table in
//! `model/profile.rs`; `ProviderKind` is in `model/` too); `mock` is
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

use crate::{
    config::DeploymentConfig, error::GatewayError, model::ProviderKind, openai::JsonBody,
    proxy::ProxyRequest, upstream::HttpClient,
};

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
