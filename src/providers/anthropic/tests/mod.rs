//! Fixture tests of each translation direction (`tests/fixtures/anthropic/`, recorded in
//! Anthropic's documented wire format).

mod error;
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
