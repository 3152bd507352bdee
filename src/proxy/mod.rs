//! The model stack's contract (everything below the HTTP handlers): the request and response
//! types, and what a request can be sent to — the model table (`table.rs`) of model groups and
//! their deployments (`deployment.rs`), each with its live state (`deployment_state.rs`,
//! `gcra.rs`) and its adapter behind the `Provider` seam (`provider.rs`; implementations in
//! `providers/`); who is calling (`identity.rs`); the request's cache key and prefetched cache
//! lookup (`cache_key.rs`). These types refer to each other, so they live together.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;

mod cache_key;
mod deployment;
mod deployment_state;
mod gcra;
mod identity;
mod provider;
mod table;

pub use cache_key::{CacheKey, Lookup, key};
pub use deployment::{Deployment, ModelGroup};
pub use deployment_state::{Availability, DeploymentState, InFlightGuard, wall_minute};
pub use identity::Identity;
pub use provider::{Provider, Reply};
pub use table::ModelTable;

use crate::{
    error::GatewayError,
    model::{Endpoint, RequestId},
    openai::{ChatView, Form, JsonBody, Usage},
    sse::SseBody,
};

/// A parsed request on its way to a deployment.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// Request id.
    pub id: RequestId,
    /// Endpoint.
    pub endpoint: Endpoint,
    /// The model group asked for.
    pub group: Arc<ModelGroup>,
    /// The body, parsed once.
    pub body: JsonBody,
    /// The fields the gateway reads.
    pub view: ChatView,
    /// The client's request headers.
    pub headers: HeaderMap,
    /// When the request arrived.
    pub received: Instant,
    /// Who sent it.
    pub identity: Identity,
    /// A `/v1/responses` request: what a deployment that speaks the Responses API is sent
    /// instead of the chat body (`None` for every other endpoint).
    pub responses: Option<Arc<NativeRequest>>,
    /// The multipart form as received (`/v1/audio/transcriptions`); `body` then holds its text
    /// fields as a JSON object.
    pub form: Option<Arc<Form>>,
    /// Upstream attempts made so far (the router counts; an error answer reports it too).
    pub attempts: AttemptCount,
    /// The cache lookup the limit layer made alongside the admission, for the cache layer.
    pub cache_lookup: Option<Lookup>,
}

/// The Responses API request as received, for deployments that speak it (SPEC §13).
#[derive(Debug)]
pub struct NativeRequest {
    /// The body as received.
    pub body: JsonBody,
    /// With `previous_response_id`: the body with the stored conversation in `input` and no
    /// `previous_response_id`, for a deployment other than the one that made that response.
    pub expanded: Option<JsonBody>,
    /// The deployment that made the previous response: it gets the body as received.
    pub affinity: Option<Arc<str>>,
    /// Only deployments that speak the Responses API can serve it (built-in tools, or a previous
    /// response only the upstream knows).
    pub native_only: bool,
}

/// A count of upstream attempts, shared by a request and its clones.
#[derive(Debug, Clone, Default)]
pub struct AttemptCount(Arc<std::sync::atomic::AtomicU32>);

impl AttemptCount {
    /// Records the count.
    pub fn set(&self, n: u32) {
        self.0.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A successful answer from the model stack.
pub struct ProxyResponse {
    /// The body.
    pub body: ReplyBody,
    /// The deployment that served (`None`: the cache).
    pub served_by: Option<Arc<Deployment>>,
    /// Upstream attempts made, fallbacks included.
    pub attempts: u32,
    /// Time spent waiting on upstreams (streams: until the response head).
    pub upstream_wait: Duration,
    /// Usage of a complete answer.
    pub usage: Option<Usage>,
    /// The gateway's own time until the response head.
    pub overhead: Duration,
    /// Extra response headers (e.g. `x-ratelimit-*`).
    pub headers: HeaderMap,
}

/// A complete JSON answer or a stream.
pub enum ReplyBody {
    /// JSON bytes, passed through as received.
    Json(Bytes),
    /// SSE (pinned on the heap: it holds a timer, and is much larger than the JSON variant).
    Stream(std::pin::Pin<Box<SseBody>>),
    /// Any other complete answer, passed through with its content type (speech audio, a
    /// transcription as text, SRT or VTT).
    Other {
        /// The upstream's `content-type`.
        content_type: HeaderValue,
        /// The bytes as received.
        bytes: Bytes,
    },
}

/// The model stack as one boxed service.
pub type ProxyService = BoxCloneSyncService<ProxyRequest, ProxyResponse, GatewayError>;

// === impl ProxyRequest ===

impl ProxyRequest {
    /// The same request with `partial` as a trailing assistant message (an assistant prefill).
    pub fn with_prefill(&self, partial: &str) -> Result<Self, GatewayError> {
        let message = serde_json::json!({"role": "assistant", "content": partial}).to_string();
        Ok(Self {
            body: self.body.with_message(&message)?,
            // A continuation is a chat stream, whatever the deployment speaks.
            responses: None,
            ..self.clone()
        })
    }

    /// Whether `deployment` may serve this request (beyond serving its endpoint).
    pub fn may_use(&self, deployment: &Deployment) -> bool {
        self.responses
            .as_ref()
            .is_none_or(|r| !r.native_only || deployment.config.responses_api)
    }

    /// Whether `deployment` is sent the Responses body (and answers in that format).
    pub fn native_on(&self, deployment: &Deployment) -> bool {
        self.responses.is_some() && deployment.config.responses_api
    }
}

// === impl NativeRequest ===

impl NativeRequest {
    /// The body for deployment `id`: as received for the one that made the previous response
    /// (or when there is none), else with the conversation spelled out.
    pub fn body_for(&self, id: &str) -> &JsonBody {
        match (&self.expanded, &self.affinity) {
            (Some(expanded), Some(a)) if &**a != id => expanded,
            (Some(expanded), None) => expanded,
            _ => &self.body,
        }
    }
}

// === impl ProxyResponse ===

impl IntoResponse for ProxyResponse {
    fn into_response(self) -> Response {
        let (content_type, body) = match self.body {
            ReplyBody::Json(bytes) => (
                HeaderValue::from_static("application/json"),
                Body::from(bytes),
            ),
            ReplyBody::Stream(sse) => (
                HeaderValue::from_static("text/event-stream"),
                Body::new(sse),
            ),
            ReplyBody::Other {
                content_type,
                bytes,
            } => (content_type, Body::from(bytes)),
        };
        let mut response = Response::new(body);
        *response.headers_mut() = self.headers;
        let h = response.headers_mut();
        if content_type == "text/event-stream" {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        h.insert(header::CONTENT_TYPE, content_type);
        // switchyard's headers, and LiteLLM's names for the same facts (tools written for
        // LiteLLM read these).
        if let Some(Ok(v)) = self
            .served_by
            .as_ref()
            .map(|d| HeaderValue::from_str(&d.id))
        {
            h.insert("x-switchyard-model-id", v.clone());
            h.insert("x-litellm-model-id", v);
        }
        h.insert("x-switchyard-attempts", HeaderValue::from(self.attempts));
        h.insert(
            "x-litellm-attempted-retries",
            HeaderValue::from(self.attempts.saturating_sub(1)),
        );
        let ms = self.overhead.as_secs_f64() * 1000.0;
        if let Ok(v) = HeaderValue::from_str(&format!("{ms:.3}")) {
            h.insert("x-switchyard-overhead-ms", v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("{ms:.0}")) {
            h.insert("x-litellm-overhead-duration-ms", v);
        }
        response
    }
}
