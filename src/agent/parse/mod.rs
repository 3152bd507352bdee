//! Tool calls that small models write as text instead of `tool_calls`, in every shape recorded
//! from them: a bare JSON object (one or several, one per line), a ```` ```json ```` fence,
//! `<tool_call>` or any other wrapper tag (`<response>`, `<tools>`, …), the double-brace
//! `{{"name": …}}` of a chat template, Python-style strings, and a result the model echoed after
//! its own call. Each call found is taken out of the text. A reply that clearly tries to call a
//! known tool but cannot be read is reported as an [`Attempt`], never taken for an answer.

mod lenient;
mod wrappers;

use serde_json::{Map, Value};

use crate::openai::canonical::canonical;

pub use lenient::{Forgiven, ReadError, value_at};

/// Text longer than this is only scanned up to here (a runaway reply).
const SCAN_BYTES: usize = 64 * 1024;
/// Failed reads before the scan gives up (each may read to the end of the text).
const MAX_FAILED_READS: usize = 32;

/// A tool call read from text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextCall {
    /// The tool name as written.
    pub name: String,
    /// The arguments (an object).
    pub arguments: Value,
}

/// A reply that tries to call a known tool but could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The tool it names.
    pub tool: String,
    /// What was wrong.
    pub error: String,
}

/// What a reply's text holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// The calls, in order, each once (a runaway reply repeats the same call line).
    pub calls: Vec<TextCall>,
    /// The text without the calls, their wrappers and any result the model echoed.
    pub rest: String,
    /// How the calls were written, for the trace (e.g. `tag:tool_call`, `python_strings`).
    pub shape: Vec<String>,
    /// Set when there is no call but the text clearly attempts one.
    pub attempt: Option<Attempt>,
}

