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

use bytes::{BufMut, BytesMut};

use super::{
    response::{Echo, finalize, item_status, output_text},
    wire::{Event, OutputContent, OutputItem, Response, new_id},
};
use crate::{
    openai::wire::{Chunk, CompletionUsage, ToolCallDelta},
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

    fn text_delta(&mut self, out: &mut BytesMut, text: &str) {
        let index = match self.text {
            Some(i) => i,
            None => {
                let i = self.response.output.len();
                self.response.output.push(OutputItem::Message {
                    id: new_id("msg"),
                    status: "in_progress".into(),
                    role: "assistant".into(),
                    content: Vec::new(),
                });
                let seq = self.next();
                write(
                    out,
                    &Event::ItemAdded {
                        sequence_number: seq,
                        output_index: i,
                        item: &self.response.output[i],
                    },
                );
                let part = output_text(String::new());
                let seq = self.next();
                if let OutputItem::Message { id, .. } = &self.response.output[i] {
                    write(
                        out,
                        &Event::PartAdded {
                            sequence_number: seq,
                            item_id: id,
                            output_index: i,
                            content_index: 0,
                            part: &part,
                        },
                    );
                }
                if let OutputItem::Message { content, .. } = &mut self.response.output[i] {
                    content.push(part);
                }
                self.text = Some(i);
                i
            }
        };
        let seq = self.next();
        if let OutputItem::Message { id, content, .. } = &mut self.response.output[index] {
            write(
                out,
                &Event::TextDelta {
                    sequence_number: seq,
                    item_id: id,
                    output_index: index,
                    content_index: 0,
                    delta: text,
                    logprobs: [],
                },
            );
            if let Some(OutputContent::OutputText { text: all, .. }) = content.first_mut() {
                all.push_str(text);
            }
        }
    }

    fn call_delta(&mut self, out: &mut BytesMut, delta: ToolCallDelta) {
        let (name, arguments) = delta
            .function
            .map(|f| (f.name, f.arguments))
            .unwrap_or_default();
        // The call this fragment continues: the same index, unless it names a different id.
        let slot = self.calls.iter().rposition(|c| {
            c.index == delta.index
                && match (&delta.id, &c.id) {
                    (Some(new), Some(old)) => new == old,
                    _ => true,
                }
        });
        let slot = match slot {
            Some(s) => s,
            None => {
                self.calls.push(Call {
                    index: delta.index,
                    id: None,
                    name: None,
                    pending: String::new(),
                    output: None,
                });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[slot];
        if call.id.is_none() {
            call.id = delta.id.filter(|id| !id.is_empty());
        }
        if call.name.is_none() {
            call.name = name.filter(|n| !n.is_empty());
        }
        let fragment = arguments.unwrap_or_default();
        match call.output {
            Some(i) => self.arguments_delta(out, i, &fragment),
            None => {
                call.pending.push_str(&fragment);
                if call.name.is_some() {
                    self.open_call(out, slot);
                }
            }
        }
    }

    fn open_call(&mut self, out: &mut BytesMut, slot: usize) {
        self.close_text(out);
        let i = self.response.output.len();
        let call = &mut self.calls[slot];
        call.output = Some(i);
        let pending = std::mem::take(&mut call.pending);
        self.response.output.push(OutputItem::FunctionCall {
            id: new_id("fc"),
            call_id: call.id.clone().unwrap_or_else(|| new_id("call")),
            name: call.name.clone().unwrap_or_default(),
            arguments: String::new(),
            status: "in_progress".into(),
        });
        let seq = self.next();
        write(
            out,
            &Event::ItemAdded {
                sequence_number: seq,
                output_index: i,
                item: &self.response.output[i],
            },
        );
        self.arguments_delta(out, i, &pending);
    }

    fn arguments_delta(&mut self, out: &mut BytesMut, index: usize, fragment: &str) {
        if fragment.is_empty() {
            return;
        }
        let seq = self.next();
        if let OutputItem::FunctionCall { id, arguments, .. } = &mut self.response.output[index] {
            write(
                out,
                &Event::ArgumentsDelta {
                    sequence_number: seq,
                    item_id: id,
                    output_index: index,
                    delta: fragment,
                },
            );
            arguments.push_str(fragment);
        }
    }

    fn close_text(&mut self, out: &mut BytesMut) {
        let Some(i) = self.text.take() else { return };
        let status = item_status(self.finish.as_deref());
        let (s1, s2, s3) = (self.next(), self.next(), self.next());
        if let OutputItem::Message {
            id,
            content,
            status: st,
            ..
        } = &mut self.response.output[i]
        {
            *st = status.into();
            if let Some(part @ OutputContent::OutputText { text, .. }) = content.first() {
                write(
                    out,
                    &Event::TextDone {
                        sequence_number: s1,
                        item_id: id,
                        output_index: i,
                        content_index: 0,
                        text,
                        logprobs: [],
                    },
                );
                write(
                    out,
                    &Event::PartDone {
                        sequence_number: s2,
                        item_id: id,
                        output_index: i,
                        content_index: 0,
                        part,
                    },
                );
            }
        }
        write(
            out,
            &Event::ItemDone {
                sequence_number: s3,
                output_index: i,
                item: &self.response.output[i],
            },
        );
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
