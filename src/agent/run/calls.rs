//! Running the calls of one reply: each call is run, answered from the earlier result of the
//! same call that worked, or answered with what is wrong with its arguments; all of them in
//! parallel and within the run's deadline.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{ANSWER_NOW, CUT_BY_DEADLINE, Call, Pending, RunOptions, State, Step, reply};
use crate::{
    agent::tools::{CallContext, ToolOutput, Toolbox},
    openai::canonical::canonical,
};
use futures_util::future::join_all;

/// What running a reply's calls led to.
pub(super) enum Called {
    Continue,
    Looping,
    Cut,
}

/// What a call will do.
enum Prepared {
    /// Run the tool with these arguments.
    Run(Value),
    /// Answered without running: an earlier result, or a correction of the arguments.
    Answered(ToolOutput),
}

impl State {
    /// Runs `read`'s calls (in parallel, until the run's deadline) and appends the assistant
    /// message that made them and one `tool` message per call, in order.
    pub(super) async fn call_tools(
        &mut self,
        toolbox: &Toolbox,
        context: &CallContext,
        options: &RunOptions,
        read: reply::Read,
        deadline: Instant,
        observe: &(dyn Fn(&Step) + Sync),
    ) -> Called {
        let calls = read.calls;
        let wire: Vec<Value> = calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": arguments_text(&c.arguments)}}))
            .collect();
        let content = if read.text.is_empty() {
            Value::Null
        } else {
            Value::String(read.text)
        };
        self.messages
            .push(json!({"role": "assistant", "content": content, "tool_calls": wire}));
        let mut looping = false;
        let mut keys = Vec::with_capacity(calls.len());
        let mut prepared = Vec::with_capacity(calls.len());
        for c in &calls {
            let tool = toolbox.find(&c.name);
            let name = tool.map_or(c.name.as_str(), |t| t.spec().name.as_str());
            let key = format!("{name}\u{0}{}", canonical(c.arguments.clone()));
            let count = self.seen.entry(key.clone()).or_default();
            *count += 1;
            looping |= *count >= options.loop_threshold;
            let p = match (self.succeeded.get(&key), tool) {
                (Some(earlier), _) => {
                    observe(&Step::Repeat {
                        tool: name.to_owned(),
                        arguments: c.arguments.clone(),
                    });
                    Prepared::Answered(earlier.clone())
                }
                (None, Some(t)) => {
                    match reply::schema_arguments(&c.arguments, &t.spec().parameters, name) {
                        None => Prepared::Run(c.arguments.clone()),
                        Some(Ok(values)) => Prepared::Run(values),
                        Some(Err(message)) => {
                            let message = if self.told_shape.insert(name.to_owned()) {
                                message
                            } else {
                                format!("Invalid arguments for `{name}` (its schema again).")
                            };
                            observe(&Step::Nudge {
                                kind: "arguments",
                                message: message.clone(),
                            });
                            Prepared::Answered(ToolOutput::error(message))
                        }
                    }
                }
                (None, None) => Prepared::Run(c.arguments.clone()),
            };
            keys.push(key);
            prepared.push(p);
        }
        let repeats_only = prepared
            .iter()
            .zip(&keys)
            .all(|(p, k)| matches!(p, Prepared::Answered(_)) && self.succeeded.contains_key(k));
        let running = join_all(calls.iter().zip(prepared).map(|(c, p)| async move {
            match p {
                Prepared::Run(arguments) => (
                    call_tool(toolbox, c, arguments, context, observe).await,
                    true,
                ),
                Prepared::Answered(out) => (out, false),
            }
        }));
        let remaining = deadline.saturating_duration_since(Instant::now());
        // The deadline holds for tools too: dropping their futures kills what they run.
        let Ok(outputs) = tokio::time::timeout(remaining, running).await else {
            observe(&Step::ToolsCut { calls: calls.len() });
            for c in &calls {
                self.messages.push(
                    json!({"role": "tool", "tool_call_id": c.id, "content": CUT_BY_DEADLINE}),
                );
            }
            return Called::Cut;
        };
        for ((c, key), (out, ran)) in calls.iter().zip(keys).zip(outputs) {
            if ran {
                self.metrics.tool_calls += 1;
                if out.ok {
                    self.succeeded.insert(key, out.clone());
                }
            }
            self.messages
                .push(json!({"role": "tool", "tool_call_id": c.id, "content": out.content}));
            if !out.content.trim().is_empty() {
                if out.ok {
                    self.last_ok_output = Some(out.clone());
                }
                self.last_output = Some(out);
            }
        }
        if repeats_only {
            self.pending = Some(Pending::AnswerNow);
            observe(&Step::Nudge {
                kind: "answer_now",
                message: ANSWER_NOW.into(),
            });
            self.messages
                .push(json!({"role": "user", "content": ANSWER_NOW}));
            return Called::Continue;
        }
        if looping {
            Called::Looping
        } else {
            Called::Continue
        }
    }
}

async fn call_tool(
    toolbox: &Toolbox,
    call: &Call,
    arguments: Value,
    context: &CallContext,
    observe: &(dyn Fn(&Step) + Sync),
) -> ToolOutput {
    let started = Instant::now();
    let (out, name, known) = match toolbox.find(&call.name) {
        Some(tool) => (
            tool.call(arguments, context).await,
            tool.spec().name.clone(),
            true,
        ),
        None => {
            let names = toolbox.names().join(", ");
            let message = format!(
                "Unknown tool `{}`. The available tools are: {names}. Call one of them by its exact name.",
                call.name
            );
            (ToolOutput::error(message), call.name.clone(), false)
        }
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
