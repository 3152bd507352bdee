//! Test fixtures (feature `test-util`): a small MCP server with two tools, `add` and `shout`.

use rmcp::{
    ErrorData, ServerHandler,
    handler::server::wrapper::Parameters,
    model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig},
    schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;

/// Arguments of `add`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct AddArgs {
    /// First addend.
    pub a: i64,
    /// Second addend.
    pub b: i64,
}

/// Arguments of `shout`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub struct ShoutArgs {
    /// Text to upper-case.
    pub text: String,
}

/// An MCP server for tests.
#[derive(Clone, Default)]
pub struct McpFixture;

#[tool_router]
impl McpFixture {
    /// The fixture.
    pub fn new() -> Self {
        Self
    }

    /// Adds two integers.
    #[tool(description = "Add two integers")]
    async fn add(
        &self,
        Parameters(AddArgs { a, b }): Parameters<AddArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            (a + b).to_string(),
        )]))
    }

    /// Upper-cases text.
    #[tool(description = "Upper-case a text")]
    async fn shout(
        &self,
        Parameters(ShoutArgs { text }): Parameters<ShoutArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text(
            text.to_uppercase(),
        )]))
    }
}

#[tool_handler]
impl ServerHandler for McpFixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}
