use super::*;
use crate::openai::PromptTokensDetails;

fn usage(prompt: u64, completion: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ..Usage::default()
    }
}

#[test]
fn the_embedded_table_loads_and_prices_known_models() {
    let table = PriceTable::embedded().unwrap();
    assert!(table.len() >= 40, "{}", table.len());
    // gpt-4o: $2.50 / 1M prompt, $10 / 1M completion.
    let p = table
        .price("openai", "gpt-4o", Overrides::default())
        .unwrap();
    assert_eq!(p.cost_micros(&usage(1000, 500)), 2_500 + 5_000);
    // A provider-prefixed key (LiteLLM's convention for Groq, Mistral, DeepSeek).
    assert!(table.lookup("groq", "llama-3.3-70b-versatile").is_some());
    assert!(table.lookup("openai", "llama-3.3-70b-versatile").is_none());
    // Anthropic keys are bare names.
    let claude = table
        .lookup("anthropic", "claude-3-5-haiku-20241022")
        .unwrap();
    assert_eq!(claude.max_input_tokens, Some(200_000));
    assert!(claude.cache_creation.is_some());
    assert!(
        table
            .price("mock", "not-a-model", Overrides::default())
            .is_none()
    );
}

#[test]
fn overrides_win_over_the_table_and_price_unknown_models() {
    let table = PriceTable::embedded().unwrap();
    let o = Overrides {
        input: Some(0.001),
        output: Some(0.002),
    };
    let p = table.price("openai", "gpt-4o", o).unwrap();
    assert_eq!(p.cost_micros(&usage(10, 5)), 10_000 + 10_000);
    let only_output = Overrides {
        input: None,
        output: Some(0.002),
    };
    let p = table.price("mock", "unknown-model", only_output).unwrap();
    assert_eq!(p.cost_micros(&usage(10, 5)), 10_000);
}

#[test]
fn cached_prompt_tokens_are_priced_as_cached() {
    let table = PriceTable::embedded().unwrap();
    // gpt-4o: 1000 prompt tokens of which 800 cached at $1.25 / 1M.
    let p = table
        .price("openai", "gpt-4o", Overrides::default())
        .unwrap();
    let mut u = usage(1000, 0);
    u.prompt_tokens_details = Some(PromptTokensDetails { cached_tokens: 800 });
    assert_eq!(p.cost_micros(&u), 200 * 25 / 10 + 800 * 125 / 100);
    assert!(p.cost_micros(&u) < p.cost_micros(&usage(1000, 0)));
    // Claude 3.5 Haiku, as the Anthropic adapter reports it: 100 uncached + 1000 read
    // ($0.08 / 1M) + 2000 written ($1 / 1M) prompt tokens, 1M output ($4 / 1M).
    let p = table
        .price(
            "anthropic",
            "claude-3-5-haiku-20241022",
            Overrides::default(),
        )
        .unwrap();
    let mut u = usage(3100, 1_000_000);
    u.prompt_tokens_details = Some(PromptTokensDetails {
        cached_tokens: 1000,
    });
    u.cache_creation_input_tokens = Some(2000);
    // In micro-dollars: 100 * 0.8 + 1000 * 0.08 + 2000 * 1 + 1_000_000 * 4.
    assert_eq!(p.cost_micros(&u), 80 + 80 + 2000 + 4_000_000);
    // Without a cache price a cached token costs a prompt token (LiteLLM's rule).
    let p = table
        .price(
            "mock",
            "m",
            Overrides {
                input: Some(1e-6),
                output: None,
            },
        )
        .unwrap();
    assert_eq!(p.cost_micros(&u), 3100);
}

#[test]
fn a_litellm_copy_with_odd_entries_loads() {
    let text = r#"{
        "sample_spec": {"max_tokens": "LEGACY parameter", "input_cost_per_token": "0.0"},
        "dall-e-3": {"mode": "image_generation", "input_cost_per_pixel": 1e-8},
        "gpt-x": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "max_tokens": 10},
        "free": {"input_cost_per_token": 0}
    }"#;
    let t = PriceTable::parse(text).unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t.lookup("openai", "gpt-x").unwrap().output, 2e-6);
    assert!(PriceTable::parse("[1,2]").is_err());
}
