//! OpenAI chunk SSE (the gateway's own stream: usage read, `[DONE]` or an error event at the end)
//! -> Anthropic's event sequence, event by event as each arrives:
//!
//! `message_start`, then per block `content_block_start` / `content_block_delta` (`text_delta`,
//! `input_json_delta`) / `content_block_stop`, then `message_delta` (stop reason, usage) and
//! `message_stop`. A tool call opens its `tool_use` block once its name is known, so a server
//! that sends the id and the name in separate fragments still yields one complete block. An
//! in-band error becomes an `error` event; SSE comments (keep-alives) become `ping`s.

use axum::body::Body;
use bytes::{BufMut, BytesMut};
use serde::Serialize;

use super::response::{stop_reason, usage};
use crate::{
    openai::wire::{Chunk, CompletionUsage, ToolCallDelta},
    providers::anthropic::wire::{
        Block, BlockDelta, ErrorBody, MessageDelta, MessageResponse, StreamEvent,
    },
    sse::{AfterDone, Translate, Translated, event_data, split_event},
};

/// The translation state of one stream, independent of any I/O.
#[derive(Debug, Default)]
pub struct Translator {
    started: bool,
    next_block: u32,
    open: Option<Open>,
    /// A tool call seen before its name.
    pending: Option<Pending>,
    /// OpenAI tool-call index -> Anthropic block index, for calls whose block was opened.
    calls: Vec<(u32, u32)>,
    finish: Option<String>,
    usage: Option<CompletionUsage>,
    /// `message_stop` or an `error` event was written: nothing more follows.
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text(u32),
    Tool { block: u32, call: u32 },
}

#[derive(Debug, Default)]
struct Pending {
    call: u32,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

// === impl Translator ===

impl Translator {
    /// Takes the complete events out of `buf` (everything at `eof`) and writes their Anthropic
    /// translation to `out`. At `eof` the message is closed if it was not.
    pub fn feed(&mut self, buf: &mut BytesMut, eof: bool, out: &mut BytesMut) {
        while !self.done {
            let Some(event) = split_event(buf, eof) else {
                break;
            };
            self.event(&event, out);
        }
        if eof && !self.done {
            match self.finish {
                Some(_) => self.end(out),
                None => self.error(out, "api_error", "the upstream stream ended early"),
            }
        }
        if self.done {
            buf.clear();
        }
    }

