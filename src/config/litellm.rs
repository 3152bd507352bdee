//! Raw serde structs mirroring the LiteLLM proxy's `config.yaml` (plus `switchyard_settings`).
//!
//! Every field is optional here; `validate.rs` applies defaults and checks. Keys not listed are
//! collected by `serde_ignored` in `mod.rs` and reported as warnings, never as errors.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawConfig {
    pub(crate) model_list: Vec<RawDeployment>,
    pub(crate) router_settings: RawRouterSettings,
    pub(crate) litellm_settings: RawLitellmSettings,
    pub(crate) general_settings: RawGeneralSettings,
    pub(crate) switchyard_settings: RawSwitchyardSettings,
}

/// One `model_list` entry.
#[derive(Debug, Deserialize)]
pub(crate) struct RawDeployment {
    pub(crate) model_name: String,
    pub(crate) litellm_params: RawLitellmParams,
    #[serde(default)]
    pub(crate) model_info: RawModelInfo,
}

/// `litellm_params` of a deployment.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawLitellmParams {
    pub(crate) model: String,
    pub(crate) api_base: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) api_version: Option<String>,
    pub(crate) rpm: Option<u64>,
    pub(crate) tpm: Option<u64>,
    pub(crate) weight: Option<f64>,
    pub(crate) timeout: Option<f64>,
    pub(crate) input_cost_per_token: Option<f64>,
    pub(crate) output_cost_per_token: Option<f64>,
    pub(crate) mock_response: Option<String>,
    pub(crate) mock_latency_ms: Option<u64>,
    pub(crate) mock_chunk_delay_ms: Option<u64>,
    pub(crate) mock_error_status: Option<u16>,
    pub(crate) mock_fail_first: Option<u32>,
    pub(crate) mock_retry_after_seconds: Option<u64>,
    pub(crate) mock_embedding_dims: Option<usize>,
}

/// `model_info` of a deployment.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawModelInfo {
    pub(crate) id: Option<StringOrNumber>,
    pub(crate) supports_assistant_prefill: Option<bool>,
    pub(crate) input_cost_per_token: Option<f64>,
    pub(crate) output_cost_per_token: Option<f64>,
    /// LiteLLM's `mode: embedding` marks an embedding-only deployment.
    pub(crate) mode: Option<String>,
}

/// A YAML scalar that LiteLLM configs write either way (`id: 7` or `id: "7"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum StringOrNumber {
    String(String),
    Int(i64),
    Float(f64),
}

/// `router_settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawRouterSettings {
    pub(crate) routing_strategy: Option<String>,
    pub(crate) router_core: Option<String>,
    pub(crate) num_retries: Option<u32>,
    pub(crate) retry_after: Option<f64>,
    pub(crate) allowed_fails: Option<u32>,
    pub(crate) cooldown_time: Option<f64>,
    pub(crate) timeout: Option<f64>,
    pub(crate) fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) context_window_fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) content_policy_fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) redis_url: Option<String>,
}

/// `litellm_settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawLitellmSettings {
    pub(crate) cache: Option<bool>,
    pub(crate) cache_params: Option<RawCacheParams>,
    /// LiteLLM's global request timeout; `router_settings.timeout` wins when both are set.
    pub(crate) request_timeout: Option<f64>,
    pub(crate) num_retries: Option<u32>,
}

/// `litellm_settings.cache_params`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawCacheParams {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) ttl: Option<f64>,
    pub(crate) max_size_mb: Option<f64>,
    pub(crate) shared_across_keys: Option<bool>,
}

/// `general_settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawGeneralSettings {
    pub(crate) master_key: Option<String>,
    pub(crate) max_request_size_mb: Option<f64>,
    pub(crate) max_parallel_requests: Option<u64>,
}

/// `switchyard_settings`: what LiteLLM's format has no place for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSwitchyardSettings {
    pub(crate) router: RawSwitchyardRouter,
    pub(crate) keys: Vec<RawVirtualKey>,
    pub(crate) metrics_require_key: Option<bool>,
    pub(crate) drain_timeout_seconds: Option<f64>,
    /// Connection-level limits of the HTTP server.
    pub(crate) server: RawServer,
    /// Agent mode (SPEC §9).
    pub(crate) agent: super::agent::RawAgent,
}

/// `switchyard_settings.router`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSwitchyardRouter {
    pub(crate) deadline_seconds: Option<f64>,
    pub(crate) first_token_timeout_seconds: Option<f64>,
    pub(crate) stream_idle_timeout_seconds: Option<f64>,
    pub(crate) midstream_rescue: Option<bool>,
    pub(crate) max_retry_after_seconds: Option<f64>,
    pub(crate) max_event_kb: Option<u64>,
    pub(crate) max_before_first_token_kb: Option<u64>,
}

/// `switchyard_settings.server`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawServer {
    pub(crate) header_read_timeout_seconds: Option<f64>,
    pub(crate) idle_timeout_seconds: Option<f64>,
    pub(crate) body_read_timeout_seconds: Option<f64>,
    pub(crate) max_connections: Option<u64>,
}

/// One `switchyard_settings.keys` entry.
#[derive(Debug, Deserialize)]
pub(crate) struct RawVirtualKey {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) models: Vec<String>,
    #[serde(default)]
    pub(crate) rpm_limit: Option<u64>,
    #[serde(default)]
    pub(crate) tpm_limit: Option<u64>,
}
