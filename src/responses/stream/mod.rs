//! The gateway's chat stream (OpenAI chunks; `[DONE]` or an in-band error at the end) as the
//! Responses event stream, event by event as each chunk arrives:
//!
//! `response.created`, `response.in_progress`, then per output item `response.output_item.added`
//! (+ `response.content_part.added` for a message), its deltas (`response.output_text.delta`,
//! `response.function_call_arguments.delta`), its `.done` events and `response.output_item.done`,
//! then `response.completed` (or `response.incomplete` when the output cap or a content filter
//! ended it). A broken stream ends with an `error` event and never a completion. A tool call's
//! item opens once its name is known; its argument fragments are keyed by the chunk's tool-call
//! index, so fragments without an id still land in order on the right call.

mod items;

use bytes::{BufMut, BytesMut};

use super::{
    response::{Echo, finalize},
    wire::{Event, OutputItem, Response},
};
use crate::{
    openai::wire::{Chunk, CompletionUsage},
    sse::{Translate, event_data, split_event},
};

/// Receives the complete Response once the stream completes (to store it).
pub type OnDone = Box<dyn FnOnce(&Response) + Send>;

/// The translation state of one stream, independent of any I/O.
pub struct Translator {
    response: Response,
    seq: u64,
    started: bool,
    /// The open message item: its output index.
    text: Option<usize>,
    calls: Vec<Call>,
    finish: Option<String>,
    usage: Option<CompletionUsage>,
    done: bool,
    on_done: Option<OnDone>,
}

struct Call {
    /// The chunk's tool-call index.
    index: u32,
    id: Option<String>,
    name: Option<String>,
    /// Arguments received before the item could open.
    pending: String,
    /// Its output index once opened.
    output: Option<usize>,
}

// === impl Translator ===

impl Translator {
    /// A translator for the Response `echo` describes, of model group `model`.
    pub fn new(echo: &Echo, model: &str, on_done: Option<OnDone>) -> Self {
        Self {
            response: echo.response(model, "in_progress"),
            seq: 0,
            started: false,
            text: None,
            calls: Vec::new(),
            finish: None,
            usage: None,
            done: false,
            on_done,
        }
    }

    fn next(&mut self) -> u64 {
        let n = self.seq;
        self.seq += 1;
        n
    }

    fn start(&mut self, out: &mut BytesMut) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let seq = self.next();
        write(
            out,
            &Event::Created {
                sequence_number: seq,
                response: &self.response,
            },
        );
        let seq = self.next();
        write(
            out,
            &Event::InProgress {
                sequence_number: seq,
                response: &self.response,
            },
        );
    }

    /// Translates one chat SSE event.
    pub fn event(&mut self, event: &[u8], out: &mut BytesMut) {
        let Some(data) = event_data(event) else {
            if event.starts_with(b":") {
                // Keep-alives (agent heartbeats) stay keep-alives.
                out.put_slice(event);
                out.put_slice(b"\n\n");
            }
            return;
        };
        if data.trim_ascii() == b"[DONE]" {
            self.complete(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Chunk>(&data) else {
            return; // unparsable: skipped, as the pass-through does
        };
        if let Some(e) = chunk.error {
            let code = e.code.unwrap_or(e.kind);
            self.fail(out, &code, &e.message);
            return;
        }
        self.start(out);
        if !chunk.model.is_empty() {
            self.response.model = chunk.model;
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return;
        };
        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
            self.text_delta(out, &text);
        }
        for delta in choice.delta.tool_calls.unwrap_or_default() {
            self.call_delta(out, delta);
        }
        if let Some(f) = choice.finish_reason {
            self.finish = Some(f);
        }
    }

    /// The answer is complete: close every item and send the completion.
    fn complete(&mut self, out: &mut BytesMut) {
        self.start(out);
        self.close_text(out);
        // Calls whose name never came still open, so no argument is lost.
        for slot in 0..self.calls.len() {
            if self.calls[slot].output.is_none() {
                self.open_call(out, slot);
            }
        }
        let mut opened: Vec<usize> = self.calls.iter().filter_map(|c| c.output).collect();
        opened.sort_unstable();
        for i in opened {
            let (s1, s2) = (self.next(), self.next());
            if let OutputItem::FunctionCall {
                id,
                name,
                arguments,
                status,
                ..
            } = &mut self.response.output[i]
            {
                *status = "completed".into();
                write(
                    out,
                    &Event::ArgumentsDone {
                        sequence_number: s1,
                        item_id: id,
                        output_index: i,
                        name,
                        arguments,
                    },
                );
            }
            write(
                out,
                &Event::ItemDone {
                    sequence_number: s2,
                    output_index: i,
                    item: &self.response.output[i],
                },
            );
        }
        finalize(
            &mut self.response,
            self.finish.as_deref(),
            self.usage.as_ref(),
        );
        let seq = self.next();
        let event = if self.response.status == "incomplete" {
            Event::Incomplete {
                sequence_number: seq,
                response: &self.response,
            }
        } else {
            Event::Completed {
                sequence_number: seq,
                response: &self.response,
            }
        };
        write(out, &event);
        self.done = true;
        if let Some(hook) = self.on_done.take() {
            hook(&self.response);
        }
    }

    /// The stream broke: an `error` event, and nothing after it.
    fn fail(&mut self, out: &mut BytesMut, code: &str, message: &str) {
        let seq = self.next();
        write(
            out,
            &Event::Error {
                sequence_number: seq,
                code,
                message,
                param: None,
            },
        );
        self.done = true;
    }
}

impl Translate for Translator {
    fn feed(&mut self, buf: &mut BytesMut, eof: bool, out: &mut BytesMut) {
        while !self.done {
            let Some(event) = split_event(buf, eof) else {
                break;
            };
            self.event(&event, out);
        }
        if eof && !self.done {
            self.fail(
                out,
                "upstream_stream_incomplete",
                "the stream ended before the response was complete",
            );
        }
        if self.done {
            buf.clear();
        }
    }

    fn done(&self) -> bool {
        self.done
    }
}

/// Writes `event: <type>` and its JSON data.
pub fn write(out: &mut BytesMut, event: &Event<'_>) {
    out.put_slice(b"event: ");
    out.put_slice(event.name().as_bytes());
    out.put_slice(b"\ndata: ");
    if serde_json::to_writer((&mut *out).writer(), event).is_err() {
        out.put_slice(br#"{"type":"error","code":"internal_error","message":"could not serialise an event","param":null}"#);
    }
    out.put_slice(b"\n\n");
}
