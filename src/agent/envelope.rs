//! The agent envelope (SPEC §9): `{ok, final_answer, stopped_reason, messages, metrics}`.

use serde::Serialize;
use serde_json::Value;

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoppedReason {
    /// The model answered with text and no tool call.
    Final,
    /// The model stayed blank after tools ran; the last tool output is the answer.
    ToolOutput,
    /// `max_iterations` model calls were made.
    MaxIterations,
    /// The wall-clock deadline passed.
    Deadline,
    /// The token budget is spent.
    Budget,
    /// The same call with the same arguments repeated `loop_threshold` times.
    LoopDetected,
    /// A model call failed, or the model gave nothing usable.
    Error,
}

/// Counters of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunMetrics {
    /// Model calls (router retries inside one call do not count).
    pub iterations: u32,
    /// Tool calls run.
    pub tool_calls: u32,
    /// Wall clock.
    pub duration_ms: u64,
    /// The model group that produced the final answer.
    pub used_model: String,
    /// Whether the run escalated to `escalate_to`.
    pub escalated: bool,
    /// Prompt tokens over all calls.
    pub prompt_tokens: u64,
    /// Completion tokens over all calls.
    pub completion_tokens: u64,
    /// What the run's model calls cost, summed (`response_cost`, USD).
    #[serde(rename = "response_cost", serialize_with = "micros_as_usd")]
    pub cost_micros: u64,
}

fn micros_as_usd<S: serde::Serializer>(micros: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*micros as f64 / 1e6)
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    /// True only for `final` and `tool_output` with a non-empty answer.
    pub ok: bool,
    /// The answer (the best text available when not ok, possibly empty).
    pub final_answer: String,
    /// Why the run stopped.
    pub stopped_reason: StoppedReason,
    /// The transcript (valid roles: never two assistant messages in a row; every `tool` message
    /// follows the assistant message that called it).
    pub messages: Vec<Value>,
    /// Counters.
    pub metrics: RunMetrics,
    /// What went wrong, for `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StoppedReason {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Final => "final",
            Self::ToolOutput => "tool_output",
            Self::MaxIterations => "max_iterations",
            Self::Deadline => "deadline",
            Self::Budget => "budget",
            Self::LoopDetected => "loop_detected",
            Self::Error => "error",
        }
    }

    /// Whether a run that stopped so can be ok (with a non-empty answer).
    pub fn can_be_ok(self) -> bool {
        match self {
            Self::Final | Self::ToolOutput => true,
            Self::MaxIterations
            | Self::Deadline
            | Self::Budget
            | Self::LoopDetected
            | Self::Error => false,
        }
    }
}
