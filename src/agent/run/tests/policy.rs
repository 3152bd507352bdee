//! The policy for small models: repeats answered from earlier results, one correction for an
//! unreadable call, schema-shaped arguments, code blocks, honest answers, and the deadline over
//! tools.

use super::*;

/// `exec_python` as the sandbox answers: `print(17*23)` prints 391, code with `fail` exits 1,
/// code with `sleep` takes a minute.
struct FakePython {
    spec: ToolSpec,
    runs: Arc<Mutex<u32>>,
}

impl Tool for FakePython {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn call(&self, arguments: Value, _: &CallContext) -> BoxFuture<'static, ToolOutput> {
        *self.runs.lock() += 1;
        let code = arguments["code"].as_str().unwrap_or("").to_owned();
        Box::pin(async move {
            if code.contains("sleep") {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            let (rc, stdout, stderr) = if code.contains("fail") {
                (
                    1,
                    "",
                    "Traceback (most recent call last):\nNameError: name 'x' is not defined",
                )
            } else if code.contains("17*23") {
                (0, "391\n", "")
            } else {
                (0, "ok\n", "")
            };
            ToolOutput {
                content: json!({"rc": rc, "stdout": stdout, "stderr": stderr, "timed_out": false})
                    .to_string(),
                ok: rc == 0,
            }
        })
    }
}

