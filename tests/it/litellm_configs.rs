//! `switchyard check` on every config in tests/fixtures/litellm-configs: real-world-shaped
//! LiteLLM configs (YAML 1.1 scalars, env references in the model, router keys under
//! litellm_settings, unsupported cache types, credentials, includes, wildcards, skipped
//! deployments). Those named `all-skipped` or `include-cycle` must be refused, clearly.

use std::{path::Path, process::Command};

fn check(path: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["check", "--config"])
        .arg(path)
        .env("OPENAI_API_KEY", "sk-fixture-openai")
        .env("ANTHROPIC_API_KEY", "sk-fixture-anthropic")
        .env("AZURE_API_KEY", "sk-fixture-azure")
        .env("GROQ_API_KEY", "sk-fixture-groq")
        .env("MISTRAL_API_KEY", "sk-fixture-mistral")
        .env("SWITCHYARD_MASTER_KEY", "sk-fixture-master")
        .env("FIXTURE_CHAT_MODEL", "openai/gpt-4o-mini")
        .env("FIXTURE_API_BASE", "http://127.0.0.1:9/v1")
        .env("FIXTURE_RPM", "1_200")
        .env("FIXTURE_DEPLOYMENT_ID", "chat-east")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/litellm-configs")
        .join(name)
}

#[test]
fn every_fixture_config_loads_or_is_refused_with_its_reasons() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (ok, stdout, stderr) = check(&path);
        assert!(
            !stdout.contains("sk-fixture") && !stderr.contains("sk-fixture"),
            "{name}: keys are never printed"
        );
        let refused = name.starts_with("all-skipped") || name.starts_with("include-cycle");
        if refused {
            assert!(!ok, "{name} must be refused");
            assert_eq!(stderr.matches("error:").count(), 1, "{name}: {stderr}");
        } else {
            assert!(ok, "{name}: {stderr}");
            assert!(stdout.contains("config OK"), "{name}: {stdout}");
            assert!(!stderr.contains("error"), "{name}: {stderr}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "{seen} fixtures");
}

#[test]
fn fixtures_resolve_as_litellm_would() {
    let (_, out, _) = check(&fixture("env-everywhere.yaml"));
    assert!(
        out.contains("chat-east") && out.contains("gpt-4o-mini"),
        "{out}"
    );
    let (_, out, _) = check(&fixture("yaml11-scalars.yaml"));
    assert!(
        out.contains("10.5s") && out.contains("allowed_fails=3 cooldown=30s"),
        "{out}"
    );
    let (_, out, _) = check(&fixture("litellm-settings-router.yaml"));
    assert!(
        out.contains("num_retries=4 allowed_fails=2 cooldown=20s"),
        "{out}"
    );
    assert!(out.contains("45s"), "{out}");
    assert!(out.contains("fallbacks: gpt-4o -> claude"), "{out}");
    assert!(
        out.contains("context_window_fallbacks: gpt-4o-mini -> gpt-4o"),
        "{out}"
    );
    let (_, out, _) = check(&fixture("include-parent.yaml"));
    assert!(
        out.contains("groq-llama") && out.contains("mistral-small"),
        "{out}"
    );
    assert!(out.contains("strategy=least-busy"), "{out}");
    let (_, out, _) = check(&fixture("credentials.yaml"));
    assert_eq!(out.matches("  set  ").count(), 2, "{out}");
    let (_, out, err) = check(&fixture("unsupported-cache.yaml"));
    assert!(out.contains("config OK"));
    assert_eq!(err.matches("qdrant-semantic").count(), 1, "{err}");
    let (_, out, _) = check(&fixture("wildcards.yaml"));
    assert!(
        out.contains("anthropic/*") && out.contains("UPSTREAM MODEL  the model"),
        "{out}"
    );
    let (_, _, err) = check(&fixture("skipped-deployments.yaml"));
    assert!(
        err.contains("`bedrock`") && err.contains("`vertex_ai`"),
        "{err}"
    );
    let (_, _, err) = check(&fixture("all-skipped.yaml"));
    assert!(
        err.contains("model_list[0] (claude-bedrock)") && err.contains("model_list[1] (gemini)"),
        "{err}"
    );
    let (_, _, err) = check(&fixture("include-cycle.yaml"));
    assert!(err.contains("includes itself"), "{err}");
}
