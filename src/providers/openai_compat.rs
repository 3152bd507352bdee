//! The one adapter for every OpenAI-compatible vendor; their differences are rows of the `Profile`
//! table (`model/profile.rs`). A new vendor is a row there plus a conformance-test entry.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};
use http_body_util::Full;

use super::GATEWAY_FIELDS;
use crate::{
    config::DeploymentConfig,
    error::{GatewayError, UpstreamError},
    model::{
        Endpoint,
        profile::{Auth, Paths, Profile},
    },
    openai::Rewrite,
    proxy::{Provider, ProxyRequest, Reply},
    upstream::{self, HttpClient},
    wildcard,
};

/// Azure's `api-version` when the config names none.
const AZURE_DEFAULT_VERSION: &str = "2024-10-21";
/// The oldest Azure `api-version` with the Responses API, used when the configured one is older.
const AZURE_RESPONSES_VERSION: &str = "2025-04-01-preview";
/// Cap on an upstream answer the gateway reads whole.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The adapter for one deployment, with its URLs and auth header prepared at config load.
#[derive(Debug)]
pub struct OpenAiCompat {
    deployment: Arc<str>,
    client: HttpClient,
    model: String,
    /// One URL per endpoint, in `Endpoint::ALL` order.
    urls: Vec<Uri>,
    /// `/responses`, for a deployment that speaks the Responses API.
    responses: Option<Uri>,
    auth: Option<(HeaderName, HeaderValue)>,
    stream_usage: bool,
}

// === impl OpenAiCompat ===

impl OpenAiCompat {
    /// Prepares the adapter; fails on a base URL or key that cannot form a request.
    pub fn new(
        profile: &'static Profile,
        cfg: &DeploymentConfig,
        client: HttpClient,
    ) -> Result<Self, String> {
        let base = cfg
            .api_base
            .as_deref()
            .or(profile.default_base)
            .ok_or("api_base is required")?;
        let base = base.trim_end_matches('/');
        let url = |path: &str| -> Result<Uri, String> {
            let full = match profile.paths {
                Paths::OpenAi => format!("{base}/{path}"),
                Paths::RootV1 => format!("{}/v1/{path}", base.strip_suffix("/v1").unwrap_or(base)),
                Paths::Azure => format!(
                    "{base}/openai/deployments/{}/{path}?api-version={}",
                    cfg.upstream_model,
                    cfg.api_version.as_deref().unwrap_or(AZURE_DEFAULT_VERSION)
                ),
            };
            full.parse::<Uri>()
                .map_err(|e| format!("invalid api_base `{base}`: {e}"))
        };
        let auth = match (&cfg.api_key, profile.auth) {
            (None, _) => None,
            (Some(key), Auth::Bearer) => {
                Some((header::AUTHORIZATION, format!("Bearer {}", key.expose())))
            }
            (Some(key), Auth::Header(name)) => {
                Some((HeaderName::from_static(name), key.expose().to_owned()))
            }
        };
        let auth = auth
            .map(|(name, value)| {
                let mut value = HeaderValue::from_str(&value)
                    .map_err(|_| "api_key contains characters not allowed in a header")?;
                value.set_sensitive(true);
                Ok::<_, String>((name, value))
            })
            .transpose()?;
        let responses = match profile.paths {
            _ if !cfg.responses_api => None,
            Paths::Azure => {
                let version = cfg
                    .api_version
                    .as_deref()
                    .filter(|v| *v >= "2025-03-01-preview")
                    .unwrap_or(AZURE_RESPONSES_VERSION);
                Some(
                    format!("{base}/openai/responses?api-version={version}")
                        .parse::<Uri>()
                        .map_err(|e| format!("invalid api_base `{base}`: {e}"))?,
                )
            }
            Paths::OpenAi | Paths::RootV1 => Some(url("responses")?),
        };
        Ok(Self {
            deployment: cfg.id.as_str().into(),
            client,
            model: cfg.upstream_model.clone(),
            urls: Endpoint::ALL
                .iter()
                .map(|e| url(e.path()))
                .collect::<Result<_, _>>()?,
            responses,
            auth,
            stream_usage: profile.stream_usage,
        })
    }

    /// The URL of `endpoint` on this deployment.
    fn uri(&self, endpoint: Endpoint) -> Uri {
        let i = Endpoint::ALL
            .iter()
            .position(|e| *e == endpoint)
            .unwrap_or_default();
        self.urls.get(i).cloned().unwrap_or_default()
    }
}

