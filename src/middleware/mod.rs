//! Middleware: one module per layer.

pub mod metrics;
pub mod request_id;
pub mod auth;
