//! Phase two: raw structs -> `Config`, with defaults (SPEC §6 "Settled details") and checks.

use std::{collections::HashMap, time::Duration};

use super::{
    CacheSettings, Config, DeploymentConfig, MockParams, RouterSettings, VirtualKeyConfig, Warning,
    env::{Env, resolve},
    litellm::{RawConfig, RawDeployment, StringOrNumber},
    router::{fallbacks, router_keys},
};
use crate::{model::ProviderKind, secret::Secret};

/// A validation failure: (key path, message).
pub(super) type Failure = (String, String);

const STRATEGIES: &[&str] = &[
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing",
    "cost-based-routing",
];
const CORES: &[&str] = &["v1", "v2", "shadow"];

/// Resolves and checks `raw`. Deployments skipped with a warning are listed (by index) in
/// `skipped`.
pub(super) fn validate(
    raw: RawConfig,
    origin: &str,
    env: &dyn Env,
    warnings: &mut Vec<Warning>,
    skipped: &mut Vec<usize>,
) -> Result<Config, Failure> {
    let mut raw = raw;
    let raw_agent = std::mem::take(&mut raw.switchyard_settings.agent);
    let keys = router_keys(&raw.router_settings, &raw.litellm_settings);
    let rs = &raw.router_settings;
    let sw = &raw.switchyard_settings.router;
    let default_timeout =
        seconds(keys.timeout.0, keys.timeout.1)?.unwrap_or(Duration::from_secs(600));

    let mut deployments = Vec::with_capacity(raw.model_list.len());
    let mut per_group: HashMap<String, usize> = HashMap::new();
    let mut reasons = Vec::new();
    for (i, entry) in raw.model_list.iter().enumerate() {
        let path = format!("model_list[{i}]");
        match deployment(entry, &path, env, default_timeout, &mut per_group)? {
            Ok(d) => deployments.push(d),
            Err(why) => {
                skipped.push(i);
                warnings.push(Warning(format!(
                    "{origin}: {path}: {why}; deployment skipped"
                )));
                reasons.push(format!("\n  {path} ({}): {why}", entry.model_name));
            }
        }
    }
    if deployments.is_empty() {
        let message = if reasons.is_empty() {
            "expected at least one deployment".to_owned()
        } else {
            format!(
                "expected at least one usable deployment; every entry was skipped:{}",
                reasons.concat()
            )
        };
        return Err(("model_list".into(), message));
    }
    let mut ids = std::collections::HashSet::new();
    for d in &deployments {
        if !ids.insert(d.id.as_str()) {
            return Err((
                "model_list".into(),
                format!("deployment id `{}` is used twice", d.id),
            ));
        }
    }

    let strategy = rs
        .routing_strategy
        .clone()
        .unwrap_or_else(|| "simple-shuffle".into());
    if !STRATEGIES.contains(&strategy.as_str()) {
        return Err((
            "router_settings.routing_strategy".into(),
            format!("expected one of {STRATEGIES:?}, got `{strategy}`"),
        ));
    }
    let core = env
        .var("SWITCHYARD_ROUTER_CORE")
        .or_else(|| rs.router_core.clone())
        .unwrap_or_else(|| "v2".into());
    if !CORES.contains(&core.as_str()) {
        return Err((
            "router_settings.router_core".into(),
            format!("expected one of {CORES:?}, got `{core}`"),
        ));
    }
    let groups: std::collections::HashSet<&str> =
        deployments.iter().map(|d| d.model_name.as_str()).collect();
    let mut router = RouterSettings {
        strategy,
        core,
        num_retries: keys.num_retries.unwrap_or(2),
        retry_after: seconds("router_settings.retry_after", rs.retry_after)?.unwrap_or_default(),
        allowed_fails: keys.allowed_fails.unwrap_or(3),
        cooldown: seconds(keys.cooldown_time.0, keys.cooldown_time.1)?
            .unwrap_or(Duration::from_secs(5)),
        fallbacks: fallbacks(keys.fallbacks.0, keys.fallbacks.1, &groups)?,
        context_window_fallbacks: fallbacks(
            keys.context_window_fallbacks.0,
            keys.context_window_fallbacks.1,
            &groups,
        )?,
        content_policy_fallbacks: fallbacks(
            keys.content_policy_fallbacks.0,
            keys.content_policy_fallbacks.1,
            &groups,
        )?,
        deadline: seconds(
            "switchyard_settings.router.deadline_seconds",
            sw.deadline_seconds,
        )?
        .unwrap_or(Duration::from_secs(600)),
        first_token_timeout: seconds(
            "switchyard_settings.router.first_token_timeout_seconds",
            sw.first_token_timeout_seconds,
        )?,
        stream_idle_timeout: seconds(
            "switchyard_settings.router.stream_idle_timeout_seconds",
            sw.stream_idle_timeout_seconds,
        )?
        .unwrap_or(Duration::from_secs(300)),
        midstream_rescue: sw.midstream_rescue.unwrap_or(true),
        max_retry_after: seconds(
            "switchyard_settings.router.max_retry_after_seconds",
            sw.max_retry_after_seconds,
        )?
        .unwrap_or(Duration::from_secs(60)),
        max_event_bytes: kib(
            "switchyard_settings.router.max_event_kb",
            sw.max_event_kb,
            1024,
        )?,
        max_before_first_token_bytes: kib(
            "switchyard_settings.router.max_before_first_token_kb",
            sw.max_before_first_token_kb,
            1024,
        )?,
        // Resolved with the other Redis keys in `redis.rs` (an unset variable there warns).
        redis_url: None,
    };

    let cache = match (
        raw.litellm_settings.cache,
        &raw.litellm_settings.cache_params,
    ) {
        (Some(true), params) => {
            let p = params.as_ref();
            let kind = p
                .and_then(|p| p.kind.clone())
                .unwrap_or_else(|| "local".into());
            // LiteLLM's other cache types (disk, s3, qdrant-semantic, redis-semantic...) are
            // served by the nearest one switchyard has: the exact-match in-process cache.
            let kind = match kind.as_str() {
                "local" | "redis" => kind,
                other => {
                    warnings.push(Warning(format!(
                        "{origin}: `litellm_settings.cache_params.type: {other}` is not implemented by switchyard; using the in-process exact-match cache (`local`) instead"
                    )));
                    "local".to_owned()
                }
            };
            Some(CacheSettings {
                kind,
                ttl: seconds("litellm_settings.cache_params.ttl", p.and_then(|p| p.ttl))?
                    .unwrap_or(Duration::from_secs(600)),
                max_bytes: mib(
                    "litellm_settings.cache_params.max_size_mb",
                    p.and_then(|p| p.max_size_mb),
                )?
                .unwrap_or(256 << 20),
                shared_across_keys: p.and_then(|p| p.shared_across_keys).unwrap_or(false),
            })
        }
        _ => None,
    };

    let gs = &raw.general_settings;
    let mut keys = Vec::new();
    for (i, k) in raw.switchyard_settings.keys.iter().enumerate() {
        let path = format!("switchyard_settings.keys[{i}].key");
        let key = secret(env, &path, Some(&k.key))?
            .ok_or_else(|| (path.clone(), "expected a key".to_owned()))?;
        for m in &k.models {
            // A wildcard entry, or a name a wildcard group serves, is a model too.
            let known = groups.contains(m.as_str())
                || crate::wildcard::is_pattern(m)
                || groups
                    .iter()
                    .any(|g| crate::wildcard::captures(g, m).is_some());
            if !known {
                return Err((
                    format!("switchyard_settings.keys[{i}].models"),
                    format!("unknown model `{m}`"),
                ));
            }
        }
        keys.push(VirtualKeyConfig {
            key,
            models: k.models.clone(),
            rpm_limit: k.rpm_limit,
            tpm_limit: k.tpm_limit,
            alias: k.key_alias.clone(),
            budget: super::budget::budget(
                &format!("switchyard_settings.keys[{i}]"),
                k.max_budget,
                k.budget_duration.as_deref(),
            )?,
        });
    }
    super::budget::check_aliases(&keys)?;
    let group_budgets = super::budget::group_budgets(&raw.model_list, &deployments)?;
    let pricing = super::budget::pricing(raw.switchyard_settings.pricing_file.as_deref())?;
    let agent = super::agent::resolve(raw_agent, &groups)?;
    let redis = super::redis::resolve_settings(&raw, origin, env, warnings)?;
    router.redis_url = redis.as_ref().map(|r| r.url.clone());
    if redis.is_none() && cache.as_ref().is_some_and(|c| c.kind == "redis") {
        warnings.push(Warning(format!(
            "{origin}: `litellm_settings.cache_params.type: redis` names no server (host, url, or REDIS_HOST/REDIS_URL); using the in-process cache"
        )));
    }
    Ok(Config {
        origin: origin.to_owned(),
        deployments,
        router,
        cache,
        master_key: secret(env, "general_settings.master_key", gs.master_key.as_deref())?,
        keys,
        max_request_bytes: mib(
            "general_settings.max_request_size_mb",
            gs.max_request_size_mb,
        )?
        .map_or(10 << 20, |b| b as usize),
        max_parallel_requests: gs.max_parallel_requests.map_or(2048, |n| n as usize),
        metrics_require_key: raw.switchyard_settings.metrics_require_key.unwrap_or(false),
        agent,
        redis,
        drain_timeout: seconds(
            "switchyard_settings.drain_timeout_seconds",
            raw.switchyard_settings.drain_timeout_seconds,
        )?
        .unwrap_or(Duration::from_secs(30)),
        pricing,
        group_budgets,
        server: super::server::resolve(&raw.switchyard_settings.server)?,
    })
}

