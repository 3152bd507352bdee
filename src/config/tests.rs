use std::{collections::HashMap, time::Duration};

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ok(yaml: &str) -> (Config, Vec<Warning>) {
    parse(yaml, "c.yaml", &env(&[])).unwrap()
}

fn err(yaml: &str, e: &[(&str, &str)]) -> ConfigError {
    parse(yaml, "c.yaml", &env(e)).unwrap_err()
}

const ONE: &str = "model_list:\n  - model_name: gpt\n    litellm_params: { model: mock/gpt }\n";

#[test]
fn defaults_follow_the_spec() {
    let (c, w) = ok(ONE);
    assert!(w.is_empty(), "{w:?}");
    let r = &c.router;
    assert_eq!(
        (r.strategy.as_str(), r.core.as_str()),
        ("simple-shuffle", "v2")
    );
    assert_eq!((r.num_retries, r.allowed_fails), (2, 3));
    assert_eq!(r.retry_after, Duration::ZERO);
    assert_eq!(r.cooldown, Duration::from_secs(5));
    assert_eq!(r.deadline, Duration::from_secs(600));
    assert_eq!(r.first_token_timeout, None);
    assert_eq!(r.stream_idle_timeout, Duration::from_secs(300));
    assert!(r.midstream_rescue);
    assert_eq!(c.deployments[0].timeout, Duration::from_secs(600));
    assert_eq!(c.max_request_bytes, 10 << 20);
    assert_eq!(c.max_parallel_requests, 2048);
    assert!(c.master_key.is_none() && c.cache.is_none() && !c.metrics_require_key);
}

#[test]
fn deployments_resolve_ids_providers_and_timeouts() {
    let (c, _) = ok("model_list:
  - { model_name: g, litellm_params: { model: openai/meta-llama/Llama-3-8B, api_base: 'http://h:8000/v1/', timeout: 7 } }
  - { model_name: g, litellm_params: { model: gpt-4o-mini } }
  - { model_name: h, litellm_params: { model: mock/x }, model_info: { id: 42 } }
router_settings: { timeout: 30 }
");
    let d: Vec<_> = c
        .deployments
        .iter()
        .map(|d| (d.id.as_str(), d.provider.label(), d.upstream_model.as_str()))
        .collect();
    assert_eq!(
        d,
        [
            ("g#0", "openai", "meta-llama/Llama-3-8B"),
            ("g#1", "openai", "gpt-4o-mini"),
            ("42", "mock", "x")
        ]
    );
    assert_eq!(
        c.deployments[0].api_base.as_deref(),
        Some("http://h:8000/v1")
    );
    assert_eq!(c.deployments[0].timeout, Duration::from_secs(7));
    assert_eq!(c.deployments[1].timeout, Duration::from_secs(30));
}

#[test]
fn environment_references_resolve_and_missing_ones_are_named() {
    let yaml = "model_list:\n  - model_name: g\n    litellm_params: { model: openai/x, api_key: os.environ/MY_KEY }\n";
    let (c, _) = parse(yaml, "c.yaml", &env(&[("MY_KEY", "sk-1")])).unwrap();
    assert_eq!(c.deployments[0].api_key.as_ref().unwrap().expose(), "sk-1");
    let e = err(yaml, &[]);
    assert_eq!(e.path, "model_list[0].litellm_params.api_key");
    assert!(e.message.contains("`MY_KEY`"), "{e}");
    assert!(
        e.to_string()
            .starts_with("c.yaml: model_list[0].litellm_params.api_key: "),
        "{e}"
    );
    // LiteLLM's fallback: no api_key -> OPENAI_API_KEY.
    let (c, _) = parse(
        "model_list: [{model_name: g, litellm_params: {model: openai/x}}]",
        "c",
        &env(&[("OPENAI_API_KEY", "sk-env")]),
    )
    .unwrap();
    assert_eq!(
        c.deployments[0].api_key.as_ref().unwrap().expose(),
        "sk-env"
    );
}

#[test]
fn type_errors_name_the_key_path() {
    let e = err(
        &format!("{ONE}router_settings: {{ num_retries: lots }}\n"),
        &[],
    );
    assert_eq!(e.path, "router_settings.num_retries");
    let e = err("model_list:\n  - model_name: g\n", &[]);
    assert_eq!(e.path, "model_list[0]");
    assert!(e.message.contains("litellm_params"), "{e}");
    let e = err("model_list: 3", &[]);
    assert_eq!(e.path, "model_list");
    let e = err("", &[]);
    assert!(e.message.contains("empty"));
    let e = err("model_list: [", &[]);
    assert!(!e.message.is_empty());
    let e = err(
        &format!("{ONE}router_settings: {{ routing_strategy: fastest }}\n"),
        &[],
    );
    assert_eq!(e.path, "router_settings.routing_strategy");
    let e = err(
        &format!("{ONE}router_settings: {{ fallbacks: [ {{ gpt: [nope] }} ] }}\n"),
        &[],
    );
    assert!(e.message.contains("`nope`"), "{e}");
    let e = err(
        "model_list:\n  - { model_name: g, litellm_params: { model: mock/a }, model_info: { id: x } }\n  - { model_name: h, litellm_params: { model: mock/b }, model_info: { id: x } }\n",
        &[],
    );
    assert!(e.message.contains("used twice"), "{e}");
}

#[test]
fn unknown_keys_warn_once_per_key_and_never_fail() {
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/litellm-config.yaml"
    ))
    .unwrap();
    let e = env(&[
        ("OPENAI_API_KEY", "a"),
        ("AZURE_API_BASE", "https://x.openai.azure.com"),
        ("AZURE_API_KEY", "b"),
        ("REDIS_HOST", "127.0.0.1"),
    ]);
    let (c, w) = parse(&yaml, "litellm.yaml", &e).unwrap();
    let text: Vec<String> = w.iter().map(ToString::to_string).collect();
    for key in [
        "environment_variables",
        "model_list[0].litellm_params.max_retries",
        "model_list[0].model_info.description",
        "litellm_settings.drop_params",
        "router_settings.enable_pre_call_checks",
        "general_settings.database_url",
    ] {
        assert!(
            text.iter().any(|t| t.contains(&format!("`{key}`"))),
            "no warning for {key}: {text:#?}"
        );
    }
    assert!(
        text.iter()
            .any(|t| t.contains("model_list[2]") && t.contains("bedrock")),
        "{text:#?}"
    );
    assert_eq!(
        c.deployments.len(),
        2,
        "the bedrock deployment is skipped, the rest load"
    );
    assert_eq!(c.deployments[1].id, "2");
    assert_eq!(c.router.strategy, "usage-based-routing");
    assert_eq!(
        c.router.num_retries, 3,
        "litellm_settings.num_retries applies"
    );
    assert_eq!(
        c.deployments[1].timeout,
        Duration::from_secs(120),
        "litellm_settings.request_timeout applies"
    );
    assert!(
        !text
            .iter()
            .any(|t| t.contains("sk-1234") || t.contains("user:pass")),
        "{text:#?}"
    );
}

