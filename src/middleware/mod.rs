//! Middleware: one module per layer.

pub mod budget;
pub mod cache;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
