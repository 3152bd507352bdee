//! LiteLLM's info endpoints that dashboards and UIs read, in LiteLLM's shapes: GET `/model/info`
//! (and `/v1/model/info`), one entry per deployment, and GET `/model_group/info`, one per model
//! group. Keys are never shown; an `api_base` loses any credentials in its URL. A virtual key
//! sees only its models.

use std::{collections::BTreeSet, sync::Arc};

use axum::{
    Extension, Json,
    extract::{Query, State},
};
use serde::{Deserialize, Serialize};

use crate::{
    config::{DeploymentConfig, ModelMode},
    proxy::{Identity, ModelGroup},
    runtime::{AppState, Runtime},
};

/// `{"data": [...]}`, LiteLLM's envelope for both endpoints.
#[derive(Serialize)]
pub(super) struct Data<T> {
    data: Vec<T>,
}

/// One deployment in `/model/info`.
#[derive(Serialize)]
pub(super) struct DeploymentInfo {
    model_name: String,
    litellm_params: Params,
    model_info: ModelInfo,
}

/// `litellm_params` without the key.
#[derive(Serialize)]
pub(super) struct Params {
    model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_base: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rpm: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tpm: Option<u64>,
    timeout: f64,
}

/// `model_info` as LiteLLM reports it.
#[derive(Serialize)]
pub(super) struct ModelInfo {
    id: String,
    db_model: bool,
    litellm_provider: &'static str,
    mode: &'static str,
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    max_tokens: Option<u64>,
    max_input_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    supports_assistant_prefill: Option<bool>,
    supported_openai_params: Vec<&'static str>,
}

/// One model group in `/model_group/info`.
#[derive(Serialize)]
pub(super) struct GroupInfo {
    model_group: String,
    providers: Vec<&'static str>,
    max_input_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    mode: &'static str,
    tpm: Option<u64>,
    rpm: Option<u64>,
    supports_parallel_function_calling: bool,
    supports_vision: bool,
    supports_function_calling: bool,
    supported_openai_params: Vec<&'static str>,
    is_public_model_group: bool,
}

/// `?litellm_model_id=` (`/model/info`) and `?model_group=` (`/model_group/info`).
#[derive(Deserialize)]
pub(super) struct Filter {
    #[serde(default)]
    litellm_model_id: Option<String>,
    #[serde(default)]
    model_group: Option<String>,
}

/// The chat parameters an OpenAI-compatible deployment takes (as LiteLLM lists them).
const CHAT_PARAMS: &[&str] = &[
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "presence_penalty",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "user",
];

/// The parameters Anthropic deployments take through the translation.
const ANTHROPIC_PARAMS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
];

/// GET `/model/info`, `/v1/model/info`.
pub(super) async fn model_info(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Query(filter): Query<Filter>,
) -> Json<Data<DeploymentInfo>> {
    let rt = app.runtime();
    let data = visible(&rt, &identity)
        .flat_map(|g| g.deployments.iter())
        .filter(|d| {
            filter
                .litellm_model_id
                .as_deref()
                .is_none_or(|id| *d.id == *id)
        })
        .map(|d| deployment_info(&d.config))
        .collect();
    Json(Data { data })
}

/// GET `/model_group/info`.
pub(super) async fn model_group_info(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Query(filter): Query<Filter>,
) -> Json<Data<GroupInfo>> {
    let rt = app.runtime();
    let data = visible(&rt, &identity)
        .filter(|g| filter.model_group.as_deref().is_none_or(|m| *g.name == *m))
        .map(|g| group_info(g))
        .collect();
    Json(Data { data })
}

/// The groups the caller may use, in config order.
pub(super) fn visible<'a>(
    rt: &'a Runtime,
    identity: &'a Identity,
) -> impl Iterator<Item = &'a Arc<ModelGroup>> {
    rt.models
        .groups()
        .filter(move |g| identity.allows(&rt.config, &g.name))
}

fn deployment_info(c: &DeploymentConfig) -> DeploymentInfo {
    DeploymentInfo {
        model_name: c.model_name.clone(),
        litellm_params: Params {
            model: litellm_model(c),
            api_base: c.api_base.as_deref().map(redact_url),
            api_version: c.api_version.clone(),
            rpm: c.rpm,
            tpm: c.tpm,
            timeout: c.timeout.as_secs_f64(),
        },
        model_info: ModelInfo {
            id: c.id.clone(),
            db_model: false,
            litellm_provider: c.provider.label(),
            mode: mode_name(c.mode),
            input_cost_per_token: c.input_cost_per_token,
            output_cost_per_token: c.output_cost_per_token,
            max_tokens: None,
            max_input_tokens: None,
            max_output_tokens: None,
            supports_assistant_prefill: c.supports_assistant_prefill,
            supported_openai_params: params(c).to_vec(),
        },
    }
}

fn group_info(g: &ModelGroup) -> GroupInfo {
    let configs: Vec<&DeploymentConfig> = g.deployments.iter().map(|d| &d.config).collect();
    let providers: BTreeSet<&'static str> = configs.iter().map(|c| c.provider.label()).collect();
    let sum = |f: fn(&DeploymentConfig) -> Option<u64>| {
        configs
            .iter()
            .map(|c| f(c))
            .try_fold(0u64, |acc, v| v.map(|v| acc.saturating_add(v)))
    };
    let max = |f: fn(&DeploymentConfig) -> Option<f64>| {
        configs
            .iter()
            .filter_map(|c| f(c))
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            })
    };
    let mut supported: BTreeSet<&'static str> = BTreeSet::new();
    for c in &configs {
        supported.extend(params(c));
    }
    let chat_like = configs
        .iter()
        .any(|c| matches!(c.mode, ModelMode::Any | ModelMode::Chat));
    GroupInfo {
        model_group: g.name.to_string(),
        providers: providers.into_iter().collect(),
        max_input_tokens: None,
        max_output_tokens: None,
        input_cost_per_token: max(|c| c.input_cost_per_token),
        output_cost_per_token: max(|c| c.output_cost_per_token),
        mode: configs.first().map_or("chat", |c| mode_name(c.mode)),
        tpm: sum(|c| c.tpm),
        rpm: sum(|c| c.rpm),
        supports_parallel_function_calling: chat_like,
        supports_vision: false,
        supports_function_calling: chat_like,
        supported_openai_params: supported.into_iter().collect(),
        is_public_model_group: false,
    }
}

/// LiteLLM's `mode`, `chat` when none is configured (LiteLLM's default).
fn mode_name(mode: ModelMode) -> &'static str {
    mode.as_str().unwrap_or("chat")
}

fn params(c: &DeploymentConfig) -> &'static [&'static str] {
    match (c.mode, c.provider.label()) {
        (ModelMode::Any | ModelMode::Chat | ModelMode::Completion, "anthropic") => ANTHROPIC_PARAMS,
        (ModelMode::Any | ModelMode::Chat | ModelMode::Completion, _) => CHAT_PARAMS,
        _ => &[],
    }
}

/// `<provider>/<upstream model>`, as written in the config.
pub(super) fn litellm_model(c: &DeploymentConfig) -> String {
    format!("{}/{}", c.provider.label(), c.upstream_model)
}

/// A URL without credentials: `https://user:pass@host/...` loses `user:pass@`, and a query
/// string (where some vendors take a key) is dropped.
pub(super) fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match scheme {
        "" => format!("{host}{path}"),
        s => format!("{s}://{host}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://u:sk-secret@api.x.com/v1?key=sk-2"),
            "https://api.x.com/v1"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(redact_url("host:1"), "host:1");
    }
}
