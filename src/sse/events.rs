//! The error events that end a failed stream, in each dialect.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    EndGuard, Failure, Outcome, State,
    scan::{Dialect, Scanner},
};
use crate::error::GatewayError;

pub(super) fn replay_failure(deployment: &Arc<str>) -> Failure {
    Failure {
        code: "upstream_stream_cut",
        reason: "the restarted answer did not match the text already sent".into(),
        deployment: deployment.clone(),
    }
}

/// Ends the stream with the error event of `failure`, in the stream's dialect.
pub(super) fn finish_failed(
    state: &mut State,
    guard: &mut EndGuard,
    scanner: &Scanner,
    failure: Failure,
) -> Bytes {
    *state = State::Finished;
    guard.fire(Outcome::Failed(failure.code));
    match scanner.dialect {
        Dialect::Chat => error_event(&failure.deployment, &failure.reason),
        Dialect::Responses => {
            responses_error_event(scanner.next_seq, failure.code, &failure.reason)
        }
    }
}

/// A Responses API `error` event (no completion follows it).
pub fn responses_error_event(sequence_number: u64, code: &str, message: &str) -> Bytes {
    let data = serde_json::json!({
        "type": "error", "sequence_number": sequence_number, "code": code,
        "message": message, "param": null,
    });
    Bytes::from(format!("event: error\ndata: {data}\n\n"))
}

/// `data: {"error": ...}\n\n` for a failure after the stream started.
pub fn error_event(deployment: &Arc<str>, reason: &str) -> Bytes {
    let e = GatewayError::UpstreamGarbled {
        deployment: deployment.clone(),
        reason: reason.to_owned(),
    };
    error_json_event(&e.to_json())
}

/// `data: <json>\n\n`: an error envelope as an SSE event.
pub fn error_json_event(json: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(json.len() + 8);
    b.put_slice(b"data: ");
    b.put_slice(json);
    b.put_slice(b"\n\n");
    b.freeze()
}
