//! Middleware: one module per layer.

pub mod auth;
pub mod budget;
pub mod cache;
pub mod concurrency;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
