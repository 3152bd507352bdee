//! `switchyard_settings.agent` (SPEC §9): raw form, and the resolved settings with defaults.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::Deserialize;

/// The raw `agent` block.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawAgent {
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    max_iterations: Option<u32>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    deadline_seconds: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    token_budget: Option<u64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    loop_threshold: Option<u32>,
    escalate_to: Option<String>,
    aliases: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    heartbeat_seconds: Option<f64>,
    trace_path: Option<PathBuf>,
    trace_text_chars: Option<usize>,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    run_code_blocks: bool,
    tools: RawTools,
    sandbox: RawSandbox,
    http_tools: Vec<RawHttpTool>,
    mcp_servers: Vec<RawMcpServer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawTools {
    exec_python: Option<RawExec>,
    exec_shell: Option<RawExec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawExec {
    #[serde(default, deserialize_with = "super::yaml11::flag")]
    enabled: bool,
    #[serde(default, deserialize_with = "super::yaml11::opt_float")]
    timeout_seconds: Option<f64>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    max_output_bytes: Option<usize>,
    #[serde(default, deserialize_with = "super::yaml11::opt_int")]
    memory_mb: Option<u64>,
    max_processes: Option<u32>,
    network: bool,
    allow: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawSandbox {
    user: Option<IdSpec>,
    group: Option<IdSpec>,
    uids: Option<u32>,
}

/// A user or group: a name or a numeric id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IdSpec {
    /// A numeric id.
    Id(u32),
    /// A name looked up in the system's user or group database.
    Name(String),
}

#[derive(Debug, Deserialize)]
struct RawHttpTool {
    name: String,
    base_url: String,
    #[serde(default, deserialize_with = "super::yaml11::flag")]
    forward_authorization: bool,
}

#[derive(Debug, Deserialize)]
struct RawMcpServer {
    name: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    command: Vec<String>,
}

/// Agent-mode settings, with defaults applied.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// Model calls per run.
    pub max_iterations: u32,
    /// Wall clock for a run.
    pub deadline: Duration,
    /// Prompt + completion tokens for a run.
    pub token_budget: u64,
    /// The same call this many times stops the run.
    pub loop_threshold: u32,
    /// Model group used once when the model stalls.
    pub escalate_to: Option<String>,
    /// Tool name aliases (`python` -> `exec_python`).
    pub aliases: BTreeMap<String, String>,
    /// SSE comment interval while a streaming run works.
    pub heartbeat: Duration,
    /// JSONL trace, one line per step.
    pub trace_path: Option<PathBuf>,
    /// What the model wrote is kept in the trace up to this many characters.
    pub trace_text_chars: usize,
    /// `max_tokens` of each model call of a run.
    pub max_tokens: u32,
    /// `temperature` of each model call of a run.
    pub temperature: f64,
    /// A ```` ```python ```` block in a reply runs as an `exec_python` call.
    pub run_code_blocks: bool,
    /// `exec_python`, when enabled.
    pub exec_python: Option<ExecSettings>,
    /// `exec_shell`, when enabled.
    pub exec_shell: Option<ExecSettings>,
    /// Who runs the exec tools (SPEC §15).
    pub sandbox: SandboxSettings,
    /// HTTP tool hosts.
    pub http_tools: Vec<HttpToolSettings>,
    /// MCP servers.
    pub mcp_servers: Vec<McpServerSettings>,
}

/// An exec tool's sandbox.
#[derive(Debug, Clone)]
pub struct ExecSettings {
    /// Wall-clock limit; the whole process group is killed after it.
    pub timeout: Duration,
    /// Cap on captured stdout and on stderr.
    pub max_output_bytes: usize,
    /// Address-space limit, per process.
    pub memory_mb: u64,
    /// Processes (and threads) the program may have at once.
    pub max_processes: u32,
    /// Whether the program shares the host's network (off: its own empty network namespace).
    pub network: bool,
    /// `exec_shell`: the programs it may run.
    pub allow: Vec<String>,
}

