//! `GatewayError`: every failure a request can meet. Its classification (status, `type`, `code`,
//! bounded kind) is here; the OpenAI error body is built in `response.rs`, upstream answers are
//! kept whole in `upstream.rs`.
#![warn(clippy::wildcard_enum_match_arm)]

use std::{sync::Arc, time::Duration};

use axum::http::StatusCode;

/// A failure on the request path. `IntoResponse` turns it into an OpenAI error envelope.
mod response;
mod upstream;

pub use response::LoggedError;
pub use upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The caller sent something malformed (bad JSON, a missing or mistyped field).
    #[error("{message}")]
    InvalidRequest {
        /// Human-readable reason.
        message: String,
        /// The offending body field, when there is one.
        param: Option<&'static str>,
        /// Machine-readable cause.
        code: &'static str,
    },
    /// The requested model name is not in the config.
    #[error(
        "The model `{model}` does not exist or is not served by this gateway. Available models: {available}"
    )]
    ModelNotFound {
        /// What the caller asked for.
        model: String,
        /// The public model names, comma separated.
        available: String,
    },
    /// `GET /v1/models/{id}` for a model that does not exist (or the key may not see).
    #[error("The model `{model}` does not exist")]
    UnknownModel {
        /// What the caller asked for.
        model: String,
    },
    /// The model exists but none of its deployments serves this endpoint.
    #[error("The model `{model}` does not support {endpoint}")]
    EndpointNotSupported {
        /// The model group.
        model: String,
        /// The endpoint asked for, e.g. "embeddings".
        endpoint: &'static str,
    },
    /// The body is larger than `general_settings.max_request_size_mb`.
    #[error("Request body is larger than the limit of {limit_bytes} bytes")]
    RequestTooLarge {
        /// The configured limit.
        limit_bytes: usize,
    },
    /// No route matches.
    #[error("Unknown route: {method} {path}")]
    RouteNotFound {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// A stored response (`/v1/responses/{id}`, `previous_response_id`) that does not exist, or
    /// belongs to another key.
    #[error("Response with id '{id}' not found.")]
    ResponseNotFound {
        /// The id asked for.
        id: String,
        /// `param` of the error (`previous_response_id` or none).
        param: Option<&'static str>,
    },
    /// No key, or a key that is not the master key nor a virtual key.
    #[error("{message}")]
    Unauthorized {
        /// What was wrong (never the key).
        message: String,
    },
    /// The key may not use this model.
    #[error("This API key may not use model `{model}`. Models it may use: {allowed}")]
    Forbidden {
        /// The model group.
        model: String,
        /// The models this key may use, comma separated (never the others).
        allowed: String,
    },
    /// The route exists but not for this method.
    #[error("Method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// The upstream answered with an HTTP error status.
    #[error("{0}")]
    Upstream(UpstreamError),
    /// The upstream could not be reached (connect error, reset before any response byte).
    #[error("Could not reach upstream deployment `{deployment}`: {reason}")]
    UpstreamUnreachable {
        /// Deployment id.
        deployment: Arc<str>,
        /// What went wrong, without secrets.
        reason: String,
    },
    /// The upstream answered 200 with a body that is not what the protocol says.
    #[error("Upstream deployment `{deployment}` sent an invalid response: {reason}")]
    UpstreamGarbled {
        /// Deployment id.
        deployment: Arc<str>,
        /// What was wrong with it.
        reason: String,
    },
    /// The upstream did not answer within the per-attempt timeout.
    #[error("Upstream deployment `{deployment}` did not answer within {}s", after.as_secs_f64())]
    UpstreamTimeout {
        /// Deployment id.
        deployment: Arc<str>,
        /// The timeout that expired.
        after: Duration,
    },
    /// A limit of the gateway's own was reached.
    #[error("Rate limit reached ({} limit); retry later", scope.label())]
    RateLimited {
        /// Which limit.
        scope: RateLimitScope,
        /// When to retry.
        retry_after: Option<Duration>,
        /// The limit that was reached, for the `x-ratelimit-*` headers.
        limit: Option<LimitInfo>,
    },
    /// The whole-request deadline passed (all attempts and fallbacks included).
    #[error("The request did not complete within its deadline of {}s", after.as_secs_f64())]
    DeadlineExceeded {
        /// The deadline.
        after: Duration,
    },
    /// No deployment of the group can take traffic now.
    #[error("No healthy deployment is available for model `{model}`")]
    NoHealthyDeployment {
        /// The model group.
        model: String,
        /// When the first one becomes available again.
        retry_after: Option<Duration>,
    },
    /// A limited key's request under `switchyard_settings.redis.on_failure: deny` while the
    /// shared limit store (Redis) is unavailable.
    #[error("The rate limiter's shared store is unavailable; retry shortly")]
    LimitsUnavailable,
    /// A budget is spent (SPEC §14): a virtual key's, or a model group's with no fallback left.
    #[error(
        "Budget has been exceeded! {} `{name}`: current cost {}, max budget {}{}",
        scope.label(), crate::model::usd(*spent_micros), crate::model::usd(*max_micros),
        resets_in.map(|d| format!("; it resets in {}s", d.as_secs())).unwrap_or_default()
    )]
    BudgetExceeded {
        /// Whose budget.
        scope: BudgetScope,
        /// The key's alias (never the key) or the model group.
        name: String,
        /// Spent in this budget period, micro-dollars.
        spent_micros: u64,
        /// The budget, micro-dollars.
        max_micros: u64,
        /// Until the budget starts over.
        resets_in: Option<Duration>,
    },
    /// An agent run ended without any answer to give.
    #[error("The agent run stopped ({reason}) without an answer: {detail}")]
    AgentFailed {
        /// The stopped reason.
        reason: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// The client did not send its request body in time.
    #[error("The request body did not arrive within {}s", after.as_secs_f64())]
    RequestTimeout {
        /// The body read timeout.
        after: Duration,
    },
    /// The gateway is shutting down and ended this answer before it completed.
    #[error("The gateway is shutting down; the answer was ended before it completed")]
    ShuttingDown,
    /// A bug or an impossible state; the message carries no secrets.
    #[error("Internal error: {0}")]
    Internal(String),
}

