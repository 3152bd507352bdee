//! What the mock answers beyond text, by documented rule (docs/providers.md, "The mock"):
//!
//! - **Tool calls.** A request with `tools` whose last message is the user's and names one of the
//!   tools (or whose `tool_choice` is `required` or names a function) is answered with a call to
//!   each named tool (only the first when `parallel_tool_calls` is false), arguments generated
//!   from the tool's parameter schema. After a tool result the answer quotes it.
//! - **Structured output.** `response_format` `json_schema` is answered with JSON valid against the
//!   schema; `json_object` with a JSON object holding the text.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Message;

/// A tool call the mock makes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Call {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) arguments: String,
}

#[derive(Deserialize)]
pub(super) struct Tool {
    #[serde(default)]
    function: Option<Function>,
}

#[derive(Deserialize)]
struct Function {
    name: String,
    #[serde(default)]
    parameters: Option<Value>,
}

/// The calls to make for this conversation, if the rule says so.
pub(super) fn tool_calls(
    messages: &[Message],
    tools: &[Tool],
    tool_choice: Option<&Value>,
    parallel: bool,
    last_text: &str,
    seed: &str,
) -> Vec<Call> {
    let functions: Vec<&Function> = tools.iter().filter_map(|t| t.function.as_ref()).collect();
    if functions.is_empty() || messages.last().is_none_or(|m| m.role != "user") {
        return Vec::new();
    }
    let named = tool_choice
        .and_then(|c| c.pointer("/function/name"))
        .and_then(Value::as_str);
    let mut chosen: Vec<&Function> = match (tool_choice.and_then(Value::as_str), named) {
        (Some("none"), _) => return Vec::new(),
        (_, Some(name)) => functions
            .iter()
            .copied()
            .filter(|f| f.name == name)
            .collect(),
        _ => functions
            .iter()
            .copied()
            .filter(|f| last_text.contains(&f.name))
            .collect(),
    };
    if chosen.is_empty() && tool_choice.and_then(Value::as_str) == Some("required") {
        chosen.push(functions[0]);
    }
    if !parallel {
        chosen.truncate(1);
    }
    chosen
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let schema = f
                .parameters
                .clone()
                .unwrap_or_else(|| json!({"type": "object"}));
            Call {
                id: format!("call_mock_{i}_{}", &seed[..seed.len().min(16)]),
                name: f.name.clone(),
                arguments: example(&schema, &schema, 0).to_string(),
            }
        })
        .collect()
}

/// The answer text for `response_format`, if it asks for JSON.
pub(super) fn formatted(response_format: Option<&Value>, text: &str) -> Option<String> {
    let format = response_format?;
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => {
            let schema = format.pointer("/json_schema/schema")?;
            Some(example(schema, schema, 0).to_string())
        }
        "json_object" => Some(json!({ "answer": text }).to_string()),
        _ => None,
    }
}

/// A value valid against `schema` (`root` resolves `$ref`s): every property present, the first
/// enum value or alternative, one array item, minimums honoured.
pub(super) fn example(schema: &Value, root: &Value, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference.trim_start_matches('#');
        return root
            .pointer(pointer)
            .map_or(Value::Null, |s| example(s, root, depth + 1));
    }
    if let Some(v) = schema.get("const") {
        return v.clone();
    }
    if let Some(v) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return v.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let pick = options
                .iter()
                .find(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                .or(options.first());
            if let Some(o) = pick {
                return example(o, root, depth + 1);
            }
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    let minimum = schema.get("minimum").and_then(Value::as_f64);
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, sub) in props {
                    out.insert(name.clone(), example(sub, root, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            let item = schema
                .get("items")
                .map_or(json!("mock"), |s| example(s, root, depth + 1));
            Value::Array(vec![item; min.min(8) as usize])
        }
        "integer" => json!(minimum.map_or(1, |m| m.ceil() as i64)),
        "number" => json!(minimum.unwrap_or(1.0)),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => {
            let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            json!(format!("{:x<min$}", "mock"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_follows_refs_enums_and_types() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 3},
                "when": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Day"}]},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["city", "unit", "days", "when", "tags"],
            "$defs": {"Day": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
        });
        let v = example(&schema, &schema, 0);
        assert_eq!(
            v,
            json!({"city": "mock", "unit": "celsius", "days": 3, "when": {"ok": true}, "tags": ["mock"]})
        );
    }
}
