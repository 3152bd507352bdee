//! The agent loop (SPEC §9) as a plain async function over a `ModelCall`, so it is tested without
//! HTTP. It must not fail the ways a naive loop does with small local models: tool calls written
//! as text are run, an unreadable call gets one correction, unknown tools are explained, a call
//! repeated after it worked is answered from its earlier result with an instruction to answer
//! now, a blank answer gets one nudge, roles stay valid, every run is bounded (tools included),
//! and a run that did not get an answer never claims it did.

mod calls;
mod reply;

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    envelope::{Envelope, RunMetrics, StoppedReason},
    tools::{CallContext, ToolOutput, Toolbox},
};
use crate::error::GatewayError;

/// The nudge sent when the model answers blank after tools ran.
pub const NUDGE: &str = "Please write your final answer to the user now, in plain text, based on the tool results above. Do not call any tool.";

/// Sent after a call that repeats one that already worked (its earlier result is given back).
pub const ANSWER_NOW: &str = "You already ran this exact call and its result is above. Do not call any tool again: answer the user now, in plain text, using that result.";

/// The `tool` message of a call the run's deadline cut.
pub const CUT_BY_DEADLINE: &str =
    "The run's deadline passed before this tool finished; it was stopped.";

/// One model call.
pub trait ModelCall: Send + Sync {
    /// Calls model group `model` with `messages`, offering `tools` (OpenAI format; empty: none).
    fn call<'a>(
        &'a self,
        model: &'a str,
        messages: &'a [Value],
        tools: &'a [Value],
        sampling: Sampling,
    ) -> BoxFuture<'a, Result<ModelReply, GatewayError>>;
}

/// The bounds of each model call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// `max_tokens` of each call.
    pub max_tokens: u32,
    /// `temperature` of each call.
    pub temperature: f64,
}

/// What the model answered.
#[derive(Debug, Clone, Default)]
pub struct ModelReply {
    /// Text content (possibly empty).
    pub content: String,
    /// Native tool calls.
    pub tool_calls: Vec<Call>,
    /// Whether the reply was cut by `max_tokens` (`finish_reason: length`).
    pub truncated: bool,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// What the call cost, micro-dollars.
    pub cost_micros: u64,
}

/// A tool call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Its id (made up when the model wrote the call as text).
    pub id: String,
    /// The tool name as written.
    pub name: String,
    /// The arguments (a JSON string that is not JSON stays a string).
    pub arguments: Value,
}

/// The bounds of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The model group to start with.
    pub model: String,
    /// Model calls at most.
    pub max_iterations: u32,
    /// Wall clock, model and tool calls included.
    pub deadline: Duration,
    /// Prompt + completion tokens.
    pub token_budget: u64,
    /// The same call this many times is a loop.
    pub loop_threshold: u32,
    /// Model group used once when the model stalls.
    pub escalate_to: Option<String>,
    /// `max_tokens` and `temperature` of each model call.
    pub sampling: Sampling,
    /// Whether a ```` ```python ```` block in a reply runs as an `exec_python` call.
    pub run_code_blocks: bool,
}

/// One step, for the trace and the metrics.
#[derive(Debug, Clone)]
pub enum Step {
    /// A model call and what the model wrote.
    Model {
        iteration: u32,
        model: String,
        tools_offered: bool,
        text: String,
        native_calls: usize,
        truncated: bool,
    },
    /// A model call cut by its timeout (it counts as an iteration).
    ModelTimeout {
        iteration: u32,
        model: String,
        error: String,
    },
    /// Calls read from the model's text, and how they were written.
    Parsed {
        calls: Vec<Value>,
        shape: Vec<String>,
    },
    /// A call to a known tool that could not be read.
    ParseError { tool: String, error: String },
    /// Something the gateway told the model (`blank`, `correction`, `answer_now`, `arguments`).
    Nudge { kind: &'static str, message: String },
    /// A call that repeats one that worked, answered from its earlier result.
    Repeat { tool: String, arguments: Value },
    /// A tool call.
    Tool {
        name: String,
        known: bool,
        ok: bool,
        millis: u64,
    },
    /// Tool calls stopped by the run's deadline.
    ToolsCut { calls: usize },
    /// The run escalated.
    Escalated { to: String },
    /// The run stopped.
    Stopped { reason: StoppedReason },
}

/// Why the next model call goes without tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    /// The model answered blank after tools ran.
    Nudge,
    /// The model repeated a call that had worked.
    AnswerNow,
}

