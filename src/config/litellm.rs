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
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawDeployment {
    pub(crate) model_name: String,
    pub(crate) litellm_params: RawLitellmParams,
    #[serde(default)]
    pub(crate) model_info: RawModelInfo,
}

/// `litellm_params` of a deployment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawLitellmParams {
    pub(crate) model: String,
    pub(crate) api_base: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) api_version: Option<String>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) rpm: Option<u64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) tpm: Option<u64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) weight: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) timeout: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) input_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) output_cost_per_token: Option<f64>,
    pub(crate) mock_response: Option<String>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) mock_latency_ms: Option<u64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) mock_chunk_delay_ms: Option<u64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) mock_error_status: Option<u16>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) mock_fail_first: Option<u32>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) mock_retry_after_seconds: Option<u64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) mock_embedding_dims: Option<usize>,
}

/// `model_info` of a deployment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawModelInfo {
    pub(crate) id: Option<StringOrNumber>,
    #[serde(default, deserialize_with = "super::yaml11::opt_bool")]
    pub(crate) supports_assistant_prefill: Option<bool>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) input_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) output_cost_per_token: Option<f64>,
    /// LiteLLM's `mode: embedding` marks an embedding-only deployment.
    pub(crate) mode: Option<String>,
    /// The model to look prices up by (LiteLLM's, for Azure deployment names).
    pub(crate) base_model: Option<String>,
    /// USD the model group may spend per `budget_duration` (spec §14).
    pub(crate) max_budget: Option<f64>,
    /// `30s`, `1h`, `1d`, `30d`...: when the group's budget starts over.
    pub(crate) budget_duration: Option<String>,
    /// LiteLLM's list of endpoints the deployment serves (`/v1/responses` makes it native for
    /// the Responses API).
    pub(crate) supported_endpoints: Option<Vec<String>>,
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
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) num_retries: Option<u32>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) retry_after: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) allowed_fails: Option<u32>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) cooldown_time: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) timeout: Option<f64>,
    pub(crate) fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) context_window_fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) content_policy_fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) redis_url: Option<String>,
    pub(crate) redis_host: Option<String>,
    pub(crate) redis_port: Option<StringOrNumber>,
    pub(crate) redis_password: Option<String>,
}

/// `litellm_settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawLitellmSettings {
    #[serde(default, deserialize_with = "super::yaml11::opt_bool")]
    pub(crate) cache: Option<bool>,
    pub(crate) cache_params: Option<RawCacheParams>,
    /// LiteLLM's global request timeout; `router_settings.timeout` wins when both are set.
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) request_timeout: Option<f64>,
    // Router keys LiteLLM also reads from its module settings (`litellm.num_retries`...); the
    // precedence against `router_settings` is in `validate::router_keys`.
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) num_retries: Option<u32>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) allowed_fails: Option<u32>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) cooldown_time: Option<f64>,
    pub(crate) fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) context_window_fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    pub(crate) content_policy_fallbacks: Vec<BTreeMap<String, Vec<String>>>,
}

/// `litellm_settings.cache_params`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawCacheParams {
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) ttl: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) max_size_mb: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_bool")]
    pub(crate) shared_across_keys: Option<bool>,
    pub(crate) host: Option<String>,
    pub(crate) port: Option<StringOrNumber>,
    pub(crate) password: Option<String>,
    pub(crate) namespace: Option<String>,
    /// LiteLLM's `redis_url`-style alternative to host/port.
    pub(crate) url: Option<String>,
}

/// `general_settings`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawGeneralSettings {
    pub(crate) master_key: Option<String>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) max_request_size_mb: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) max_parallel_requests: Option<u64>,
}

/// `switchyard_settings`: what LiteLLM's format has no place for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSwitchyardSettings {
    pub(crate) router: RawSwitchyardRouter,
    pub(crate) keys: Vec<RawVirtualKey>,
    #[serde(default, deserialize_with = "super::yaml11::opt_bool")]
    pub(crate) metrics_require_key: Option<bool>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) drain_timeout_seconds: Option<f64>,
    /// Connection-level limits of the HTTP server.
    pub(crate) server: RawServer,
    /// Agent mode (SPEC §9).
    pub(crate) agent: super::agent::RawAgent,
    /// A price table in LiteLLM's `model_prices_and_context_window.json` format.
    pub(crate) pricing_file: Option<String>,
    /// Shared state in Redis (SPEC §10).
    pub(crate) redis: RawSwitchyardRedis,
}

/// `switchyard_settings.redis`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSwitchyardRedis {
    pub(crate) on_failure: Option<String>,
    pub(crate) timeout_seconds: Option<f64>,
}

/// `switchyard_settings.router`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSwitchyardRouter {
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) deadline_seconds: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) first_token_timeout_seconds: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    pub(crate) stream_idle_timeout_seconds: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_bool")]
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
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) rpm_limit: Option<u64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    pub(crate) tpm_limit: Option<u64>,
    /// A name for metrics, logs and `/key/info` (LiteLLM's `key_alias`).
    #[serde(default)]
    pub(crate) key_alias: Option<String>,
    /// USD the key may spend per `budget_duration`.
    #[serde(default)]
    pub(crate) max_budget: Option<f64>,
    /// When the key's budget starts over (`30s`, `1h`, `1d`, `30d`...).
    #[serde(default)]
    pub(crate) budget_duration: Option<String>,
}
