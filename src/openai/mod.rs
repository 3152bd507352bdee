//! OpenAI wire types: the inbound body view, usage, and stream chunk views.

pub mod body;
pub mod canonical;
pub mod chat;
pub mod multipart;
pub mod stream;
pub mod wire;

pub use body::{JsonBody, Rewrite};
pub use chat::{ChatView, PromptTokensDetails, Usage};
pub use multipart::Form;
