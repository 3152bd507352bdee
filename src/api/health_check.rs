//! GET `/health` (LiteLLM's deep health check, key required): a tiny real request to every
//! deployment the caller may use, all at once, each bounded in time, through the deployment's
//! own adapter (not the router: a check neither retries nor cools anything down). The answer
//! lists `healthy_endpoints` and `unhealthy_endpoints` with `model` and `api_base`, never a key.
//! The cheap probes (`/health/liveliness`, `/health/readiness`) are in `health.rs`.

use std::{sync::Arc, time::Duration};

use axum::{
    Extension, Json,
    extract::{Query, State},
    http::HeaderMap,
};
use bytes::Bytes;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use super::info::{litellm_model, redact_url, visible};
use crate::{
    config::ModelMode,
    error::GatewayError,
    model::{Endpoint, RequestId},
    openai::{ChatView, Form, JsonBody},
    proxy::{Deployment, Identity, ModelGroup, ProxyRequest},
    runtime::AppState,
};

/// The longest one check may take (less when the deployment's own timeout is shorter).
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);
/// Boundary of the probe form sent to transcription deployments.
const BOUNDARY: &str = "switchyard-health-check";

/// `?model=`: check one model group only.
#[derive(Deserialize)]
pub(super) struct Filter {
    #[serde(default)]
    model: Option<String>,
}

/// LiteLLM's `/health` answer.
#[derive(Serialize)]
pub(super) struct Report {
    healthy_endpoints: Vec<Checked>,
    unhealthy_endpoints: Vec<Checked>,
    healthy_count: usize,
    unhealthy_count: usize,
}

/// One checked deployment.
#[derive(Serialize)]
struct Checked {
    model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_base: Option<String>,
    model_name: String,
    model_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// GET `/health`.
pub(super) async fn check(
    State(app): State<Arc<AppState>>,
    Extension(identity): Extension<Identity>,
    Query(filter): Query<Filter>,
) -> Json<Report> {
    let rt = app.runtime();
    let checks = visible(&rt, &identity)
        .filter(|g| filter.model.as_deref().is_none_or(|m| *g.name == *m))
        .flat_map(|g| g.deployments.iter().map(move |d| (g.clone(), d.clone())))
        .map(|(g, d)| async move {
            let error = probe(&g, &d).await.err().map(|e| {
                let mut message = e.to_string();
                if let Some(key) = d.config.api_key.as_ref().map(|k| k.expose()) {
                    if !key.is_empty() {
                        message = message.replace(key, "[redacted]");
                    }
                }
                message
            });
            Checked {
                model: litellm_model(&d.config),
                api_base: d.config.api_base.as_deref().map(redact_url),
                model_name: g.name.to_string(),
                model_id: d.id.to_string(),
                error,
            }
        });
    let (healthy, unhealthy): (Vec<_>, Vec<_>) = join_all(checks)
        .await
        .into_iter()
        .partition(|e| e.error.is_none());
    Json(Report {
        healthy_count: healthy.len(),
        unhealthy_count: unhealthy.len(),
        healthy_endpoints: healthy,
        unhealthy_endpoints: unhealthy,
    })
}

/// One tiny request of the kind the deployment serves (its `model_info.mode`).
async fn probe(group: &Arc<ModelGroup>, deployment: &Deployment) -> Result<(), GatewayError> {
    let model = &*group.name;
    let (endpoint, body, form) = match deployment.config.mode {
        ModelMode::Any | ModelMode::Chat => (
            Endpoint::Chat,
            json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}),
            None,
        ),
        ModelMode::Completion => (
            Endpoint::Completions,
            json!({"model": model, "prompt": "ping", "max_tokens": 1}),
            None,
        ),
        ModelMode::Embedding => (
            Endpoint::Embeddings,
            json!({"model": model, "input": "ping"}),
            None,
        ),
        ModelMode::ImageGeneration => (
            Endpoint::Images,
            json!({"model": model, "prompt": "ping", "n": 1}),
            None,
        ),
        ModelMode::AudioSpeech => (
            Endpoint::Speech,
            json!({"model": model, "input": "ping", "voice": "alloy"}),
            None,
        ),
        ModelMode::AudioTranscription => {
            let form = Form::parse(
                &format!("multipart/form-data; boundary={BOUNDARY}"),
                probe_form(model),
            )?;
            (Endpoint::Transcriptions, json!({}), Some(Arc::new(form)))
        }
        ModelMode::Moderation => (
            Endpoint::Moderations,
            json!({"model": model, "input": "ping"}),
            None,
        ),
        ModelMode::Rerank => (
            Endpoint::Rerank,
            json!({"model": model, "query": "ping", "documents": ["ping"]}),
            None,
        ),
    };
    let body = match &form {
        Some(form) => form.fields()?,
        None => JsonBody::parse(Bytes::from(body.to_string()))?,
    };
    let view = ChatView::read(&body, endpoint.required_field())?;
    let request = ProxyRequest {
        id: RequestId::generate(),
        endpoint,
        group: group.clone(),
        body,
        view,
        headers: HeaderMap::new(),
        received: Instant::now(),
        identity: Identity::Master,
        form,
        responses: None,
        attempts: Default::default(),
        cache_lookup: None,
    };
    let timeout = deployment.config.timeout.min(CHECK_TIMEOUT);
    match tokio::time::timeout(timeout, deployment.provider.send(&request)).await {
        Ok(result) => result.map(drop),
        Err(_) => Err(GatewayError::UpstreamTimeout {
            deployment: deployment.id.clone(),
            after: timeout,
        }),
    }
}

/// A form holding a 0.1 s silent WAV and the model, for transcription deployments.
fn probe_form(model: &str) -> Bytes {
    const SAMPLES: u32 = 800;
    let data_len = SAMPLES * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    for (n, bytes) in [
        (16u32, 4usize),
        (1, 2),
        (1, 2),
        (8000, 4),
        (16000, 4),
        (2, 2),
        (16, 2),
    ] {
        wav.extend_from_slice(&n.to_le_bytes()[..bytes]);
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    let mut out = Vec::with_capacity(wav.len() + 256);
    out.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"ping.wav\"\r\nContent-Type: audio/wav\r\n\r\n").as_bytes());
    out.extend_from_slice(&wav);
    out.extend_from_slice(
        format!("\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n--{BOUNDARY}--\r\n")
            .as_bytes(),
    );
    Bytes::from(out)
}
