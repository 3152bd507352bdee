//! MCP servers (through the official Rust SDK, `rmcp`), over streamable HTTP or stdio: their tools
//! are offered to the model as `<server>__<tool>`.

use std::{sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use rmcp::{
    RoleClient, ServiceExt,
    model::CallToolRequestParams,
    service::RunningService,
    transport::{StreamableHttpClientTransport, TokioChildProcess},
};
use serde_json::{Value, json};

use super::{CallContext, Tool, ToolOutput, ToolSpec};
use crate::config::{McpServerSettings, McpTransport};

type Client = RunningService<RoleClient, ()>;

/// One tool of an MCP server.
pub struct McpTool {
    spec: ToolSpec,
    remote: String,
    client: Arc<Client>,
}

/// Connects to a server and lists its tools (the connection stays open for later calls).
pub async fn connect(settings: &McpServerSettings) -> Result<Vec<Arc<dyn Tool>>, String> {
    let name = &settings.name;
    let connecting = async {
        match &settings.transport {
            McpTransport::Http(url) => {
                ().serve(StreamableHttpClientTransport::from_uri(url.as_str()))
                    .await
                    .map_err(|e| format!("MCP `{name}` ({url}): {e}"))
            }
            McpTransport::Stdio(argv) => {
                let (program, args) = argv
                    .split_first()
                    .ok_or_else(|| format!("MCP `{name}`: empty command"))?;
                let mut command = tokio::process::Command::new(program);
                command.args(args).kill_on_drop(true);
                let transport = TokioChildProcess::new(command)
                    .map_err(|e| format!("MCP `{name}` ({program}): {e}"))?;
                ().serve(transport)
                    .await
                    .map_err(|e| format!("MCP `{name}` ({program}): {e}"))
            }
        }
    };
    let client = tokio::time::timeout(Duration::from_secs(20), connecting)
        .await
        .map_err(|_| format!("MCP `{name}`: no handshake within 20 s"))??;
    let client = Arc::new(client);
    let tools = client
        .list_all_tools()
        .await
        .map_err(|e| format!("MCP `{name}`: listing tools: {e}"))?;
    Ok(tools
        .into_iter()
        .map(|t| {
            let spec = ToolSpec {
                name: format!("{name}__{}", t.name),
                description: t.description.map(|d| d.into_owned()).unwrap_or_default(),
                parameters: Value::Object((*t.input_schema).clone()),
            };
            Arc::new(McpTool {
                spec,
                remote: t.name.into_owned(),
                client: client.clone(),
            }) as Arc<dyn Tool>
        })
        .collect())
}

impl Tool for McpTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, arguments: Value, _: &CallContext) -> BoxFuture<'static, ToolOutput> {
        let client = self.client.clone();
        let mut params = CallToolRequestParams::new(self.remote.clone());
        params.arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => Some([("input".to_owned(), other)].into_iter().collect()),
        };
        Box::pin(async move {
            match tokio::time::timeout(Duration::from_secs(120), client.call_tool(params)).await {
                Err(_) => ToolOutput::error("the MCP tool did not answer within 120 s"),
                Ok(Err(e)) => ToolOutput::error(format!("MCP call failed: {e}")),
                Ok(Ok(result)) => {
                    let text: Vec<&str> = result
                        .content
                        .iter()
                        .filter_map(|c| c.as_text())
                        .map(|t| t.text.as_str())
                        .collect();
                    let ok = result.is_error != Some(true);
                    let content = match (&result.structured_content, text.as_slice()) {
                        (Some(structured), _) => structured.to_string(),
                        (None, [one]) => (*one).to_owned(),
                        (None, many) => json!(many).to_string(),
                    };
                    ToolOutput { content, ok }
                }
            }
        })
    }
}
