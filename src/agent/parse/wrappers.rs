//! Taking calls out of a reply's text: with the fence or tags around them (`<tool_call>`,
//! `<response>`, any tag that closes right after the call, or a call tag left open by a cut
//! reply), and with any result the model echoed after its own call (`<tool_response>…`, a
//! `{"rc": …, "stdout": …}` line, `Output: …`).

use serde_json::Value;

use super::value_at;

/// Tags that mark a call even when left open (a cut reply) or closed without an opener.
const CALL_TAGS: &[&str] = &[
    "tool_call",
    "tool_calls",
    "function_call",
    "functioncall",
    "function",
    "tool",
    "tools",
];
/// Tags that hold a result the model made up.
const ECHO_TAGS: &[&str] = &[
    "tool_response",
    "tool_result",
    "tool_output",
    "output",
    "result",
    "observation",
];
/// Line starts of a result the model made up.
const ECHO_LINES: &[&str] = &[
    "result:",
    "output:",
    "observation:",
    "tool output:",
    "tool result:",
    "stdout:",
];

/// `text` without the calls at `spans` (byte ranges, in order, not overlapping), their wrappers
/// and echoed results; and how they were written.
pub(super) fn remove(text: &str, spans: &[(usize, usize)]) -> (String, Vec<String>) {
    let mut rest = String::new();
    let mut shape: Vec<String> = Vec::new();
    let mut lo = 0;
    for (i, &(start, end)) in spans.iter().enumerate() {
        let hi = spans.get(i + 1).map_or(text.len(), |s| s.0);
        let (start, end, wrapped) = unwrap(text, lo, start, end, hi, &mut shape);
        if !wrapped {
            shape.push("bare_json".into());
        }
        rest.push_str(&text[lo..start]);
        let after = strip_echo(text, end, hi);
        if after > end {
            shape.push("echoed_result".into());
        }
        lo = after;
    }
    rest.push_str(&text[lo..]);
    let mut seen = Vec::new();
    shape.retain(|s| {
        let new = !seen.contains(s);
        seen.push(s.clone());
        new
    });
    (rest.trim().to_owned(), shape)
}

/// Grows `start..end` over the fences and tags around it, within `lo..hi`.
fn unwrap(
    text: &str,
    lo: usize,
    mut start: usize,
    mut end: usize,
    hi: usize,
    shape: &mut Vec<String>,
) -> (usize, usize, bool) {
    let mut wrapped = false;
    loop {
        let before = text[lo..start].trim_end();
        let after_at = end + (text[end..hi].len() - text[end..hi].trim_start().len());
        let after = &text[after_at..hi];
        // A fence: ```json … ``` (any or no language).
        if let Some(k) = before.rfind("```")
            && before[k + 3..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && after.starts_with("```")
        {
            (start, end) = (lo + k, after_at + 3);
            shape.push("fenced".into());
            wrapped = true;
            continue;
        }
        // A tag: <name> … </name>, or a call tag left open.
        let tag = before
            .strip_suffix('>')
            .and_then(|b| b.rfind('<').map(|k| (k, &b[k + 1..])))
            .filter(|(_, name)| tag_name(name));
        if let Some((k, name)) = tag {
            let close = format!("</{name}>");
            if after.starts_with(&close) {
                (start, end) = (lo + k, after_at + close.len());
            } else if CALL_TAGS.contains(&name) {
                start = lo + k;
            } else {
                return (start, end, wrapped);
            }
            shape.push(format!("tag:{name}"));
            wrapped = true;
            continue;
        }
        // A call tag closed without its opener.
        if let Some(name) = CALL_TAGS
            .iter()
            .find(|n| after.starts_with(&format!("</{n}>")))
        {
            end = after_at + name.len() + 3;
            shape.push(format!("tag:{name}"));
            wrapped = true;
            continue;
        }
        return (start, end, wrapped);
    }
}

fn tag_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '|' | ':'))
}

/// Where the text after a call continues once a result the model echoed is skipped.
fn strip_echo(text: &str, mut at: usize, hi: usize) -> usize {
    let mut kept = at;
    loop {
        let rest = &text[at..hi];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        let lower = trimmed
            .get(..trimmed.len().min(32))
            .unwrap_or(trimmed)
            .to_ascii_lowercase();
        if let Some(tag) = ECHO_TAGS
            .iter()
            .find(|t| lower.starts_with(&format!("<{t}>")))
        {
            let close = format!("</{tag}>");
            at = trimmed.find(&close).map_or(hi, |n| at + n + close.len());
        } else if trimmed.starts_with('{')
            && let Ok((Value::Object(m), end, _)) = value_at(text, at)
            && end <= hi
            && (m.contains_key("stdout")
                || m.contains_key("rc")
                || (m.contains_key("ok") && (m.contains_key("result") || m.contains_key("error"))))
        {
            at = end;
        } else if ECHO_LINES.iter().any(|p| lower.starts_with(p)) {
            at = trimmed.find('\n').map_or(hi, |n| at + n);
        } else {
            return kept;
        }
        kept = at;
    }
}
