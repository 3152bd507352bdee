//! Tool calls that small models write as text instead of `tool_calls`: a bare JSON object, a
//! ```json fence, or `<tool_call>…</tool_call>` tags. Each call found is taken out of the text.

use serde_json::{Map, Value};

/// A tool call read from text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextCall {
    /// The tool name as written.
    pub name: String,
    /// The arguments (an object).
    pub arguments: Value,
}

/// The calls in `text`, and the text without them. `known` says whether a name is a tool (or an
/// alias), so a JSON object that merely has a `name` is not taken for a call.
pub fn tool_calls_in(text: &str, known: &dyn Fn(&str) -> bool) -> (Vec<TextCall>, String) {
    let mut calls = Vec::new();
    let mut rest = text.to_owned();
    for (open, close) in [
        ("<tool_call>", "</tool_call>"),
        ("```json", "```"),
        ("```", "```"),
    ] {
        while let Some(start) = rest.find(open) {
            let body_start = start + open.len();
            let Some(len) = rest[body_start..].find(close) else {
                break;
            };
            let body = &rest[body_start..body_start + len];
            let found: Vec<TextCall> = objects(body)
                .into_iter()
                .filter_map(|v| as_call(v, known))
                .collect();
            if found.is_empty() {
                break; // a fence holding something else: leave it in the text
            }
            calls.extend(found);
            rest.replace_range(start..body_start + len + close.len(), "");
        }
    }
    if calls.is_empty() {
        let trimmed = rest.trim();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let found: Vec<TextCall> = objects(trimmed)
                .into_iter()
                .filter_map(|v| as_call(v, known))
                .collect();
            if !found.is_empty() {
                return (found, String::new());
            }
        }
    }
    (calls, rest.trim().to_owned())
}

/// The JSON values in `body`: one value, or one per line (several tool calls).
fn objects(body: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(body.trim()) {
        Ok(Value::Array(items)) => items,
        Ok(v) => vec![v],
        Err(_) => body
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .collect(),
    }
}

/// `{"name", "arguments"|"parameters"|"args"|"input"}` or `{"function": {"name", "arguments"}}`.
fn as_call(value: Value, known: &dyn Fn(&str) -> bool) -> Option<TextCall> {
    let Value::Object(mut map) = value else {
        return None;
    };
    if let Some(Value::Object(f)) = map.remove("function") {
        return as_call(Value::Object(f), known);
    }
    let name = match map.remove("name").or_else(|| map.remove("tool")) {
        Some(Value::String(n)) => n,
        _ => return None,
    };
    let args = ["arguments", "parameters", "args", "input"]
        .iter()
        .find_map(|k| map.remove(*k));
    if args.is_none() && !known(&name) {
        return None;
    }
    let arguments = match args {
        // Some models send the arguments as a JSON string, as the API does.
        Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Some(v) => v,
        None => Value::Object(Map::new()),
    };
    Some(TextCall { name, arguments })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> (Vec<TextCall>, String) {
        tool_calls_in(text, &|n| ["exec_python", "python"].contains(&n))
    }

    #[test]
    fn reads_the_shapes_small_models_write() {
        let (calls, rest) = parse(r#"{"name": "exec_python", "arguments": {"code": "print(1)"}}"#);
        assert_eq!(
            calls,
            [TextCall {
                name: "exec_python".into(),
                arguments: json!({"code": "print(1)"})
            }]
        );
        assert_eq!(rest, "");

        let (calls, rest) = parse(
            "I'll run it.\n```json\n{\"name\": \"python\", \"parameters\": {\"code\": \"1+1\"}}\n```\nDone.",
        );
        assert_eq!(calls[0].name, "python");
        assert_eq!(rest, "I'll run it.\n\nDone.");

        let (calls, _) = parse(
            "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": \"{\\\"code\\\": \\\"x\\\"}\"}\n</tool_call>",
        );
        assert_eq!(calls[0].arguments, json!({"code": "x"}));

        let (calls, _) = parse(
            r#"<tool_call>{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}</tool_call>"#,
        );
        assert_eq!(calls[0].name, "get_weather");

        let (calls, _) = parse(
            "```\n{\"name\": \"a\", \"arguments\": {}}\n{\"name\": \"b\", \"arguments\": {}}\n```",
        );
        assert_eq!(calls.len(), 2);
    }

    #[test]
    fn leaves_ordinary_text_and_data_alone() {
        let (calls, rest) = parse("The answer is 42.");
        assert!(calls.is_empty());
        assert_eq!(rest, "The answer is 42.");
        let (calls, rest) = parse(r#"{"name": "Ada", "age": 36}"#);
        assert!(
            calls.is_empty(),
            "an object with a name is data unless it names a tool or has arguments"
        );
        assert_eq!(rest, r#"{"name": "Ada", "age": 36}"#);
        let (calls, _) = parse("```json\n{\"totals\": [1, 2]}\n```");
        assert!(calls.is_empty());
    }
}
