//! The streaming pass-through body: forwards upstream SSE events as they arrive, reads usage and
//! the first content on the way past, and guarantees the client never mistakes a cut stream for
//! a complete one (SPEC §6, §11).
//!
//! - a complete event is forwarded as soon as its blank line arrives; nothing waits for more;
//! - an event whose data is not JSON is skipped, never fatal;
//! - the usage-only chunk is dropped when the gateway asked for it and the client did not;
//! - upstream EOF after a `finish_reason` but without `[DONE]`: the gateway adds `[DONE]`;
//! - EOF before any `finish_reason`, a transport error, or silence longer than the idle timeout:
//!   the stream ends with `data: {"error": ...}` and no `[DONE]`.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::{
    error::GatewayError,
    openai::{Usage, stream::ChunkView},
};

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

type Hook = Box<dyn FnOnce(StreamEnd) + Send>;

/// Fires the hook exactly once: at the end, or on drop if the client left first.
struct EndGuard {
    hook: Option<Hook>,
    end: StreamEnd,
}

impl EndGuard {
    fn fire(&mut self, outcome: Outcome) {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    /// `[DONE]` was forwarded: read the upstream's end if it is already there (so the
    /// connection returns to the pool), then stop.
    Draining,
    Finished,
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
        keep_usage_chunk: bool,
        finished: bool,
        deployment: Arc<str>,
        guard: EndGuard,
    }
}

// === impl SseBody ===

