//! [`RedisError`]: why a Redis call did not answer.

use std::time::Duration;

/// Why a Redis call did not answer. Never a reason to fail a request by itself.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisError {
    /// The breaker is open: Redis failed recently and is not asked until the next trial.
    #[error("redis unavailable (circuit open)")]
    Unavailable,
    /// No answer within the timeout.
    #[error("redis call timed out after {0:?}")]
    Timeout(Duration),
    /// The connection failed (refused, reset, closed).
    #[error("redis connection: {0}")]
    Connection(redis::RedisError),
    /// The server answered with an error (a script or type error: a bug, not an outage).
    #[error("redis server error: {0}")]
    Server(redis::RedisError),
    /// The URL cannot be used.
    #[error("redis url: {0}")]
    Config(String),
    /// A batch's replies did not match its commands.
    #[error("redis replies did not match the commands sent")]
    Protocol,
}

// === impl RedisError ===

impl RedisError {
    /// The bounded metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Timeout(_) => "timeout",
            Self::Connection(_) => "connection",
            Self::Server(_) => "server",
            Self::Config(_) => "config",
            Self::Protocol => "protocol",
        }
    }

    pub(super) fn is_no_script(&self) -> bool {
        matches!(self, Self::Server(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
    }

    pub(super) fn from_redis(e: redis::RedisError) -> Self {
        let server = matches!(e.kind(), redis::ErrorKind::Server(_))
            && !e.is_cluster_error()
            && !e.is_unrecoverable_error();
        if server {
            Self::Server(e)
        } else {
            Self::Connection(e)
        }
    }

    /// Whether this says something about Redis's health (server errors do not).
    pub(super) fn is_outage(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Connection(_) => true,
            Self::Unavailable | Self::Server(_) | Self::Config(_) | Self::Protocol => false,
        }
    }
}
