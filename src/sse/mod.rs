//! The streaming pass-through body: forwards upstream SSE events as they arrive, reads usage and
//! the first content on the way past, and guarantees the client never mistakes a cut stream for
//! a complete one (SPEC §6, §11).
//!
//! - a complete event is forwarded as soon as its blank line arrives; nothing waits for more;
//! - an event whose data is not JSON is skipped, never fatal;
//! - the usage-only chunk is dropped when the gateway asked for it and the client did not;
//! - upstream EOF after a `finish_reason` but without `[DONE]`: the gateway adds `[DONE]`;
//! - EOF before any `finish_reason`, a transport error, or silence longer than the idle timeout:
//!   with a [`Rescue`] the answer continues on another deployment (prefill, or a restart whose
//!   replayed text must match what was sent); without one, or if that fails, the stream ends
//!   with `data: {"error": ...}` naming the original failure, and no `[DONE]`.

mod assemble;
mod end;
mod events;
mod scan;
mod translate;

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

pub use assemble::replay;
use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
pub use end::{Continuation, Outcome, Rescue, StreamEnd};
use end::{EndGuard, completed};
pub use events::{error_event, error_json_event, responses_error_event};
use events::{finish_failed, replay_failure};
use futures_util::future::BoxFuture;
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
pub use scan::Dialect;
use scan::{Mode, Scanner};
pub(crate) use scan::{event_data, split_event};
use tokio::time::{Instant, Sleep};
pub(crate) use translate::{AfterDone, Translate, Translated};

use crate::error::GatewayError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    /// `[DONE]` was forwarded: read the upstream's end if it is already there (so the
    /// connection returns to the pool), then stop.
    Draining,
    /// Waiting for a continuation after a mid-stream failure.
    Rescuing,
    Finished,
}

/// A failure: its code and the message of the error event.
#[derive(Debug, Clone)]
struct Failure {
    code: &'static str,
    reason: String,
    deployment: Arc<str>,
}

pin_project! {
    /// An SSE response body in OpenAI chunk format, wrapped for the client.
    pub struct SseBody {
        #[pin]
        idle: Sleep,
        inner: Body,
        idle_timeout: Duration,
        buf: BytesMut,
        held: BytesMut,
        state: State,
        scanner: Scanner,
        deployment: Arc<str>,
        guard: EndGuard,
        rescue: Option<Box<dyn Rescue>>,
        rescuing: Option<BoxFuture<'static, Option<Continuation>>>,
        original: Option<Failure>,
        on_complete: Option<Box<dyn FnOnce(Bytes) + Send>>,
        limits: StreamLimits,
        deadline: Option<(Pin<Box<Sleep>>, Duration)>,
    }
}

/// What a stream may hold: bounds against an upstream that never finishes an event or never
/// gets to its first token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// The largest SSE event accepted, in bytes.
    pub max_event_bytes: usize,
    /// What may be held (role chunks, comments) before the first content, in bytes.
    pub max_before_first_token_bytes: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: 1 << 20,
            max_before_first_token_bytes: 1 << 20,
        }
    }
}

// === impl SseBody ===

impl SseBody {
    /// Wraps an upstream SSE body. `keep_usage_chunk`: the client asked for usage;
    /// `track_text`: keep the forwarded text so a rescue can continue it.
    pub fn new(
        inner: Body,
        deployment: Arc<str>,
        idle_timeout: Duration,
        keep_usage_chunk: bool,
        track_text: bool,
    ) -> Self {
        Self {
            idle: tokio::time::sleep(idle_timeout),
            inner,
            idle_timeout,
            buf: BytesMut::new(),
            held: BytesMut::new(),
            state: State::Streaming,
            scanner: Scanner {
                dialect: Dialect::Chat,
                next_seq: 0,
                keep_usage_chunk,
                mode: Mode::Forward,
                finished: false,
                done: false,
                errored: false,
                sent: track_text.then(String::new),
                unrescuable: false,
                diverged: false,
                assembler: None,
            },
            deployment,
            guard: EndGuard {
                hook: None,
                end: StreamEnd {
                    outcome: Outcome::ClientGone,
                    usage: None,
                    first_content: None,
                },
            },
            rescue: None,
            rescuing: None,
            original: None,
            on_complete: None,
            limits: StreamLimits::default(),
            deadline: None,
        }
    }

    /// Reads `dialect` events instead of chat chunks.
    pub fn with_dialect(mut self, dialect: Dialect) -> Self {
        self.scanner.dialect = dialect;
        self
    }

