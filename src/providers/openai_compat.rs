//! The one adapter for every OpenAI-compatible vendor, and the `Profile` table that holds their
//! differences as data. A new vendor is a row here plus a conformance-test entry.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Method, Request, Uri, header};
use http_body_util::Full;

use super::{GATEWAY_FIELDS, Provider, Reply};
use crate::{
    config::DeploymentConfig,
    error::{GatewayError, UpstreamError},
    openai::Rewrite,
    proxy::{Endpoint, ProxyRequest},
    upstream::{self, HttpClient},
    wildcard,
};

/// How a vendor differs from OpenAI: base URL, auth, paths, environment variables.
#[derive(Debug, PartialEq)]
pub struct Profile {
    /// The `litellm_params.model` prefix.
    pub name: &'static str,
    /// Base URL when `api_base` is absent (`None`: `api_base` is required).
    pub default_base: Option<&'static str>,
    /// How the key is sent.
    pub auth: Auth,
    /// How paths are built from the base URL.
    pub paths: Paths,
    /// Key variable LiteLLM falls back to.
    pub key_env: Option<&'static str>,
    /// Base-URL variable LiteLLM falls back to.
    pub base_env: Option<&'static str>,
    /// `api_version` variable (Azure).
    pub version_env: Option<&'static str>,
    /// May add `stream_options.include_usage` to count tokens on streams.
    pub stream_usage: bool,
    /// Serves `/embeddings`.
    pub embeddings: bool,
}

/// Where the key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// A named header carrying the bare key (Azure's `api-key`).
    Header(&'static str),
}

/// How endpoint URLs are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// `{base}/chat/completions` (the base ends in `/v1` or the vendor's equivalent).
    OpenAi,
    /// `{host}/v1/chat/completions`, the base being the server root (Ollama); a `/v1` suffix is tolerated.
    RootV1,
    /// `{base}/openai/deployments/{model}/chat/completions?api-version={v}`.
    Azure,
}

const fn row(
    name: &'static str,
    default_base: Option<&'static str>,
    key_env: Option<&'static str>,
) -> Profile {
    Profile {
        name,
        default_base,
        auth: Auth::Bearer,
        paths: Paths::OpenAi,
        key_env,
        base_env: None,
        version_env: None,
        stream_usage: true,
        embeddings: true,
    }
}

/// Every OpenAI-compatible vendor switchyard knows by prefix.
pub static PROFILES: &[Profile] = &[
    Profile {
        base_env: Some("OPENAI_API_BASE"),
        ..row(
            "openai",
            Some("https://api.openai.com/v1"),
            Some("OPENAI_API_KEY"),
        )
    },
    Profile {
        auth: Auth::Header("api-key"),
        paths: Paths::Azure,
        base_env: Some("AZURE_API_BASE"),
        version_env: Some("AZURE_API_VERSION"),
        ..row("azure", None, Some("AZURE_API_KEY"))
    },
    Profile {
        paths: Paths::RootV1,
        base_env: Some("OLLAMA_API_BASE"),
        ..row("ollama", Some("http://localhost:11434"), None)
    },
    Profile {
        paths: Paths::RootV1,
        base_env: Some("OLLAMA_API_BASE"),
        ..row("ollama_chat", Some("http://localhost:11434"), None)
    },
    Profile {
        base_env: Some("HOSTED_VLLM_API_BASE"),
        ..row("hosted_vllm", None, Some("HOSTED_VLLM_API_KEY"))
    },
    row("vllm", None, None),
    row("custom_openai", None, None),
    Profile {
        base_env: Some("LM_STUDIO_API_BASE"),
        ..row(
            "lm_studio",
            Some("http://localhost:1234/v1"),
            Some("LM_STUDIO_API_KEY"),
        )
    },
    row("llamacpp", Some("http://localhost:8080/v1"), None),
    row(
        "groq",
        Some("https://api.groq.com/openai/v1"),
        Some("GROQ_API_KEY"),
    ),
    row(
        "together_ai",
        Some("https://api.together.xyz/v1"),
        Some("TOGETHERAI_API_KEY"),
    ),
    row(
        "deepseek",
        Some("https://api.deepseek.com/v1"),
        Some("DEEPSEEK_API_KEY"),
    ),
    row(
        "mistral",
        Some("https://api.mistral.ai/v1"),
        Some("MISTRAL_API_KEY"),
    ),
    row(
        "openrouter",
        Some("https://openrouter.ai/api/v1"),
        Some("OPENROUTER_API_KEY"),
    ),
    row(
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
        Some("FIREWORKS_AI_API_KEY"),
    ),
    row("xai", Some("https://api.x.ai/v1"), Some("XAI_API_KEY")),
    row(
        "deepinfra",
        Some("https://api.deepinfra.com/v1/openai"),
        Some("DEEPINFRA_API_KEY"),
    ),
    row(
        "perplexity",
        Some("https://api.perplexity.ai"),
        Some("PERPLEXITYAI_API_KEY"),
    ),
    row(
        "cerebras",
        Some("https://api.cerebras.ai/v1"),
        Some("CEREBRAS_API_KEY"),
    ),
];