/// A limit that was reached: `requests` or `tokens` per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    /// `requests` or `tokens`.
    pub what: &'static str,
    /// Per minute.
    pub limit: u64,
}

/// Which of the gateway's limits was reached (the `scope` label of `switchyard_rate_limited_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitScope {
    /// A virtual key's rpm/tpm.
    Key,
    /// Every deployment of the group is at its rpm/tpm.
    Deployment,
    /// `max_parallel_requests`.
    Global,
}

impl RateLimitScope {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Deployment => "deployment",
            Self::Global => "global",
        }
    }
}

/// Whose budget was spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope {
    /// A virtual key's `max_budget`.
    Key,
    /// A model group's `model_info.max_budget`.
    Model,
}

impl BudgetScope {
    /// For messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Model => "model group",
        }
    }
}

/// An upstream's own HTTP error answer, kept whole so it can be passed through or classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's fault (4xx before any upstream call).
    Client,
    /// The upstream rate-limited (429).
    RateLimited,
    /// The upstream failed with 5xx.
    ServerError,
    /// The upstream rejected the deployment's own key or model (401/403/404).
    Misconfigured,
    /// The upstream returned another 4xx, which belongs to the caller.
    UpstreamClient,
    /// Connection-level failure.
    Connect,
    /// A timeout.
    Timeout,
    /// Garbled upstream data.
    Garbled,
    /// Nothing to route to.
    Unavailable,
    /// Gateway bug.
    Internal,
}

// === impl GatewayError ===