    /// The same body with `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: StreamLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Ends the stream with a `deadline_exceeded` error event at `at` (the whole-request
    /// deadline, `after` from the request's start), whatever the upstream sends.
    pub fn set_deadline(self: Pin<&mut Self>, at: Instant, after: Duration) {
        *self.project().deadline = Some((Box::pin(tokio::time::sleep_until(at)), after));
    }

    /// Runs `hook` once when the stream ends (or the client leaves).
    pub fn on_end(self: Pin<&mut Self>, hook: impl FnOnce(StreamEnd) + Send + 'static) {
        let guard = self.project().guard;
        let previous = guard.hook.take();
        guard.hook = Some(Box::new(move |end| {
            if let Some(p) = previous {
                p(end);
            }
            hook(end);
        }));
    }

    /// Runs `hook` with the assembled `chat.completion` if the answer completes (for the cache).
    pub fn on_complete(self: Pin<&mut Self>, hook: impl FnOnce(Bytes) + Send + 'static) {
        let this = self.project();
        this.scanner.assembler = Some(assemble::Assembler::default());
        // What priming read ahead is held, not yet forwarded: it is part of the answer too.
        this.scanner.assemble_events(this.held);
        *this.on_complete = Some(Box::new(hook));
    }

    /// Lets a mid-stream failure continue elsewhere instead of ending the stream.
    pub fn set_rescue(self: Pin<&mut Self>, rescue: Box<dyn Rescue>) {
        *self.project().rescue = Some(rescue);
    }