struct State {
    messages: Vec<Value>,
    metrics: RunMetrics,
    model: String,
    /// Times each call (tool + canonical arguments) was made.
    seen: HashMap<String, u32>,
    /// The result of each call that worked.
    succeeded: HashMap<String, ToolOutput>,
    last_output: Option<ToolOutput>,
    last_ok_output: Option<ToolOutput>,
    last_text: Option<String>,
    nudged: bool,
    pending: Option<Pending>,
    /// A correction was sent and no call has been read since.
    corrected: bool,
    /// Tools whose argument shape the model was told.
    told_shape: HashSet<String>,
    call_ids: u32,
}

/// Runs the loop until an answer or a bound.
pub async fn run(
    model: &dyn ModelCall,
    toolbox: &Toolbox,
    context: &CallContext,
    options: &RunOptions,
    messages: Vec<Value>,
    observe: &(dyn Fn(&Step) + Sync),
) -> Envelope {
    let started = Instant::now();
    let deadline = started + options.deadline;
    let specs = toolbox.specs();
    let mut st = State {
        messages,
        metrics: RunMetrics {
            used_model: options.model.clone(),
            ..RunMetrics::default()
        },
        model: options.model.clone(),
        seen: HashMap::new(),
        succeeded: HashMap::new(),
        last_output: None,
        last_ok_output: None,
        last_text: None,
        nudged: false,
        pending: None,
        corrected: false,
        told_shape: HashSet::new(),
        call_ids: 0,
    };
    let stop = |st: State, reason: StoppedReason, answer: Option<String>, error: Option<String>| {
        observe(&Step::Stopped { reason });
        finish(st, reason, answer, error, started)
    };
    loop {
        if st.metrics.iterations >= options.max_iterations {
            return stop(st, StoppedReason::MaxIterations, None, None);
        }
        if st.metrics.prompt_tokens + st.metrics.completion_tokens >= options.token_budget {
            return stop(st, StoppedReason::Budget, None, None);
        }
        let pending = st.pending;
        let tools: &[Value] = if pending.is_some() { &[] } else { &specs };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let call = model.call(&st.model, &st.messages, tools, options.sampling);
        let reply = match tokio::time::timeout(remaining, call).await {
            Err(_) => return stop(st, StoppedReason::Deadline, None, None),
            Ok(Err(e)) if cut_by_timeout(&e) => {
                // A runaway generation cut by its timeout: it used up an iteration, not the run.
                st.metrics.iterations += 1;
                observe(&Step::ModelTimeout {
                    iteration: st.metrics.iterations,
                    model: st.model.clone(),
                    error: e.to_string(),
                });
                continue;
            }
            Ok(Err(e)) => return stop(st, StoppedReason::Error, None, Some(e.to_string())),
            Ok(Ok(reply)) => reply,
        };
        st.pending = None;
        st.metrics.iterations += 1;
        st.metrics.prompt_tokens += reply.prompt_tokens;
        st.metrics.completion_tokens += reply.completion_tokens;
        st.metrics.cost_micros += reply.cost_micros;
        st.metrics.used_model = st.model.clone();
        observe(&Step::Model {
            iteration: st.metrics.iterations,
            model: st.model.clone(),
            tools_offered: !tools.is_empty(),
            text: reply.content.clone(),
            native_calls: reply.tool_calls.len(),
            truncated: reply.truncated,
        });
        let code_blocks = options.run_code_blocks && pending.is_none();
        let read = reply::read(&reply, toolbox, code_blocks, &mut || st.next_id());
        if !read.shape.is_empty() {
            observe(&Step::Parsed {
                calls: read
                    .calls
                    .iter()
                    .map(|c| json!({"name": c.name, "arguments": c.arguments}))
                    .collect(),
                shape: read.shape.clone(),
            });
        }
        if let Some(a) = &read.attempt {
            observe(&Step::ParseError {
                tool: a.tool.clone(),
                error: a.error.clone(),
            });
        }
        let answer = read.calls.is_empty() && read.attempt.is_none();
        if answer && !read.text.is_empty() {
            // Only prose: the final answer.
            st.messages
                .push(json!({"role": "assistant", "content": read.text}));
            return stop(st, StoppedReason::Final, Some(read.text), None);
        }
        if let Some(pending) = pending {
            // A turn without tools that did not answer: the model stalls.
            if st.escalate(options, observe) {
                continue;
            }
            return match (pending, answer) {
                (Pending::AnswerNow, false) => stop(st, StoppedReason::LoopDetected, None, None),
                _ => st.blank_end(stop),
            };
        }
        if let Some(attempt) = read.attempt {
            if !st.corrected {
                // One sentence on what was wrong, and one more try.
                st.corrected = true;
                let message = reply::correction(&attempt, toolbox);
                observe(&Step::Nudge {
                    kind: "correction",
                    message: message.clone(),
                });
                st.messages
                    .push(json!({"role": "assistant", "content": reply.content}));
                st.messages
                    .push(json!({"role": "user", "content": message}));
                continue;
            }
            if st.escalate(options, observe) {
                continue;
            }
            let error = format!(
                "the model's call to `{}` could not be read: {}",
                attempt.tool, attempt.error
            );
            return match st.best_output() {
                Some(_) => stop(st, StoppedReason::ToolOutput, None, None),
                None => stop(st, StoppedReason::Error, None, Some(error)),
            };
        }
        if read.calls.is_empty() {
            // A blank answer: one nudge without tools, then (a stall) escalate, then the last tool output.
            if !st.nudged {
                st.nudged = true;
                st.pending = Some(Pending::Nudge);
                observe(&Step::Nudge {
                    kind: "blank",
                    message: NUDGE.into(),
                });
                st.messages.push(json!({"role": "user", "content": NUDGE}));
                continue;
            }
            if st.escalate(options, observe) {
                continue;
            }
            return st.blank_end(stop);
        }
        st.corrected = false;
        if !read.text.is_empty() {
            st.last_text = Some(read.text.clone());
        }
        match st
            .call_tools(toolbox, context, options, read, deadline, observe)
            .await
        {
            calls::Called::Continue => {}
            calls::Called::Cut => return stop(st, StoppedReason::Deadline, None, None),
            calls::Called::Looping => {
                if !st.escalate(options, observe) {
                    return stop(st, StoppedReason::LoopDetected, None, None);
                }
            }
        }
    }
}

