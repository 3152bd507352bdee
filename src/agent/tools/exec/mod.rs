//! `exec_python` and `exec_shell`: a sandboxed child process per call (SPEC §9, §15). Each call
//! runs in a fresh temporary directory inside a [`Sandbox`] (its own namespaces, an unprivileged
//! user, a process limit, no network unless the tool's config allows it), with an empty
//! environment (plus a short allowlist), CPU/memory/file-size rlimits, a timeout after which the
//! whole sandbox is killed and reaped, and capped stdout/stderr. Dropping a call's future kills
//! its sandbox too. `exec_shell` runs an argv whose program is on its allowlist, with no shell in
//! between. Without a sandbox the tools are refused, never run unprotected.

use std::{path::Path, process::Stdio, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use serde_json::{Value, json};
use tokio::{io::AsyncReadExt, process::Command};

use super::{CallContext, Tool, ToolOutput, ToolSpec};
use crate::config::ExecSettings;

mod sandbox;

pub use sandbox::{Lease, Sandbox, SandboxError};

/// A sandbox established at start, or why the exec tools are refused.
pub type Established = Result<Arc<Sandbox>, SandboxError>;

/// Which exec tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Python,
    Shell,
}

/// An exec tool.
pub struct Exec {
    kind: Kind,
    spec: ToolSpec,
    settings: Arc<ExecSettings>,
    sandbox: Established,
}

/// What a run of the child produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExecResult {
    /// Exit code (128 + signal when killed).
    pub rc: i32,
    /// Captured stdout (capped).
    pub stdout: String,
    /// Captured stderr (capped).
    pub stderr: String,
    /// Whether the timeout killed it.
    pub timed_out: bool,
}

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl Exec {
    /// `exec_python`, run in `sandbox`.
    pub fn python(settings: ExecSettings, sandbox: Established) -> Self {
        let spec = ToolSpec {
            name: "exec_python".into(),
            description: "Run a Python 3 program in a sandbox and return {rc, stdout, stderr, timed_out}. Print what you need to see.".into(),
            parameters: json!({"type": "object", "properties": {"code": {"type": "string", "description": "The Python source to run."}}, "required": ["code"]}),
        };
        Self {
            kind: Kind::Python,
            spec,
            settings: Arc::new(settings),
            sandbox,
        }
    }

    /// `exec_shell`, run in `sandbox`.
    pub fn shell(settings: ExecSettings, sandbox: Established) -> Self {
        let spec = ToolSpec {
            name: "exec_shell".into(),
            description: format!(
                "Run one program (no shell: no pipes, globs or redirections) and return {{rc, stdout, stderr, timed_out}}. Allowed programs: {}.",
                settings.allow.join(", ")
            ),
            parameters: json!({"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}, "description": "The argv, e.g. [\"ls\", \"-la\"]."}}, "required": ["command"]}),
        };
        Self {
            kind: Kind::Shell,
            spec,
            settings: Arc::new(settings),
            sandbox,
        }
    }

    /// The argv to run for `arguments`, or why not.
    fn argv(&self, arguments: &Value) -> Result<Vec<String>, String> {
        match self.kind {
            Kind::Python => {
                let code = match arguments {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(m) => ["code", "script", "source", "program", "command"]
                        .iter()
                        .find_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_owned)),
                    _ => None,
                };
                let code = code.ok_or("expected {\"code\": \"<python source>\"}")?;
                Ok(vec![python().to_owned(), "-I".into(), "-c".into(), code])
            }
            Kind::Shell => {
                let raw = match arguments {
                    Value::Object(m) => ["command", "argv", "cmd", "args"]
                        .iter()
                        .find_map(|k| m.get(*k))
                        .cloned(),
                    other => Some(other.clone()),
                };
                let argv: Vec<String> = match raw {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect(),
                    Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
                    _ => return Err("expected {\"command\": [\"program\", \"arg\", ...]}".into()),
                };
                let program = argv.first().ok_or("empty command")?;
                if !self.settings.allow.iter().any(|a| a == program) {
                    return Err(format!(
                        "`{program}` is not allowed; allowed programs: {}",
                        self.settings.allow.join(", ")
                    ));
                }
                Ok(argv)
            }
        }
    }
}