    /// Reads ahead until the first content event (or the answer's end), holding what was read for
    /// the client. Until then nothing has reached the client, so a failure here (the code of the
    /// in-band error it would have sent) lets the router switch upstreams invisibly.
    pub fn poll_prime(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), &'static str>> {
        loop {
            {
                let this = self.as_mut().project();
                if this.guard.end.first_content.is_some()
                    || this.scanner.finished
                    || *this.state == State::Draining
                {
                    return Poll::Ready(Ok(()));
                }
            }
            let Some(bytes) = ready!(self.as_mut().poll_out(cx)) else {
                return Poll::Ready(Ok(()));
            };
            let this = self.as_mut().project();
            this.held.extend_from_slice(&bytes);
            if this.held.len() > this.limits.max_before_first_token_bytes
                && this.guard.end.first_content.is_none()
                && !this.scanner.finished
            {
                // Comments or role chunks without end: never buffer them without bound.
                return Poll::Ready(Err("upstream_no_content"));
            }
            if *this.state == State::Finished {
                return Poll::Ready(match this.guard.end.outcome {
                    Outcome::Failed(code) => Err(code),
                    Outcome::Complete | Outcome::ClientGone => Ok(()),
                });
            }
        }
    }

    /// The next bytes for the client, or `None` at the end.
    fn poll_out(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let mut this = self.project();
        loop {
            if let Some((sleep, after)) = this.deadline.as_mut() {
                let live = matches!(*this.state, State::Streaming | State::Rescuing);
                if live && sleep.as_mut().poll(cx).is_ready() {
                    let after = *after;
                    *this.state = State::Finished;
                    *this.rescuing = None;
                    this.guard.fire(Outcome::Failed("deadline_exceeded"));
                    let e = GatewayError::DeadlineExceeded { after };
                    return Poll::Ready(Some(error_json_event(&e.to_json())));
                }
            }
            match *this.state {
                State::Finished => return Poll::Ready(None),
                State::Draining => {
                    // The upstream's end is usually already buffered; if not, do not wait for it.
                    let _ = Pin::new(&mut *this.inner).poll_frame(cx);
                    *this.state = State::Finished;
                    this.guard.fire(Outcome::Complete);
                    completed(this.scanner, this.guard.end.usage, this.on_complete);
                    return Poll::Ready(None);
                }
                State::Rescuing => {
                    let Some(future) = this.rescuing.as_mut() else {
                        *this.state = State::Streaming;
                        continue;
                    };
                    let continuation = ready!(future.as_mut().poll(cx));
                    *this.rescuing = None;
                    match continuation {
                        Some(c) => {
                            *this.inner = c.body;
                            *this.deployment = c.deployment;
                            this.scanner.mode = if c.prefill {
                                Mode::Continue
                            } else {
                                Mode::Replay { matched: 0 }
                            };
                            this.scanner.finished = false;
                            this.buf.clear();
                            this.idle
                                .as_mut()
                                .reset(Instant::now() + *this.idle_timeout);
                            *this.state = State::Streaming;
                            continue;
                        }
                        None => {
                            let failure = this.original.take().unwrap_or_else(|| Failure {
                                code: "upstream_stream_cut",
                                reason: "the stream failed".into(),
                                deployment: this.deployment.clone(),
                            });
                            return Poll::Ready(Some(finish_failed(
                                &mut *this.state,
                                this.guard,
                                this.scanner,
                                failure,
                            )));
                        }
                    }
                }
                State::Streaming => {}
            }
            let polled = Pin::new(&mut *this.inner).poll_frame(cx);
            let (out, failure) = match polled {
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let deadline = Instant::now() + *this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                    // Only the new bytes are searched for an event's end: a long event costs
                    // one pass, not one per read.
                    let from = this.buf.len().saturating_sub(3);
                    this.buf.extend_from_slice(&data);
                    let complete = scan::has_event_end(&this.buf[from..]);
                    let out = if complete {
                        this.scanner
                            .take_events(this.buf, &mut this.guard.end, false)
                    } else {
                        None
                    };
                    if this.scanner.done {
                        *this.state = State::Draining;
                    }
                    if !complete && this.buf.len() > this.limits.max_event_bytes {
                        this.buf.clear();
                        let reason = format!(
                            "the upstream sent an SSE event over {} bytes",
                            this.limits.max_event_bytes
                        );
                        (
                            None,
                            Some(Failure {
                                code: "upstream_event_too_large",
                                reason,
                                deployment: this.deployment.clone(),
                            }),
                        )
                    } else if !complete {
                        continue;
                    } else if this.scanner.diverged {
                        (out, Some(replay_failure(this.deployment)))
                    } else {
                        match out {
                            Some(out) => return Poll::Ready(Some(out)),
                            None => continue,
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!(deployment = %this.deployment, error = %e, "upstream stream failed");
                    let reason = "the upstream connection failed mid-stream".into();
                    (
                        None,
                        Some(Failure {
                            code: "upstream_stream_cut",
                            reason,
                            deployment: this.deployment.clone(),
                        }),
                    )
                }
                Poll::Ready(None) => {
                    // Whatever is left without its blank line is a last event.
                    let out = this
                        .scanner
                        .take_events(this.buf, &mut this.guard.end, true);
                    if this.scanner.done || (this.scanner.finished && !this.scanner.diverged) {
                        let mut b = BytesMut::new();
                        if let Some(out) = out {
                            b.put_slice(&out);
                        }
                        if !this.scanner.done {
                            b.put_slice(b"data: [DONE]\n\n");
                        }
                        *this.state = State::Finished;
                        this.guard.fire(Outcome::Complete);
                        completed(this.scanner, this.guard.end.usage, this.on_complete);
                        return Poll::Ready((!b.is_empty()).then(|| b.freeze()));
                    }
                    if this.scanner.errored {
                        *this.state = State::Finished;
                        this.guard.fire(Outcome::Failed("upstream_error"));
                        return Poll::Ready(out);
                    }
                    let failure = if this.scanner.diverged {
                        replay_failure(this.deployment)
                    } else {
                        Failure {
                            code: "upstream_stream_incomplete",
                            reason: "the upstream stream ended before the answer was complete"
                                .into(),
                            deployment: this.deployment.clone(),
                        }
                    };
                    (out, Some(failure))
                }
                Poll::Pending => {
                    ready!(this.idle.as_mut().poll(cx));
                    let reason = format!(
                        "the upstream sent nothing for {}s",
                        this.idle_timeout.as_secs_f64()
                    );
                    (
                        None,
                        Some(Failure {
                            code: "upstream_stream_idle",
                            reason,
                            deployment: this.deployment.clone(),
                        }),
                    )
                }
            };
            let Some(failure) = failure else { continue };
            // Report the first failure of the answer, not a later one.
            let failure = this.original.clone().unwrap_or(failure);
            let rescuable =
                !this.scanner.unrescuable && !this.scanner.errored && !this.scanner.diverged;
            match (this.rescue.as_mut(), &this.scanner.sent) {
                (Some(rescue), Some(sent)) if rescuable => {
                    tracing::info!(deployment = %this.deployment, code = failure.code, "stream failed mid-answer; continuing elsewhere");
                    *this.rescuing = Some(rescue.continue_after(sent.clone()));
                    *this.original = Some(failure);
                    *this.state = State::Rescuing;
                    if let Some(out) = out {
                        return Poll::Ready(Some(out));
                    }
                }
                _ => {
                    let mut b = BytesMut::new();
                    if let Some(out) = out {
                        b.put_slice(&out);
                    }
                    b.put_slice(&finish_failed(
                        &mut *this.state,
                        this.guard,
                        this.scanner,
                        failure,
                    ));
                    return Poll::Ready(Some(b.freeze()));
                }
            }
        }
    }
}

impl HttpBody for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let held = self.as_mut().project().held;
        if !held.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(held.split().freeze()))));
        }
        self.poll_out(cx).map(|out| out.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.state == State::Finished && self.held.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests;