/// `switchyard_settings.agent.sandbox`: the user the exec tools run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    /// The user to drop to (default when the gateway runs as root: `nobody`, else none: the
    /// gateway's own user inside a user namespace).
    pub user: Option<IdSpec>,
    /// Its group (default: the user's primary group, or the gid equal to a numeric uid).
    pub group: Option<IdSpec>,
    /// With more than 1 (as root), each call runs as a uid of its own from `user`'s uid on
    /// (`uid .. uid + uids`), so that calls never share a process budget; at most `uids` calls
    /// run at once, the others wait.
    pub uids: u32,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            user: None,
            group: None,
            uids: 1,
        }
    }
}

/// An HTTP tool host.
#[derive(Debug, Clone)]
pub struct HttpToolSettings {
    /// Prefix of its tools (`<name>__<tool>`).
    pub name: String,
    /// Base URL (`GET {base}/tools`, `POST {base}/invoke`).
    pub base_url: String,
    /// Pass the caller's `Authorization` header.
    pub forward_authorization: bool,
}

/// How to reach an MCP server.
#[derive(Debug, Clone)]
pub enum McpTransport {
    /// Streamable HTTP.
    Http(String),
    /// A child process speaking stdio.
    Stdio(Vec<String>),
}

/// An MCP server.
#[derive(Debug, Clone)]
pub struct McpServerSettings {
    /// Prefix of its tools (`<name>__<tool>`).
    pub name: String,
    /// Its transport.
    pub transport: McpTransport,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            max_iterations: 8,
            deadline: Duration::from_secs(120),
            token_budget: 200_000,
            loop_threshold: 3,
            escalate_to: None,
            aliases: BTreeMap::new(),
            heartbeat: Duration::from_secs(5),
            trace_path: None,
            trace_text_chars: 2000,
            max_tokens: 1024,
            temperature: 0.2,
            run_code_blocks: false,
            exec_python: None,
            exec_shell: None,
            sandbox: SandboxSettings::default(),
            http_tools: Vec::new(),
            mcp_servers: Vec::new(),
        }
    }
}