impl SseBody {
    /// Wraps an upstream SSE body. `keep_usage_chunk`: the client asked for usage.
    pub fn new(
        inner: Body,
        deployment: Arc<str>,
        idle_timeout: Duration,
        keep_usage_chunk: bool,
    ) -> Self {
        Self {
            idle: tokio::time::sleep(idle_timeout),
            inner,
            idle_timeout,
            buf: BytesMut::new(),
            held: BytesMut::new(),
            state: State::Streaming,
            keep_usage_chunk,
            finished: false,
            deployment,
            guard: EndGuard {
                hook: None,
                end: StreamEnd {
                    outcome: Outcome::ClientGone,
                    usage: None,
                    first_content: None,
                },
            },
        }
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
                    || *this.finished
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
            match *this.state {
                State::Finished => return Poll::Ready(None),
                State::Draining => {
                    // The upstream's end is usually already buffered; if not, do not wait for it.
                    let _ = Pin::new(&mut *this.inner).poll_frame(cx);
                    *this.state = State::Finished;
                    this.guard.fire(Outcome::Complete);
                    return Poll::Ready(None);
                }
                State::Streaming => {}
            }
            let polled = Pin::new(&mut *this.inner).poll_frame(cx);
            let tail = match polled {
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let deadline = Instant::now() + *this.idle_timeout;
                    this.idle.as_mut().reset(deadline);
                    this.buf.extend_from_slice(&data);
                    let mut scan = Scan {
                        keep_usage_chunk: *this.keep_usage_chunk,
                        end: &mut this.guard.end,
                        finished: this.finished,
                        done: false,
                    };
                    let out = scan.take_events(this.buf, false);
                    if scan.done {
                        *this.state = State::Draining;
                    }
                    match out {
                        Some(out) => return Poll::Ready(Some(out)),
                        None => continue,
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!(deployment = %this.deployment, error = %e, "upstream stream failed");
                    Tail::Error(
                        "upstream_stream_cut",
                        "the upstream connection failed mid-stream".to_owned(),
                    )
                }
                Poll::Ready(None) => {
                    // Whatever is left without its blank line is a last event.
                    let mut scan = Scan {
                        keep_usage_chunk: *this.keep_usage_chunk,
                        end: &mut this.guard.end,
                        finished: this.finished,
                        done: false,
                    };
                    let out = scan.take_events(this.buf, true);
                    if scan.done {
                        Tail::Done(out, false)
                    } else if *this.finished {
                        Tail::Done(out, true)
                    } else {
                        Tail::Partial(out)
                    }
                }
                Poll::Pending => {
                    ready!(this.idle.as_mut().poll(cx));
                    Tail::Error(
                        "upstream_stream_idle",
                        format!(
                            "the upstream sent nothing for {}s",
                            this.idle_timeout.as_secs_f64()
                        ),
                    )
                }
            };
            *this.state = State::Finished;
            let (bytes, outcome) = tail.into_bytes(this.deployment);
            this.guard.fire(outcome);
            return Poll::Ready(bytes);
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

/// What to send after the upstream body ends.
enum Tail {
    /// Events, then `[DONE]` if the gateway must add it.
    Done(Option<Bytes>, bool),
    /// Events, then an error: the answer never finished.
    Partial(Option<Bytes>),
    /// An error event.
    Error(&'static str, String),
}

impl Tail {
    fn into_bytes(self, deployment: &Arc<str>) -> (Option<Bytes>, Outcome) {
        match self {
            Tail::Done(out, false) => (out, Outcome::Complete),
            Tail::Done(out, true) => {
                let mut b = BytesMut::new();
                if let Some(out) = out {
                    b.put_slice(&out);
                }
                b.put_slice(b"data: [DONE]\n\n");
                (Some(b.freeze()), Outcome::Complete)
            }
            Tail::Partial(out) => {
                let mut b = BytesMut::new();
                if let Some(out) = out {
                    b.put_slice(&out);
                }
                b.put_slice(&error_event(
                    deployment,
                    "the upstream stream ended before the answer was complete",
                ));
                (
                    Some(b.freeze()),
                    Outcome::Failed("upstream_stream_incomplete"),
                )
            }
            Tail::Error(code, reason) => (
                Some(error_event(deployment, &reason)),
                Outcome::Failed(code),
            ),
        }
    }
}

/// `data: {"error": ...}\n\n` for a failure after the stream started.
pub fn error_event(deployment: &Arc<str>, reason: &str) -> Bytes {
    let e = GatewayError::UpstreamGarbled {
        deployment: deployment.clone(),
        reason: reason.to_owned(),
    };
    let json = e.to_json();
    let mut b = BytesMut::with_capacity(json.len() + 8);
    b.put_slice(b"data: ");
    b.put_slice(&json);
    b.put_slice(b"\n\n");
    b.freeze()
}

/// One pass over the buffered bytes.
struct Scan<'a> {
    keep_usage_chunk: bool,
    end: &'a mut StreamEnd,
    finished: &'a mut bool,
    done: bool,
}

enum Verdict {
    Keep,
    Drop,
}

impl Scan<'_> {
    /// Takes every complete event out of `buf` (all of it when `eof`) and returns the bytes to
    /// forward. Events are forwarded without copying unless one of them is dropped.
    fn take_events(&mut self, buf: &mut BytesMut, eof: bool) -> Option<Bytes> {
        let mut spans: Vec<(usize, usize, Verdict)> = Vec::new();
        let mut pos = 0;
        while !self.done {
            let (len, delim) = match find_event_end(&buf[pos..]) {
                Some(found) => found,
                None if eof
                    && pos < buf.len()
                    && !buf[pos..].iter().all(u8::is_ascii_whitespace) =>
                {
                    (buf.len() - pos, 0)
                }
                None => break,
            };
            let verdict = self.judge(&buf[pos..pos + len]);
            spans.push((pos, len + delim, verdict));
            pos += len + delim;
        }
        let block = buf.split_to(pos).freeze();
        if eof || self.done {
            buf.clear(); // a partial event at EOF was judged above; anything after [DONE] is dropped
        }
        if spans.iter().all(|(_, _, v)| matches!(v, Verdict::Keep)) && !eof {
            return (!block.is_empty()).then_some(block);
        }
        let mut out = BytesMut::with_capacity(block.len() + 2);
        for (start, len, verdict) in spans {
            if let Verdict::Keep = verdict {
                let event = &block[start..start + len];
                out.put_slice(event);
                if !event.ends_with(b"\n\n") {
                    out.put_slice(b"\n\n");
                }
            }
        }
        (!out.is_empty()).then(|| out.freeze())
    }

    fn judge(&mut self, event: &[u8]) -> Verdict {
        let Some(data) = event_data(event) else {
            return Verdict::Keep; // a comment or a field without data
        };
        if data.trim_ascii() == b"[DONE]" {
            self.done = true;
            return Verdict::Keep;
        }
        let Ok(chunk) = serde_json::from_slice::<ChunkView>(&data) else {
            return Verdict::Drop;
        };
        if chunk.error.is_some() {
            return Verdict::Keep;
        }
        if let Some(usage) = chunk.usage {
            self.end.usage = Some(usage);
            if chunk.choices.is_empty() && !self.keep_usage_chunk {
                return Verdict::Drop;
            }
        }
        if self.end.first_content.is_none() && chunk.has_content() {
            self.end.first_content = Some(Instant::now());
        }
        if chunk.finishes() {
            *self.finished = true;
        }
        Verdict::Keep
    }
}

/// Length of the first event in `buf` and of its terminating blank line.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The `data:` payload of an event (several data lines joined by `\n`), if any.
fn event_data(event: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    let mut lines = event.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let rest = line.strip_prefix(b"data:")?;
        Some(rest.strip_prefix(b" ").unwrap_or(rest))
    });
    let first = lines.next()?;
    match lines.next() {
        None => Some(std::borrow::Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = first.to_vec();
            for l in std::iter::once(second).chain(lines) {
                joined.push(b'\n');
                joined.extend_from_slice(l);
            }
            Some(std::borrow::Cow::Owned(joined))
        }
    }
}

#[cfg(test)]
mod tests;
