//! Who is calling.

use crate::{config::Config, wildcard};

/// Who is calling. Never holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// No keys are configured: the gateway is open.
    Anonymous,
    /// The master key.
    Master,
    /// Virtual key number `n` of `switchyard_settings.keys`.
    Virtual(usize),
}

// === impl Identity ===

impl Identity {
    /// Whether this caller may use model group `model`.
    pub fn allows(&self, config: &Config, model: &str) -> bool {
        match self {
            Self::Anonymous | Self::Master => true,
            Self::Virtual(n) => config.keys.get(*n).is_some_and(|k| {
                // A key's entry may itself be a wildcard (`anthropic/*`), as in LiteLLM.
                k.models.is_empty()
                    || k.models
                        .iter()
                        .any(|m| m == model || wildcard::captures(m, model).is_some())
            }),
        }
    }

    /// A bounded, secret-free name for logs and cache tenancy.
    pub fn label(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".into(),
            Self::Master => "master".into(),
            Self::Virtual(n) => format!("key-{n}"),
        }
    }
}
