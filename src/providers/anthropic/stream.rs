//! Anthropic SSE -> OpenAI `chat.completion.chunk` SSE, event by event as each arrives (never
//! buffering the stream). The gateway's SSE pass-through (`sse::SseBody`) then wraps the result
//! exactly as it wraps an OpenAI upstream: usage, `[DONE]`, cuts and rescue.
//!
//! | Anthropic event | OpenAI chunk |
//! | --- | --- |
//! | `message_start` | `delta: {role: assistant, content: ""}` |
//! | `content_block_start` `tool_use` | `tool_calls: [{index, id, type, function: {name, arguments: ""}}]` |
//! | `content_block_delta` `text_delta` | `delta: {content}` |
//! | `content_block_delta` `input_json_delta` | `tool_calls: [{index, function: {arguments}}]` |
//! | `content_block_delta` `thinking_delta` | `delta: {reasoning_content}` |
//! | `message_delta` | `finish_reason`, then the usage chunk (`choices: []`) |
//! | `message_stop` | `data: [DONE]` |
//! | `ping` | an SSE comment (keeps idle timers fed) |
//! | `error` | `data: {"error": {...}}`, and the stream ends |
//!
//! The usage chunk is always sent; the pass-through drops it when the client did not ask.

use axum::body::Body;
use bytes::{BufMut, BytesMut};

use super::{
    error::openai_body,
    response::{finish_reason, usage},
    wire::{Block, BlockDelta, StreamEvent, Usage},
};
use crate::{
    openai::wire::{Chunk, ChunkChoice, Delta, FunctionDelta, ToolCallDelta},
    sse::{AfterDone, Translate, Translated, event_data, split_event},
};

/// The translation state of one stream, independent of any I/O.
#[derive(Debug, Default)]
pub(super) struct Translator {
    id: String,
    model: String,
    created: u64,
    /// Anthropic block index -> OpenAI tool-call index, for `tool_use` blocks.
    tools: Vec<(u32, u32)>,
    usage: Usage,
    /// `message_stop` or an error event was translated: nothing more follows.
    pub(super) done: bool,
}

// === impl Translator ===

impl Translator {
    /// A translator for a stream started at `created` (Unix seconds).
    pub(super) fn new(created: u64) -> Self {
        Self {
            created,
            ..Self::default()
        }
    }

    /// Takes the complete events out of `buf` (everything at `eof`) and writes their OpenAI
    /// translation to `out`.
    pub(super) fn feed(&mut self, buf: &mut BytesMut, eof: bool, out: &mut BytesMut) {
        while !self.done {
            let Some(event) = split_event(buf, eof) else {
                return;
            };
            self.event(&event, out);
        }
        buf.clear(); // anything after the end is not part of the answer
    }

