//! The loop against a scripted model and fake tools.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::Arc,
    time::Duration,
};

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::*;
use crate::agent::tools::{Tool, ToolSpec};

mod policy;

/// A model that answers from a script (the last answer repeats) and records what it was sent.
struct Scripted {
    answers: Mutex<VecDeque<ModelReply>>,
    last: Mutex<ModelReply>,
    seen: Mutex<Vec<(String, usize, usize)>>, // (model, messages, tools)
    sampling: Mutex<Vec<Sampling>>,
    delay: Duration,
    /// The first calls fail as cut by their timeout.
    timeouts: Mutex<u32>,
}

fn text(t: &str) -> ModelReply {
    ModelReply {
        content: t.into(),
        prompt_tokens: 10,
        completion_tokens: 5,
        ..ModelReply::default()
    }
}

fn tool_call(name: &str, args: Value) -> ModelReply {
    ModelReply {
        tool_calls: vec![Call {
            id: format!("id_{name}"),
            name: name.into(),
            arguments: args,
        }],
        prompt_tokens: 10,
        completion_tokens: 5,
        ..ModelReply::default()
    }
}

fn scripted(answers: Vec<ModelReply>) -> Scripted {
    Scripted {
        last: Mutex::new(answers.last().cloned().unwrap_or_default()),
        answers: Mutex::new(answers.into()),
        seen: Mutex::new(Vec::new()),
        sampling: Mutex::new(Vec::new()),
        delay: Duration::ZERO,
        timeouts: Mutex::new(0),
    }
}

impl ModelCall for Scripted {
    fn call<'a>(
        &'a self,
        model: &'a str,
        messages: &'a [Value],
        tools: &'a [Value],
        sampling: Sampling,
    ) -> BoxFuture<'a, Result<ModelReply, GatewayError>> {
        self.seen
            .lock()
            .push((model.to_owned(), messages.len(), tools.len()));
        self.sampling.lock().push(sampling);
        {
            let mut t = self.timeouts.lock();
            if *t > 0 {
                *t -= 1;
                return Box::pin(async {
                    Err(GatewayError::UpstreamTimeout {
                        deployment: "small-1".into(),
                        after: Duration::from_secs(30),
                    })
                });
            }
        }
        let next = self
            .answers
            .lock()
            .pop_front()
            .unwrap_or_else(|| self.last.lock().clone());
        let delay = self.delay;
        Box::pin(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(next)
        })
    }
}

/// A tool that echoes its arguments after `delay`.
struct Echo {
    spec: ToolSpec,
    delay: Duration,
}

impl Tool for Echo {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn call(&self, arguments: Value, _: &CallContext) -> BoxFuture<'static, ToolOutput> {
        let (name, delay) = (self.spec.name.clone(), self.delay);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            ToolOutput {
                content: json!({"tool": name, "echo": arguments}).to_string(),
                ok: true,
            }
        })
    }
}

fn toolbox(delay: Duration) -> Toolbox {
    let tool = |name: &str| -> Arc<dyn Tool> {
        Arc::new(Echo {
            spec: ToolSpec {
                name: name.into(),
                description: String::new(),
                parameters: json!({"type": "object"}),
            },
            delay,
        })
    };
    let aliases: BTreeMap<String, String> =
        [("python".to_owned(), "exec_python".to_owned())].into();
    Toolbox::new(vec![tool("exec_python"), tool("weather")], aliases)
}

fn options() -> RunOptions {
    RunOptions {
        model: "small".into(),
        max_iterations: 8,
        deadline: Duration::from_secs(120),
        token_budget: 200_000,
        loop_threshold: 3,
        escalate_to: None,
        sampling: Sampling {
            max_tokens: 1024,
            temperature: 0.2,
        },
        run_code_blocks: false,
    }
}

async fn go(model: &Scripted, options: &RunOptions) -> Envelope {
    let messages = vec![json!({"role": "user", "content": "What is 6*7?"})];
    let envelope = run(
        model,
        &toolbox(Duration::ZERO),
        &CallContext::default(),
        options,
        messages,
        &|_| {},
    )
    .await;
    assert_roles_valid(&envelope.messages);
    if envelope.ok {
        assert!(
            !envelope.final_answer.trim().is_empty(),
            "never ok with a blank answer"
        );
    }
    envelope
}

