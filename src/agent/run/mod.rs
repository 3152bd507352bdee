//! The agent loop (SPEC §9) as a plain async function over a `ModelCall`, so it is tested without
//! HTTP. It must not fail the ways a naive loop does with small local models: tool calls written
//! as text are run, unknown tools are explained, repeated calls stop the run, a blank answer gets
//! one nudge and then the last tool output, roles stay valid, and every run is bounded.

use std::{collections::HashMap, time::Duration};

use futures_util::future::{BoxFuture, join_all};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    envelope::{Envelope, RunMetrics, StoppedReason},
    parse::tool_calls_in,
    tools::{CallContext, ToolOutput, Toolbox},
};
use crate::{error::GatewayError, openai::canonical::canonical};

/// The nudge sent when the model answers blank after tools ran.
pub const NUDGE: &str = "Please write your final answer to the user now, in plain text, based on the tool results above. Do not call any tool.";

/// One model call.
pub trait ModelCall: Send + Sync {
    /// Calls model group `model` with `messages`, offering `tools` (OpenAI format; empty: none).
    fn call<'a>(
        &'a self,
        model: &'a str,
        messages: &'a [Value],
        tools: &'a [Value],
    ) -> BoxFuture<'a, Result<ModelReply, GatewayError>>;
}

/// What the model answered.
#[derive(Debug, Clone, Default)]
pub struct ModelReply {
    /// Text content (possibly empty).
    pub content: String,
    /// Native tool calls.
    pub tool_calls: Vec<Call>,
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
    /// Wall clock.
    pub deadline: Duration,
    /// Prompt + completion tokens.
    pub token_budget: u64,
    /// The same call this many times is a loop.
    pub loop_threshold: u32,
    /// Model group used once when the model stalls.
    pub escalate_to: Option<String>,
}

/// One step, for the trace and the metrics.
#[derive(Debug, Clone)]
pub enum Step {
    /// A model call.
    Model {
        iteration: u32,
        model: String,
        tool_calls: usize,
        text_chars: usize,
    },
    /// A tool call.
    Tool {
        name: String,
        known: bool,
        ok: bool,
        millis: u64,
    },
    /// The run escalated.
    Escalated { to: String },
    /// The run stopped.
    Stopped { reason: StoppedReason },
}