    /// Translates one SSE event. Unparsable or unknown events are skipped, never fatal.
    pub(super) fn event(&mut self, event: &[u8], out: &mut BytesMut) {
        let Some(data) = event_data(event) else {
            return; // a comment or an `event:` line alone
        };
        let Ok(event) = serde_json::from_slice::<StreamEvent>(&data) else {
            tracing::debug!("skipping an unparsable Anthropic stream event");
            return;
        };
        match event {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                self.usage = message.usage;
                self.chunk(
                    out,
                    Delta {
                        role: Some("assistant".into()),
                        content: Some(String::new()),
                        ..Delta::default()
                    },
                    None,
                );
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                Block::Text { text, .. } if !text.is_empty() => self.text(out, text),
                Block::Thinking { thinking, .. } if !thinking.is_empty() => {
                    self.reasoning(out, thinking);
                }
                Block::ToolUse { id, name, .. } => {
                    let n = self.tools.len() as u32;
                    self.tools.push((index, n));
                    let call = ToolCallDelta {
                        index: n,
                        id: Some(id),
                        kind: Some("function".into()),
                        function: Some(FunctionDelta {
                            name: Some(name),
                            arguments: Some(String::new()),
                        }),
                    };
                    self.tool_delta(out, call);
                }
                Block::Text { .. }
                | Block::Thinking { .. }
                | Block::Image { .. }
                | Block::Document { .. }
                | Block::ToolResult { .. }
                | Block::RedactedThinking { .. }
                | Block::Other => {}
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } if !text.is_empty() => self.text(out, text),
                BlockDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                    self.reasoning(out, thinking);
                }
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    let Some(&(_, n)) = self.tools.iter().find(|(block, _)| *block == index) else {
                        return; // a server tool's input: not a client tool call
                    };
                    let call = ToolCallDelta {
                        index: n,
                        function: Some(FunctionDelta {
                            name: None,
                            arguments: Some(partial_json),
                        }),
                        ..ToolCallDelta::default()
                    };
                    self.tool_delta(out, call);
                }
                BlockDelta::TextDelta { .. }
                | BlockDelta::ThinkingDelta { .. }
                | BlockDelta::InputJsonDelta { .. }
                | BlockDelta::Other => {}
            },
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Other => {}
            StreamEvent::MessageDelta { delta, usage: u } => {
                // Cumulative counts; a field absent here keeps the value from `message_start`.
                self.usage.output_tokens = u.output_tokens;
                if u.input_tokens > 0 {
                    self.usage.input_tokens = u.input_tokens;
                }
                if u.cache_read_input_tokens.is_some() {
                    self.usage.cache_read_input_tokens = u.cache_read_input_tokens;
                }
                if u.cache_creation_input_tokens.is_some() {
                    self.usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
                }
                let finish = finish_reason(delta.stop_reason.as_deref());
                self.chunk(out, Delta::default(), Some(finish));
                let chunk = Chunk {
                    usage: Some(usage(&self.usage)),
                    ..self.envelope()
                };
                write_data(out, &chunk);
            }
            StreamEvent::MessageStop => {
                out.put_slice(b"data: [DONE]\n\n");
                self.done = true;
            }
            StreamEvent::Ping => out.put_slice(b": ping\n\n"),
            StreamEvent::Error { error } => {
                out.put_slice(b"data: ");
                out.put_slice(&openai_body(&error));
                out.put_slice(b"\n\n");
                self.done = true;
            }
        }
    }

    fn text(&self, out: &mut BytesMut, text: String) {
        let delta = Delta {
            content: Some(text),
            ..Delta::default()
        };
        self.chunk(out, delta, None);
    }

    fn reasoning(&self, out: &mut BytesMut, text: String) {
        let delta = Delta {
            reasoning_content: Some(text),
            ..Delta::default()
        };
        self.chunk(out, delta, None);
    }

    fn tool_delta(&self, out: &mut BytesMut, call: ToolCallDelta) {
        let delta = Delta {
            tool_calls: Some(vec![call]),
            ..Delta::default()
        };
        self.chunk(out, delta, None);
    }

    fn chunk(&self, out: &mut BytesMut, delta: Delta, finish: Option<&str>) {
        let chunk = Chunk {
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: finish.map(str::to_owned),
            }],
            ..self.envelope()
        };
        write_data(out, &chunk);
    }

    fn envelope(&self) -> Chunk {
        Chunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            ..Chunk::default()
        }
    }
}

fn write_data(out: &mut BytesMut, chunk: &Chunk) {
    out.put_slice(b"data: ");
    // Writing plain structs into a buffer cannot fail.
    let _ = serde_json::to_writer((&mut *out).writer(), chunk);
    out.put_slice(b"\n\n");
}

// === impl Translator (the body) ===

/// An upstream Anthropic SSE body, read as OpenAI chunk SSE.
pub(super) type OpenAiStream = Translated<Translator>;

/// Wraps an upstream Anthropic SSE body of a stream started at `created` (Unix seconds).
pub(super) fn openai_stream(inner: Body, created: u64) -> OpenAiStream {
    Translated::new(inner, Translator::new(created), AfterDone::TakeIfReady)
}

impl Translate for Translator {
    fn feed(&mut self, buf: &mut BytesMut, eof: bool, out: &mut BytesMut) {
        Translator::feed(self, buf, eof, out);
    }

    fn done(&self) -> bool {
        self.done
    }
}
