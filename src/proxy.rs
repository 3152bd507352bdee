//! The request and response types of the model stack (everything below the HTTP handlers).

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use tokio::time::Instant;
use tower::util::BoxCloneSyncService;

use crate::{
    error::GatewayError,
    middleware::auth::Identity,
    openai::{ChatView, JsonBody, Usage},
    router::{Deployment, ModelGroup},
    sse::SseBody,
};

/// The request id: the client's `x-request-id` when usable, else generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

/// Which OpenAI endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/embeddings`.
    Embeddings,
}

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
    /// Upstream attempts made so far (the router counts; an error answer reports it too).
    pub attempts: AttemptCount,
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
            ..self.clone()
        })
    }
}

// === impl RequestId ===

impl RequestId {
    /// The client's id if it is short printable ASCII, else a fresh one.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        match value.and_then(|v| v.to_str().ok()) {
            Some(s)
                if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Self(s.into())
            }
            _ => Self::generate(),
        }
    }

    /// A fresh random id (128 bits, hex).
    pub fn generate() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()).into())
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// === impl Endpoint ===

impl Endpoint {
    /// The body member that must be present.
    pub fn required_field(self) -> &'static str {
        match self {
            Self::Chat => "messages",
            Self::Embeddings => "input",
        }
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat completions",
            Self::Embeddings => "embeddings",
        }
    }
}

// === impl ProxyResponse ===

impl IntoResponse for ProxyResponse {
    fn into_response(self) -> Response {
        let (content_type, body) = match self.body {
            ReplyBody::Json(bytes) => ("application/json", Body::from(bytes)),
            ReplyBody::Stream(sse) => ("text/event-stream", Body::new(sse)),
        };
        let mut response = Response::new(body);
        *response.headers_mut() = self.headers;
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if content_type == "text/event-stream" {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        if let Some(Ok(v)) = self
            .served_by
            .as_ref()
            .map(|d| HeaderValue::from_str(&d.id))
        {
            h.insert("x-switchyard-model-id", v);
        }
        h.insert("x-switchyard-attempts", HeaderValue::from(self.attempts));
        let ms = format!("{:.3}", self.overhead.as_secs_f64() * 1000.0);
        if let Ok(v) = HeaderValue::from_str(&ms) {
            h.insert("x-switchyard-overhead-ms", v);
        }
        response
    }
}