struct State {
    messages: Vec<Value>,
    metrics: RunMetrics,
    model: String,
    seen: HashMap<String, u32>,
    last_output: Option<String>,
    last_text: Option<String>,
    nudged: bool,
    nudge_pending: bool,
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
        last_output: None,
        last_text: None,
        nudged: false,
        nudge_pending: false,
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
        let tools: &[Value] = if st.nudge_pending { &[] } else { &specs };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let reply =
            match tokio::time::timeout(remaining, model.call(&st.model, &st.messages, tools)).await
            {
                Err(_) => return stop(st, StoppedReason::Deadline, None, None),
                Ok(Err(e)) => return stop(st, StoppedReason::Error, None, Some(e.to_string())),
                Ok(Ok(reply)) => reply,
            };
        let nudged_now = std::mem::take(&mut st.nudge_pending);
        st.metrics.iterations += 1;
        st.metrics.prompt_tokens += reply.prompt_tokens;
        st.metrics.completion_tokens += reply.completion_tokens;
        st.metrics.cost_micros += reply.cost_micros;
        st.metrics.used_model = st.model.clone();
        let (calls, text) = match (reply.tool_calls.is_empty(), nudged_now) {
            (false, _) => (reply.tool_calls, reply.content),
            (true, false) => {
                let (found, rest) = tool_calls_in(&reply.content, &|n| toolbox.knows(n));
                let calls = found
                    .into_iter()
                    .map(|c| Call {
                        id: st.next_id(),
                        name: c.name,
                        arguments: c.arguments,
                    })
                    .collect();
                (calls, rest)
            }
            (true, true) => (Vec::new(), reply.content),
        };
        observe(&Step::Model {
            iteration: st.metrics.iterations,
            model: st.model.clone(),
            tool_calls: calls.len(),
            text_chars: text.len(),
        });
        if !text.trim().is_empty() {
            st.last_text = Some(text.clone());
        }
        if calls.is_empty() {
            if !text.trim().is_empty() {
                st.messages
                    .push(json!({"role": "assistant", "content": text}));
                return stop(st, StoppedReason::Final, Some(text), None);
            }
            // A blank answer: one nudge without tools, then (a stall) escalate, then the last tool output.
            if !st.nudged {
                st.nudged = true;
                st.nudge_pending = true;
                st.messages.push(json!({"role": "user", "content": NUDGE}));
                continue;
            }
            if st.escalate(options, observe) {
                continue;
            }
            return match st.last_output.clone() {
                Some(output) => stop(st, StoppedReason::ToolOutput, Some(output), None),
                None => stop(
                    st,
                    StoppedReason::Error,
                    None,
                    Some("the model returned an empty answer".into()),
                ),
            };
        }
        // The assistant turn that calls the tools, then one `tool` message per call, in order.
        let wire: Vec<Value> = calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": arguments_text(&c.arguments)}}))
            .collect();
        let content = if text.trim().is_empty() {
            Value::Null
        } else {
            Value::String(text)
        };
        st.messages
            .push(json!({"role": "assistant", "content": content, "tool_calls": wire}));
        let mut looping = false;
        for c in &calls {
            let name = toolbox
                .find(&c.name)
                .map_or(c.name.as_str(), |t| t.spec().name.as_str());
            let key = format!("{name}\u{0}{}", canonical(c.arguments.clone()));
            let count = st.seen.entry(key).or_default();
            *count += 1;
            looping |= *count >= options.loop_threshold;
        }
        let outputs = join_all(
            calls
                .iter()
                .map(|c| call_tool(toolbox, c, context, observe)),
        )
        .await;
        st.metrics.tool_calls += u32::try_from(calls.len()).unwrap_or(u32::MAX);
        for (c, out) in calls.iter().zip(outputs) {
            if !out.content.trim().is_empty() {
                st.last_output = Some(out.content.clone());
            }
            st.messages
                .push(json!({"role": "tool", "tool_call_id": c.id, "content": out.content}));
        }
        if looping && !st.escalate(options, observe) {
            return stop(st, StoppedReason::LoopDetected, None, None);
        }
    }
}

impl State {
    fn next_id(&mut self) -> String {
        self.call_ids += 1;
        format!("call_text_{}", self.call_ids)
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
                true
            }
            _ => false,
        }
    }
}

async fn call_tool(
    toolbox: &Toolbox,
    call: &Call,
    context: &CallContext,
    observe: &(dyn Fn(&Step) + Sync),
) -> ToolOutput {
    let started = Instant::now();
    let (out, known) = match toolbox.find(&call.name) {
        Some(tool) => (tool.call(call.arguments.clone(), context).await, true),
        None => {
            let names = toolbox.names().join(", ");
            let message = format!(
                "Unknown tool `{}`. The available tools are: {names}. Call one of them by its exact name.",
                call.name
            );
            (ToolOutput::error(message), false)
        }
    };
    let name = if known {
        toolbox
            .find(&call.name)
            .map_or(call.name.clone(), |t| t.spec().name.clone())
    } else {
        call.name.clone()
    };
    observe(&Step::Tool {
        name,
        known,
        ok: out.ok,
        millis: started.elapsed().as_millis() as u64,
    });
    out
}

/// Arguments as the OpenAI wire format carries them: a JSON string.
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn finish(
    st: State,
    reason: StoppedReason,
    answer: Option<String>,
    error: Option<String>,
    started: Instant,
) -> Envelope {
    let final_answer = answer
        .or_else(|| st.last_text.clone())
        .or_else(|| st.last_output.clone())
        .unwrap_or_default();
    let mut metrics = st.metrics;
    metrics.duration_ms = started.elapsed().as_millis() as u64;
    Envelope {
        ok: reason.can_be_ok() && !final_answer.trim().is_empty(),
        final_answer,
        stopped_reason: reason,
        messages: st.messages,
        metrics,
        error,
    }
}

#[cfg(test)]
mod tests;
