//! Agent mode (SPEC §9): a server-side tool loop. A request asks for it with `POST /agent/run`,
//! an `agent` object in a chat completion body, or the header `x-switchyard-agent: on`. Each model
//! call re-enters the whole model stack (so it is limited, cached, routed, retried and metered
//! like any request); tools run in a sandbox, on HTTP tool hosts or MCP servers.

pub mod envelope;
mod model;
pub mod parse;
pub mod run;
pub mod tools;
mod trace;

use std::{
    io::Write as _,
    sync::{Arc, atomic::AtomicU32},
};

use http::HeaderMap;
use parking_lot::Mutex;
use prometheus::IntCounterVec;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

pub use envelope::{Envelope, StoppedReason};
use model::StackModel;
use run::{RunOptions, Step};
use tools::{
    CallContext, Tool, Toolbox,
    exec::{Established, Exec, Sandbox},
};

use crate::{
    config::AgentSettings,
    model::RequestId,
    proxy::{Identity, ModelTable, ProxyService},
    upstream::HttpClient,
};

/// The agent of one runtime: its settings, its tools (discovered on first use), its metrics.
pub struct Agent {
    settings: AgentSettings,
    client: HttpClient,
    toolbox: OnceCell<Toolbox>,
    /// The exec tools' sandbox, established at start when one of them is enabled.
    sandbox: Option<Established>,
    runs: IntCounterVec,
    tool_calls: IntCounterVec,
    trace: Option<Mutex<std::fs::File>>,
}

/// A request's overrides of the config (`agent` object, or the `/agent/run` body).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Overrides {
    /// Model calls at most.
    pub max_iterations: Option<u32>,
    /// Wall clock, seconds.
    pub deadline_seconds: Option<f64>,
    /// Token budget.
    pub token_budget: Option<u64>,
    /// A subset of the enabled tools.
    pub tools: Option<Vec<String>>,
    /// Model group used once when the model stalls.
    pub escalate_to: Option<String>,
    /// `max_tokens` of each model call.
    pub max_tokens: Option<u32>,
    /// `temperature` of each model call.
    pub temperature: Option<f64>,
    /// Whether a ```` ```python ```` block runs as an `exec_python` call.
    pub run_code_blocks: Option<bool>,
}

/// One run to do.
pub struct RunRequest {
    /// The model group.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Value>,
    /// The request's overrides.
    pub overrides: Overrides,
    /// Who asks.
    pub identity: Identity,
    /// The request id.
    pub request_id: RequestId,
    /// The caller's headers (its `Authorization` may go to HTTP tool hosts).
    pub headers: HeaderMap,
}

// === impl Agent ===