    /// Translates one OpenAI SSE event.
    pub fn event(&mut self, event: &[u8], out: &mut BytesMut) {
        let Some(data) = event_data(event) else {
            if event.starts_with(b":") {
                write(out, &StreamEvent::Ping);
            }
            return;
        };
        if data.trim_ascii() == b"[DONE]" {
            self.end(out);
            return;
        }
        let Ok(chunk) = serde_json::from_slice::<Chunk>(&data) else {
            return; // unparsable: skipped, as the pass-through does
        };
        if let Some(e) = chunk.error {
            // An Anthropic upstream's own type travels in `code` (see the provider's error.rs).
            let kind = match (e.kind.as_str(), e.code.as_deref()) {
                (_, Some("overloaded_error")) => "overloaded_error",
                ("invalid_request_error", _) => "invalid_request_error",
                ("rate_limit_error", _) => "rate_limit_error",
                _ => "api_error",
            };
            self.error(out, kind, &e.message);
            return;
        }
        self.start(out, &chunk.id, &chunk.model);
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return;
        };
        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
            self.flush_pending(out);
            let index = match self.open {
                Some(Open::Text(index)) => index,
                Some(Open::Tool { .. }) | None => {
                    self.close(out);
                    let index = self.open_block(
                        out,
                        Block::Text {
                            text: String::new(),
                            cache_control: None,
                        },
                    );
                    self.open = Some(Open::Text(index));
                    index
                }
            };
            let delta = BlockDelta::TextDelta { text };
            write(out, &StreamEvent::ContentBlockDelta { index, delta });
        }
        for call in choice.delta.tool_calls.unwrap_or_default() {
            self.tool_call(out, call);
        }
        if let Some(finish) = choice.finish_reason {
            self.flush_pending(out);
            self.close(out);
            self.finish = Some(finish);
        }
    }

    fn tool_call(&mut self, out: &mut BytesMut, call: ToolCallDelta) {
        let (name, arguments) = match call.function {
            Some(f) => (
                f.name.filter(|n| !n.is_empty()),
                f.arguments.unwrap_or_default(),
            ),
            None => (None, String::new()),
        };
        if let Some(&(_, block)) = self.calls.iter().find(|(c, _)| *c == call.index) {
            if !arguments.is_empty() {
                let delta = BlockDelta::InputJsonDelta {
                    partial_json: arguments,
                };
                write(
                    out,
                    &StreamEvent::ContentBlockDelta {
                        index: block,
                        delta,
                    },
                );
            }
            return;
        }
        if self.pending.as_ref().is_some_and(|p| p.call != call.index) {
            self.flush_pending(out);
        }
        let pending = self.pending.get_or_insert_with(|| Pending {
            call: call.index,
            ..Pending::default()
        });
        pending.id = pending.id.take().or(call.id);
        pending.name = pending.name.take().or(name);
        pending.arguments.push_str(&arguments);
        if pending.name.is_some() {
            self.flush_pending(out);
        }
    }

    /// Opens the pending tool call's block (with what is known of it) and sends its arguments.
    fn flush_pending(&mut self, out: &mut BytesMut) {
        let Some(p) = self.pending.take() else {
            return;
        };
        self.close(out);
        let id =
            p.id.unwrap_or_else(|| format!("toolu_{:024x}", rand::random::<u128>() >> 32));
        let block = self.open_block(
            out,
            Block::ToolUse {
                id,
                name: p.name.unwrap_or_default(),
                input: serde_json::Value::Object(Default::default()),
            },
        );
        self.calls.push((p.call, block));
        self.open = Some(Open::Tool {
            block,
            call: p.call,
        });
        if !p.arguments.is_empty() {
            let delta = BlockDelta::InputJsonDelta {
                partial_json: p.arguments,
            };
            write(
                out,
                &StreamEvent::ContentBlockDelta {
                    index: block,
                    delta,
                },
            );
        }
    }

    fn start(&mut self, out: &mut BytesMut, id: &str, model: &str) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let message = MessageResponse {
            id: id.to_owned(),
            kind: "message".into(),
            role: "assistant".into(),
            model: model.to_owned(),
            ..MessageResponse::default()
        };
        write(out, &StreamEvent::MessageStart { message });
    }

    fn open_block(&mut self, out: &mut BytesMut, content_block: Block) -> u32 {
        let index = self.next_block;
        self.next_block += 1;
        write(
            out,
            &StreamEvent::ContentBlockStart {
                index,
                content_block,
            },
        );
        index
    }

    fn close(&mut self, out: &mut BytesMut) {
        if let Some(open) = self.open.take() {
            let index = match open {
                Open::Text(index) | Open::Tool { block: index, .. } => index,
            };
            write(out, &StreamEvent::ContentBlockStop { index });
        }
    }

    /// `message_delta` and `message_stop`.
    fn end(&mut self, out: &mut BytesMut) {
        self.flush_pending(out);
        self.close(out);
        self.start(out, "", "");
        let delta = MessageDelta {
            stop_reason: Some(stop_reason(self.finish.as_deref()).into()),
            stop_sequence: None,
        };
        let usage = usage(self.usage.as_ref());
        write(out, &StreamEvent::MessageDelta { delta, usage });
        write(out, &StreamEvent::MessageStop);
        self.done = true;
    }

    fn error(&mut self, out: &mut BytesMut, kind: &str, message: &str) {
        let error = ErrorBody {
            kind: kind.into(),
            message: message.into(),
        };
        write(out, &StreamEvent::Error { error });
        self.done = true;
    }
}

/// `event: <type>\ndata: <json>\n\n`.
fn write(out: &mut BytesMut, event: &StreamEvent) {
    #[derive(Serialize)]
    struct Ping {
        #[serde(rename = "type")]
        kind: &'static str,
    }
    let name = match event {
        StreamEvent::MessageStart { .. } => "message_start",
        StreamEvent::ContentBlockStart { .. } => "content_block_start",
        StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
        StreamEvent::ContentBlockStop { .. } => "content_block_stop",
        StreamEvent::MessageDelta { .. } => "message_delta",
        StreamEvent::MessageStop => "message_stop",
        StreamEvent::Ping | StreamEvent::Other => "ping",
        StreamEvent::Error { .. } => "error",
    };
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    // Writing plain structs into a buffer cannot fail.
    let _ = match event {
        StreamEvent::Other => serde_json::to_writer((&mut *out).writer(), &Ping { kind: "ping" }),
        _ => serde_json::to_writer((&mut *out).writer(), event),
    };
    out.put_slice(b"\n\n");
}

// === impl Translator (the body) ===

/// The gateway's OpenAI SSE body, read as Anthropic SSE.
pub(crate) type AnthropicStream = Translated<Translator>;

/// Wraps the gateway's OpenAI SSE body; it is read to its end, which completes it (cache, metrics).
pub(crate) fn anthropic_stream(inner: Body) -> AnthropicStream {
    Translated::new(inner, Translator::default(), AfterDone::Drain)
}

impl Translate for Translator {
    fn feed(&mut self, buf: &mut BytesMut, eof: bool, out: &mut BytesMut) {
        Translator::feed(self, buf, eof, out);
    }

    fn done(&self) -> bool {
        self.done
    }
}
