//! A body that translates one SSE dialect into another as events arrive (never buffering the
//! stream): the Anthropic provider (Anthropic -> OpenAI) and the `/v1/messages` front door
//! (OpenAI -> Anthropic) are the same body over a different `Translate`.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;

/// The largest event a translated stream accepts (an event is one chunk of an answer; a larger
/// one is a broken or hostile peer).
pub(crate) const MAX_EVENT_BYTES: usize = 1 << 20;

/// One direction of translation.
pub(crate) trait Translate {
    /// Takes the complete events out of `buf` (everything at `eof`) and writes their translation
    /// to `out`.
    fn feed(&mut self, buf: &mut BytesMut, eof: bool, out: &mut BytesMut);
    /// Whether the answer is over (nothing after it is translated).
    fn done(&self) -> bool;
}

/// What to do with the inner body once the answer is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterDone {
    /// Read it to its end: its end is what completes it (the gateway's own stream, whose end
    /// stores the cache entry and records the metrics). It never waits once `[DONE]` is out.
    Drain,
    /// Take its end if it is already there (so an upstream connection returns to the pool), but
    /// never wait for it.
    TakeIfReady,
}

pin_project! {
    /// The inner SSE body, translated event by event.
    pub(crate) struct Translated<T> {
        #[pin]
        inner: Body,
        buf: BytesMut,
        translator: T,
        after_done: AfterDone,
        finished: bool,
    }
}

impl<T: Translate> Translated<T> {
    /// Translates `inner` with `translator`.
    pub(crate) fn new(inner: Body, translator: T, after_done: AfterDone) -> Self {
        Self {
            inner,
            buf: BytesMut::new(),
            translator,
            after_done,
            finished: false,
        }
    }
}

impl<T: Translate> HttpBody for Translated<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut this = self.project();
        loop {
            if *this.finished {
                return match this.after_done {
                    AfterDone::TakeIfReady => Poll::Ready(None),
                    AfterDone::Drain => match ready!(this.inner.as_mut().poll_frame(cx)) {
                        Some(Ok(_)) => continue,
                        Some(Err(_)) | None => Poll::Ready(None),
                    },
                };
            }
            let mut out = BytesMut::new();
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    // Only new bytes are searched; nothing is fed until an event is complete.
                    let from = this.buf.len().saturating_sub(3);
                    this.buf.extend_from_slice(&data);
                    if !super::scan::has_event_end(&this.buf[from..]) {
                        if this.buf.len() > MAX_EVENT_BYTES {
                            *this.finished = true;
                            *this.after_done = AfterDone::TakeIfReady;
                            return Poll::Ready(Some(Err(axum::Error::new(format!(
                                "an SSE event exceeded {MAX_EVENT_BYTES} bytes"
                            )))));
                        }
                        continue;
                    }
                    this.translator.feed(this.buf, false, &mut out);
                    if this.translator.done() {
                        *this.finished = true;
                        if *this.after_done == AfterDone::TakeIfReady {
                            let _ = this.inner.as_mut().poll_frame(cx);
                        }
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.translator.feed(this.buf, true, &mut out);
                    *this.finished = true;
                }
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && (self.after_done == AfterDone::TakeIfReady || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