impl Agent {
    /// The agent for `settings`. When an exec tool is enabled, its sandbox is established now
    /// (a loud warning says what holds), or the tool is refused (an error says why).
    pub fn new(
        settings: AgentSettings,
        client: HttpClient,
        runs: IntCounterVec,
        tool_calls: IntCounterVec,
    ) -> Self {
        let enabled: Vec<_> = [
            ("exec_python", settings.exec_python.as_ref()),
            ("exec_shell", settings.exec_shell.as_ref()),
        ]
        .into_iter()
        .filter_map(|(name, s)| Some((name, s?)))
        .collect();
        let sandbox =
            (!enabled.is_empty()).then(|| Sandbox::establish(&settings.sandbox).map(Arc::new));
        for (name, exec) in &enabled {
            match &sandbox {
                Some(Ok(sandbox)) => {
                    let holds: Vec<String> = sandbox
                        .protections(exec)
                        .into_iter()
                        .map(|(what, how)| format!("{what}: {how}"))
                        .collect();
                    tracing::warn!(
                        tool = name,
                        "agent tool {name} is ENABLED: models can run programs on this host, in a sandbox ({})",
                        holds.join("; ")
                    );
                }
                Some(Err(e)) => tracing::error!(
                    tool = name,
                    "agent tool {name} is REFUSED (every call fails): {e}"
                ),
                None => {}
            }
        }
        let trace = settings.trace_path.as_ref().and_then(|p| {
            match std::fs::OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "cannot open the agent trace file; tracing is off");
                    None
                }
            }
        });
        Self {
            settings,
            client,
            toolbox: OnceCell::new(),
            sandbox,
            runs,
            tool_calls,
            trace,
        }
    }

    /// The tools, discovered once: exec tools from config, HTTP hosts' and MCP servers' listings.
    async fn toolbox(&self) -> &Toolbox {
        self.toolbox
            .get_or_init(|| async {
                let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
                if let (Some(s), Some(sandbox)) = (&self.settings.exec_python, &self.sandbox) {
                    tools.push(Arc::new(Exec::python(s.clone(), sandbox.clone())));
                }
                if let (Some(s), Some(sandbox)) = (&self.settings.exec_shell, &self.sandbox) {
                    tools.push(Arc::new(Exec::shell(s.clone(), sandbox.clone())));
                }
                for host in &self.settings.http_tools {
                    match tools::http::discover(host, &self.client).await {
                        Ok(found) => tools.extend(found),
                        Err(e) => tracing::warn!(host = %host.name, error = %e, "HTTP tool host unavailable; its tools are not offered"),
                    }
                }
                for server in &self.settings.mcp_servers {
                    match tools::mcp::connect(server).await {
                        Ok(found) => tools.extend(found),
                        Err(e) => tracing::warn!(server = %server.name, error = %e, "MCP server unavailable; its tools are not offered"),
                    }
                }
                Toolbox::new(tools, self.settings.aliases.clone())
            })
            .await
    }

    /// Runs the loop for `request` through the model stack `stack` of the runtime whose model
    /// table is `models`.
    pub async fn run(
        &self,
        stack: &ProxyService,
        models: &Arc<ModelTable>,
        request: RunRequest,
    ) -> Envelope {
        let o = &request.overrides;
        let s = &self.settings;
        let options = RunOptions {
            model: request.model.clone(),
            max_iterations: o.max_iterations.unwrap_or(s.max_iterations).clamp(1, 1000),
            deadline: o
                .deadline_seconds
                .filter(|d| d.is_finite() && *d > 0.0)
                .map_or(s.deadline, |d| {
                    std::time::Duration::from_secs_f64(d.min(86_400.0))
                }),
            token_budget: o.token_budget.unwrap_or(s.token_budget),
            loop_threshold: s.loop_threshold,
            escalate_to: o
                .escalate_to
                .clone()
                .or_else(|| s.escalate_to.clone())
                .filter(|m| models.get(m).is_some()),
            sampling: run::Sampling {
                max_tokens: o.max_tokens.unwrap_or(s.max_tokens).max(1),
                temperature: o
                    .temperature
                    .filter(|t| t.is_finite())
                    .map_or(s.temperature, |t| t.clamp(0.0, 2.0)),
            },
            run_code_blocks: o.run_code_blocks.unwrap_or(s.run_code_blocks),
        };
        // A request may narrow the enabled tools, never add to them.
        let toolbox = self.toolbox().await.only(o.tools.as_deref());
        let context = CallContext {
            authorization: request.headers.get(http::header::AUTHORIZATION).cloned(),
        };
        let model = StackModel {
            stack: stack.clone(),
            models: models.clone(),
            identity: request.identity.clone(),
            request_id: request.request_id.clone(),
            calls: AtomicU32::new(0),
        };
        let run_id = request.request_id.as_str().to_owned();
        let observe = |step: &Step| self.observe(&run_id, step);
        let envelope = run::run(
            &model,
            &toolbox,
            &context,
            &options,
            request.messages,
            &observe,
        )
        .await;
        self.runs
            .with_label_values(&[envelope.stopped_reason.label()])
            .inc();
        envelope
    }

    fn observe(&self, run_id: &str, step: &Step) {
        match step {
            Step::Tool {
                name, known, ok, ..
            } => {
                let outcome = match (known, ok) {
                    (false, _) => "unknown",
                    (true, true) => "ok",
                    (true, false) => "error",
                };
                let label = if *known { name.as_str() } else { "unknown" };
                self.tool_calls.with_label_values(&[label, outcome]).inc();
            }
            _ => trace::warn(run_id, step),
        }
        if let Some(file) = &self.trace {
            let line = trace::line(run_id, step, self.settings.trace_text_chars);
            let mut f = file.lock();
            let _ = writeln!(f, "{line}");
        }
    }
}