impl Tool for Exec {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, arguments: Value, _: &CallContext) -> BoxFuture<'static, ToolOutput> {
        let argv = self.argv(&arguments);
        let settings = self.settings.clone();
        let sandbox = self.sandbox.clone();
        let name = self.spec.name.clone();
        Box::pin(async move {
            let sandbox = match sandbox {
                Ok(s) => s,
                Err(e) => return ToolOutput::error(format!("{name} is refused on this host: {e}")),
            };
            let argv = match argv {
                Ok(a) => a,
                Err(e) => return ToolOutput::error(e),
            };
            match run(&argv, &settings, &sandbox).await {
                Ok(result) => ToolOutput {
                    ok: result.rc == 0 && !result.timed_out,
                    content: json!(result).to_string(),
                },
                Err(e) => ToolOutput::error(format!("could not run the program: {e}")),
            }
        })
    }
}

/// Runs `argv` in a fresh sandbox.
pub async fn run(
    argv: &[String],
    settings: &ExecSettings,
    sandbox: &Sandbox,
) -> std::io::Result<ExecResult> {
    let lease = sandbox.lease().await?;
    let dir = TempDir::create()?;
    sandbox.own(&lease, &dir.0)?;
    run_in(&dir.0, argv, settings, sandbox, &lease).await
}

/// A call's directory, removed when the call ends or its future is dropped.
struct TempDir(std::path::PathBuf);

async fn run_in(
    dir: &Path,
    argv: &[String],
    s: &ExecSettings,
    sandbox: &Sandbox,
    lease: &Lease<'_>,
) -> std::io::Result<ExecResult> {
    let home = dir.to_string_lossy();
    let env = [
        ("PATH", PATH),
        ("HOME", &*home),
        ("TMPDIR", &*home),
        ("LANG", "C.UTF-8"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
    ];
    let mut cmd = Command::from(sandbox.command(lease, argv, dir, &env, s));
    // Killing bubblewrap (its monitor is this child) kills the PID namespace's init
    // (--die-with-parent), and with it every process in the sandbox, whatever session it is in.
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let cap = s.max_output_bytes;
    let stdout = child
        .stdout
        .take()
        .map(|o| tokio::spawn(read_capped(o, cap)));
    let stderr = child
        .stderr
        .take()
        .map(|e| tokio::spawn(read_capped(e, cap)));
    let (status, timed_out) = match tokio::time::timeout(s.timeout, child.wait()).await {
        Ok(status) => (Some(status?), false),
        Err(_) => (None, true),
    };
    // Kill the whole group: on timeout, and any child left behind by a finished program.
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let status = match status {
        Some(status) => status,
        None => child.wait().await?, // reap
    };
    let collect = |h: Option<tokio::task::JoinHandle<String>>| async move {
        match h {
            Some(h) => tokio::time::timeout(Duration::from_secs(2), h)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => String::new(),
        }
    };
    let rc = status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    });
    Ok(ExecResult {
        rc,
        stdout: collect(stdout).await,
        stderr: collect(stderr).await,
        timed_out,
    })
}

/// Reads a pipe to its end, keeping the first `cap` bytes (draining the rest so the child never
/// blocks on a full pipe).
async fn read_capped(mut pipe: impl tokio::io::AsyncRead + Unpin, cap: usize) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut dropped = false;
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = cap.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        dropped |= n > room;
    }
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if dropped {
        text.push_str("\n[output truncated]");
    }
    text
}

// === impl TempDir ===

impl TempDir {
    fn create() -> std::io::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("switchyard-exec-{:032x}", rand::random::<u128>()));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn python() -> &'static str {
    ["/usr/bin/python3", "/usr/local/bin/python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("python3")
}

#[cfg(test)]
mod tests;
