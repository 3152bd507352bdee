//! Model prices (SPEC §14): a table in LiteLLM's `model_prices_and_context_window.json` format,
//! the one in `data/model_prices.json` compiled in unless `switchyard_settings.pricing_file`
//! names another, and the cost of one answer's usage in integer micro-dollars.
//!
//! Prices are kept as integer pico-dollars per token, so a cost is exact integer arithmetic:
//! the same usage always costs the same, however it was read (JSON, stream, translation).

use std::{collections::HashMap, collections::HashSet, fmt, sync::OnceLock};

use parking_lot::Mutex;
use serde_json::Value;

use crate::openai::Usage;

/// The table compiled into the binary (written for switchyard; see docs/spend.md for its date).
pub const EMBEDDED_TABLE: &str = include_str!("../../data/model_prices.json");

/// Pico-dollars in one micro-dollar.
const PICO_PER_MICRO: u128 = 1_000_000;

/// A price table: model name (LiteLLM's keys: `gpt-4o`, `claude-3-5-haiku-20241022`,
/// `mistral/mistral-large-latest`...) -> its prices.
#[derive(Clone, Default)]
pub struct PriceTable {
    entries: HashMap<String, ModelPrice>,
}

/// One entry of the table, as written (USD per token).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelPrice {
    /// `input_cost_per_token`.
    pub input: f64,
    /// `output_cost_per_token`.
    pub output: f64,
    /// `cache_read_input_token_cost`: a prompt token read from the provider's cache.
    pub cache_read: Option<f64>,
    /// `cache_creation_input_token_cost`: a prompt token written to the provider's cache.
    pub cache_creation: Option<f64>,
    /// `max_input_tokens`.
    pub max_input_tokens: Option<u64>,
    /// `max_output_tokens`.
    pub max_output_tokens: Option<u64>,
}

/// What one deployment charges, in pico-dollars per token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    /// An uncached prompt token.
    pub input: u64,
    /// A completion token.
    pub output: u64,
    /// A prompt token read from the cache.
    pub cache_read: u64,
    /// A prompt token written to the cache.
    pub cache_creation: u64,
}

/// Per-deployment price overrides (`input_cost_per_token`/`output_cost_per_token` in
/// `litellm_params`, else `model_info`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    /// USD per prompt token.
    pub input: Option<f64>,
    /// USD per completion token.
    pub output: Option<f64>,
}

// === impl PriceTable ===

impl PriceTable {
    /// The table compiled into the binary.
    pub fn embedded() -> Result<Self, String> {
        Self::parse(EMBEDDED_TABLE)
    }

    /// Parses a table in LiteLLM's format. Entries that are not objects, or have no numeric
    /// `input_cost_per_token` nor `output_cost_per_token` (LiteLLM's `sample_spec`, image or
    /// audio-only models), are skipped, so a newer LiteLLM copy loads as it is.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: HashMap<String, Value> =
            serde_json::from_str(text).map_err(|e| format!("not a JSON object of models: {e}"))?;
        let number = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).filter(|n| *n >= 0.0);
        let entries = raw
            .into_iter()
            .filter_map(|(name, v)| {
                let (input, output) = (
                    number(&v, "input_cost_per_token"),
                    number(&v, "output_cost_per_token"),
                );
                if input.is_none() && output.is_none() {
                    return None;
                }
                let price = ModelPrice {
                    input: input.unwrap_or(0.0),
                    output: output.unwrap_or(0.0),
                    cache_read: number(&v, "cache_read_input_token_cost"),
                    cache_creation: number(&v, "cache_creation_input_token_cost"),
                    max_input_tokens: v.get("max_input_tokens").and_then(Value::as_u64),
                    max_output_tokens: v.get("max_output_tokens").and_then(Value::as_u64),
                };
                Some((name, price))
            })
            .collect();
        Ok(Self { entries })
    }

    /// How many models it prices.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it prices no model.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `model` of provider `provider`, by LiteLLM's conventions: the
    /// provider-prefixed name first (`groq/llama-3.3-70b-versatile`), then the bare name
    /// (`gpt-4o`, `claude-3-5-haiku-20241022`).
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&ModelPrice> {
        self.entries
            .get(&format!("{provider}/{model}"))
            .or_else(|| self.entries.get(model))
    }

    /// The price of a deployment: its table entry with `overrides` applied on top. `None` when
    /// the table does not know the model and nothing overrides it (the model costs nothing).
    pub fn price(&self, provider: &str, model: &str, overrides: Overrides) -> Option<Price> {
        let entry = self.lookup(provider, model).copied();
        if entry.is_none() && overrides.input.is_none() && overrides.output.is_none() {
            return None;
        }
        let entry = entry.unwrap_or_default();
        let input = overrides.input.unwrap_or(entry.input);
        Some(Price {
            input: pico(input),
            output: pico(overrides.output.unwrap_or(entry.output)),
            // LiteLLM's rule: without a cache price, a cached token costs a prompt token.
            cache_read: pico(entry.cache_read.unwrap_or(input)),
            cache_creation: pico(entry.cache_creation.unwrap_or(input)),
        })
    }
}

impl fmt::Debug for PriceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PriceTable")
            .field("models", &self.entries.len())
            .finish()
    }
}

// === impl Price ===

impl Price {
    /// The cost of `usage` in micro-dollars, rounded half up. `prompt_tokens` includes the
    /// cached ones (OpenAI's convention; Anthropic usage is translated to it): those read from
    /// the cache are priced as cache reads, those written to it as cache writes, the rest as
    /// prompt tokens.
    pub fn cost_micros(&self, usage: &Usage) -> u64 {
        let read = usage.prompt_tokens_details.map_or(0, |d| d.cached_tokens);
        let created = usage.cache_creation_input_tokens.unwrap_or(0);
        let uncached = usage
            .prompt_tokens
            .saturating_sub(read.saturating_add(created));
        let pico = u128::from(uncached) * u128::from(self.input)
            + u128::from(read) * u128::from(self.cache_read)
            + u128::from(created) * u128::from(self.cache_creation)
            + u128::from(usage.completion_tokens) * u128::from(self.output);
        u64::try_from((pico + PICO_PER_MICRO / 2) / PICO_PER_MICRO).unwrap_or(u64::MAX)
    }
}

/// USD per token -> pico-dollars per token (prices are never finer than that).
fn pico(usd: f64) -> u64 {
    (usd * 1e12).round() as u64
}

/// Logs once per process that `model` has no price, so its answers cost nothing.
pub fn warn_unpriced(deployment: &str, provider: &str, model: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let name = format!("{provider}/{model}");
    if SEEN
        .get_or_init(Default::default)
        .lock()
        .insert(name.clone())
    {
        tracing::warn!(
            deployment,
            model = %name,
            "no price for this model in the price table and no input_cost_per_token/output_cost_per_token: its requests are counted as costing 0"
        );
    }
}

#[cfg(test)]
mod tests;
