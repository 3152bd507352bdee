//! Integration tests: one binary (link time), a real gateway on a loopback port per test.
#![expect(
    unreachable_pub,
    reason = "helpers in `common` are pub for the test modules"
)]
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

mod agent;
mod auth;
mod cache;
mod chat;
mod config;
mod errors;
mod hostile;
mod lifecycle;
mod limits;
mod mcp;
mod messages;
mod metrics;
mod providers;
mod rescue;
mod router;
mod secrets;
mod streaming;
