//! Configuration: LiteLLM's `config.yaml` loaded in two phases, raw (`litellm.rs`) then resolved
//! and validated (`validate.rs`). Unknown keys become warnings; errors name the file and key path.

mod agent;
mod budget;
mod env;
mod litellm;
mod mode;
mod redis;
mod router;
mod server;
mod source;
mod validate;
mod yaml11;

use std::{collections::HashMap, fmt, path::Path, sync::Arc, time::Duration};

pub use agent::{
    AgentSettings, ExecSettings, HttpToolSettings, IdSpec, McpServerSettings, McpTransport,
    SandboxSettings,
};
pub use env::{Env, ProcessEnv};
pub use mode::ModelMode;
pub use redis::{OnFailure, RedisSettings};

use crate::{model::ProviderKind, pricing::PriceTable, secret::Secret};

/// The config compiled into the binary, used when no `--config` is given (SPEC §2).
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.yaml");

/// The resolved, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from (a path, or `<embedded default>`).
    pub origin: String,
    /// Every deployment, in config order.
    pub deployments: Vec<DeploymentConfig>,
    /// Router behaviour.
    pub router: RouterSettings,
    /// Response cache, when enabled.
    pub cache: Option<CacheSettings>,
    /// `general_settings.master_key`.
    pub master_key: Option<Secret>,
    /// Virtual keys.
    pub keys: Vec<VirtualKeyConfig>,
    /// `general_settings.max_request_size_mb`, in bytes.
    pub max_request_bytes: usize,
    /// `general_settings.max_parallel_requests`.
    pub max_parallel_requests: usize,
    /// `switchyard_settings.metrics_require_key`.
    pub metrics_require_key: bool,
    /// How long SIGTERM waits for in-flight requests.
    pub drain_timeout: Duration,
    /// Connection-level limits (`switchyard_settings.server`).
    pub server: ServerSettings,
    /// Agent mode.
    pub agent: AgentSettings,
    /// Model prices: `switchyard_settings.pricing_file`, else the embedded table.
    pub pricing: Arc<PriceTable>,
    /// Model group -> its budget (`model_info.max_budget`).
    pub group_budgets: HashMap<String, Budget>,
    /// Where shared state lives (SPEC §10); `None`: every replica keeps its own.
    pub redis: Option<RedisSettings>,
}

/// One deployment (`model_list` entry), resolved.
#[derive(Debug, Clone)]
pub struct DeploymentConfig {
    /// `model_info.id`, else `<model_name>#<n>` (n counts within the group from 0).
    pub id: String,
    /// The public model name (model group).
    pub model_name: String,
    /// Which adapter speaks to it.
    pub provider: ProviderKind,
    /// The model name sent upstream (may contain `/`).
    pub upstream_model: String,
    /// `api_base`, if set (else the provider's default).
    pub api_base: Option<String>,
    /// `api_key`, resolved (else the provider's default environment variable, if any).
    pub api_key: Option<Secret>,
    /// Azure's `api_version`.
    pub api_version: Option<String>,
    /// Requests per minute this deployment takes.
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment takes.
    pub tpm: Option<u64>,
    /// Routing weight.
    pub weight: Option<f64>,
    /// Per-attempt timeout (`litellm_params.timeout`, else `router_settings.timeout`).
    pub timeout: Duration,
    /// Price per prompt token.
    pub input_cost_per_token: Option<f64>,
    /// Price per completion token.
    pub output_cost_per_token: Option<f64>,
    /// `model_info.supports_assistant_prefill`.
    pub supports_assistant_prefill: Option<bool>,
    /// `model_info.mode`: which endpoints it serves.
    pub mode: ModelMode,
    /// `model_info.base_model`: the name prices are looked up by, when not the upstream model.
    pub base_model: Option<String>,
    /// Speaks the Responses API itself (`model_info.supported_endpoints` lists `/v1/responses`,
    /// else the provider's default): `/v1/responses` passes through instead of being translated.
    pub responses_api: bool,
    /// Behaviour of the built-in mock provider.
    pub mock: MockParams,
    /// `litellm_params.model: "*"`: the provider comes from the requested name, as in LiteLLM
    /// (`anthropic/claude-x` goes to Anthropic as `claude-x`, a bare name to OpenAI). One
    /// resolved config per provider it may pick (same params; the provider's environment key and
    /// base where not set); empty for every other deployment.
    pub by_prefix: Vec<DeploymentConfig>,
}

