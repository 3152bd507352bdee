//! The JSONL trace of agent runs (`agent.trace_path`): one line per step — what the model wrote
//! (cut to `trace_text_chars`) and what the gateway did with it.

use serde_json::{Value, json};

use super::run::Step;

/// The trace line of `step` of run `run_id`.
pub(super) fn line(run_id: &str, step: &Step, text_chars: usize) -> Value {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut v = match step {
        Step::Model {
            iteration,
            model,
            tools_offered,
            text,
            native_calls,
            truncated,
        } => {
            let (kept, cut) = cut(text, text_chars);
            json!({"step": "model", "iteration": iteration, "model": model,
                "tools_offered": tools_offered, "native_tool_calls": native_calls,
                "finish_length": truncated, "text": kept, "text_chars": text.chars().count(),
                "text_truncated": cut})
        }
        Step::ModelTimeout {
            iteration,
            model,
            error,
        } => {
            json!({"step": "model_timeout", "iteration": iteration, "model": model, "error": error})
        }
        Step::Parsed { calls, shape } => {
            json!({"step": "parsed_calls", "calls": calls, "shape": shape})
        }
        Step::ParseError { tool, error } => {
            json!({"step": "parse_error", "tool": tool, "error": error})
        }
        Step::Nudge { kind, message } => json!({"step": "nudge", "kind": kind, "message": message}),
        Step::Repeat { tool, arguments } => {
            json!({"step": "repeat_answered_from_earlier_result", "tool": tool, "arguments": arguments})
        }
        Step::Tool {
            name,
            known,
            ok,
            millis,
        } => json!({"step": "tool", "tool": name, "known": known, "ok": ok, "ms": millis}),
        Step::ToolsCut { calls } => json!({"step": "tools_cut_by_deadline", "calls": calls}),
        Step::Escalated { to } => json!({"step": "escalate", "to": to}),
        Step::Stopped { reason } => json!({"step": "stop", "stopped_reason": reason}),
    };
    v["ts_ms"] = json!(ts);
    v["run"] = json!(run_id);
    v
}

/// The first `max` characters of `text`, and whether it was longer.
fn cut(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (&text[..i], true),
        None => (text, false),
    }
}