fn python_box() -> (Toolbox, Arc<Mutex<u32>>) {
    let runs = Arc::new(Mutex::new(0));
    let tool = FakePython {
        spec: ToolSpec {
            name: "exec_python".into(),
            description: String::new(),
            parameters: json!({"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}),
        },
        runs: runs.clone(),
    };
    let aliases: BTreeMap<String, String> =
        [("python".to_owned(), "exec_python".to_owned())].into();
    (Toolbox::new(vec![Arc::new(tool)], aliases), runs)
}

async fn go_python(model: &Scripted, options: &RunOptions) -> (Envelope, u32) {
    let (toolbox, runs) = python_box();
    let messages = vec![json!({"role": "user", "content": "What is 17*23? Use python."})];
    let e = run(
        model,
        &toolbox,
        &CallContext::default(),
        options,
        messages,
        &|_| {},
    )
    .await;
    assert_roles_valid(&e.messages);
    if e.ok {
        assert!(!e.final_answer.trim().is_empty());
    }
    let runs = *runs.lock();
    (e, runs)
}

fn py(code: &str) -> ModelReply {
    tool_call("exec_python", json!({ "code": code }))
}

#[tokio::test]
async fn a_repeat_after_success_is_answered_from_the_earlier_result_and_the_model_answers() {
    let m = scripted(vec![
        py("print(17*23)"),
        py("print(17*23)"),
        text("17*23 = 391"),
    ]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!(
        (e.ok, e.stopped_reason, e.final_answer.as_str()),
        (true, StoppedReason::Final, "17*23 = 391")
    );
    assert_eq!(runs, 1, "the repeat is not run again");
    assert_eq!(e.metrics.tool_calls, 1);
    let seen = m.seen.lock().clone();
    assert_eq!(seen[2].2, 0, "the call after the repeat goes without tools");
    let roles: Vec<&str> = e
        .messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "user",
            "assistant"
        ]
    );
    assert_eq!(
        e.messages[4]["content"], e.messages[2]["content"],
        "the earlier result"
    );
    assert_eq!(e.messages[5]["content"], ANSWER_NOW);
}

#[tokio::test]
async fn a_model_that_calls_again_instead_of_answering_stops_with_the_plain_stdout() {
    // Qwen2.5-Coder 0.5B: the same call three times, the third written as text.
    let m = scripted(vec![
        py("print(17*23)"),
        py("print(17*23)"),
        text(
            "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(17*23)\"}}\n</tool_call>",
        ),
    ]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!(e.stopped_reason, StoppedReason::LoopDetected);
    assert!(!e.ok, "a loop is never ok");
    assert_eq!(
        e.final_answer, "391",
        "the stdout in plain words, never the JSON envelope"
    );
    assert_eq!((runs, e.metrics.iterations), (1, 3));
}

#[tokio::test]
async fn a_failing_call_repeated_runs_again_until_the_loop_threshold() {
    let m = scripted(vec![py("fail()")]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!((e.stopped_reason, runs), (StoppedReason::LoopDetected, 3));
    assert!(!e.ok);
    assert!(
        e.final_answer
            .starts_with("The program failed with exit code 1: Traceback"),
        "{}",
        e.final_answer
    );
}

#[tokio::test]
async fn an_unreadable_call_gets_one_correction_and_one_more_try() {
    let m = scripted(vec![
        text(
            "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(\"391\")\"}}\n</tool_call>",
        ),
        text(
            "<tool_call>\n{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(17*23)\"}}\n</tool_call>",
        ),
        text("The answer is 391."),
    ]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!(
        (e.ok, e.stopped_reason, e.final_answer.as_str(), runs),
        (true, StoppedReason::Final, "The answer is 391.", 1)
    );
    let correction = e.messages[2]["content"].as_str().unwrap();
    assert_eq!(e.messages[2]["role"], "user");
    assert!(
        correction.contains("could not be read because it is not valid JSON")
            && correction
                .contains("{\"name\": \"exec_python\", \"arguments\": {\"code\": <string>}}"),
        "{correction}"
    );
    assert_eq!(
        correction.matches(". ").count(),
        0,
        "one sentence: {correction}"
    );
}

#[tokio::test]
async fn an_unreadable_call_is_never_a_final_answer() {
    let garbled = "<tool_call>{\"name\": \"exec_python\", \"arguments\": {\"code\": \"print(\"x\")\"}}</tool_call>";
    let m = scripted(vec![text(garbled)]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!(
        (e.ok, e.stopped_reason, runs),
        (false, StoppedReason::Error, 0)
    );
    assert_eq!(
        e.final_answer, "",
        "the call text is not passed off as an answer"
    );
    assert!(e.error.unwrap().contains("could not be read"));
    assert_eq!(e.metrics.iterations, 2, "one correction, one more try");
}

#[tokio::test]
async fn arguments_given_as_the_schema_are_read_or_corrected_once() {
    // The values sit under `properties`: read them.
    let m = scripted(vec![
        tool_call(
            "exec_python",
            json!({"type": "object", "properties": {"code": "print(17*23)"}}),
        ),
        text("391"),
    ]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!((e.ok, runs), (true, 1));
    // Only the schema: tell the model the shape.
    let schema = json!({"type": "object", "properties": {"code": {"type": "string", "description": "The Python source to run."}}, "required": ["code"]});
    let m = scripted(vec![
        tool_call("exec_python", schema.clone()),
        py("print(17*23)"),
        text("391"),
    ]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!((e.ok, runs), (true, 1));
    let told: Value = serde_json::from_str(e.messages[2]["content"].as_str().unwrap()).unwrap();
    let told = told["error"].as_str().unwrap();
    assert!(told.contains("{\"code\": <string>}"), "{told}");
}

#[tokio::test]
async fn python_blocks_run_only_when_asked() {
    let reply = "Let me compute it:\n```python\nprint(17*23)\n```";
    let m = scripted(vec![text(reply), text("It is 391.")]);
    let (e, runs) = go_python(&m, &options()).await;
    assert_eq!(
        (e.stopped_reason, runs, e.final_answer.as_str()),
        (StoppedReason::Final, 0, reply)
    );
    let m = scripted(vec![text(reply), text("It is 391.")]);
    let on = RunOptions {
        run_code_blocks: true,
        ..options()
    };
    let (e, runs) = go_python(&m, &on).await;
    assert_eq!(
        (e.stopped_reason, runs, e.final_answer.as_str()),
        (StoppedReason::Final, 1, "It is 391.")
    );
    assert_eq!(e.messages[1]["content"], "Let me compute it:");
    assert!(e.messages[2]["content"].as_str().unwrap().contains("391"));
}

#[tokio::test]
async fn a_blank_model_after_a_failed_tool_is_not_ok() {
    let m = scripted(vec![py("fail()"), text(""), text("")]);
    let (e, _) = go_python(&m, &options()).await;
    assert_eq!((e.stopped_reason, e.ok), (StoppedReason::ToolOutput, false));
    assert!(e.final_answer.contains("exit code 1"), "{}", e.final_answer);
    let m = scripted(vec![py("print(17*23)"), text(""), text("")]);
    let (e, _) = go_python(&m, &options()).await;
    assert_eq!(
        (e.stopped_reason, e.ok, e.final_answer.as_str()),
        (StoppedReason::ToolOutput, true, "391")
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_holds_for_a_slow_tool() {
    let m = scripted(vec![py("import time; time.sleep(60)"), text("never")]);
    let started = tokio::time::Instant::now();
    let (e, _) = go_python(
        &m,
        &RunOptions {
            deadline: Duration::from_secs(2),
            ..options()
        },
    )
    .await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!((e.stopped_reason, e.ok), (StoppedReason::Deadline, false));
    assert_eq!(e.messages.last().unwrap()["content"], CUT_BY_DEADLINE);
}

#[tokio::test]
async fn a_model_call_cut_by_its_timeout_counts_as_an_iteration() {
    let m = scripted(vec![text("391")]);
    *m.timeouts.lock() = 2;
    let steps = Mutex::new(Vec::new());
    let (toolbox, _) = python_box();
    let e = run(
        &m,
        &toolbox,
        &CallContext::default(),
        &options(),
        vec![json!({"role": "user", "content": "17*23?"})],
        &|s| steps.lock().push(format!("{s:?}")),
    )
    .await;
    assert_eq!(
        (e.ok, e.stopped_reason, e.metrics.iterations),
        (true, StoppedReason::Final, 3)
    );
    assert_eq!(
        steps
            .lock()
            .iter()
            .filter(|s| s.starts_with("ModelTimeout"))
            .count(),
        2
    );
    let m = scripted(vec![text("391")]);
    *m.timeouts.lock() = 5;
    let (e, _) = go_python(
        &m,
        &RunOptions {
            max_iterations: 3,
            ..options()
        },
    )
    .await;
    assert_eq!(e.stopped_reason, StoppedReason::MaxIterations);
}

#[tokio::test]
async fn each_model_call_carries_the_runs_sampling() {
    let m = scripted(vec![py("print(17*23)"), text("391")]);
    let sampling = Sampling {
        max_tokens: 256,
        temperature: 0.0,
    };
    go_python(
        &m,
        &RunOptions {
            sampling,
            ..options()
        },
    )
    .await;
    assert_eq!(*m.sampling.lock(), [sampling, sampling]);
}
