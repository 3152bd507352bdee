//! The Anthropic provider (`anthropic/<model>`): `POST {api_base}/v1/messages` with `x-api-key`
//! and `anthropic-version: 2023-06-01`, translated both ways so it answers in OpenAI format like
//! every provider. Each direction is its own module, tested on recorded fixtures:
//! `request` (OpenAI -> Anthropic), `response` (Anthropic -> OpenAI), `stream` (Anthropic SSE ->
//! OpenAI chunks), `error` (Anthropic errors -> OpenAI errors); `wire` holds the Anthropic types.

mod error;
mod request;
mod response;
mod stream;
pub mod wire;

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::body::Body;
use futures_util::future::BoxFuture;
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::Full;

use crate::{
    config::DeploymentConfig,
    error::GatewayError,
    model::Endpoint,
    openai::{JsonBody, Rewrite},
    proxy::{Provider, ProxyRequest, Reply},
    upstream::{self, HttpClient},
    wildcard,
};

/// The API version the translation is written against.
pub const API_VERSION: &str = "2023-06-01";
/// The public API.
pub const DEFAULT_BASE: &str = "https://api.anthropic.com";
/// Cap on an upstream answer the gateway reads whole.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The adapter for one Anthropic deployment.
#[derive(Debug)]
pub struct Anthropic {
    deployment: Arc<str>,
    client: HttpClient,
    model: String,
    messages: Uri,
    count: Uri,
    key: Option<HeaderValue>,
}

// === impl Anthropic ===

impl Anthropic {
    /// Prepares the adapter; fails on a base URL or key that cannot form a request.
    pub fn new(cfg: &DeploymentConfig, client: HttpClient) -> Result<Self, String> {
        let base = cfg.api_base.as_deref().unwrap_or(DEFAULT_BASE);
        let url = |path: String| {
            path.parse::<Uri>()
                .map_err(|e| format!("invalid api_base `{base}`: {e}"))
        };
        let messages = url(messages_url(base))?;
        let count = url(format!("{}/count_tokens", messages_url(base)))?;
        let key = cfg
            .api_key
            .as_ref()
            .map(|k| {
                let mut v = HeaderValue::from_str(k.expose())
                    .map_err(|_| "api_key contains characters not allowed in a header")?;
                v.set_sensitive(true);
                Ok::<_, String>(v)
            })
            .transpose()?;
        Ok(Self {
            deployment: cfg.id.as_str().into(),
            client,
            model: cfg.upstream_model.clone(),
            messages,
            count,
            key,
        })
    }
}

/// `{base}/v1/messages`; a base that already ends in `/v1` or `/v1/messages` (LiteLLM accepts
/// both) is tolerated.
fn messages_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/messages") {
        base.to_owned()
    } else if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

impl Provider for Anthropic {
    fn send(&self, request: &ProxyRequest) -> BoxFuture<'static, Result<Reply, GatewayError>> {
        if request.endpoint != Endpoint::Chat {
            let e = GatewayError::EndpointNotSupported {
                model: request.view.model.clone(),
                endpoint: request.endpoint.name(),
            };
            return Box::pin(async move { Err(e) });
        }
        let stream = request.view.stream;
        let model = wildcard::upstream_model(&self.model, &request.group.name, &request.view.model);
        let body = request::translate(&request.body, &model, stream);
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.messages.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .header("anthropic-version", API_VERSION)
            .header("x-request-id", request.id.as_str());
        if let Some(key) = &self.key {
            builder = builder.header("x-api-key", key);
        }
        // Beta features a client opts into (`anthropic-beta`: prompt caching, longer outputs,
        // interleaved thinking...) and the other `anthropic-*` headers Claude Code and the SDKs
        // send go along; the version is the one the translation is written against.
        for (name, value) in &request.headers {
            let name = name.as_str();
            if name.starts_with("anthropic-") && name != "anthropic-version" {
                builder = builder.header(name, value);
            }
        }
        let client = self.client.clone();
        let deployment = self.deployment.clone();
        Box::pin(async move {
            let resp =
                match upstream::send(&client, builder.body(Full::new(body?)), &deployment).await? {
                    Ok(resp) => resp,
                    Err(upstream::Refusal {
                        status,
                        body,
                        retry_after,
                    }) => {
                        return Err(error::from_status(deployment, status, &body, retry_after));
                    }
                };
            if stream {
                let is_sse = resp
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("text/event-stream"));
                if !is_sse {
                    return Err(GatewayError::UpstreamGarbled {
                        deployment,
                        reason: "it answered a streaming request without an event stream".into(),
                    });
                }
                let translated = stream::openai_stream(Body::new(resp.into_body()), now_secs());
                return Ok(Reply::Sse(Body::new(translated)));
            }
            let bytes = upstream::collect(resp.into_body(), MAX_RESPONSE_BYTES)
                .await
                .map_err(|reason| GatewayError::UpstreamUnreachable {
                    deployment: deployment.clone(),
                    reason,
                })?;
            let translated = response::translate(&bytes, now_secs())
                .map_err(|reason| GatewayError::UpstreamGarbled { deployment, reason })?;
            Ok(Reply::Json(translated))
        })
    }

    fn count_tokens(
        &self,
        anthropic_body: &JsonBody,
    ) -> Option<BoxFuture<'static, Result<u64, GatewayError>>> {
        // The endpoint takes the prompt only; generation parameters would be refused.
        const NOT_PROMPT: &[&str] = &[
            "max_tokens",
            "stream",
            "stop_sequences",
            "temperature",
            "top_p",
            "top_k",
            "metadata",
            "service_tier",
        ];
        let body = anthropic_body.rewrite(&Rewrite {
            model: Some(&self.model),
            remove: NOT_PROMPT,
            include_usage: false,
        });
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.count.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header("anthropic-version", API_VERSION);
        if let Some(key) = &self.key {
            builder = builder.header("x-api-key", key);
        }
        let client = self.client.clone();
        let deployment = self.deployment.clone();
        Some(Box::pin(async move {
            let req = builder.body(Full::new(body)).map_err(|e| {
                GatewayError::Internal(format!("building the upstream request: {e}"))
            })?;
            let resp =
                client
                    .request(req)
                    .await
                    .map_err(|e| GatewayError::UpstreamUnreachable {
                        deployment: deployment.clone(),
                        reason: upstream::describe(&e),
                    })?;
            let status = resp.status();
            let retry_after = upstream::retry_after(resp.headers());
            let bytes = upstream::collect(resp.into_body(), upstream::MAX_ERROR_BYTES)
                .await
                .map_err(|reason| GatewayError::UpstreamUnreachable {
                    deployment: deployment.clone(),
                    reason,
                })?;
            if !status.is_success() {
                return Err(error::from_status(deployment, status, &bytes, retry_after));
            }
            serde_json::from_slice::<wire::TokenCount>(&bytes)
                .map(|c| c.input_tokens)
                .map_err(|e| GatewayError::UpstreamGarbled {
                    deployment,
                    reason: format!("not a token count ({e})"),
                })
        }))
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
