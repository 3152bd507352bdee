//! Fixture tests of each translation direction (`tests/fixtures/anthropic/`, recorded in
//! Anthropic's documented wire format).

mod error;
mod fuzz;
mod request;
mod response;
mod stream;

use bytes::Bytes;

use super::*;

/// A fixture file's text.
fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/anthropic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

fn body(text: &str) -> crate::openai::JsonBody {
    crate::openai::JsonBody::parse(Bytes::from(text.to_owned())).unwrap()
}

#[test]
fn messages_url_tolerates_litellm_bases() {
    for base in [
        "https://api.anthropic.com",
        "https://api.anthropic.com/",
        "https://api.anthropic.com/v1",
        "https://api.anthropic.com/v1/messages",
    ] {
        assert_eq!(
            messages_url(base),
            "https://api.anthropic.com/v1/messages",
            "{base}"
        );
    }
}

#[test]
fn unknown_block_and_event_types_and_null_usage_are_tolerated() {
    use wire::{Block, BlockDelta, StreamEvent};
    let b: Block = serde_json::from_str(
        r#"{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}}"#,
    )
    .unwrap();
    assert!(matches!(b, Block::Other));
    let d: BlockDelta =
        serde_json::from_str(r#"{"type":"citations_delta","citation":{"cited_text":"x"}}"#)
            .unwrap();
    assert!(matches!(d, BlockDelta::Other));
    let e: StreamEvent = serde_json::from_str(
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},
            "usage":{"input_tokens":null,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"output_tokens":15,"server_tool_use":null}}"#,
    )
    .unwrap();
    let StreamEvent::MessageDelta { usage, .. } = e else {
        panic!("{e:?}")
    };
    assert_eq!((usage.input_tokens, usage.output_tokens), (0, 15));
}
