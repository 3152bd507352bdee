//! Reading one model reply: native tool calls, calls written as text (in every shape the parser
//! knows), a call attempt that could not be read, or a ```` ```python ```` block run as code when
//! `run_code_blocks` is on; and the words the loop says back to a model that got it wrong.

use serde_json::{Map, Value, json};

use super::{Call, ModelReply};
use crate::agent::{
    parse::{Attempt, python_blocks, tool_calls_in},
    tools::Toolbox,
};

/// What a reply asks for.
pub(super) struct Read {
    /// The calls (native, or read from the text).
    pub(super) calls: Vec<Call>,
    /// The text without the calls.
    pub(super) text: String,
    /// A call to a known tool that could not be read.
    pub(super) attempt: Option<Attempt>,
    /// How text calls were written (empty for native calls and plain text).
    pub(super) shape: Vec<String>,
}

/// Reads `reply`; `code_blocks` says whether a python block counts as an `exec_python` call.
/// Made-up call ids come from `next_id`.
pub(super) fn read(
    reply: &ModelReply,
    toolbox: &Toolbox,
    code_blocks: bool,
    next_id: &mut dyn FnMut() -> String,
) -> Read {
    if !reply.tool_calls.is_empty() {
        return Read {
            calls: reply.tool_calls.clone(),
            text: reply.content.trim().to_owned(),
            attempt: None,
            shape: Vec::new(),
        };
    }
    let parsed = tool_calls_in(&reply.content, &toolbox.call_names());
    if !parsed.calls.is_empty() || parsed.attempt.is_some() {
        let calls = parsed
            .calls
            .into_iter()
            .map(|c| Call {
                id: next_id(),
                name: c.name,
                arguments: c.arguments,
            })
            .collect();
        return Read {
            calls,
            text: parsed.rest,
            attempt: parsed.attempt,
            shape: parsed.shape,
        };
    }
    if code_blocks && toolbox.knows("exec_python") {
        let (blocks, rest) = python_blocks(&reply.content);
        if !blocks.is_empty() {
            let calls = blocks
                .into_iter()
                .map(|code| Call {
                    id: next_id(),
                    name: "exec_python".into(),
                    arguments: json!({"code": code}),
                })
                .collect();
            return Read {
                calls,
                text: rest,
                attempt: None,
                shape: vec!["python_block".into()],
            };
        }
    }
    Read {
        calls: Vec::new(),
        text: reply.content.trim().to_owned(),
        attempt: None,
        shape: Vec::new(),
    }
}

/// The one sentence that tells a model why its call could not be read.
pub(super) fn correction(attempt: &Attempt, toolbox: &Toolbox) -> String {
    let shape = toolbox.find(&attempt.tool).map_or_else(
        || "{...}".to_owned(),
        |t| expected_shape(&t.spec().parameters),
    );
    format!(
        "Your last reply tried to call `{}` but could not be read because {}; to call the tool, reply with only {{\"name\": \"{}\", \"arguments\": {shape}}} as valid JSON, or else answer in plain text.",
        attempt.tool, attempt.error, attempt.tool
    )
}

/// Arguments that are the tool's schema (`{"properties": {"code": …}}`) rather than values:
/// `None` when they are not; the values when the schema carries them; otherwise what to tell the
/// model.
pub(super) fn schema_arguments(
    arguments: &Value,
    schema: &Value,
    tool: &str,
) -> Option<Result<Value, String>> {
    let Some(Value::Object(props)) = arguments.get("properties") else {
        return None;
    };
    let wanted = schema.get("properties").and_then(Value::as_object);
    if wanted.is_some_and(|w| w.contains_key("properties")) {
        return None; // a tool that really takes `properties`
    }
    let mut values = Map::new();
    for (k, v) in props {
        match v {
            Value::Object(o) if o.contains_key("type") || o.contains_key("description") => {
                if let Some(x) = ["value", "default", "const", "example"]
                    .iter()
                    .find_map(|f| o.get(*f))
                {
                    values.insert(k.clone(), x.clone());
                }
            }
            other => {
                values.insert(k.clone(), other.clone());
            }
        }
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |r| r.iter().filter_map(Value::as_str).collect());
    if !values.is_empty() && required.iter().all(|r| values.contains_key(*r)) {
        return Some(Ok(Value::Object(values)));
    }
    Some(Err(format!(
        "You sent the tool's schema instead of its arguments: call `{tool}` with arguments shaped like {}.",
        expected_shape(schema)
    )))
}

/// `{"code": <string>}` for a JSON schema: its required properties (or all) and their types.
pub(super) fn expected_shape(schema: &Value) -> String {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return "{}".into();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |r| r.iter().filter_map(Value::as_str).collect());
    let fields: Vec<String> = props
        .iter()
        .filter(|(k, _)| required.is_empty() || required.contains(&k.as_str()))
        .map(|(k, p)| {
            let ty = match (p.get("type").and_then(Value::as_str), p.get("items")) {
                (Some("array"), Some(items)) => format!(
                    "array of {}",
                    items
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("values")
                ),
                (Some(t), _) => t.to_owned(),
                (None, _) => "value".to_owned(),
            };
            format!("\"{k}\": <{ty}>")
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}
