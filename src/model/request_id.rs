//! The request id.

use std::sync::Arc;

use http::HeaderValue;

/// The request id: the client's `x-request-id` when usable, else generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// The client's id if it is short printable ASCII, else a fresh one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value.and_then(|v| v.to_str().ok()) {
            Some(s)
                if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Self(s.into())
            }
            _ => Self::generate(),
        }
    }

    /// A fresh random id (128 bits, hex).
    pub fn generate() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()).into())
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
