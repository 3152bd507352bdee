//! switchyard: an OpenAI-compatible LLM gateway.
//!
//! The request path, outermost first (SPEC §5; `stack.rs` builds the model stack):
//!
//! ```text
//! HTTP (axum, TCP_NODELAY)
//!   -> request id + trace span            middleware/request_id.rs
//!   (-> /v1/messages: Anthropic -> OpenAI  api/messages.rs, messages/; the answer translated back)
//!   -> body limit + parse once            api/forward.rs (JsonBody: raw members, no re-serialisation)
//!   -> metrics (+ each answer's cost)     middleware/metrics.rs, spend/, pricing/
//!   -> key budget                         middleware/budget.rs
//!   -> router: group -> deployment        router/
//!   -> attempt: timeout + adapter         attempt.rs, providers/ (openai_compat profiles, anthropic, mock)
//!   -> pooled hyper client (rustls)       upstream.rs
//!   <- JSON passed through as received, or SSE forwarded event by event (sse/)
//! ```
//!
//! Errors are one enum (`error::GatewayError`) mapped to OpenAI error bodies in one place.
//!
//! The top-level modules are layered (no import cycles): `docs/architecture.md` lists the layers,
//! and `tests/it/architecture.rs` holds the code to them.

pub mod agent;
pub mod api;
pub mod attempt;
pub mod cli;
pub mod config;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod messages;
pub mod metrics;
pub mod middleware;
pub mod model;
pub mod openai;
pub mod pricing;
pub mod process;
pub mod providers;
pub mod proxy;
pub mod responses;
pub mod retry;
pub mod router;
pub mod runtime;
pub mod secret;
pub mod server;
pub mod spend;
pub mod sse;
pub mod stack;
pub mod state;
#[cfg(feature = "test-util")]
pub mod testing;
pub mod upstream;
pub mod wildcard;

pub use server::Gateway;