/// Resolves the raw block; `groups` are the model groups (for `escalate_to`).
pub(crate) fn resolve(
    raw: RawAgent,
    groups: &std::collections::HashSet<&str>,
) -> Result<AgentSettings, (String, String)> {
    let d = AgentSettings::default();
    let secs = |path: &str, v: Option<f64>, default: Duration| match v {
        None => Ok(default),
        Some(v) if v > 0.0 && v < 1e7 => Ok(Duration::from_secs_f64(v)),
        Some(v) => Err((
            format!("switchyard_settings.agent.{path}"),
            format!("expected seconds > 0, got {v}"),
        )),
    };
    if let Some(g) = raw.escalate_to.as_deref().filter(|g| !groups.contains(g)) {
        return Err((
            "switchyard_settings.agent.escalate_to".into(),
            format!("unknown model group `{g}`"),
        ));
    }
    let exec =
        |path: &str, raw: Option<RawExec>| -> Result<Option<ExecSettings>, (String, String)> {
            let Some(raw) = raw.filter(|r| r.enabled) else {
                return Ok(None);
            };
            Ok(Some(ExecSettings {
                timeout: secs(
                    &format!("tools.{path}.timeout_seconds"),
                    raw.timeout_seconds,
                    Duration::from_secs(10),
                )?,
                max_output_bytes: raw.max_output_bytes.unwrap_or(65_536).clamp(256, 16 << 20),
                memory_mb: raw.memory_mb.unwrap_or(512).clamp(16, 1 << 20),
                max_processes: raw.max_processes.unwrap_or(64).clamp(1, 4096),
                network: raw.network,
                allow: raw.allow,
            }))
        };
    let mut names = std::collections::HashSet::new();
    let mut http_tools = Vec::new();
    for (i, h) in raw.http_tools.into_iter().enumerate() {
        if !(h.base_url.starts_with("http://") || h.base_url.starts_with("https://"))
            || !names.insert(h.name.clone())
        {
            return Err((
                format!("switchyard_settings.agent.http_tools[{i}]"),
                "expected a unique name and an http(s) base_url".into(),
            ));
        }
        http_tools.push(HttpToolSettings {
            name: h.name,
            base_url: h.base_url.trim_end_matches('/').into(),
            forward_authorization: h.forward_authorization,
        });
    }
    let mut mcp_servers = Vec::new();
    for (i, m) in raw.mcp_servers.into_iter().enumerate() {
        let transport = match (m.url, m.command.is_empty()) {
            (Some(url), true) => McpTransport::Http(url),
            (None, false) => McpTransport::Stdio(m.command),
            _ => {
                return Err((
                    format!("switchyard_settings.agent.mcp_servers[{i}]"),
                    "expected exactly one of `url` or `command`".into(),
                ));
            }
        };
        if !names.insert(m.name.clone()) {
            return Err((
                format!("switchyard_settings.agent.mcp_servers[{i}].name"),
                format!("`{}` is used twice", m.name),
            ));
        }
        mcp_servers.push(McpServerSettings {
            name: m.name,
            transport,
        });
    }
    let max_tokens = match raw.max_tokens {
        None => d.max_tokens,
        Some(n) if n >= 1 => n,
        Some(n) => {
            return Err((
                "switchyard_settings.agent.max_tokens".into(),
                format!("expected at least 1, got {n}"),
            ));
        }
    };
    let temperature = match raw.temperature {
        None => d.temperature,
        Some(t) if (0.0..=2.0).contains(&t) => t,
        Some(t) => {
            return Err((
                "switchyard_settings.agent.temperature".into(),
                format!("expected 0 to 2, got {t}"),
            ));
        }
    };
    Ok(AgentSettings {
        max_iterations: raw
            .max_iterations
            .unwrap_or(d.max_iterations)
            .clamp(1, 1000),
        deadline: secs("deadline_seconds", raw.deadline_seconds, d.deadline)?,
        token_budget: raw.token_budget.unwrap_or(d.token_budget),
        loop_threshold: raw.loop_threshold.unwrap_or(d.loop_threshold).max(2),
        escalate_to: raw.escalate_to,
        aliases: raw.aliases,
        heartbeat: secs("heartbeat_seconds", raw.heartbeat_seconds, d.heartbeat)?,
        trace_path: raw.trace_path,
        trace_text_chars: raw.trace_text_chars.unwrap_or(d.trace_text_chars),
        max_tokens,
        temperature,
        run_code_blocks: raw.run_code_blocks,
        exec_python: exec("exec_python", raw.tools.exec_python)?,
        exec_shell: exec("exec_shell", raw.tools.exec_shell)?,
        sandbox: SandboxSettings {
            user: raw.sandbox.user,
            group: raw.sandbox.group,
            uids: raw.sandbox.uids.unwrap_or(1).clamp(1, 65_536),
        },
        http_tools,
        mcp_servers,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::parse;

    const ONE: &str = "model_list:\n  - model_name: gpt\n    litellm_params: { model: mock/gpt }\n";

    #[test]
    fn model_call_bounds_default_low_and_are_checked() {
        let (c, _) = parse(ONE, "c.yaml", &HashMap::new()).unwrap();
        let a = &c.agent;
        assert_eq!(
            (
                a.max_tokens,
                a.temperature,
                a.run_code_blocks,
                a.trace_text_chars
            ),
            (1024, 0.2, false, 2000)
        );
        let yaml = format!(
            "{ONE}switchyard_settings:\n  agent: {{ max_tokens: 256, temperature: 0, run_code_blocks: true, trace_text_chars: 100 }}\n"
        );
        let (c, _) = parse(&yaml, "c.yaml", &HashMap::new()).unwrap();
        let a = &c.agent;
        assert_eq!(
            (
                a.max_tokens,
                a.temperature,
                a.run_code_blocks,
                a.trace_text_chars
            ),
            (256, 0.0, true, 100)
        );
        for (bad, path) in [
            ("max_tokens: 0", "switchyard_settings.agent.max_tokens"),
            ("temperature: 3", "switchyard_settings.agent.temperature"),
        ] {
            let yaml = format!("{ONE}switchyard_settings:\n  agent: {{ {bad} }}\n");
            let e = parse(&yaml, "c.yaml", &HashMap::new()).unwrap_err();
            assert!(e.to_string().contains(path), "{e}");
        }
    }
}
