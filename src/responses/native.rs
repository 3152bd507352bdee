//! A native Responses stream on its way to the client: every event passes through as received;
//! the complete Response of `response.completed` (or `response.incomplete`) is handed over for
//! the store.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::sse::{Translate, event_data, split_event};

/// Receives the final Response's JSON.
pub type OnComplete = Box<dyn FnOnce(Bytes) + Send>;

/// Passes events through; keeps the final Response.
pub struct Tap {
    on_complete: Option<OnComplete>,
    done: bool,
}

#[derive(Deserialize)]
struct Terminal<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default, borrow)]
    response: Option<&'a RawValue>,
}

// === impl Tap ===

impl Tap {
    /// A tap handing the final Response to `on_complete`.
    pub fn new(on_complete: Option<OnComplete>) -> Self {
        Self {
            on_complete,
            done: false,
        }
    }

    fn inspect(&mut self, event: &[u8]) {
        let Some(data) = event_data(event) else {
            return;
        };
        // Only the terminal events are worth parsing whole.
        let terminal = [
            &b"response.completed"[..],
            b"response.incomplete",
            b"response.failed",
            b"\"error\"",
        ]
        .iter()
        .any(|t| memchr::memmem::find(&data, t).is_some());
        if !terminal {
            return;
        }
        let Ok(t) = serde_json::from_slice::<Terminal<'_>>(&data) else {
            return;
        };
        match t.kind {
            "response.completed" | "response.incomplete" => {
                if let (Some(hook), Some(r)) = (self.on_complete.take(), t.response) {
                    hook(Bytes::copy_from_slice(r.get().as_bytes()));
                }
                self.done = true;
            }
            "response.failed" | "error" => self.done = true,
            _ => {}
        }
    }
}

impl Translate for Tap {
    fn feed(&mut self, buf: &mut BytesMut, eof: bool, out: &mut BytesMut) {
        while let Some(event) = split_event(buf, eof) {
            self.inspect(&event);
            out.put_slice(&event);
            out.put_slice(b"\n\n");
        }
    }

    fn done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_events_and_keeps_the_final_response() {
        let kept = std::sync::Arc::new(parking_lot::Mutex::new(None));
        let k = kept.clone();
        let mut tap = Tap::new(Some(Box::new(move |b| *k.lock() = Some(b))));
        let mut buf = BytesMut::from(
            &b"event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"r\"}}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":1,\"response\":{\"id\":\"r\",\"output\":[]}}\n\n"[..],
        );
        let mut out = BytesMut::new();
        let input = buf.clone();
        tap.feed(&mut buf, false, &mut out);
        assert_eq!(out, input);
        assert!(tap.done());
        assert_eq!(
            kept.lock().as_deref(),
            Some(&br#"{"id":"r","output":[]}"#[..])
        );
    }
}
