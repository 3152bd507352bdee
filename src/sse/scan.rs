//! SSE event framing and the judgement of each event: forward, drop, or (while a restarted
//! answer replays text the client already has) trim.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use tokio::time::Instant;

use super::StreamEnd;
use crate::openai::stream::ChunkView;

/// How the events of the current upstream relate to what the client already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mode {
    /// The original upstream (or a prefill continuation): forward as is.
    Forward,
    /// A restarted answer: its first `sent.len()` bytes of text must equal what was sent; they
    /// are swallowed and only what extends them is forwarded. `matched` counts bytes checked.
    Replay { matched: usize },
    /// A continuation whose role chunk and empty deltas are dropped until text arrives.
    Continue,
}

/// Which event stream it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `chat.completion.chunk`s, ending in `[DONE]`.
    Chat,
    /// Responses API events, ending in `response.completed` / `response.incomplete` (or
    /// `response.failed` / `error`).
    Responses,
}

/// The members of a Responses API event the scanner reads.
#[derive(Deserialize)]
struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    sequence_number: Option<u64>,
    #[serde(default)]
    response: Option<ResponseUsage>,
}

#[derive(Deserialize)]
struct ResponseUsage {
    #[serde(default)]
    usage: Option<crate::openai::chat::ResponsesUsage>,
}

/// What the scanner learned and holds across calls.
#[derive(Debug)]
pub(super) struct Scanner {
    pub(super) dialect: Dialect,
    /// Responses: the `sequence_number` an event of the gateway's own would take next.
    pub(super) next_seq: u64,
    pub(super) keep_usage_chunk: bool,
    pub(super) mode: Mode,
    /// A `finish_reason` was seen.
    pub(super) finished: bool,
    /// `[DONE]` was seen.
    pub(super) done: bool,
    /// An upstream error event was forwarded.
    pub(super) errored: bool,
    /// The text forwarded so far (kept only when a rescue is possible).
    pub(super) sent: Option<String>,
    /// Tool calls or several choices were forwarded: text alone cannot continue this answer.
    pub(super) unrescuable: bool,
    /// A restarted answer diverged from the text already sent.
    pub(super) diverged: bool,
    /// Rebuilds the complete answer (for the cache), when asked for.
    pub(super) assembler: Option<super::assemble::Assembler>,
}

enum Verdict {
    Keep,
    Drop,
    Replace(Bytes),
}

impl Scanner {
    /// Takes every complete event out of `buf` (everything when `eof`) and returns the bytes to
    /// forward. Events are forwarded without copying unless one is dropped or changed.
    pub(super) fn take_events(
        &mut self,
        buf: &mut BytesMut,
        end: &mut StreamEnd,
        eof: bool,
    ) -> Option<Bytes> {
        let mut spans: Vec<(usize, usize, Verdict)> = Vec::new();
        let mut pos = 0;
        while !self.done && !self.diverged {
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
            let verdict = self.judge(&buf[pos..pos + len], end);
            spans.push((pos, len + delim, verdict));
            pos += len + delim;
        }
        let block = buf.split_to(pos).freeze();
        if eof || self.done || self.diverged {
            buf.clear(); // a partial event at EOF was judged above; anything after [DONE] is dropped
        }
        if !eof && spans.iter().all(|(_, _, v)| matches!(v, Verdict::Keep)) {
            if self.assembler.is_some() {
                for (start, len, _) in &spans {
                    self.assemble(&block[*start..*start + *len]);
                }
            }
            return (!block.is_empty()).then_some(block);
        }
        let mut out = BytesMut::with_capacity(block.len() + 2);
        for (start, len, verdict) in spans {
            let event = match verdict {
                Verdict::Keep => block.slice(start..start + len),
                Verdict::Replace(bytes) => bytes,
                Verdict::Drop => continue,
            };
            self.assemble(&event);
            out.put_slice(&event);
            if !event.ends_with(b"\n\n") {
                out.put_slice(b"\n\n");
            }
        }
        (!out.is_empty()).then(|| out.freeze())
    }

    /// Feeds every complete event of `bytes` to the assembler.
    pub(super) fn assemble_events(&mut self, bytes: &[u8]) {
        let mut pos = 0;
        while let Some((len, delim)) = find_event_end(&bytes[pos..]) {
            self.assemble(&bytes[pos..pos + len]);
            pos += len + delim;
        }
    }

    /// Feeds a forwarded event to the assembler, if there is one.
    fn assemble(&mut self, event: &[u8]) {
        if let Some(assembler) = &mut self.assembler {
            if let Some(data) = event_data(event).filter(|d| d.trim_ascii() != b"[DONE]") {
                assembler.feed(&data);
            }
        }
    }

