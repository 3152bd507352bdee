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
mod agent_llama;
mod agent_policy;
mod agent_replay;
mod architecture;
mod auth;
mod cache;
mod chat;
mod claude_code;
mod config;
mod endpoints;
mod errors;
mod hostile;
mod info;
mod lifecycle;
mod limits;
mod litellm_configs;
mod mcp;
mod messages;
mod metrics;
mod providers;
mod redis;
mod rescue;
mod responses;
mod router;
mod sandbox;
mod secrets;
mod spend;
mod spend_fleet;
mod streaming;
mod wildcards;