/// Never two assistant messages in a row; every `tool` message follows the assistant message
/// that called it (answering one of its call ids).
fn assert_roles_valid(messages: &[Value]) {
    let mut open_ids: Vec<String> = Vec::new();
    let mut previous = "";
    for m in messages {
        let role = m["role"].as_str().unwrap();
        assert!(
            !(role == "assistant" && previous == "assistant"),
            "two assistant messages in a row: {messages:#?}"
        );
        match role {
            "assistant" => {
                open_ids = m["tool_calls"].as_array().map_or(Vec::new(), |calls| {
                    calls
                        .iter()
                        .map(|c| c["id"].as_str().unwrap().to_owned())
                        .collect()
                });
            }
            "tool" => {
                let id = m["tool_call_id"].as_str().unwrap();
                assert!(
                    open_ids.contains(&id.to_owned()),
                    "a tool message without its call: {messages:#?}"
                );
            }
            _ => open_ids.clear(),
        }
        previous = role;
    }
}

#[tokio::test]
async fn a_native_tool_call_then_an_answer() {
    let m = scripted(vec![
        tool_call("exec_python", json!({"code": "print(6*7)"})),
        text("42"),
    ]);
    let e = go(&m, &options()).await;
    assert_eq!(
        (e.ok, e.stopped_reason, e.final_answer.as_str()),
        (true, StoppedReason::Final, "42")
    );
    assert_eq!((e.metrics.iterations, e.metrics.tool_calls), (2, 1));
    assert_eq!(
        (e.metrics.prompt_tokens, e.metrics.completion_tokens),
        (20, 10)
    );
    let roles: Vec<&str> = e
        .messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant"]);
}

#[tokio::test]
async fn a_tool_call_written_as_text_is_run_and_an_alias_is_mapped() {
    let m = scripted(vec![
        text(
            "Let me compute.\n```json\n{\"name\": \"python\", \"arguments\": {\"code\": \"print(6*7)\"}}\n```",
        ),
        text("It is 42."),
    ]);
    let e = go(&m, &options()).await;
    assert_eq!(e.stopped_reason, StoppedReason::Final);
    let call = &e.messages[1];
    assert_eq!(
        call["content"], "Let me compute.",
        "the call's text is taken out"
    );
    assert_eq!(call["tool_calls"][0]["function"]["name"], "python");
    assert!(
        e.messages[2]["content"]
            .as_str()
            .unwrap()
            .contains("\"tool\":\"exec_python\""),
        "the alias ran exec_python"
    );
}

#[tokio::test]
async fn an_unknown_tool_is_told_the_real_ones() {
    let m = scripted(vec![tool_call("calculator", json!({"x": 1})), text("42")]);
    let e = go(&m, &options()).await;
    let told = e.messages[2]["content"].as_str().unwrap();
    assert!(
        told.contains("Unknown tool `calculator`")
            && told.contains("exec_python")
            && told.contains("weather"),
        "{told}"
    );
    assert!(e.ok);
}

#[tokio::test]
async fn a_model_that_repeats_the_same_call_is_stopped() {
    let m = scripted(vec![tool_call(
        "weather",
        json!({"city": "Paris", "unit": "C"}),
    )]);
    let e = go(&m, &options()).await;
    assert_eq!(e.stopped_reason, StoppedReason::LoopDetected);
    assert!(!e.ok);
    assert_eq!(
        e.metrics.iterations, 3,
        "stopped at the third identical call"
    );
}

#[tokio::test]
async fn the_same_arguments_in_another_key_order_are_the_same_call() {
    let m = scripted(vec![
        tool_call("weather", json!({"city": "Paris", "unit": "C"})),
        tool_call("weather", json!({"unit": "C", "city": "Paris"})),
        tool_call("weather", json!({"city": "Paris", "unit": "C"})),
        text("never reached"),
    ]);
    assert_eq!(
        go(&m, &options()).await.stopped_reason,
        StoppedReason::LoopDetected
    );
}

#[tokio::test]
async fn a_loop_escalates_once_to_the_bigger_model() {
    let m = scripted(vec![
        tool_call("weather", json!({"city": "Oslo"})),
        tool_call("weather", json!({"city": "Oslo"})),
        tool_call("weather", json!({"city": "Oslo"})),
        text("It is cold in Oslo."),
    ]);
    let e = go(
        &m,
        &RunOptions {
            escalate_to: Some("big".into()),
            ..options()
        },
    )
    .await;
    assert_eq!(
        (
            e.stopped_reason,
            e.metrics.escalated,
            e.metrics.used_model.as_str()
        ),
        (StoppedReason::Final, true, "big")
    );
    assert_eq!(m.seen.lock().last().unwrap().0, "big");
}