    /// A Responses API event: always forwarded as is; its type says whether the answer is
    /// complete, failed or has started its content. Never rescuable mid-answer.
    fn judge_responses(&mut self, event: &[u8], end: &mut StreamEnd) -> Verdict {
        self.unrescuable = true;
        let Some(data) = event_data(event) else {
            return Verdict::Keep;
        };
        let Ok(e) = serde_json::from_slice::<ResponsesEvent<'_>>(&data) else {
            return Verdict::Keep;
        };
        if let Some(n) = e.sequence_number {
            self.next_seq = self.next_seq.max(n + 1);
        }
        match &*e.kind {
            "response.completed" | "response.incomplete" => {
                if let Some(u) = e.response.and_then(|r| r.usage) {
                    end.usage = Some(u.into());
                }
                self.finished = true;
                self.done = true;
            }
            "response.failed" | "error" => self.errored = true,
            "response.output_item.added"
            | "response.output_text.delta"
            | "response.function_call_arguments.delta"
            | "response.reasoning_summary_text.delta"
            | "response.refusal.delta"
                if end.first_content.is_none() =>
            {
                end.first_content = Some(Instant::now());
            }
            _ => {}
        }
        Verdict::Keep
    }

    fn judge(&mut self, event: &[u8], end: &mut StreamEnd) -> Verdict {
        // Bytes that are not SSE text never reach the client (a client's decoder would raise on
        // them before it saw the error event).
        if std::str::from_utf8(event).is_err() {
            return Verdict::Drop;
        }
        if self.dialect == Dialect::Responses {
            return self.judge_responses(event, end);
        }
        let Some(data) = event_data(event) else {
            // A comment or a field without data is kept; any other line is not SSE.
            return if event.split(|&b| b == b'\n').all(is_sse_line) {
                Verdict::Keep
            } else {
                Verdict::Drop
            };
        };
        if data.trim_ascii() == b"[DONE]" {
            self.done = true;
            return Verdict::Keep;
        }
        let Ok(chunk) = serde_json::from_slice::<ChunkView<'_>>(&data) else {
            return Verdict::Drop;
        };
        if chunk.error.is_some() {
            self.errored = true;
            // An upstream's error event may quote a configured key.
            return match crate::secret::redact(event) {
                Cow::Borrowed(_) => Verdict::Keep,
                Cow::Owned(clean) => Verdict::Replace(Bytes::from(clean)),
            };
        }
        if let Some(usage) = chunk.usage {
            end.usage = Some(usage);
            if chunk.choices.is_empty() && !self.keep_usage_chunk {
                return Verdict::Drop;
            }
        }
        if chunk.finishes() {
            self.finished = true;
        }
        let text = chunk
            .choices
            .first()
            .and_then(|c| c.delta.as_ref())
            .and_then(|d| d.content.as_deref())
            .unwrap_or("");
        if chunk
            .choices
            .iter()
            .any(|c| c.index != 0 || c.delta.as_ref().is_some_and(|d| d.tool_calls.is_some()))
        {
            self.unrescuable = true;
        }
        let verdict = match &mut self.mode {
            Mode::Forward => Verdict::Keep,
            Mode::Continue if text.is_empty() && !chunk.finishes() => Verdict::Drop,
            Mode::Continue => {
                self.mode = Mode::Forward;
                Verdict::Keep
            }
            Mode::Replay { matched } => {
                let sent = self.sent.as_deref().unwrap_or("");
                let rest = &sent[(*matched).min(sent.len())..];
                if text.len() <= rest.len() {
                    if !rest.starts_with(text) {
                        self.diverged = true;
                        return Verdict::Drop;
                    }
                    *matched += text.len();
                    // Swallowed entirely, unless it also ends the answer.
                    if !chunk.finishes() {
                        return Verdict::Drop;
                    }
                    Verdict::Replace(with_content(&data, ""))
                } else if !text.starts_with(rest) {
                    self.diverged = true;
                    return Verdict::Drop;
                } else {
                    let extension = &text[rest.len()..];
                    let replaced = with_content(&data, extension);
                    self.mode = Mode::Forward;
                    // What extends the text is new to the client: record it below.
                    if let Some(sent) = &mut self.sent {
                        sent.push_str(extension);
                    }
                    if end.first_content.is_none() {
                        end.first_content = Some(Instant::now());
                    }
                    return Verdict::Replace(replaced);
                }
            }
        };
        if matches!(verdict, Verdict::Keep) {
            if let Some(sent) = &mut self.sent {
                sent.push_str(text);
            }
            if end.first_content.is_none() && chunk.has_content() {
                end.first_content = Some(Instant::now());
            }
        }
        verdict
    }
}

/// The event `data` with the first choice's `delta.content` set to `content`.
fn with_content(data: &[u8], content: &str) -> Bytes {
    let mut v: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
    if let Some(delta) = v.pointer_mut("/choices/0/delta") {
        delta["content"] = serde_json::Value::String(content.to_owned());
    }
    Bytes::from(format!("data: {v}\n\n"))
}

/// Splits the next complete event off `buf` (without its blank line); at `eof`, whatever is
/// left counts as a last event. For the translators that read SSE event by event.
pub(crate) fn split_event(buf: &mut BytesMut, eof: bool) -> Option<Bytes> {
    match find_event_end(buf) {
        Some((len, delim)) => {
            let event = buf.split_to(len).freeze();
            let _ = buf.split_to(delim);
            Some(event)
        }
        None if eof && !buf.iter().all(u8::is_ascii_whitespace) => Some(buf.split().freeze()),
        None => {
            if eof {
                buf.clear();
            }
            None
        }
    }
}

/// Whether `line` (without its `\n`) is an SSE comment, a field, or blank.
fn is_sse_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.is_empty()
        || line.starts_with(b":")
        || [&b"event:"[..], b"id:", b"retry:", b"data:"]
            .iter()
            .any(|f| line.starts_with(f))
        || [&b"event"[..], b"id", b"retry", b"data"].contains(&line)
}

/// Whether `bytes` holds the end of an event. The caller passes the newly arrived bytes plus
/// the 3 before them, so each byte of a long event is searched once, not once per read.
pub(crate) fn has_event_end(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\n\n").is_some()
        || memchr::memmem::find(bytes, b"\r\n\r\n").is_some()
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
pub(crate) fn event_data(event: &[u8]) -> Option<Cow<'_, [u8]>> {
    let mut lines = event.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let rest = line.strip_prefix(b"data:")?;
        Some(rest.strip_prefix(b" ").unwrap_or(rest))
    });
    let first = lines.next()?;
    match lines.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = first.to_vec();
            for l in std::iter::once(second).chain(lines) {
                joined.push(b'\n');
                joined.extend_from_slice(l);
            }
            Some(Cow::Owned(joined))
        }
    }
}
