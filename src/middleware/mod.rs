//! Middleware: one module per layer.

pub mod auth;
pub mod metrics;
pub mod request_id;
