//! Providers: how one deployment is spoken to. One OpenAI-compatible adapter serves every vendor
//! that speaks the OpenAI wire format (differences are rows of the `Profile` table in
//! `model/profile.rs`; `ProviderKind` is in `model/` too); `mock` is
//! built in; `anthropic` is a native API translated both ways. Every provider answers in OpenAI
//! format.

pub mod anthropic;
pub mod by_prefix;
pub mod mock;
pub mod openai_compat;

use std::sync::Arc;

use crate::{config::DeploymentConfig, model::ProviderKind, proxy::Provider, upstream::HttpClient};

/// Gateway-only body fields, stripped before forwarding (SPEC §7).
pub const GATEWAY_FIELDS: &[&str] = &["cache", "agent"];

/// Builds the adapter for one deployment.
pub fn build(cfg: &DeploymentConfig, client: &HttpClient) -> Result<Arc<dyn Provider>, String> {
    if !cfg.by_prefix.is_empty() {
        return Ok(Arc::new(by_prefix::ByPrefix::new(cfg, client)?));
    }
    Ok(match cfg.provider {
        ProviderKind::OpenAiCompat(profile) => Arc::new(openai_compat::OpenAiCompat::new(
            profile,
            cfg,
            client.clone(),
        )?),
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(cfg, client.clone())?),
        ProviderKind::Mock => Arc::new(mock::Mock::new(cfg)),
    })
}
