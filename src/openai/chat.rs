//! The typed view of a chat or embeddings request the gateway needs, and token usage.

use serde::{Deserialize, Serialize};

use super::JsonBody;
use crate::error::GatewayError;

/// The fields the gateway itself reads; everything else passes through in `JsonBody`.
#[derive(Debug, Clone)]
pub struct ChatView {
    /// The public model name asked for.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true`.
    pub include_usage: bool,
}

/// Token usage of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Completion tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
    /// `prompt_tokens_details`: how many of the prompt tokens were read from a prompt cache.
    #[serde(
        default,
        deserialize_with = "lenient_details",
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Prompt tokens written to a prompt cache (Anthropic, as LiteLLM reports it); part of
    /// `prompt_tokens`.
    #[serde(
        default,
        deserialize_with = "lenient_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_creation_input_tokens: Option<u64>,
}

/// `prompt_tokens_details` (only what pricing reads; other members are not kept).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens served from the provider's prompt cache; part of `prompt_tokens`.
    #[serde(default)]
    pub cached_tokens: u64,
}

/// A token count, or `None` for anything else (`null`, a string): a vendor's odd detail never
/// makes a whole answer unreadable.
fn lenient_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_u64())
}

/// `prompt_tokens_details`, or `None` when it is missing, `null` or not an object.
fn lenient_details<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<PromptTokensDetails>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value.as_object().map(|o| PromptTokensDetails {
        cached_tokens: o
            .get("cached_tokens")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
    }))
}

/// Reads `usage` out of a complete (non-stream) answer; anything not JSON is an error.
#[derive(Deserialize)]
pub struct UsageOnly {
    /// The usage block, if the upstream reported one.
    #[serde(default)]
    pub usage: Option<Usage>,
}

// === impl ChatView ===

impl ChatView {
    /// Reads the gateway's fields from a chat body; `needs` names the required array member
    /// (`messages` for chat, `input` for embeddings).
    pub fn read(body: &JsonBody, needs: &'static str) -> Result<Self, GatewayError> {
        let model = match body.field::<String>("model") {
            Ok(Some(m)) if !m.trim().is_empty() => m,
            Ok(_) => {
                return Err(GatewayError::InvalidRequest {
                    message: "you must provide a model parameter".into(),
                    param: Some("model"),
                    code: "missing_model",
                });
            }
            Err(_) => {
                return Err(GatewayError::InvalidRequest {
                    message: "`model` must be a string".into(),
                    param: Some("model"),
                    code: "invalid_type",
                });
            }
        };
        let stream = body
            .field::<bool>("stream")
            .map_err(|_| GatewayError::InvalidRequest {
                message: "`stream` must be a boolean".into(),
                param: Some("stream"),
                code: "invalid_type",
            })?;
        match (needs, body.get(needs)) {
            (_, None | Some("null")) => {
                return Err(GatewayError::InvalidRequest {
                    message: format!("Missing required parameter: '{needs}'."),
                    param: Some(needs),
                    code: "missing_required_parameter",
                });
            }
            ("messages", Some(v)) if !v.starts_with('[') => {
                return Err(GatewayError::InvalidRequest {
                    message: "`messages` must be an array of message objects".into(),
                    param: Some("messages"),
                    code: "invalid_type",
                });
            }
            _ => {}
        }
        Ok(Self {
            model,
            stream: stream.unwrap_or(false),
            include_usage: body.asks_usage(),
        })
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn read(s: &'static str) -> Result<ChatView, GatewayError> {
        ChatView::read(
            &JsonBody::parse(Bytes::from_static(s.as_bytes()))?,
            "messages",
        )
    }

    #[test]
    fn reads_and_rejects() {
        let v = read(
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert!(v.stream && v.include_usage && v.model == "m");
        assert_eq!(
            read(r#"{"messages":[]}"#).unwrap_err().code(),
            "missing_model"
        );
        assert_eq!(
            read(r#"{"model":3,"messages":[]}"#).unwrap_err().code(),
            "invalid_type"
        );
        assert_eq!(
            read(r#"{"model":"m"}"#).unwrap_err().code(),
            "missing_required_parameter"
        );
        assert_eq!(
            read(r#"{"model":"m","messages":"hi"}"#).unwrap_err().code(),
            "invalid_type"
        );
        assert_eq!(
            read(r#"{"model":"m","messages":[],"stream":"yes"}"#)
                .unwrap_err()
                .code(),
            "invalid_type"
        );
    }
}