/// `mock_*` keys of `litellm_params`, for the built-in `mock` provider.
#[derive(Debug, Clone, Default)]
pub struct MockParams {
    /// Fixed answer text (else an echo of the last user message).
    pub response: Option<String>,
    /// Delay before the response head.
    pub latency: Duration,
    /// Delay between streamed content chunks.
    pub chunk_delay: Duration,
    /// Fail with this status...
    pub error_status: Option<u16>,
    /// ...for the first N calls only (all calls when unset).
    pub fail_first: Option<u32>,
    /// `Retry-After` on failures.
    pub retry_after: Option<Duration>,
    /// Embedding vector length.
    pub embedding_dims: usize,
}

/// Router settings (SPEC §4, §6), with defaults applied.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// `routing_strategy`.
    pub strategy: String,
    /// `router_core` (or `SWITCHYARD_ROUTER_CORE`).
    pub core: String,
    /// Retries after the first attempt.
    pub num_retries: u32,
    /// Minimum wait before a retry.
    pub retry_after: Duration,
    /// Failures per minute a deployment may have before it cools down.
    pub allowed_fails: u32,
    /// How long a cooled-down deployment rests.
    pub cooldown: Duration,
    /// Group -> fallback groups, in order.
    pub fallbacks: HashMap<String, Vec<String>>,
    /// Group -> fallback groups on context-window errors.
    pub context_window_fallbacks: HashMap<String, Vec<String>>,
    /// Group -> fallback groups on content-policy errors.
    pub content_policy_fallbacks: HashMap<String, Vec<String>>,
    /// Whole-request deadline.
    pub deadline: Duration,
    /// Streams: no first content chunk within this -> fail over.
    pub first_token_timeout: Option<Duration>,
    /// Streams: silence between chunks longer than this is a cut.
    pub stream_idle_timeout: Duration,
    /// Continue a cut stream on another deployment.
    pub midstream_rescue: bool,
    /// An upstream `Retry-After` longer than this is taken as this.
    pub max_retry_after: Duration,
    /// Streams: the largest SSE event accepted from an upstream, in bytes.
    pub max_event_bytes: usize,
    /// Streams: what may be held (role chunks, comments) before the first content, in bytes.
    pub max_before_first_token_bytes: usize,
    /// The Redis URL of [`Config::redis`], whichever key named it (kept for callers of this
    /// field; `Config::redis` has the whole settings).
    pub redis_url: Option<Secret>,
}

/// `switchyard_settings.server`: what bounds a client's connection, with defaults applied.
/// Read once at start-up (a reload does not change the listener).
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Time a client has to send a request's complete headers; on HTTP/1.1 this also bounds an
    /// idle keep-alive connection waiting for its next request.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moving is closed after this.
    pub idle_timeout: Duration,
    /// Time a client has to send a request body once its headers are in.
    pub body_read_timeout: Duration,
    /// Open client connections at most; beyond it a new connection is closed at once.
    pub max_connections: usize,
}

/// `litellm_settings.cache_params`, resolved.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// `local` or `redis`.
    pub kind: String,
    /// Entry lifetime.
    pub ttl: Duration,
    /// Size bound in bytes.
    pub max_bytes: u64,
    /// Whether tenants share entries.
    pub shared_across_keys: bool,
}

/// A virtual key from `switchyard_settings.keys`.
#[derive(Debug, Clone)]
pub struct VirtualKeyConfig {
    /// The key.
    pub key: Secret,
    /// Model groups it may use (empty: all).
    pub models: Vec<String>,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// `key_alias`: its name in metrics, logs and `/key/info`.
    pub alias: Option<String>,
    /// `max_budget` / `budget_duration`.
    pub budget: Option<Budget>,
}

/// A spending cap: `max_budget` USD, per `budget_duration` when set (else for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The cap in micro-dollars.
    pub max_micros: u64,
    /// How long one budget period lasts.
    pub duration: Option<Duration>,
}

/// A start-up warning: a key switchyard does not implement, or a value it had to skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A config that cannot be used. Display: `file: key.path: what was expected`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{origin}: {path}: {message}")]
pub struct ConfigError {
    /// The file (or `<embedded default>`).
    pub origin: String,
    /// The key path, e.g. `model_list[0].litellm_params.model`.
    pub path: String,
    /// What was wrong and what was expected.
    pub message: String,
}

