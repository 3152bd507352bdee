//! Each shape as small models (Qwen2.5-Coder 0.5B/1.5B through llama.cpp) wrote it.

use serde_json::json;

use super::*;

const TOOLS: &[&str] = &["exec_python", "python"];

fn parse(text: &str) -> Parsed {
    tool_calls_in(text, TOOLS)
}

fn one(text: &str) -> (TextCall, Parsed) {
    let p = parse(text);
    assert_eq!(p.calls.len(), 1, "{text:?} -> {p:?}");
    (p.calls[0].clone(), p)
}

fn python(code: &str) -> TextCall {
    TextCall {
        name: "exec_python".into(),
        arguments: json!({"code": code}),
    }
}

#[test]
fn bare_json() {
    let (call, p) = one(r#"{"name": "exec_python", "arguments": {"code": "print(17*23)"}}"#);
    assert_eq!(call, python("print(17*23)"));
    assert_eq!(
        (p.rest.as_str(), p.shape.as_slice()),
        ("", ["bare_json".to_owned()].as_slice())
    );
    // Pretty-printed over several lines, after a sentence.
    let (call, p) = one(
        "Sure! Here is the call:\n{\n  \"name\": \"exec_python\",\n  \"arguments\": {\n    \"code\": \"print(2**10)\"\n  }\n}",
    );
    assert_eq!(call, python("print(2**10)"));
    assert_eq!(p.rest, "Sure! Here is the call:");
}

#[test]
fn fenced_json() {
    let (call, p) = one(
        "I'll run it.\n```json\n{\"name\": \"python\", \"parameters\": {\"code\": \"1+1\"}}\n```\nDone.",
    );
    assert_eq!(call.name, "python");
    assert_eq!(p.rest, "I'll run it.\n\nDone.");
    assert_eq!(p.shape, ["fenced"]);
}

#[test]
fn tool_call_tags_and_other_wrappers() {
    let (call, p) = one(
        "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": \"{\\\"code\\\": \\\"x\\\"}\"}\n</tool_call>",
    );
    assert_eq!(call, python("x"));
    assert_eq!(
        (p.rest.as_str(), p.shape[0].as_str()),
        ("", "tag:tool_call")
    );
    let (call, p) = one(
        "<response>\n<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(391)\"}}\n</tool_call>\n</response>",
    );
    assert_eq!(call, python("print(391)"));
    assert_eq!(p.rest, "");
    assert_eq!(p.shape, ["tag:tool_call", "tag:response"]);
    let (_, p) =
        one("<tools>{\"name\": \"exec_python\", \"arguments\": {\"code\": \"1\"}}</tools>");
    assert_eq!(p.rest, "");
    // A reply cut by max_tokens: the tag never closes.
    let (call, p) =
        one("<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(1)\"}}");
    assert_eq!(call, python("print(1)"));
    assert_eq!(p.rest, "");
    let (call, _) = one(
        r#"<tool_call>{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}</tool_call>"#,
    );
    assert_eq!(call.name, "get_weather");
    let (call, _) = one(
        r#"{"tool_calls": [{"type": "function", "function": {"name": "exec_python", "arguments": "{\"code\": \"1\"}"}}]}"#,
    );
    assert_eq!(call, python("1"));
}

#[test]
fn the_double_brace_of_qwens_chat_template() {
    let (call, p) = one(
        "<tool_call>\n{{\"name\": \"exec_python\", \"arguments\": {\"code\": \"import hashlib\\nprint(hashlib.sha256(b'abc').hexdigest())\"}}}\n</tool_call>",
    );
    assert_eq!(
        call,
        python("import hashlib\nprint(hashlib.sha256(b'abc').hexdigest())")
    );
    assert!(
        p.shape.contains(&"double_brace".to_owned()),
        "{:?}",
        p.shape
    );
}

#[test]
fn python_style_strings() {
    let (call, p) = one(
        "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"\"\"\nfrom datetime import date\nprint((date(2025, 12, 25) - date(2025, 1, 1)).days)\n\"\"\"}}\n</tool_call>",
    );
    assert_eq!(
        call,
        python(
            "\nfrom datetime import date\nprint((date(2025, 12, 25) - date(2025, 1, 1)).days)\n"
        )
    );
    assert!(p.shape.contains(&"python_strings".to_owned()));
    let (call, p) = one(
        "{\"name\": \"exec_python\", \"arguments\": {\"code\": \"x = 17 * 23\\n\" + \"print(x)\"}}",
    );
    assert_eq!(call, python("x = 17 * 23\nprint(x)"));
    assert!(p.shape.contains(&"string_concatenation".to_owned()));
    let (call, p) = one(
        "{\"name\": \"exec_python\", \"arguments\": {\"code\": \"total = 0\nfor i in range(1, 11):\n    total += i\nprint(total)\"}}",
    );
    assert_eq!(
        call,
        python("total = 0\nfor i in range(1, 11):\n    total += i\nprint(total)")
    );
    assert!(p.shape.contains(&"raw_newlines".to_owned()));
    let (call, _) = one("{'name': 'exec_python', 'arguments': {'code': 'print(7)'}}");
    assert_eq!(call, python("print(7)"));
}

#[test]
fn a_result_the_model_echoed_after_its_call_is_dropped() {
    let (call, p) = one(
        "{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(17*23)\"}}\n{\"rc\": 0, \"stdout\": \"391\\n\", \"stderr\": \"\", \"timed_out\": false}",
    );
    assert_eq!(call, python("print(17*23)"));
    assert_eq!(p.rest, "");
    assert!(p.shape.contains(&"echoed_result".to_owned()));
    let (_, p) = one(
        "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(1)\"}}\n</tool_call>\n<tool_response>\n1\n</tool_response>",
    );
    assert_eq!(p.rest, "");
    let (_, p) = one(
        "{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(1)\"}}\nOutput: 1\nThe answer is 1.",
    );
    assert_eq!(p.rest, "The answer is 1.");
}

#[test]
fn a_runaway_reply_that_repeats_its_call_line_is_one_call() {
    let line = "{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(17*23)\"}}\n{\"rc\": 0, \"stdout\": \"391\\n\"}\n";
    let p = parse(&line.repeat(300));
    assert_eq!(p.calls, [python("print(17*23)")]);
    assert_eq!(p.rest, "");
    let p = parse(
        "{\"name\": \"python\", \"arguments\": {\"code\": \"a\"}}\n{\"name\": \"python\", \"arguments\": {\"code\": \"b\"}}",
    );
    assert_eq!(p.calls.len(), 2, "different calls are kept");
}

#[test]
fn arguments_given_as_the_schema_are_read_as_written() {
    // The loop decides what to do with them; the parser only reads them.
    let (call, _) = one(
        r#"{"name": "exec_python", "arguments": {"type": "object", "properties": {"code": "print(1)"}}}"#,
    );
    assert_eq!(call.arguments["properties"]["code"], "print(1)");
}

#[test]
fn an_unreadable_attempt_is_reported() {
    let p = parse(
        "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(\"hi\")\"}}\n</tool_call>",
    );
    assert!(p.calls.is_empty());
    let a = p.attempt.expect("an attempt");
    assert_eq!(a.tool, "exec_python");
    assert!(a.error.contains("not valid JSON"), "{}", a.error);
    let p = parse("<tool_call>exec_python(code=\"print(1)\")</tool_call>");
    assert_eq!(p.attempt.map(|a| a.tool), Some("exec_python".to_owned()));
}

#[test]
fn prose_and_data_are_left_alone() {
    for text in [
        "The answer is 42.",
        "I used exec_python to compute it: 17 * 23 = 391.",
        "The set {1, 2, 3} has three elements.",
        "Use a dict like {'a': 1}.",
    ] {
        let p = parse(text);
        assert_eq!((p.calls.len(), p.attempt.is_none()), (0, true), "{text}");
        assert_eq!(p.rest, text);
    }
    let p = parse(r#"{"name": "Ada", "age": 36}"#);
    assert!(
        p.calls.is_empty(),
        "an object with a name is data unless it names a tool or has arguments"
    );
    let p = parse("```json\n{\"totals\": [1, 2]}\n```");
    assert!(p.calls.is_empty());
}

#[test]
fn python_blocks_are_found() {
    let (blocks, rest) =
        python_blocks("Let me compute:\n```python\nprint(17*23)\n```\nand\n```json\n{}\n```");
    assert_eq!(blocks, ["print(17*23)"]);
    assert_eq!(rest, "Let me compute:\n\nand\n```json\n{}\n```");
    let (blocks, _) = python_blocks("no code here");
    assert!(blocks.is_empty());
}