#[tokio::test]
async fn a_blank_answer_after_a_tool_gets_one_nudge_without_tools_then_the_tool_output() {
    let m = scripted(vec![
        tool_call("exec_python", json!({"code": "print(42)"})),
        text(""),
        text("  "),
    ]);
    let e = go(&m, &options()).await;
    assert_eq!(e.stopped_reason, StoppedReason::ToolOutput);
    assert!(e.ok);
    assert!(
        e.final_answer.contains("print(42)"),
        "the last tool output is the answer: {}",
        e.final_answer
    );
    let seen = m.seen.lock().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].2, 0, "the nudge turn offers no tools");
    assert!(e.messages.iter().any(|msg| msg["content"] == NUDGE));
}

#[tokio::test]
async fn a_nudged_model_that_answers_finishes_normally() {
    let m = scripted(vec![
        tool_call("weather", json!({})),
        text(""),
        text("Sunny."),
    ]);
    let e = go(&m, &options()).await;
    assert_eq!(
        (e.stopped_reason, e.final_answer.as_str()),
        (StoppedReason::Final, "Sunny.")
    );
}

#[tokio::test]
async fn a_blank_answer_without_any_tool_output_is_not_ok() {
    let m = scripted(vec![text("")]);
    let e = go(&m, &options()).await;
    assert_eq!((e.ok, e.stopped_reason), (false, StoppedReason::Error));
    assert_eq!(e.final_answer, "");
}

#[tokio::test]
async fn max_iterations_and_the_token_budget_bound_the_run() {
    let calls: Vec<ModelReply> = (0..20)
        .map(|i| tool_call("weather", json!({"day": i})))
        .collect();
    let e = go(
        &scripted(calls.clone()),
        &RunOptions {
            max_iterations: 4,
            ..options()
        },
    )
    .await;
    assert_eq!(
        (e.stopped_reason, e.metrics.iterations, e.ok),
        (StoppedReason::MaxIterations, 4, false)
    );
    let e = go(
        &scripted(calls),
        &RunOptions {
            token_budget: 40,
            ..options()
        },
    )
    .await;
    assert_eq!(
        (e.stopped_reason, e.metrics.iterations),
        (StoppedReason::Budget, 3)
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_model_is_stopped_at_the_deadline() {
    let mut m = scripted(vec![
        tool_call("weather", json!({"n": 1})),
        tool_call("weather", json!({"n": 2})),
        text("late"),
    ]);
    m.delay = Duration::from_secs(40);
    let started = tokio::time::Instant::now();
    let e = go(
        &m,
        &RunOptions {
            deadline: Duration::from_secs(100),
            ..options()
        },
    )
    .await;
    assert_eq!(e.stopped_reason, StoppedReason::Deadline);
    assert_eq!(started.elapsed(), Duration::from_secs(100));
    assert!(!e.ok);
}

#[tokio::test(start_paused = true)]
async fn parallel_tool_calls_run_concurrently_and_answer_in_order() {
    let m = scripted(vec![
        ModelReply {
            tool_calls: vec![
                Call {
                    id: "a".into(),
                    name: "weather".into(),
                    arguments: json!({"city": "A"}),
                },
                Call {
                    id: "b".into(),
                    name: "exec_python".into(),
                    arguments: json!({"code": "B"}),
                },
                Call {
                    id: "c".into(),
                    name: "weather".into(),
                    arguments: json!({"city": "C"}),
                },
            ],
            ..ModelReply::default()
        },
        text("done"),
    ]);
    let started = tokio::time::Instant::now();
    let messages = vec![json!({"role": "user", "content": "go"})];
    let e = run(
        &m,
        &toolbox(Duration::from_secs(2)),
        &CallContext::default(),
        &options(),
        messages,
        &|_| {},
    )
    .await;
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2),
        "three 2 s tools took 2 s together"
    );
    let ids: Vec<&str> = e
        .messages
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["tool_call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!(e.messages[4]["content"].as_str().unwrap().contains("\"C\""));
    assert_roles_valid(&e.messages);
}
