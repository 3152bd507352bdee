//! The adapter of a `litellm_params.model: "*"` deployment: the provider comes from the
//! requested name, as LiteLLM infers it. `anthropic/claude-x` goes to the Anthropic adapter as
//! `claude-x`, `groq/llama-3` to Groq as `llama-3`; a name without a known provider prefix goes
//! to OpenAI as is (LiteLLM's provider for a bare name).

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::build;
use crate::{
    config::DeploymentConfig,
    error::GatewayError,
    openai::JsonBody,
    proxy::{Provider, ProxyRequest, Reply},
    wildcard,
};

/// One adapter per provider prefix it may pick.
#[derive(Debug)]
pub struct ByPrefix {
    adapters: Vec<(&'static str, Arc<dyn Provider>)>,
    default: Arc<dyn Provider>,
}

// === impl ByPrefix ===

impl ByPrefix {
    /// The adapters for `cfg.by_prefix` (a provider whose adapter cannot be formed is left out).
    pub fn new(
        cfg: &DeploymentConfig,
        client: &crate::upstream::HttpClient,
    ) -> Result<Self, String> {
        let mut adapters = Vec::new();
        for sub in &cfg.by_prefix {
            if let Ok(adapter) = build(sub, client) {
                adapters.push((sub.provider.label(), adapter));
            }
        }
        let default = adapters
            .iter()
            .find(|(p, _)| *p == "openai")
            .map(|(_, a)| a.clone())
            .ok_or("no OpenAI adapter for a `*` model")?;
        Ok(Self { adapters, default })
    }

    /// The adapter and the model name it should send.
    fn pick<'r>(&self, requested: &'r str) -> (&Arc<dyn Provider>, &'r str) {
        requested
            .split_once('/')
            .and_then(|(prefix, rest)| {
                self.adapters
                    .iter()
                    .find(|(p, _)| *p == prefix)
                    .map(|(_, a)| (a, rest))
            })
            .unwrap_or((&self.default, requested))
    }
}

impl Provider for ByPrefix {
    fn send(&self, request: &ProxyRequest) -> BoxFuture<'static, Result<Reply, GatewayError>> {
        let name = wildcard::upstream_model("*", &request.group.name, &request.view.model);
        let (adapter, model) = self.pick(&name);
        // The chosen adapter's model is `*`, which stands for the request's name: give it the
        // name without the provider prefix.
        let mut request = request.clone();
        request.view.model = model.to_owned();
        adapter.send(&request)
    }

    fn count_tokens(
        &self,
        anthropic_body: &JsonBody,
    ) -> Option<BoxFuture<'static, Result<u64, GatewayError>>> {
        self.default.count_tokens(anthropic_body)
    }
}
