//! Tools an agent run may call: the sandboxed exec tools, HTTP tool hosts and MCP servers, behind
//! one `Tool` trait; the `Toolbox` resolves names and aliases.

pub mod exec;
pub mod http;
pub mod mcp;

use std::{collections::BTreeMap, sync::Arc};

use ::http::HeaderValue;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

/// What the model is told about a tool.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    /// The name the model calls.
    pub name: String,
    /// What it does.
    pub description: String,
    /// A JSON schema of its arguments.
    pub parameters: Value,
}

/// What the caller's request brings to tool calls.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The caller's `Authorization`, for hosts configured to receive it.
    pub authorization: Option<HeaderValue>,
}

/// The result of one call: the `tool` message content, and whether the call worked.
#[derive(Debug, Clone)]
pub struct ToolOutput {
    /// Sent back to the model as the `tool` message content.
    pub content: String,
    /// Whether the tool reported success (metric label).
    pub ok: bool,
}

/// One tool.
pub trait Tool: Send + Sync {
    /// Its description for the model.
    fn spec(&self) -> &ToolSpec;
    /// Runs it with `arguments` (a JSON value as the model wrote it).
    fn call(&self, arguments: Value, context: &CallContext) -> BoxFuture<'static, ToolOutput>;
}

/// The tools of a run, by name, with aliases.
#[derive(Clone, Default)]
pub struct Toolbox {
    tools: Vec<Arc<dyn Tool>>,
    aliases: BTreeMap<String, String>,
}

// === impl ToolSpec ===

impl ToolSpec {
    /// The OpenAI `tools` entry.
    pub fn to_openai(&self) -> Value {
        json!({"type": "function", "function": {"name": self.name, "description": self.description, "parameters": self.parameters}})
    }
}

// === impl ToolOutput ===

impl ToolOutput {
    /// A failure explained to the model.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            content: json!({"ok": false, "error": message.into()}).to_string(),
            ok: false,
        }
    }

    /// The result in plain words, for a user: an exec tool's stdout (or its exit code and stderr
    /// when it failed), a tool host's `result` (or its `error`); other content as it is.
    pub fn plain(&self) -> String {
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&self.content) else {
            return self.content.trim().to_owned();
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").trim();
        if let Some(rc) = m.get("rc").and_then(Value::as_i64)
            && m.contains_key("stdout")
        {
            let timed_out = m.get("timed_out").and_then(Value::as_bool) == Some(true);
            return match (rc, timed_out, text("stderr")) {
                (_, true, _) => format!(
                    "The program was stopped at its time limit.{}",
                    said("Its output so far", text("stdout"))
                ),
                (0, false, _) => text("stdout").to_owned(),
                (rc, false, "") => format!("The program failed with exit code {rc}."),
                (rc, false, stderr) => {
                    format!("The program failed with exit code {rc}: {}", tail(stderr))
                }
            };
        }
        match (
            m.get("ok").and_then(Value::as_bool),
            m.get("result"),
            m.get("error"),
        ) {
            (Some(true), Some(Value::String(s)), _) => s.trim().to_owned(),
            (Some(true), Some(v), _) => v.to_string(),
            (Some(false), _, Some(Value::String(e))) => format!("The tool failed: {e}"),
            _ => self.content.trim().to_owned(),
        }
    }
}

fn said(what: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(" {what}: {}", tail(text))
    }
}

/// The last 2,000 characters of `text` (the end of a traceback says what went wrong).
fn tail(text: &str) -> &str {
    let skip = text.chars().count().saturating_sub(2000);
    text.char_indices()
        .nth(skip)
        .map_or(text, |(i, _)| &text[i..])
}

// === impl Toolbox ===

impl Toolbox {
    /// A toolbox of `tools` with `aliases` (alias -> tool name).
    pub fn new(tools: Vec<Arc<dyn Tool>>, aliases: BTreeMap<String, String>) -> Self {
        Self { tools, aliases }
    }

    /// Only the tools named in `subset` (a request's `tools` override), or all.
    pub fn only(&self, subset: Option<&[String]>) -> Self {
        match subset {
            None => self.clone(),
            Some(names) => Self {
                tools: self
                    .tools
                    .iter()
                    .filter(|t| names.iter().any(|n| *n == t.spec().name))
                    .cloned()
                    .collect(),
                aliases: self.aliases.clone(),
            },
        }
    }

    /// The tool called `name`, directly or through an alias.
    pub fn find(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        let name = self.aliases.get(name).map_or(name, String::as_str);
        self.tools.iter().find(|t| t.spec().name == name)
    }

    /// Whether `name` is a tool or an alias of one.
    pub fn knows(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Every name a call may use: the tools' names and the aliases of tools in this box.
    pub fn call_names(&self) -> Vec<&str> {
        let mut names = self.names();
        names.extend(
            self.aliases
                .iter()
                .filter(|(_, to)| self.tools.iter().any(|t| t.spec().name == **to))
                .map(|(alias, _)| alias.as_str()),
        );
        names
    }

    /// The real tool names.
    pub fn names(&self) -> Vec<&str> {
        self.tools.iter().map(|t| t.spec().name.as_str()).collect()
    }

    /// The OpenAI `tools` array.
    pub fn specs(&self) -> Vec<Value> {
        self.tools.iter().map(|t| t.spec().to_openai()).collect()
    }

    /// Whether there are no tools.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
}
