//! The command line: `switchyard [--config --host --port --log-format]` and `switchyard check`.

use std::{fmt::Write as _, path::PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::{agent::tools::exec::Sandbox, config::Config};

/// switchyard: an OpenAI-compatible LLM gateway.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
pub struct Cli {
    /// LiteLLM-format config file (default: the embedded mock config).
    #[arg(long, env = "SWITCHYARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "SWITCHYARD_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "SWITCHYARD_PORT", default_value_t = 4000)]
    pub port: u16,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the config, print the resolved model table and, when exec tools are enabled,
    /// which sandbox protections hold on this host.
    Check,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The resolved model table, as `switchyard check` prints it.
pub fn model_table(config: &Config) -> String {
    let rows: Vec<[String; 7]> = config
        .deployments
        .iter()
        .map(|d| {
            [
                d.model_name.clone(),
                d.id.clone(),
                d.provider.label().to_owned(),
                d.upstream_model.clone(),
                d.api_base.clone().unwrap_or_else(|| "(default)".into()),
                d.api_key.as_ref().map_or("-", |_| "set").to_owned(),
                format!("{}s", d.timeout.as_secs_f64()),
            ]
        })
        .collect();
    let header = [
        "MODEL",
        "DEPLOYMENT",
        "PROVIDER",
        "UPSTREAM MODEL",
        "API BASE",
        "KEY",
        "TIMEOUT",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out.push_str(LEGEND);
    let r = &config.router;
    let _ = writeln!(
        out,
        "\nrouter: strategy={} core={} num_retries={} allowed_fails={} cooldown={}s deadline={}s",
        r.strategy,
        r.core,
        r.num_retries,
        r.allowed_fails,
        r.cooldown.as_secs_f64(),
        r.deadline.as_secs_f64()
    );
    let mut fallbacks: Vec<String> = [
        ("fallbacks", &r.fallbacks),
        ("context_window_fallbacks", &r.context_window_fallbacks),
        ("content_policy_fallbacks", &r.content_policy_fallbacks),
    ]
    .iter()
    .flat_map(|(kind, map)| {
        map.iter()
            .map(move |(from, to)| format!("{kind}: {from} -> {}", to.join(", ")))
    })
    .collect();
    fallbacks.sort();
    for line in fallbacks {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// For each enabled exec tool, the sandbox protections that hold on this host (establishing a
/// sandbox once to find out), or why the tool is refused. `false` when a tool is refused.
pub fn sandbox_report(config: &Config) -> (String, bool) {
    let agent = &config.agent;
    let enabled: Vec<_> = [
        ("exec_python", agent.exec_python.as_ref()),
        ("exec_shell", agent.exec_shell.as_ref()),
    ]
    .into_iter()
    .filter_map(|(name, s)| Some((name, s?)))
    .collect();
    if enabled.is_empty() {
        return (String::new(), true);
    }
    let mut out = String::new();
    let sandbox = Sandbox::establish(&agent.sandbox);
    for (name, settings) in enabled {
        match &sandbox {
            Ok(sandbox) => {
                let _ = writeln!(out, "\n{name}: enabled, sandboxed");
                for (what, how) in sandbox.protections(settings) {
                    let _ = writeln!(out, "  {what:<11} {how}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "\n{name}: REFUSED on this host: {e}");
            }
        }
    }
    (out, sandbox.is_ok())
}

/// What the columns of the model table mean, for someone reading it for the first time.
const LEGEND: &str = "
MODEL           the name clients send as `model` (a group; `*` patterns match many names)
DEPLOYMENT      the id of this upstream in logs, metrics and the x-switchyard-model-id header
PROVIDER        how switchyard talks to it (the prefix of litellm_params.model)
UPSTREAM MODEL  the model name sent to the provider (`*`: the name the client asked for)
API BASE        where requests go; (default) is the provider's public endpoint
KEY             whether an API key is configured (set) or not (-); keys are never shown
TIMEOUT         how long one attempt may wait for the provider to answer
";