/// The calls in `text`. `tools` are the names a call may use (tools and aliases): an object that
/// merely has a `name` is a call only when it names one of them or has arguments.
pub fn tool_calls_in(text: &str, tools: &[&str]) -> Parsed {
    let scanned = cut(text, SCAN_BYTES);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut calls: Vec<TextCall> = Vec::new();
    let mut forgiven: Vec<&'static str> = Vec::new();
    let mut first_error: Option<ReadError> = None;
    let (mut at, mut failed) = (0, 0);
    while let Some(offset) = scanned[at..].find(['{', '[']) {
        let start = at + offset;
        match value_at(scanned, start) {
            Ok((value, end, f)) => {
                let found = calls_in(value, tools, 0);
                if !found.is_empty() {
                    spans.push((start, end));
                    calls.extend(found);
                    forgiven.extend(f.names());
                }
                at = end.max(start + 1);
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e);
                if failed >= MAX_FAILED_READS {
                    break;
                }
                at = start + 1;
            }
        }
    }
    if calls.is_empty() {
        let attempt = attempt(scanned, tools, first_error.as_ref());
        return Parsed {
            calls,
            rest: text.trim().to_owned(),
            shape: Vec::new(),
            attempt,
        };
    }
    let (rest, mut shape) = wrappers::remove(text, &spans);
    forgiven.sort_unstable();
    forgiven.dedup();
    shape.extend(forgiven.into_iter().map(str::to_owned));
    let mut seen = Vec::new();
    calls.retain(|c| {
        let key = (c.name.clone(), canonical(c.arguments.clone()));
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    Parsed {
        calls,
        rest,
        shape,
        attempt: None,
    }
}

/// The ```` ```python ```` blocks of `text`, and the text without them.
pub fn python_blocks(text: &str) -> (Vec<String>, String) {
    let mut blocks = Vec::new();
    let mut rest = String::new();
    let mut at = 0;
    while let Some(open) = text[at..].find("```") {
        let open = at + open;
        let info_end = text[open + 3..]
            .find('\n')
            .map_or(text.len(), |n| open + 3 + n);
        let lang = text[open + 3..info_end].trim().to_ascii_lowercase();
        let Some(close) = text.get(info_end..).and_then(|t| t.find("```")) else {
            break;
        };
        let close = info_end + close;
        if matches!(lang.as_str(), "python" | "py" | "python3") {
            rest.push_str(&text[at..open]);
            let code = text[info_end..close].trim_matches('\n');
            if !code.trim().is_empty() {
                blocks.push(code.to_owned());
            }
        } else {
            rest.push_str(&text[at..close + 3]);
        }
        at = close + 3;
    }
    rest.push_str(&text[at..]);
    (blocks, rest.trim().to_owned())
}

/// `text` up to `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The calls a value holds: a call object, an array of them, or a wrapper object around them
/// (`{"tool_calls": [...]}`, `{"response": {...}}`), looked into a few levels deep.
fn calls_in(value: Value, tools: &[&str], depth: usize) -> Vec<TextCall> {
    match value {
        Value::Array(items) if depth < 3 => items
            .into_iter()
            .flat_map(|v| calls_in(v, tools, depth + 1))
            .collect(),
        Value::Object(map) => match as_call(map, tools) {
            Ok(call) => vec![call],
            Err(map) if depth < 3 => map
                .into_iter()
                .filter(|(_, v)| v.is_object() || v.is_array())
                .flat_map(|(_, v)| calls_in(v, tools, depth + 1))
                .collect(),
            Err(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// `{"name", "arguments"|"parameters"|"args"|"input"}` or `{"function": {"name", "arguments"}}`;
/// anything else is given back.
fn as_call(mut map: Map<String, Value>, tools: &[&str]) -> Result<TextCall, Map<String, Value>> {
    if let Some(Value::Object(f)) = map.get("function")
        && f.get("name").is_some_and(Value::is_string)
        && let Some(Value::Object(f)) = map.remove("function")
    {
        return as_call(f, tools);
    }
    let key = ["name", "tool", "tool_name"]
        .into_iter()
        .find(|k| map.get(*k).is_some_and(Value::is_string));
    let Some(key) = key else {
        return Err(map);
    };
    let args_key = ["arguments", "parameters", "args", "input"]
        .into_iter()
        .find(|k| map.contains_key(*k));
    let known = map
        .get(key)
        .and_then(Value::as_str)
        .is_some_and(|n| tools.contains(&n));
    if args_key.is_none() && !known {
        return Err(map);
    }
    let name = match map.remove(key) {
        Some(Value::String(n)) => n,
        _ => return Err(map),
    };
    let arguments = match args_key.and_then(|k| map.remove(k)) {
        // Some models send the arguments as a JSON string, as the API does.
        Some(Value::String(s)) => match value_at(&s, 0) {
            Ok((v, end, _)) if s[end..].trim().is_empty() => v,
            _ => Value::String(s),
        },
        Some(v) => v,
        None => Value::Object(Map::new()),
    };
    Ok(TextCall { name, arguments })
}

/// Whether `text`, which holds no readable call, clearly tries to call one of `tools`: it names
/// the tool and has the marks of a call (a call tag, or a `name`/`arguments` key).
fn attempt(text: &str, tools: &[&str], error: Option<&ReadError>) -> Option<Attempt> {
    let lower = text.to_ascii_lowercase();
    let marked = [
        "<tool_call",
        "<function",
        "\"name\"",
        "'name'",
        "\"arguments\"",
        "'arguments'",
    ]
    .iter()
    .any(|m| lower.contains(m))
        || text.trim_start().starts_with('{');
    if !marked {
        return None;
    }
    let tool = tools.iter().find(|t| names_word(text, t))?;
    let error = match error {
        Some(e) => format!("it is not valid JSON ({e})"),
        None => "no JSON object with \"name\" and \"arguments\" was found".to_owned(),
    };
    Some(Attempt {
        tool: (*tool).to_owned(),
        error,
    })
}

/// Whether `word` occurs in `text` as a whole word.
fn names_word(text: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

#[cfg(test)]
mod tests;
