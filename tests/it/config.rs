//! `switchyard check` on every shipped config, and on broken ones.

use std::process::Command;

fn check(path: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["check", "--config", path])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("OPENAI_API_KEY", "sk-test")
        .env("AZURE_API_KEY", "az-test")
        .env("GROQ_API_KEY", "gq-test")
        .env("MISTRAL_API_KEY", "ms-test")
        .env("SWITCHYARD_MASTER_KEY", "sk-master-test")
        .output()
        .unwrap()
}

#[test]
fn every_shipped_config_passes_check() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let out = check(path.to_str().unwrap());
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{}: {stderr}", path.display());
            assert!(stdout.starts_with("MODEL"), "{stdout}");
            assert!(stdout.contains("config OK"), "{stdout}");
            assert!(
                !stdout.contains("sk-test") && !stderr.contains("sk-test"),
                "keys never printed"
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "default, openai, multi-provider, agent");
}

#[test]
fn check_without_config_checks_the_embedded_default() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("check")
        .env_remove("SWITCHYARD_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("<embedded default>"));
}

#[test]
fn check_names_the_file_and_key_path_of_an_error() {
    let dir = std::env::temp_dir().join(format!("switchyard-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "model_list:\n  - model_name: g\n    litellm_params: { model: openai/x, api_key: os.environ/NOT_SET_ANYWHERE }\n").unwrap();
    let out = check(path.to_str().unwrap());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml: model_list[0].litellm_params.api_key"),
        "{stderr}"
    );
    assert!(stderr.contains("NOT_SET_ANYWHERE"), "{stderr}");

    let out = check(dir.join("missing.yaml").to_str().unwrap());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_litellm_fixture_loads_with_warnings() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["check", "--config", "tests/fixtures/litellm-config.yaml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("OPENAI_API_KEY", "a")
        .env("AZURE_API_BASE", "https://x.openai.azure.com")
        .env("AZURE_API_KEY", "b")
        .env("REDIS_HOST", "127.0.0.1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning:") && stderr.contains("general_settings.database_url"),
        "{stderr}"
    );
}

#[test]
fn check_says_which_sandbox_protections_hold_and_refuses_root() {
    let dir = std::env::temp_dir().join(format!("switchyard-check-sbx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tools = "switchyard_settings:\n  agent:\n    tools: { exec_python: { enabled: true }, exec_shell: { enabled: true, allow: [ls], network: true } }\n";
    let path = dir.join("exec.yaml");
    std::fs::write(
        &path,
        format!("model_list:\n  - model_name: g\n    litellm_params: {{ model: mock/g }}\n{tools}"),
    )
    .unwrap();
    let out = check(path.to_str().unwrap());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the exec sandbox holds on this host: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "exec_python: enabled, sandboxed",
        "exec_shell: enabled, sandboxed",
        "  user ",
        "  namespaces ",
        "  landlock ",
        "  seccomp ",
        "  pids limit ",
        "none (an empty network namespace)",
        "ON: the host's network",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    if nix::unistd::geteuid().is_root() {
        assert!(stdout.contains("dropped from root"), "{stdout}");
    }
    let root = dir.join("root.yaml");
    std::fs::write(&root, format!("model_list:\n  - model_name: g\n    litellm_params: {{ model: mock/g }}\n{tools}    sandbox: {{ user: 0 }}\n")).unwrap();
    let out = check(root.to_str().unwrap());
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("exec_python: REFUSED on this host: refusing to run exec tools as root"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
