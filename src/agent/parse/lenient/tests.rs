//! Unit tests of the forgiving JSON reader.
use serde_json::json;

use super::*;

fn read(text: &str) -> (Value, Vec<&'static str>) {
    let (v, end, forgiven) = value_at(text, 0).unwrap();
    assert_eq!(text[end..].trim(), "", "read to the end of {text:?}");
    (v, forgiven.names())
}

#[test]
fn strict_json_is_read_as_json() {
    let text = r#"{"name": "exec_python", "arguments": {"code": "print(\"a\\nb\")", "n": [1, -2.5e3, true, null]}}"#;
    let (v, forgiven) = read(text);
    assert_eq!(v, serde_json::from_str::<Value>(text).unwrap());
    assert!(forgiven.is_empty());
}

#[test]
fn python_strings_concatenation_and_raw_newlines() {
    let (v, f) = read("{\"code\": \"\"\"import math\nprint(\"x\\n\")\n\"\"\"}");
    assert_eq!(v, json!({"code": "import math\nprint(\"x\\n\")\n"}));
    assert_eq!(f, ["python_strings"]);
    let (v, _) =
        read("{\"code\": \"\"\"\n    import math\n    if True:\n        print(1)\n    \"\"\"}");
    assert_eq!(
        v,
        json!({"code": "\nimport math\nif True:\n    print(1)\n"}),
        "dedented"
    );
    let (v, f) = read("{'code': 'print(1)'}");
    assert_eq!(v, json!({"code": "print(1)"}));
    assert_eq!(f, ["python_strings"]);
    let (v, f) = read("{\"code\": \"a = 1\\n\" +\n  \"print(a)\" \"\\n\"}");
    assert_eq!(v, json!({"code": "a = 1\nprint(a)\n"}));
    assert_eq!(f, ["string_concatenation"]);
    let (v, f) = read("{\"code\": \"for i in range(3):\n\tprint(i)\"}");
    assert_eq!(v, json!({"code": "for i in range(3):\n\tprint(i)"}));
    assert_eq!(f, ["raw_newlines"]);
}

#[test]
fn double_braces_loose_syntax_and_a_cut_end() {
    let (v, f) = read(r#"{{"name": "exec_python", "arguments": {"code": "print(1)"}}}"#);
    assert_eq!(
        v,
        json!({"name": "exec_python", "arguments": {"code": "print(1)"}})
    );
    assert_eq!(f, ["double_brace"]);
    let (v, f) = read("{name: 'x', ok: True, none: None, list: [1, 2,],}");
    assert_eq!(
        v,
        json!({"name": "x", "ok": true, "none": null, "list": [1, 2]})
    );
    assert_eq!(f, ["python_strings", "loose_syntax"]);
    let (v, f) = read(r#"{"name": "exec_python", "arguments": {"code": "print(1)""#);
    assert_eq!(
        v,
        json!({"name": "exec_python", "arguments": {"code": "print(1)"}})
    );
    assert_eq!(f, ["unclosed"]);
}

#[test]
fn errors_say_what_and_where() {
    let e = value_at("{\"code\": \"print(1)}", 0).unwrap_err();
    assert_eq!(e.to_string(), "unterminated string at line 1, column 10");
    let e = value_at("{\"a\" 1}", 0).unwrap_err();
    assert!(e.message.contains("expected `:`"), "{e}");
    let e = value_at("{\"a\": 1 \"b\": 2}", 0).unwrap_err();
    assert!(e.message.contains("expected `,` or `}`"), "{e}");
    let deep = "[".repeat(1000);
    assert!(
        value_at(&deep, 0).is_err(),
        "deep nesting is refused, not a stack overflow"
    );
    assert!(value_at("{\"a\": \"\\ud83d\\ude00\"}", 0).is_ok());
}
