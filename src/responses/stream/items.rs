//! Opening, growing and closing output items as text and tool-call fragments arrive.

use bytes::BytesMut;

use super::{Call, Translator, write};
use crate::{
    openai::wire::ToolCallDelta,
    responses::{
        response::{item_status, output_text},
        wire::{Event, OutputContent, OutputItem, new_id},
    },
};

// === impl Translator ===

impl Translator {
    pub(super) fn text_delta(&mut self, out: &mut BytesMut, text: &str) {
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

    pub(super) fn call_delta(&mut self, out: &mut BytesMut, delta: ToolCallDelta) {
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

    pub(super) fn open_call(&mut self, out: &mut BytesMut, slot: usize) {
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

    pub(super) fn arguments_delta(&mut self, out: &mut BytesMut, index: usize, fragment: &str) {
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

    pub(super) fn close_text(&mut self, out: &mut BytesMut) {
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
}
