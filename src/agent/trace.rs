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

/// Logs the steps that deserve a WARN: a model call cut by its timeout, tools cut by the deadline.
pub(super) fn warn(run_id: &str, step: &Step) {
    match step {
        Step::ModelTimeout {
            iteration,
            model,
            error,
        } => tracing::warn!(
            run = run_id,
            iteration,
            model = %model,
            error = %error,
            "agent model call cut by its timeout; it counts as an iteration and the run goes on"
        ),
        Step::ToolsCut { calls } => tracing::warn!(
            run = run_id,
            calls,
            "agent run deadline passed while tools ran; they were stopped"
        ),
        _ => {}
    }
}

/// The first `max` characters of `text`, and whether it was longer.
fn cut(text: &str, max: usize) -> (&str, bool) {
    match text.char_indices().nth(max) {
        Some((i, _)) => (&text[..i], true),
        None => (text, false),
    }
}

#[cfg(test)]
mod tests {
    use std::{io, sync::Arc};

    use parking_lot::Mutex;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_model_call_cut_by_its_timeout_is_a_warning_with_the_run_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            warn(
                "req-7",
                &Step::ModelTimeout {
                    iteration: 2,
                    model: "small".into(),
                    error: "did not answer within 30s".into(),
                },
            );
        });
        let log = String::from_utf8(captured.0.lock().clone()).unwrap();
        assert!(
            log.contains("WARN") && log.contains("run=\"req-7\"") && log.contains("iteration=2"),
            "{log}"
        );
    }

    #[test]
    fn what_the_model_wrote_is_cut_to_the_configured_length() {
        let step = Step::Model {
            iteration: 1,
            model: "small".into(),
            tools_offered: true,
            text: "é".repeat(10),
            native_calls: 0,
            truncated: false,
        };
        let l = line("r", &step, 4);
        assert_eq!(
            (
                l["text"].as_str(),
                l["text_truncated"].as_bool(),
                l["text_chars"].as_u64()
            ),
            (Some("éééé"), Some(true), Some(10))
        );
        assert_eq!(line("r", &step, 10)["text_truncated"], false);
    }
}
