//! The Responses API wire format (the openai SDK's `types/responses`): the request members the
//! gateway reads or translates and the input items (`request`), the Response object and its output
//! items (`response`), and the stream events (`event`). Unknown members are kept (`extra`) so
//! stored items replay as received.

mod event;
mod request;
mod response;

pub use event::Event;
pub use request::*;
pub use response::*;

/// A fresh id with `prefix` (`resp`, `msg`, `fc`, `call`): 128 random bits in hex.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:032x}", rand::random::<u128>())
}