#[test]
fn only_unsupported_providers_is_an_error() {
    let e = err(
        "model_list: [{model_name: g, litellm_params: {model: bedrock/x}}]",
        &[],
    );
    assert_eq!(e.path, "model_list");
}

#[test]
fn router_core_can_come_from_the_environment() {
    let (c, _) = parse(ONE, "c", &env(&[("SWITCHYARD_ROUTER_CORE", "v1")])).unwrap();
    assert_eq!(c.router.core, "v1");
}

#[test]
fn the_embedded_default_loads_without_warnings() {
    let (c, w) = load(None, &env(&[])).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert!(
        c.deployments
            .iter()
            .all(|d| d.provider == crate::model::ProviderKind::Mock)
    );
}

#[test]
fn the_exec_sandbox_settings_resolve_with_defaults() {
    let (c, w) = ok(&format!(
        "{ONE}switchyard_settings:\n  agent:\n    tools: {{ exec_python: {{ enabled: true }}, exec_shell: {{ enabled: true, network: true, max_processes: 8 }} }}\n"
    ));
    assert!(w.is_empty(), "{w:?}");
    let (py, sh) = (c.agent.exec_python.unwrap(), c.agent.exec_shell.unwrap());
    assert_eq!((py.network, py.max_processes), (false, 64));
    assert_eq!((sh.network, sh.max_processes), (true, 8));
    assert_eq!(c.agent.sandbox, SandboxSettings::default());
    for (user, want) in [
        ("nobody", IdSpec::Name("nobody".into())),
        ("61000", IdSpec::Id(61_000)),
    ] {
        let (c, _) = ok(&format!(
            "{ONE}switchyard_settings:\n  agent:\n    sandbox: {{ user: {user}, group: nogroup, uids: 8 }}\n"
        ));
        assert_eq!(c.agent.sandbox.user, Some(want));
        assert_eq!(c.agent.sandbox.uids, 8);
        assert_eq!(c.agent.sandbox.group, Some(IdSpec::Name("nogroup".into())));
    }
}

#[test]
fn errors_at_secret_key_paths_never_print_the_value() {
    for yaml in [
        format!("{ONE}general_settings: {{ master_key: [sk-leak-1234567] }}\n"),
        format!("{ONE}general_settings: {{ master_key: {{ k: sk-leak-1234567 }} }}\n"),
        format!("{ONE}switchyard_settings: {{ keys: [sk-leak-1234567] }}\n"),
        format!("{ONE}switchyard_settings: {{ keys: [ {{ key: [sk-leak-1234567] }} ] }}\n"),
        "model_list:\n  - model_name: gpt\n    litellm_params: { model: mock/gpt, api_key: [sk-leak-1234567] }\n".to_owned(),
    ] {
        let e = err(&yaml, &[]);
        let shown = e.to_string();
        assert!(
            !shown.contains("leak"),
            "{shown}"
        );
        assert!(shown.contains("expected"), "{shown}");
    }
    // Elsewhere the value still helps.
    let e = err(
        &format!("{ONE}router_settings: {{ num_retries: lots }}\n"),
        &[],
    );
    assert!(e.message.contains("lots"), "{e}");
}

#[test]
fn server_and_stream_limits_have_defaults_and_can_be_set() {
    let (c, _) = ok(ONE);
    assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(c.server.body_read_timeout, Duration::from_secs(30));
    assert_eq!(c.server.max_connections, 10_000);
    assert_eq!(c.router.max_retry_after, Duration::from_secs(60));
    assert_eq!(c.router.max_event_bytes, 1 << 20);
    let (c, w) = ok(&format!(
        "{ONE}switchyard_settings:\n  server: {{ header_read_timeout_seconds: 2, idle_timeout_seconds: 3, body_read_timeout_seconds: 4, max_connections: 5 }}\n  router: {{ max_retry_after_seconds: 6, max_event_kb: 7, max_before_first_token_kb: 8 }}\n"
    ));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.server.max_connections, 5);
    assert_eq!(c.server.body_read_timeout, Duration::from_secs(4));
    assert_eq!(c.router.max_retry_after, Duration::from_secs(6));
    assert_eq!(c.router.max_before_first_token_bytes, 8 * 1024);
    let e = err(
        &format!("{ONE}switchyard_settings: {{ server: {{ max_connections: 0 }} }}\n"),
        &[],
    );
    assert_eq!(e.path, "switchyard_settings.server.max_connections");
}
