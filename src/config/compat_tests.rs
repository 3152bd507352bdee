//! Configs as LiteLLM reads them: YAML 1.1 scalars, `os.environ/` everywhere, router keys under
//! `litellm_settings` with LiteLLM's precedence, unsupported enum values, credentials, includes.

use std::{collections::HashMap, time::Duration};

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn with(settings: &str) -> Config {
    let yaml = format!(
        "model_list:\n  - {{ model_name: a, litellm_params: {{ model: mock/a }} }}\n  - {{ model_name: b, litellm_params: {{ model: mock/b }} }}\n{settings}"
    );
    parse(&yaml, "c.yaml", &env(&[])).unwrap().0
}

#[test]
fn yaml_1_1_numbers_and_bools_load_and_wrong_types_name_the_path_once() {
    let (c, w) = parse(
        "model_list:\n  - model_name: a\n    litellm_params: { model: mock/a, tpm: 20_000, rpm: 0x10, weight: 1_0.5 }\n    model_info: { supports_assistant_prefill: no }\nlitellm_settings: { cache: yes, cache_params: { shared_across_keys: On, ttl: 1_200 } }\nswitchyard_settings: { metrics_require_key: off, router: { midstream_rescue: NO } }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap();
    assert!(w.is_empty(), "{w:?}");
    let d = &c.deployments[0];
    assert_eq!(
        (d.tpm, d.rpm, d.weight),
        (Some(20_000), Some(16), Some(10.5))
    );
    assert_eq!(d.supports_assistant_prefill, Some(false));
    let cache = c.cache.unwrap();
    assert!(cache.shared_across_keys);
    assert_eq!(cache.ttl, Duration::from_secs(1200));
    assert!(!c.metrics_require_key && !c.router.midstream_rescue);

    let e = parse(
        "model_list:\n  - model_name: a\n    litellm_params: { model: mock/a, tpm: lots }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap_err();
    assert_eq!(e.path, "model_list[0].litellm_params.tpm");
    let text = e.to_string();
    assert_eq!(text.matches("litellm_params.tpm").count(), 1, "{text}");
    assert!(
        text.contains("\"lots\"") && text.contains("integer"),
        "{text}"
    );
    let e = parse(
        "model_list: [{ model_name: a, litellm_params: { model: mock/a } }]\nlitellm_settings: { cache: maybe }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap_err();
    assert_eq!(e.path, "litellm_settings.cache");
}

#[test]
fn environment_references_resolve_in_the_model_and_every_mapping_value() {
    let e = env(&[
        ("M", "mock/from-env"),
        ("ID", "dep-7"),
        ("RPM", "1_000"),
        ("NAME", "grp"),
    ]);
    let (c, _) = parse(
        "model_list:\n  - model_name: os.environ/NAME\n    litellm_params: { model: os.environ/M, rpm: os.environ/RPM }\n    model_info: { id: os.environ/ID }\n",
        "c.yaml",
        &e,
    )
    .unwrap();
    let d = &c.deployments[0];
    assert_eq!(
        (
            d.model_name.as_str(),
            d.upstream_model.as_str(),
            d.id.as_str()
        ),
        ("grp", "from-env", "dep-7")
    );
    assert_eq!(d.rpm, Some(1000));

    let err = parse(
        "model_list:\n  - model_name: a\n    litellm_params: { model: os.environ/UNSET_MODEL }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap_err();
    assert_eq!(err.path, "model_list[0].litellm_params.model");
    assert!(err.message.contains("`UNSET_MODEL`"), "{err}");
    // Unset variables under ignored keys or in skipped deployments do not fail the start.
    parse(
        "model_list:\n  - { model_name: a, litellm_params: { model: mock/a } }\n  - { model_name: b, litellm_params: { model: bedrock/x, api_key: os.environ/UNSET_B } }\nlitellm_settings: { success_callback_key: os.environ/UNSET_C }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap();
    let err = parse(
        "model_list:\n  - { model_name: a, litellm_params: { model: mock/a, mock_response: os.environ/UNSET_R } }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap_err();
    assert_eq!(err.path, "model_list[0].litellm_params.mock_response");
}

#[test]
fn litellm_settings_router_keys_apply_when_router_settings_are_silent() {
    let c = with(
        "litellm_settings:\n  num_retries: 5\n  request_timeout: 30\n  allowed_fails: 1\n  cooldown_time: 9\n  fallbacks: [{ a: [b] }]\n  context_window_fallbacks: [{ a: [b] }]\n  content_policy_fallbacks: [{ b: [a] }]\n",
    );
    let r = &c.router;
    assert_eq!((r.num_retries, r.allowed_fails), (5, 1));
    assert_eq!(r.cooldown, Duration::from_secs(9));
    assert_eq!(c.deployments[0].timeout, Duration::from_secs(30));
    assert_eq!(r.fallbacks["a"], ["b"]);
    assert_eq!(r.context_window_fallbacks["a"], ["b"]);
    assert_eq!(r.content_policy_fallbacks["b"], ["a"]);
}

#[test]
fn router_settings_win_with_litellm_s_precedence() {
    // `is not None` keys: a 0 in router_settings still wins.
    let c = with(
        "router_settings: { num_retries: 0, allowed_fails: 0, timeout: 0, cooldown_time: 0, fallbacks: [] }\nlitellm_settings: { num_retries: 5, allowed_fails: 4, request_timeout: 30, cooldown_time: 9, fallbacks: [{ a: [b] }] }\n",
    );
    let r = &c.router;
    assert_eq!((r.num_retries, r.allowed_fails), (0, 0));
    // `or` keys: 0 and [] fall through to litellm_settings.
    assert_eq!(c.deployments[0].timeout, Duration::from_secs(30));
    assert_eq!(r.cooldown, Duration::from_secs(9));
    assert_eq!(r.fallbacks["a"], ["b"]);

    let c = with(
        "router_settings: { num_retries: 1, allowed_fails: 2, timeout: 7, cooldown_time: 8, fallbacks: [{ b: [a] }] }\nlitellm_settings: { num_retries: 5, allowed_fails: 4, request_timeout: 30, cooldown_time: 9, fallbacks: [{ a: [b] }] }\n",
    );
    let r = &c.router;
    assert_eq!((r.num_retries, r.allowed_fails), (1, 2));
    assert_eq!(c.deployments[0].timeout, Duration::from_secs(7));
    assert_eq!(r.cooldown, Duration::from_secs(8));
    assert!(r.fallbacks.contains_key("b") && !r.fallbacks.contains_key("a"));

    let e = parse(
        "model_list: [{ model_name: a, litellm_params: { model: mock/a } }]\nlitellm_settings: { fallbacks: [{ a: [nope] }] }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap_err();
    assert_eq!(e.path, "litellm_settings.fallbacks[0].a");
}

#[test]
fn unsupported_cache_types_warn_once_and_use_the_local_cache() {
    for kind in ["disk", "s3", "qdrant-semantic", "redis-semantic"] {
        let (c, w) = parse(
            &format!("model_list: [{{ model_name: a, litellm_params: {{ model: mock/a }} }}]\nlitellm_settings: {{ cache: true, cache_params: {{ type: {kind} }} }}\n"),
            "c.yaml",
            &env(&[]),
        )
        .unwrap();
        assert_eq!(c.cache.unwrap().kind, "local");
        let about: Vec<_> = w.iter().filter(|w| w.0.contains(kind)).collect();
        assert_eq!(about.len(), 1, "{w:?}");
    }
}

#[test]
fn credentials_fill_what_the_deployment_does_not_set() {
    let (c, _) = parse(
        "credential_list:\n  - credential_name: cred\n    credential_values: { api_key: os.environ/K, api_base: http://one.test/v1 }\nmodel_list:\n  - { model_name: a, litellm_params: { model: openai/a, litellm_credential_name: cred } }\n  - { model_name: b, litellm_params: { model: openai/b, api_base: http://two.test/v1, litellm_credential_name: cred } }\n",
        "c.yaml",
        &env(&[("K", "sk-cred")]),
    )
    .unwrap();
    let [a, b] = &c.deployments[..] else { panic!() };
    assert_eq!(a.api_key.as_ref().unwrap().expose(), "sk-cred");
    assert_eq!(a.api_base.as_deref(), Some("http://one.test/v1"));
    assert_eq!(b.api_base.as_deref(), Some("http://two.test/v1"));
    let e = parse(
        "model_list:\n  - { model_name: a, litellm_params: { model: openai/a, litellm_credential_name: nope } }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap_err();
    assert_eq!(
        e.path,
        "model_list[0].litellm_params.litellm_credential_name"
    );
}

#[test]
fn includes_merge_relative_to_the_including_file_and_refuse_cycles() {
    let dir = std::env::temp_dir().join(format!("switchyard-include-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("main.yaml"),
        "include: [sub/models.yaml]\nmodel_list: [{ model_name: a, litellm_params: { model: mock/a } }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/models.yaml"),
        "include: more.yaml\nmodel_list: [{ model_name: b, litellm_params: { model: mock/b } }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/more.yaml"),
        "model_list: [{ model_name: c, litellm_params: { model: mock/c } }]\nrouter_settings: { num_retries: 7 }\n",
    )
    .unwrap();
    let (c, _) = load(Some(&dir.join("main.yaml")), &env(&[])).unwrap();
    let names: Vec<_> = c
        .deployments
        .iter()
        .map(|d| d.model_name.as_str())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(c.router.num_retries, 7);

    std::fs::write(
        dir.join("loop.yaml"),
        "include: sub/back.yaml\nmodel_list: []\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/back.yaml"), "include: ../loop.yaml\n").unwrap();
    let e = load(Some(&dir.join("loop.yaml")), &env(&[])).unwrap_err();
    assert!(e.message.contains("includes itself"), "{e}");
    let e = parse("include: x.yaml\nmodel_list: []\n", "c.yaml", &env(&[])).unwrap_err();
    assert!(e.path.starts_with("include"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_skipped_deployment_is_named_when_none_is_left() {
    let e = parse(
        "model_list:\n  - { model_name: a, litellm_params: { model: bedrock/x } }\n  - { model_name: b, litellm_params: { model: vertex_ai/y } }\n",
        "c.yaml",
        &env(&[]),
    )
    .unwrap_err();
    assert!(
        e.message.contains("model_list[0] (a)") && e.message.contains("model_list[1] (b)"),
        "{e}"
    );
    assert!(
        e.message.contains("`bedrock`") && e.message.contains("`vertex_ai`"),
        "{e}"
    );
}