/// A size in KiB (> 0) as bytes, `default` KiB when absent.
fn kib(path: &str, value: Option<u64>, default: u64) -> Result<usize, Failure> {
    match value {
        Some(0) => Err((path.to_owned(), "expected a size in KiB > 0".into())),
        Some(v) => Ok(usize::try_from(v.saturating_mul(1024)).unwrap_or(usize::MAX)),
        None => Ok(usize::try_from(default * 1024).unwrap_or(usize::MAX)),
    }
}

/// One deployment: `Ok(Err(why))` when it must be skipped with a warning (an unsupported provider).
fn deployment(
    entry: &RawDeployment,
    path: &str,
    env: &dyn Env,
    default_timeout: Duration,
    per_group: &mut HashMap<String, usize>,
) -> Result<Result<DeploymentConfig, String>, Failure> {
    let p = &entry.litellm_params;
    if entry.model_name.trim().is_empty() {
        return Err((
            format!("{path}.model_name"),
            "expected a non-empty model name".into(),
        ));
    }
    let model =
        resolve(env, p.model.trim()).map_err(|m| (format!("{path}.litellm_params.model"), m))?;
    let model = model.trim();
    if model.is_empty() {
        return Err((
            format!("{path}.litellm_params.model"),
            "expected `<provider>/<model>`, e.g. `openai/gpt-4o`".into(),
        ));
    }
    let by_prefix = if model == "*" {
        any_provider(entry, path, env, default_timeout)
    } else {
        Vec::new()
    };
    // LiteLLM infers `openai` for bare names such as `gpt-4o`.
    let (prefix, upstream) = model.split_once('/').unwrap_or(("openai", model));
    let Some(provider) = ProviderKind::from_prefix(prefix) else {
        return Ok(Err(format!(
            "provider `{prefix}` (from `{model}`) is not supported by switchyard (supported: {})",
            ProviderKind::names().join(", ")
        )));
    };
    if prefix == "azure" && crate::wildcard::is_pattern(upstream) {
        return Ok(Err(format!(
            "`{model}`: an Azure deployment cannot be a wildcard (its name is part of the URL)"
        )));
    }
    let n = per_group.entry(entry.model_name.clone()).or_default();
    let id = match &entry.model_info.id {
        Some(StringOrNumber::String(s)) if !s.is_empty() => s.clone(),
        Some(StringOrNumber::Int(i)) => i.to_string(),
        Some(StringOrNumber::Float(f)) => f.to_string(),
        _ => format!("{}#{n}", entry.model_name),
    };
    *n += 1;
    let mut by_prefix = by_prefix;
    for sub in &mut by_prefix {
        sub.id.clone_from(&id);
    }
    let api_key = match secret(
        env,
        &format!("{path}.litellm_params.api_key"),
        p.api_key.as_deref(),
    )? {
        Some(k) => Some(k),
        None => provider
            .default_key_env()
            .and_then(|name| env.var(name))
            .map(Secret::new),
    };
    let api_base = match &p.api_base {
        Some(b) => {
            Some(resolve(env, b).map_err(|m| (format!("{path}.litellm_params.api_base"), m))?)
        }
        None => provider.default_base_env().and_then(|name| env.var(name)),
    };
    if let Some(base) = &api_base {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err((
                format!("{path}.litellm_params.api_base"),
                format!("expected an http:// or https:// URL, got `{base}`"),
            ));
        }
    }
    let api_version = match &p.api_version {
        Some(v) => {
            Some(resolve(env, v).map_err(|m| (format!("{path}.litellm_params.api_version"), m))?)
        }
        None => provider
            .default_version_env()
            .and_then(|name| env.var(name)),
    };
    if provider.needs_api_base() && api_base.is_none() {
        return Err((
            format!("{path}.litellm_params.api_base"),
            format!("provider `{prefix}` needs an api_base"),
        ));
    }
    let timeout =
        seconds(&format!("{path}.litellm_params.timeout"), p.timeout)?.unwrap_or(default_timeout);
    let mock = MockParams {
        response: p.mock_response.clone(),
        latency: Duration::from_millis(p.mock_latency_ms.unwrap_or(0)),
        chunk_delay: Duration::from_millis(p.mock_chunk_delay_ms.unwrap_or(0)),
        error_status: match p.mock_error_status {
            Some(s) if !(400..=599).contains(&s) => {
                return Err((
                    format!("{path}.litellm_params.mock_error_status"),
                    "expected an HTTP error status 400-599".into(),
                ));
            }
            s => s,
        },
        fail_first: p.mock_fail_first,
        retry_after: p.mock_retry_after_seconds.map(Duration::from_secs),
        embedding_dims: p.mock_embedding_dims.unwrap_or(8).clamp(1, 4096),
    };
    let responses_api = match &entry.model_info.supported_endpoints {
        Some(list) => list
            .iter()
            .any(|e| matches!(e.as_str(), "/v1/responses" | "/responses")),
        None => provider.speaks_responses(api_base.as_deref()),
    };
    Ok(Ok(DeploymentConfig {
        id,
        model_name: entry.model_name.clone(),
        provider,
        upstream_model: upstream.to_owned(),
        api_base: api_base.map(|b| b.trim_end_matches('/').to_owned()),
        api_key,
        api_version,
        rpm: p.rpm,
        tpm: p.tpm,
        weight: p.weight,
        timeout,
        input_cost_per_token: p
            .input_cost_per_token
            .or(entry.model_info.input_cost_per_token),
        output_cost_per_token: p
            .output_cost_per_token
            .or(entry.model_info.output_cost_per_token),
        supports_assistant_prefill: entry.model_info.supports_assistant_prefill,
        mode: super::ModelMode::from_litellm(entry.model_info.mode.as_deref()),
        base_model: entry.model_info.base_model.clone(),
        responses_api,
        mock,
        by_prefix,
    }))
}