impl State {
    fn next_id(&mut self) -> String {
        self.call_ids += 1;
        format!("call_text_{}", self.call_ids)
    }

    /// The output that best answers the user: the last that worked, else the last.
    fn best_output(&self) -> Option<&ToolOutput> {
        self.last_ok_output.as_ref().or(self.last_output.as_ref())
    }

    /// The end of a run whose model stays blank: the last tool output, or an error.
    fn blank_end(
        self,
        stop: impl FnOnce(State, StoppedReason, Option<String>, Option<String>) -> Envelope,
    ) -> Envelope {
        match self.best_output() {
            Some(_) => stop(self, StoppedReason::ToolOutput, None, None),
            None => stop(
                self,
                StoppedReason::Error,
                None,
                Some("the model returned an empty answer".into()),
            ),
        }
    }

    /// Switches to `escalate_to` once, when the model stalls. Returns whether it did.
    fn escalate(&mut self, options: &RunOptions, observe: &(dyn Fn(&Step) + Sync)) -> bool {
        match &options.escalate_to {
            Some(to) if !self.metrics.escalated => {
                observe(&Step::Escalated { to: to.clone() });
                self.metrics.escalated = true;
                self.model = to.clone();
                self.seen.clear();
                self.nudged = false;
                self.corrected = false;
                // The bigger model starts from a user turn, so roles stay valid.
                if self
                    .messages
                    .last()
                    .is_some_and(|m| m["role"] == "assistant")
                {
                    self.messages
                        .push(json!({"role": "user", "content": NUDGE}));
                }
                true
            }
            _ => false,
        }
    }
}

/// Whether a model call failed because its own timeout cut it (not the run's deadline).
fn cut_by_timeout(e: &GatewayError) -> bool {
    matches!(
        e,
        GatewayError::UpstreamTimeout { .. } | GatewayError::DeadlineExceeded { .. }
    )
}

/// The envelope. `answer` is the model's final text; without one, the answer is the best the
/// transcript holds — a tool's result in plain words (its stdout, or its exit code and stderr),
/// else the last text — and it is `ok` only when it is a real answer: a final text, or the output
/// of a tool call that worked.
fn finish(
    st: State,
    reason: StoppedReason,
    answer: Option<String>,
    error: Option<String>,
    started: Instant,
) -> Envelope {
    let (final_answer, real) = match (answer, st.best_output(), &st.last_text) {
        (Some(text), _, _) => (text, true),
        (None, Some(out), _) => (out.plain(), out.ok),
        (None, None, Some(text)) => (text.clone(), false),
        (None, None, None) => (String::new(), false),
    };
    let mut metrics = st.metrics;
    metrics.duration_ms = started.elapsed().as_millis() as u64;
    Envelope {
        ok: reason.can_be_ok() && real && !final_answer.trim().is_empty(),
        final_answer,
        stopped_reason: reason,
        messages: st.messages,
        metrics,
        error,
    }
}

#[cfg(test)]
mod tests;
