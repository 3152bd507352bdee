use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::config::{IdSpec, SandboxSettings};

mod attacks;

fn settings(timeout: Duration, max_output_bytes: usize) -> ExecSettings {
    ExecSettings {
        timeout,
        max_output_bytes,
        memory_mb: 256,
        max_processes: 64,
        network: false,
        allow: vec!["ls".into(), "echo".into(), "cat".into()],
    }
}

/// A sandbox for a test. As root it runs as `uid` (the test's own, so that its process budget is
/// not shared), otherwise as the test's own user. Fails the test
/// loudly when the sandbox cannot be had, unless the kernel lacks the namespaces: then `None`
/// and a visible SKIPPED line.
/// `None` picks a fresh uid (62000…), so that tests running in parallel never share a budget.
fn sandbox_as(uid: Option<u32>) -> Option<Arc<Sandbox>> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(62_000);
    let uid = uid.unwrap_or_else(|| NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let user = nix::unistd::geteuid().is_root().then_some(IdSpec::Id(uid));
    match Sandbox::establish(&SandboxSettings {
        user,
        ..SandboxSettings::default()
    }) {
        Ok(s) => Some(Arc::new(s)),
        Err(e @ SandboxError::KernelLacks(..)) => {
            eprintln!("SKIPPED (the kernel lacks a feature the sandbox needs): {e}");
            None
        }
        Err(e) => panic!("the exec sandbox cannot be established on this host: {e}"),
    }
}

async fn python_in(code: &str, s: ExecSettings, sandbox: Arc<Sandbox>) -> Value {
    let out = Exec::python(s, Ok(sandbox))
        .call(json!({"code": code}), &CallContext::default())
        .await;
    serde_json::from_str(&out.content).unwrap()
}

async fn python(code: &str, s: ExecSettings) -> Value {
    match sandbox_as(None) {
        Some(sandbox) => python_in(code, s, sandbox).await,
        None => json!({"skipped": true}),
    }
}

/// A unique `sleep` argument: processes running it can be found in /proc from outside.
fn marker() -> String {
    format!("1000.{:09}", rand::random::<u32>() % 1_000_000_000)
}

/// Pids of processes running `sleep <marker>` (zombies have no command line: not counted).
fn running(marker: &str) -> Vec<u32> {
    let needle = format!("sleep\0{marker}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .collect()
}

/// Whether every `sleep <marker>` is gone within `within` (polling another process tree: there
/// is no event to wait on).
async fn all_gone(marker: &str, within: Duration) -> bool {
    let until = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < until {
        if running(marker).is_empty() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running(marker).is_empty()
}

#[tokio::test]
async fn runs_python_and_reports_rc_stdout_stderr() {
    let r = python(
        "import sys\nprint('hi')\nprint('oops', file=sys.stderr)\nsys.exit(3)",
        settings(Duration::from_secs(10), 4096),
    )
    .await;
    if r["skipped"] == true {
        return;
    }
    assert_eq!(r["rc"], 3);
    assert_eq!(r["stdout"], "hi\n");
    assert_eq!(r["stderr"], "oops\n");
    assert_eq!(r["timed_out"], false);
}

#[tokio::test]
async fn a_timeout_kills_and_reaps_the_whole_sandbox() {
    let m = marker();
    let code = format!(
        "import subprocess, time\np = subprocess.Popen(['sleep', '{m}'])\nprint(p.pid, flush=True)\ntime.sleep(100)"
    );
    let started = tokio::time::Instant::now();
    let r = python(&code, settings(Duration::from_secs(2), 4096)).await;
    if r["skipped"] == true {
        return;
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r["timed_out"], true);
    assert_ne!(r["rc"], 0);
    assert!(
        all_gone(&m, Duration::from_secs(5)).await,
        "the background `sleep` of the run was killed too"
    );
}

#[tokio::test]
async fn dropping_a_call_kills_its_sandbox() {
    let Some(sandbox) = sandbox_as(Some(61_010)) else {
        return;
    };
    let m = marker();
    let code = format!("import os\nos.execv('/bin/sleep', ['sleep', '{m}'])");
    let call = tokio::spawn(async move {
        python_in(&code, settings(Duration::from_secs(60), 4096), sandbox).await
    });
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while running(&m).is_empty() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!running(&m).is_empty(), "the program started");
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    assert!(
        all_gone(&m, Duration::from_secs(5)).await,
        "the cancelled call's program was killed"
    );
}

#[tokio::test]
async fn as_root_without_an_unprivileged_user_the_tools_are_refused() {
    let refused = Sandbox::establish(&SandboxSettings {
        user: Some(IdSpec::Id(0)),
        ..SandboxSettings::default()
    });
    assert!(matches!(refused, Err(SandboxError::Root)), "{refused:?}");
    let tool = Exec::python(
        settings(Duration::from_secs(5), 4096),
        Err(SandboxError::Root),
    );
    let out = tool
        .call(json!({"code": "print(1)"}), &CallContext::default())
        .await;
    assert!(!out.ok);
    assert!(
        out.content.contains("exec_python is refused") && out.content.contains("as root"),
        "{}",
        out.content
    );
}

#[tokio::test]
async fn the_environment_is_empty_but_for_the_allowlist() {
    let r = python(
        "import os, json\nprint(json.dumps(sorted(os.environ)))",
        settings(Duration::from_secs(10), 4096),
    )
    .await;
    if r["skipped"] == true {
        return;
    }
    let names: Vec<String> = serde_json::from_str(r["stdout"].as_str().unwrap()).unwrap();
    for name in &names {
        assert!(
            [
                "HOME",
                "LANG",
                "PATH",
                "PYTHONDONTWRITEBYTECODE",
                "TMPDIR",
                "LC_CTYPE",
                "PWD"
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
    if r["skipped"] == true {
        return;
    }
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
    if r["skipped"] == true {
        return;
    }
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
    if first["skipped"] == true {
        return;
    }
    let second = python("import os\nprint(os.listdir('.'))", s).await;
    assert_eq!(second["stdout"], "[]\n");
    assert!(
        !std::path::Path::new(first["stdout"].as_str().unwrap().trim()).exists(),
        "removed afterwards"
    );
}

#[tokio::test]
async fn the_shell_tool_runs_only_allowed_programs_without_a_shell() {
    let Some(sandbox) = sandbox_as(None) else {
        return;
    };
    let shell = Exec::shell(settings(Duration::from_secs(10), 4096), Ok(sandbox));
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
