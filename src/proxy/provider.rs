//! The provider seam: one deployment's adapter (implementations in `providers/`).

use std::fmt;

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::ProxyRequest;
use crate::{error::GatewayError, openai::JsonBody};

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
