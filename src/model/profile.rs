//! The `Profile` table: every OpenAI-compatible vendor switchyard knows by prefix, with how it
//! differs from OpenAI held as data. A new vendor is a row here plus a conformance-test entry.

/// How a vendor differs from OpenAI: base URL, auth, paths, environment variables.
#[derive(Debug, PartialEq)]
pub struct Profile {
    /// The `litellm_params.model` prefix.
    pub name: &'static str,
    /// Base URL when `api_base` is absent (`None`: `api_base` is required).
    pub default_base: Option<&'static str>,
    /// How the key is sent.
    pub auth: Auth,
    /// How paths are built from the base URL.
    pub paths: Paths,
    /// Key variable LiteLLM falls back to.
    pub key_env: Option<&'static str>,
    /// Base-URL variable LiteLLM falls back to.
    pub base_env: Option<&'static str>,
    /// `api_version` variable (Azure).
    pub version_env: Option<&'static str>,
    /// May add `stream_options.include_usage` to count tokens on streams.
    pub stream_usage: bool,
    /// Serves `/embeddings`.
    pub embeddings: bool,
    /// Serves `/responses` by default (without `model_info.supported_endpoints`).
    pub responses: Responses,
}

/// Whether a vendor speaks the Responses API when the config does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responses {
    /// No: translated to chat completions.
    No,
    /// Yes (vLLM).
    Yes,
    /// Only at the vendor's own default base URL (`openai`: api.openai.com speaks it, the many
    /// servers reached through `openai/` with an `api_base` mostly do not).
    AtDefaultBase,
}

/// Where the key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// A named header carrying the bare key (Azure's `api-key`).
    Header(&'static str),
}

/// How endpoint URLs are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// `{base}/chat/completions` (the base ends in `/v1` or the vendor's equivalent).
    OpenAi,
    /// `{host}/v1/chat/completions`, the base being the server root (Ollama); a `/v1` suffix is tolerated.
    RootV1,
    /// `{base}/openai/deployments/{model}/chat/completions?api-version={v}`.
    Azure,
}

const fn row(
    name: &'static str,
    default_base: Option<&'static str>,
    key_env: Option<&'static str>,
) -> Profile {
    Profile {
        name,
        default_base,
        auth: Auth::Bearer,
        paths: Paths::OpenAi,
        key_env,
        base_env: None,
        version_env: None,
        stream_usage: true,
        embeddings: true,
        responses: Responses::No,
    }
}

/// Every OpenAI-compatible vendor switchyard knows by prefix.
pub static PROFILES: &[Profile] = &[
    Profile {
        base_env: Some("OPENAI_API_BASE"),
        responses: Responses::AtDefaultBase,
        ..row(
            "openai",
            Some("https://api.openai.com/v1"),
            Some("OPENAI_API_KEY"),
        )
    },
    Profile {
        auth: Auth::Header("api-key"),
        paths: Paths::Azure,
        base_env: Some("AZURE_API_BASE"),
        version_env: Some("AZURE_API_VERSION"),
        ..row("azure", None, Some("AZURE_API_KEY"))
    },
    Profile {
        paths: Paths::RootV1,
        base_env: Some("OLLAMA_API_BASE"),
        ..row("ollama", Some("http://localhost:11434"), None)
    },
    Profile {
        paths: Paths::RootV1,
        base_env: Some("OLLAMA_API_BASE"),
        ..row("ollama_chat", Some("http://localhost:11434"), None)
    },
    Profile {
        base_env: Some("HOSTED_VLLM_API_BASE"),
        responses: Responses::Yes,
        ..row("hosted_vllm", None, Some("HOSTED_VLLM_API_KEY"))
    },
    Profile {
        responses: Responses::Yes,
        ..row("vllm", None, None)
    },
    row("custom_openai", None, None),
    Profile {
        base_env: Some("LM_STUDIO_API_BASE"),
        ..row(
            "lm_studio",
            Some("http://localhost:1234/v1"),
            Some("LM_STUDIO_API_KEY"),
        )
    },
    row("llamacpp", Some("http://localhost:8080/v1"), None),
    row(
        "groq",
        Some("https://api.groq.com/openai/v1"),
        Some("GROQ_API_KEY"),
    ),
    row(
        "together_ai",
        Some("https://api.together.xyz/v1"),
        Some("TOGETHERAI_API_KEY"),
    ),
    row(
        "deepseek",
        Some("https://api.deepseek.com/v1"),
        Some("DEEPSEEK_API_KEY"),
    ),
    row(
        "mistral",
        Some("https://api.mistral.ai/v1"),
        Some("MISTRAL_API_KEY"),
    ),
    row(
        "openrouter",
        Some("https://openrouter.ai/api/v1"),
        Some("OPENROUTER_API_KEY"),
    ),
    row(
        "fireworks_ai",
        Some("https://api.fireworks.ai/inference/v1"),
        Some("FIREWORKS_AI_API_KEY"),
    ),
    row("xai", Some("https://api.x.ai/v1"), Some("XAI_API_KEY")),
    row(
        "deepinfra",
        Some("https://api.deepinfra.com/v1/openai"),
        Some("DEEPINFRA_API_KEY"),
    ),
    row(
        "perplexity",
        Some("https://api.perplexity.ai"),
        Some("PERPLEXITYAI_API_KEY"),
    ),
    row(
        "cerebras",
        Some("https://api.cerebras.ai/v1"),
        Some("CEREBRAS_API_KEY"),
    ),
];