/// Reads and validates the config at `path`, or the embedded default when `None`.
/// `include:` paths are resolved against the directory of `path`.
pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<(Config, Vec<Warning>), ConfigError> {
    match path {
        None => parse(DEFAULT_CONFIG, "<embedded default>", env),
        Some(path) => {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                origin: origin.clone(),
                path: "(file)".into(),
                message: format!("cannot read the file: {e}"),
            })?;
            parse_file(&text, &origin, Some(path), env)
        }
    }
}

/// Parses and validates config text; `origin` names it in errors. `include:` is an error here
/// (there is no file to resolve it against); `load` reads files.
pub fn parse(
    text: &str,
    origin: &str,
    env: &dyn Env,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    parse_file(text, origin, None, env)
}

fn parse_file(
    text: &str,
    origin: &str,
    file: Option<&Path>,
    env: &dyn Env,
) -> Result<(Config, Vec<Warning>), ConfigError> {
    let error = |path: String, message: String| ConfigError {
        origin: origin.to_owned(),
        path,
        message,
    };
    if text.trim().is_empty() {
        return Err(error(
            "(file)".into(),
            "the file is empty; expected a YAML mapping with `model_list`".into(),
        ));
    }
    let mut warnings = Vec::new();
    let source::Source { root, missing_env } =
        source::prepare(text, file, env, &mut warnings).map_err(|(p, m)| error(p, m))?;
    let mut ignored: Vec<String> = Vec::new();
    let mut track = |path: serde_ignored::Path<'_>| ignored.push(key_path(&path));
    let de = serde_ignored::Deserializer::new(root, &mut track);
    let raw: litellm::RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "(top level)".to_owned()
        } else {
            path
        };
        let message = e.into_inner().to_string();
        let message = if holds_secret(&path) {
            without_value(&message)
        } else {
            message
        };
        error(path, message)
    })?;
    let mut seen = std::collections::HashSet::new();
    for path in &ignored {
        let shape = path
            .split('[')
            .map(|p| p.split_once(']').map_or(p, |(_, rest)| rest))
            .collect::<String>();
        if seen.insert(shape) {
            warnings.push(Warning(format!(
                "{origin}: `{path}` is not implemented by switchyard; ignored"
            )));
        }
    }
    let mut skipped = Vec::new();
    let config = validate::validate(raw, origin, env, &mut warnings, &mut skipped)
        .map_err(|(path, message)| error(path, message))?;
    // A variable that is unset is an error where its setting is used: not under an ignored key,
    // not in a skipped deployment, not in `credential_list` (its values were copied to the
    // deployments that use them and are checked there).
    let under = |path: &str, prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    for (path, name) in missing_env {
        let unused = under(&path, "credential_list")
            || ignored.iter().any(|i| under(&path, i))
            || skipped
                .iter()
                .any(|i| under(&path, &format!("model_list[{i}]")));
        if !unused {
            return Err(error(
                path,
                format!(
                    "environment variable `{name}` is not set (referenced as `os.environ/{name}`)"
                ),
            ));
        }
    }
    Ok((config, warnings))
}

/// Whether a key path names a value that is (or holds) a secret: an `api_key`, `master_key`, a
/// virtual key, a password, a token, a Redis URL.
fn holds_secret(path: &str) -> bool {
    path.split('.').any(|segment| {
        let name = segment
            .split('[')
            .next()
            .unwrap_or(segment)
            .to_ascii_lowercase();
        name.ends_with("key")
            || name.ends_with("keys")
            || name.contains("password")
            || name.contains("secret")
            || name.contains("token") && !name.contains("tokens")
            || name == "redis_url"
    })
}

/// A parse error's message without the value it quotes (serde quotes it as `"..."` or `` `...` ``):
/// only what was expected.
fn without_value(message: &str) -> String {
    let expected = message
        .find("expected")
        .map_or("expected another shape", |i| &message[i..]);
    let expected = expected.split(" at line ").next().unwrap_or(expected);
    format!(
        "wrong type or value ({expected}; the value is not shown because this key holds a secret)"
    )
}

/// `model_list[0].litellm_params.foo` from serde_ignored's path.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => {
            let parent = key_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

#[cfg(test)]
mod compat_tests;
#[cfg(test)]
mod tests;
