use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn settings(timeout: Duration, max_output_bytes: usize) -> ExecSettings {
    ExecSettings {
        timeout,
        max_output_bytes,
        memory_mb: 256,
        allow: vec!["ls".into(), "echo".into(), "cat".into()],
    }
}

async fn python(code: &str, s: ExecSettings) -> Value {
    let out = Exec::python(s)
        .call(json!({"code": code}), &CallContext::default())
        .await;
    serde_json::from_str(&out.content).unwrap()
}

/// Whether `pid` is gone (or a zombie nobody reaped: not running either way).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn runs_python_and_reports_rc_stdout_stderr() {
    let r = python(
        "import sys\nprint('hi')\nprint('oops', file=sys.stderr)\nsys.exit(3)",
        settings(Duration::from_secs(10), 4096),
    )
    .await;
    assert_eq!(r["rc"], 3);
    assert_eq!(r["stdout"], "hi\n");
    assert_eq!(r["stderr"], "oops\n");
    assert_eq!(r["timed_out"], false);
}

#[tokio::test]
async fn a_timeout_kills_and_reaps_the_whole_group() {
    let code = "import subprocess, time\np = subprocess.Popen(['sleep', '100'])\nprint(p.pid, flush=True)\ntime.sleep(100)";
    let started = tokio::time::Instant::now();
    let r = python(code, settings(Duration::from_secs(2), 4096)).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r["timed_out"], true);
    assert_ne!(r["rc"], 0);
    let grandchild: u32 = r["stdout"].as_str().unwrap().trim().parse().unwrap();
    assert!(
        gone(grandchild),
        "the background `sleep` of the run was killed too"
    );
}

#[tokio::test]
async fn the_environment_is_empty_but_for_the_allowlist() {
    let r = python(
        "import os, json\nprint(json.dumps(sorted(os.environ)))",
        settings(Duration::from_secs(10), 4096),
    )
    .await;
    let names: Vec<String> = serde_json::from_str(r["stdout"].as_str().unwrap()).unwrap();
    for name in &names {
        assert!(
            [
                "HOME",
                "LANG",
                "PATH",
                "PYTHONDONTWRITEBYTECODE",
                "TMPDIR",
                "LC_CTYPE"
            ]
            .contains(&name.as_str()),
            "{name} leaked in"
        );
    }
    assert!(!names.contains(&"CARGO_PKG_NAME".to_owned()));
}

#[tokio::test]
async fn output_is_capped() {
    let r = python(
        "print('x' * 100000)",
        settings(Duration::from_secs(10), 1000),
    )
    .await;
    let out = r["stdout"].as_str().unwrap();
    assert!(
        out.len() <= 1000 + "\n[output truncated]".len(),
        "{}",
        out.len()
    );
    assert!(out.ends_with("[output truncated]"));
    assert_eq!(r["rc"], 0, "the child was not blocked by the cap");
}

#[tokio::test]
async fn memory_is_limited() {
    let r = python(
        "x = bytearray(1024 * 1024 * 1024)\nprint('allocated')",
        settings(Duration::from_secs(10), 4096),
    )
    .await;
    assert_ne!(r["rc"], 0);
    assert!(r["stderr"].as_str().unwrap().contains("MemoryError"), "{r}");
}

#[tokio::test]
async fn each_call_gets_a_fresh_directory() {
    let s = settings(Duration::from_secs(10), 4096);
    let first = python(
        "import os\nopen('note.txt', 'w').write('x')\nprint(os.getcwd())",
        s.clone(),
    )
    .await;
    let second = python("import os\nprint(os.listdir('.'))", s).await;
    assert_eq!(second["stdout"], "[]\n");
    assert!(
        !std::path::Path::new(first["stdout"].as_str().unwrap().trim()).exists(),
        "removed afterwards"
    );
}

#[tokio::test]
async fn the_shell_tool_runs_only_allowed_programs_without_a_shell() {
    let shell = Exec::shell(settings(Duration::from_secs(10), 4096));
    let ok = shell
        .call(
            json!({"command": ["echo", "a; rm -rf /", "$HOME"]}),
            &CallContext::default(),
        )
        .await;
    let r: Value = serde_json::from_str(&ok.content).unwrap();
    assert_eq!(
        r["stdout"], "a; rm -rf / $HOME\n",
        "arguments are passed as is, never interpreted"
    );
    let refused = shell
        .call(json!({"command": "rm -rf /tmp/x"}), &CallContext::default())
        .await;
    assert!(!refused.ok);
    assert!(
        refused.content.contains("not allowed"),
        "{}",
        refused.content
    );
}