impl GatewayError {
    /// A 400 with `code: invalid_request_error`-style details.
    pub fn invalid(message: impl Into<String>, param: Option<&'static str>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            param,
            code: "invalid_request",
        }
    }

    /// The HTTP status the caller sees.
    pub fn status(&self) -> StatusCode {
        match self {
            // LiteLLM's status for a spent budget; 400 also keeps SDKs from retrying a request
            // that cannot succeed before the budget resets (they retry 429s).
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::BudgetExceeded { .. } => StatusCode::BAD_REQUEST,
            Self::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            // A bad `previous_response_id` is a bad request; a GET of an unknown id is a 404.
            Self::ResponseNotFound { param: Some(_), .. } => StatusCode::BAD_REQUEST,
            Self::RouteNotFound { .. }
            | Self::UnknownModel { .. }
            | Self::ResponseNotFound { param: None, .. } => StatusCode::NOT_FOUND,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Upstream(e) => e.client_status(),
            Self::UpstreamUnreachable { .. }
            | Self::UpstreamGarbled { .. }
            | Self::AgentFailed { .. } => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout { .. } | Self::DeadlineExceeded { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NoHealthyDeployment { .. } | Self::LimitsUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The bounded kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::RequestTooLarge { .. }
            | Self::RequestTimeout { .. }
            | Self::RouteNotFound { .. }
            | Self::ResponseNotFound { .. }
            | Self::UnknownModel { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::BudgetExceeded { .. } => ErrorKind::Client,
            Self::ShuttingDown => ErrorKind::Unavailable,
            Self::Upstream(e) => e.kind(),
            Self::UpstreamUnreachable { .. } => ErrorKind::Connect,
            Self::UpstreamGarbled { .. } => ErrorKind::Garbled,
            Self::AgentFailed { .. } => ErrorKind::Internal,
            Self::UpstreamTimeout { .. } | Self::DeadlineExceeded { .. } => ErrorKind::Timeout,
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::NoHealthyDeployment { .. } | Self::LimitsUnavailable => ErrorKind::Unavailable,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The deployment the error came from, if an upstream was involved.
    pub fn deployment(&self) -> Option<&Arc<str>> {
        match self {
            Self::Upstream(e) => Some(&e.deployment),
            Self::UpstreamUnreachable { deployment, .. }
            | Self::UpstreamGarbled { deployment, .. }
            | Self::UpstreamTimeout { deployment, .. } => Some(deployment),
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::RequestTooLarge { .. }
            | Self::RequestTimeout { .. }
            | Self::ShuttingDown
            | Self::RouteNotFound { .. }
            | Self::ResponseNotFound { .. }
            | Self::UnknownModel { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::DeadlineExceeded { .. }
            | Self::RateLimited { .. }
            | Self::NoHealthyDeployment { .. }
            | Self::LimitsUnavailable
            | Self::BudgetExceeded { .. }
            | Self::AgentFailed { .. }
            | Self::Internal(_) => None,
        }
    }

    /// The OpenAI `type` field.
    pub(super) fn error_type(&self) -> &'static str {
        match self.status().as_u16() {
            400 | 405 | 408 | 413 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            _ => "api_error",
        }
    }

    /// The OpenAI `code` field: a string naming the cause.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { code, .. } => code,
            Self::ModelNotFound { .. } | Self::UnknownModel { .. } => "model_not_found",
            Self::EndpointNotSupported { .. } => "endpoint_not_supported",
            Self::RequestTooLarge { .. } => "request_too_large",
            Self::RequestTimeout { .. } => "request_timeout",
            Self::ShuttingDown => "server_shutting_down",
            Self::RouteNotFound { .. } => "not_found",
            Self::ResponseNotFound { .. } => "response_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Unauthorized { .. } => "invalid_api_key",
            Self::Forbidden { .. } => "model_not_allowed",
            Self::Upstream(e) => e.code(),
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamGarbled { .. } => "upstream_invalid_response",
            Self::AgentFailed { .. } => "agent_failed",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::DeadlineExceeded { .. } => "deadline_exceeded",
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::NoHealthyDeployment { .. } => "no_healthy_deployment",
            Self::LimitsUnavailable => "rate_limiter_unavailable",
            Self::BudgetExceeded { .. } => "budget_exceeded",
            Self::Internal(_) => "internal_error",
        }
    }

    pub(super) fn param(&self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest { param, .. } => *param,
            Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::UnknownModel { .. } => Some("model"),
            Self::ResponseNotFound { param, .. } => *param,
            Self::RequestTooLarge { .. }
            | Self::RequestTimeout { .. }
            | Self::ShuttingDown
            | Self::RouteNotFound { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::Upstream(_)
            | Self::UpstreamUnreachable { .. }
            | Self::UpstreamGarbled { .. }
            | Self::AgentFailed { .. }
            | Self::UpstreamTimeout { .. }
            | Self::DeadlineExceeded { .. }
            | Self::RateLimited { .. }
            | Self::NoHealthyDeployment { .. }
            | Self::LimitsUnavailable
            | Self::BudgetExceeded { .. }
            | Self::Internal(_) => None,
        }
    }

    pub(super) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Upstream(e) => e.retry_after,
            Self::NoHealthyDeployment { retry_after, .. }
            | Self::RateLimited { retry_after, .. } => *retry_after,
            Self::LimitsUnavailable => Some(Duration::from_secs(1)),
            Self::BudgetExceeded { resets_in, .. } => *resets_in,
            Self::InvalidRequest { .. }
            | Self::ModelNotFound { .. }
            | Self::EndpointNotSupported { .. }
            | Self::RequestTooLarge { .. }
            | Self::RequestTimeout { .. }
            | Self::ShuttingDown
            | Self::RouteNotFound { .. }
            | Self::ResponseNotFound { .. }
            | Self::UnknownModel { .. }
            | Self::MethodNotAllowed { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::UpstreamUnreachable { .. }
            | Self::UpstreamGarbled { .. }
            | Self::AgentFailed { .. }
            | Self::UpstreamTimeout { .. }
            | Self::DeadlineExceeded { .. }
            | Self::Internal(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
