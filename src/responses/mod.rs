//! The OpenAI Responses API (`/v1/responses`, SPEC §13). A deployment either speaks it (native:
//! the body passes through with `model` rewritten, the answer comes back as received) or is
//! reached through chat completions: `request` builds the chat request, `response` and `stream`
//! turn the chat answer back into a Response object or its event stream. `conversation` rebuilds
//! the conversation a `previous_response_id` continues from the store (`state::responses`).

pub mod conversation;
pub mod native;
pub mod request;
pub mod response;
pub mod stream;
pub mod wire;