/// The per-provider configs of a `model: "*"` deployment: each supported provider that has a
/// key (its own `api_key`, else the provider's environment variable) or needs none, and can
/// form a URL; `openai` always (LiteLLM's provider for a bare name).
fn any_provider(
    entry: &RawDeployment,
    path: &str,
    env: &dyn Env,
    default_timeout: Duration,
) -> Vec<DeploymentConfig> {
    let mut out = Vec::new();
    for prefix in ProviderKind::names() {
        let mut sub = entry.clone();
        sub.litellm_params.model = format!("{prefix}/*");
        let mut scratch = HashMap::new();
        let Ok(Ok(d)) = deployment(&sub, path, env, default_timeout, &mut scratch) else {
            continue;
        };
        if prefix == "openai" || d.api_key.is_some() || d.provider.default_key_env().is_none() {
            out.push(d);
        }
    }
    out
}

pub(super) fn seconds(path: &str, value: Option<f64>) -> Result<Option<Duration>, Failure> {
    match value {
        None => Ok(None),
        Some(v) if (0.0..1e9).contains(&v) => Ok(Some(Duration::from_secs_f64(v))),
        Some(v) => Err((
            path.to_owned(),
            format!("expected a number of seconds >= 0, got {v}"),
        )),
    }
}

fn mib(path: &str, value: Option<f64>) -> Result<Option<u64>, Failure> {
    match value {
        None => Ok(None),
        Some(v) if v > 0.0 && v < 1e6 => Ok(Some((v * 1024.0 * 1024.0) as u64)),
        Some(v) => Err((
            path.to_owned(),
            format!("expected a size in MiB > 0, got {v}"),
        )),
    }
}

fn secret(env: &dyn Env, path: &str, value: Option<&str>) -> Result<Option<Secret>, Failure> {
    value
        .map(|v| {
            resolve(env, v)
                .map(Secret::new)
                .map_err(|m| (path.to_owned(), m))
        })
        .transpose()
}
