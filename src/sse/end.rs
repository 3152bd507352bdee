//! How a stream ends: the outcome and usage its hook is told (exactly once), and the rescue seam
//! that continues a broken answer elsewhere.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::scan::Scanner;
use crate::openai::Usage;

/// How a stream ended, reported once to the hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `[DONE]` reached the client.
    Complete,
    /// The stream ended with an in-band error event.
    Failed(&'static str),
    /// The client went away first.
    ClientGone,
}

/// What the hook learns when the stream ends.
#[derive(Debug, Clone, Copy)]
pub struct StreamEnd {
    /// How it ended.
    pub outcome: Outcome,
    /// Usage, if the upstream reported it.
    pub usage: Option<Usage>,
    /// When the first content chunk was forwarded.
    pub first_content: Option<Instant>,
}

/// Continues an answer that broke mid-stream on another deployment (the router implements it).
pub trait Rescue: Send {
    /// Starts a continuation of an answer whose text so far is `sent`; `None` when nothing can.
    fn continue_after(&mut self, sent: String) -> BoxFuture<'static, Option<Continuation>>;
}

/// A new upstream stream that continues the answer.
pub struct Continuation {
    /// Its SSE body.
    pub body: Body,
    /// `true`: it continues after the partial answer (prefill); `false`: it restarts the answer.
    pub prefill: bool,
    /// The deployment serving it.
    pub deployment: Arc<str>,
}

pub(super) type Hook = Box<dyn FnOnce(StreamEnd) + Send>;

/// Fires the hook exactly once: at the end, or on drop if the client left first.
pub(super) struct EndGuard {
    pub(super) hook: Option<Hook>,
    pub(super) end: StreamEnd,
}

impl EndGuard {
    pub(super) fn fire(&mut self, outcome: Outcome) {
        self.end.outcome = outcome;
        if let Some(hook) = self.hook.take() {
            hook(self.end);
        }
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if let Some(hook) = self.hook.take() {
            hook(self.end);
        }
    }
}

/// Hands the assembled answer to the completion hook, with the usage the scanner read (also
/// from a usage chunk the client did not ask for, which was not forwarded).
pub(super) fn completed(
    scanner: &mut Scanner,
    usage: Option<Usage>,
    hook: &mut Option<Box<dyn FnOnce(Bytes) + Send>>,
) {
    if let (Some(mut assembler), Some(hook)) = (scanner.assembler.take(), hook.take()) {
        assembler.set_usage(usage);
        hook(assembler.finish());
    }
}