impl Provider for OpenAiCompat {
    fn send(&self, request: &ProxyRequest) -> BoxFuture<'static, Result<Reply, GatewayError>> {
        let stream = request.view.stream && request.endpoint.streams();
        // A multipart form (transcriptions) goes as received, its `model` field rewritten.
        let model = wildcard::upstream_model(&self.model, &request.group.name, &request.view.model);
        // A Responses API request to a deployment that speaks it: its own body, model rewritten.
        let native = request.responses.as_ref().zip(self.responses.as_ref());
        let (body, content_type, uri) = match (native, &request.form) {
            (Some((native, uri)), _) => (
                native.body_for(&self.deployment).rewrite(&Rewrite {
                    model: Some(&model),
                    remove: GATEWAY_FIELDS,
                    include_usage: false,
                }),
                "application/json".to_owned(),
                uri.clone(),
            ),
            (None, Some(form)) => (
                form.with_model(&model),
                form.content_type(),
                self.uri(request.endpoint),
            ),
            (None, None) => (
                request.body.rewrite(&Rewrite {
                    model: Some(&model),
                    remove: GATEWAY_FIELDS,
                    include_usage: stream && self.stream_usage,
                }),
                "application/json".to_owned(),
                self.uri(request.endpoint),
            ),
        };
        // Audio answers are bytes; an endpoint the gateway does not stream (image generation
        // with `stream: true`) may still answer SSE, which is passed through whole.
        let opaque = matches!(
            request.endpoint,
            Endpoint::Speech | Endpoint::Transcriptions
        ) || (request.view.stream && !request.endpoint.streams());
        let accept = match (stream, opaque) {
            (true, _) => "text/event-stream",
            (false, true) => "*/*",
            (false, false) => "application/json",
        };
        let native = native.is_some();
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, accept)
            .header("x-request-id", request.id.as_str());
        if let Some((name, value)) = &self.auth {
            builder = builder.header(name, value);
        }
        let built = builder.body(Full::new(body));
        let client = self.client.clone();
        let deployment = self.deployment.clone();
        Box::pin(async move {
            let resp = match upstream::send(&client, built, &deployment).await? {
                Ok(resp) => resp,
                Err(upstream::Refusal {
                    status,
                    body,
                    retry_after,
                }) => {
                    return Err(GatewayError::Upstream(UpstreamError {
                        deployment,
                        status,
                        body,
                        retry_after,
                    }));
                }
            };
            if stream {
                let is_json = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/json"));
                if is_json {
                    return Err(GatewayError::UpstreamGarbled {
                        deployment,
                        reason: "it answered a streaming request with a JSON body".into(),
                    });
                }
                let body = axum::body::Body::new(resp.into_body());
                return Ok(if native {
                    Reply::ResponsesSse(body)
                } else {
                    Reply::Sse(body)
                });
            }
            let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
            let bytes = upstream::collect(resp.into_body(), MAX_RESPONSE_BYTES)
                .await
                .map_err(|reason| GatewayError::UpstreamUnreachable { deployment, reason })?;
            if opaque {
                return Ok(Reply::Other {
                    content_type: content_type
                        .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                    bytes,
                });
            }
            Ok(if native {
                Reply::ResponsesJson(bytes)
            } else {
                Reply::Json(bytes)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::MockParams, model::ProviderKind, secret::Secret};

    fn cfg(
        prefix: &str,
        base: Option<&str>,
        version: Option<&str>,
    ) -> (&'static Profile, DeploymentConfig) {
        let ProviderKind::OpenAiCompat(profile) = ProviderKind::from_prefix(prefix).unwrap() else {
            unreachable!()
        };
        let cfg = DeploymentConfig {
            id: "d".into(),
            model_name: "m".into(),
            provider: ProviderKind::OpenAiCompat(profile),
            upstream_model: "meta-llama/Llama-3-8B".into(),
            api_base: base.map(str::to_owned),
            api_key: Some(Secret::new("k")),
            api_version: version.map(str::to_owned),
            rpm: None,
            tpm: None,
            weight: None,
            timeout: std::time::Duration::from_secs(1),
            input_cost_per_token: None,
            output_cost_per_token: None,
            supports_assistant_prefill: None,
            mode: crate::config::ModelMode::Any,
            base_model: None,
            responses_api: false,
            mock: MockParams::default(),
            by_prefix: Vec::new(),
        };
        (profile, cfg)
    }

    fn adapter(prefix: &str, base: Option<&str>, version: Option<&str>) -> OpenAiCompat {
        let (p, c) = cfg(prefix, base, version);
        OpenAiCompat::new(p, &c, upstream::client().unwrap()).unwrap()
    }

    #[test]
    fn urls_per_profile() {
        let a = adapter("openai", None, None);
        assert_eq!(
            a.uri(Endpoint::Chat).to_string(),
            "https://api.openai.com/v1/chat/completions"
        );
        let a = adapter("openai", Some("http://127.0.0.1:8000/v1/"), None);
        assert_eq!(
            a.uri(Endpoint::Embeddings).to_string(),
            "http://127.0.0.1:8000/v1/embeddings"
        );
        assert_eq!(
            a.uri(Endpoint::Rerank).to_string(),
            "http://127.0.0.1:8000/v1/rerank"
        );
        assert_eq!(
            a.uri(Endpoint::Transcriptions).to_string(),
            "http://127.0.0.1:8000/v1/audio/transcriptions"
        );
        let a = adapter("ollama", Some("http://127.0.0.1:11434/v1"), None);
        assert_eq!(
            a.uri(Endpoint::Chat).to_string(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
        let a = adapter(
            "azure",
            Some("https://x.openai.azure.com"),
            Some("2024-06-01"),
        );
        assert_eq!(
            a.uri(Endpoint::Chat).to_string(),
            "https://x.openai.azure.com/openai/deployments/meta-llama/Llama-3-8B/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(
            a.uri(Endpoint::Images).to_string(),
            "https://x.openai.azure.com/openai/deployments/meta-llama/Llama-3-8B/images/generations?api-version=2024-06-01"
        );
        assert_eq!(a.auth.as_ref().unwrap().0.as_str(), "api-key");
        assert!(a.auth.as_ref().unwrap().1.is_sensitive());
    }
}