/// Azure's `api-version` when the config names none.
const AZURE_DEFAULT_VERSION: &str = "2024-10-21";
/// Cap on an upstream answer the gateway reads whole.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The adapter for one deployment, with its URLs and auth header prepared at config load.
#[derive(Debug)]
pub struct OpenAiCompat {
    deployment: Arc<str>,
    client: HttpClient,
    model: String,
    chat: Uri,
    embeddings: Uri,
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
        Ok(Self {
            deployment: cfg.id.as_str().into(),
            client,
            model: cfg.upstream_model.clone(),
            chat: url("chat/completions")?,
            embeddings: url("embeddings")?,
            auth,
            stream_usage: profile.stream_usage,
        })
    }
}

impl Provider for OpenAiCompat {
    fn send(&self, request: &ProxyRequest) -> BoxFuture<'static, Result<Reply, GatewayError>> {
        let stream = request.view.stream && request.endpoint == Endpoint::Chat;
        let model = wildcard::upstream_model(&self.model, &request.group.name, &request.view.model);
        let body = request.body.rewrite(&Rewrite {
            model: Some(&model),
            remove: GATEWAY_FIELDS,
            include_usage: stream && self.stream_usage,
        });
        let uri = match request.endpoint {
            Endpoint::Chat => self.chat.clone(),
            Endpoint::Embeddings => self.embeddings.clone(),
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
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
                return Ok(Reply::Sse(axum::body::Body::new(resp.into_body())));
            }
            let bytes = upstream::collect(resp.into_body(), MAX_RESPONSE_BYTES)
                .await
                .map_err(|reason| GatewayError::UpstreamUnreachable { deployment, reason })?;
            Ok(Reply::Json(bytes))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::MockParams, providers::ProviderKind, secret::Secret};

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
            embedding_only: false,
            base_model: None,
            mock: MockParams::default(),
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
            a.chat.to_string(),
            "https://api.openai.com/v1/chat/completions"
        );
        let a = adapter("openai", Some("http://127.0.0.1:8000/v1/"), None);
        assert_eq!(
            a.embeddings.to_string(),
            "http://127.0.0.1:8000/v1/embeddings"
        );
        let a = adapter("ollama", Some("http://127.0.0.1:11434/v1"), None);
        assert_eq!(
            a.chat.to_string(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
        let a = adapter(
            "azure",
            Some("https://x.openai.azure.com"),
            Some("2024-06-01"),
        );
        assert_eq!(
            a.chat.to_string(),
            "https://x.openai.azure.com/openai/deployments/meta-llama/Llama-3-8B/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(a.auth.as_ref().unwrap().0.as_str(), "api-key");
        assert!(a.auth.as_ref().unwrap().1.is_sensitive());
    }
}
