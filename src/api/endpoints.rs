//! The OpenAI endpoints beyond chat and embeddings, each routed by `model` to the deployments of
//! the group that serve it (`model_info.mode`, the provider) through the same model stack:
//! `/v1/completions`, `/v1/images/generations`, `/v1/audio/speech`, `/v1/audio/transcriptions`
//! (multipart), `/v1/moderations`, `/v1/rerank`.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    response::Response,
};

use super::forward::{Caller, forward};
use crate::{model::Endpoint, runtime::AppState};

macro_rules! handlers {
    ($($(#[$doc:meta])* $name:ident => $endpoint:expr;)*) => {$(
        $(#[$doc])*
        pub(super) async fn $name(
            State(app): State<Arc<AppState>>,
            caller: Caller,
            request: Request,
        ) -> Response {
            forward(&app, $endpoint, caller, request).await
        }
    )*};
}

handlers! {
    /// POST `/v1/completions`.
    completions => Endpoint::Completions;
    /// POST `/v1/images/generations`.
    images => Endpoint::Images;
    /// POST `/v1/audio/speech`.
    speech => Endpoint::Speech;
    /// POST `/v1/audio/transcriptions`.
    transcriptions => Endpoint::Transcriptions;
    /// POST `/v1/moderations`.
    moderations => Endpoint::Moderations;
    /// POST `/v1/rerank`.
    rerank => Endpoint::Rerank;
}
