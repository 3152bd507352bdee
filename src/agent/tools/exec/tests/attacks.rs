//! The probe's attacks on the exec sandbox, run through the real tool: each must be refused.
//! Every attack that multiplies processes is bounded by the process limit, a loop cap and the
//! timeout, so a broken sandbox fails these tests without harming the machine. As root each test
//! runs as its own uid (61001…), so its processes can be counted and budgets are not shared.

use std::{io::ErrorKind, os::unix::fs::PermissionsExt, process::Command as StdCommand};

use super::*;

/// A directory of the test's own under the host's temp dir, removed on drop.
struct HostDir(std::path::PathBuf);

impl HostDir {
    fn new(tag: &str, mode: u32) -> Self {
        let dir =
            std::env::temp_dir().join(format!("switchyard-{tag}-{:016x}", rand::random::<u64>()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        Self(dir)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdout_json(r: &Value) -> Value {
    serde_json::from_str(r["stdout"].as_str().unwrap_or_default())
        .unwrap_or_else(|_| panic!("the attack printed its results: {r:#}"))
}

#[tokio::test]
async fn reading_the_parent_environment_is_refused() {
    let Some(sandbox) = sandbox_as(Some(61_001)) else {
        return;
    };
    let parent = std::process::id();
    let secret = "CARGO_MANIFEST_DIR=";
    let own = std::fs::read(format!("/proc/{parent}/environ")).unwrap();
    assert!(
        String::from_utf8_lossy(&own).contains(secret),
        "precondition: the test's environment holds {secret}"
    );
    let code = format!(
        "import os, json\nout = {{}}\nfor pid in [{parent}, os.getppid(), 1]:\n    try:\n        out[str(pid)] = open(f'/proc/{{pid}}/environ', 'rb').read().decode('latin1')\n    except Exception as e:\n        out[str(pid)] = 'refused: ' + type(e).__name__\nprint(json.dumps(out))"
    );
    let r = python_in(&code, settings(Duration::from_secs(10), 65_536), sandbox).await;
    let out = stdout_json(&r);
    assert!(
        out[parent.to_string()]
            .as_str()
            .unwrap()
            .starts_with("refused"),
        "{out:#}"
    );
    assert!(!r.to_string().contains(secret), "{r:#}");
}

#[tokio::test]
async fn reading_the_config_file_is_refused() {
    let Some(sandbox) = sandbox_as(Some(61_002)) else {
        return;
    };
    let secret = "sk-deployment-SECRET-5555";
    let dir = HostDir::new("secret", 0o755);
    let config = dir.0.join("config.yaml");
    std::fs::write(&config, format!("api_key: {secret}\n")).unwrap();
    // World-readable on purpose: only the sandbox's own view of the filesystem keeps it out.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let parent = std::process::id();
    let code = format!(
        "import json\nout = {{}}\nfor p in ['{path}', '/proc/{parent}/root{path}', '/proc/1/root{path}']:\n    try:\n        out[p] = open(p).read()\n    except Exception as e:\n        out[p] = 'refused: ' + type(e).__name__\nprint(json.dumps(out))",
        path = config.display()
    );
    let r = python_in(&code, settings(Duration::from_secs(10), 65_536), sandbox).await;
    let out = stdout_json(&r);
    for (path, result) in out.as_object().unwrap() {
        assert!(
            result.as_str().unwrap().starts_with("refused"),
            "{path}: {result}"
        );
    }
    assert!(!r.to_string().contains(secret), "{r:#}");
}

#[tokio::test]
async fn writes_outside_the_call_directory_never_reach_the_host() {
    let Some(sandbox) = sandbox_as(Some(61_003)) else {
        return;
    };
    // World-writable on purpose: only the sandbox's own view of the filesystem keeps it out.
    let open = HostDir::new("open", 0o777);
    let targets = [
        open.0.join("escaped"),
        std::env::temp_dir().join(format!("switchyard-escaped-{:016x}", rand::random::<u64>())),
        "/escaped".into(),
        "/usr/escaped".into(),
    ];
    let list: Vec<String> = targets
        .iter()
        .map(|p| format!("'{}'", p.display()))
        .collect();
    let code = format!(
        "import json\nout = {{}}\nfor p in [{}, 'inside.txt']:\n    try:\n        open(p, 'w').write('x')\n        out[p] = 'written'\n    except Exception as e:\n        out[p] = 'refused: ' + type(e).__name__\nprint(json.dumps(out))",
        list.join(", ")
    );
    let r = python_in(&code, settings(Duration::from_secs(10), 65_536), sandbox).await;
    let out = stdout_json(&r);
    assert_eq!(
        out["inside.txt"], "written",
        "the call's own directory is writable"
    );
    for target in &targets {
        assert!(
            !target.exists(),
            "{} was written: {out:#}",
            target.display()
        );
    }
    let _ = std::fs::remove_file(&targets[1]);
}

#[tokio::test]
async fn a_fork_bomb_is_held_by_the_process_limit() {
    let Some(sandbox) = sandbox_as(Some(61_004)) else {
        return;
    };
    let m = marker();
    // At most 200 forks even if nothing held it; every child is a `sleep` we can find.
    let code = format!(
        "import os\nn, err = 0, ''\nwhile n < 200:\n    try:\n        pid = os.fork()\n    except OSError as e:\n        err = str(e)\n        break\n    if pid == 0:\n        os.execv('/bin/sleep', ['sleep', '{m}'])\n    n += 1\nprint(n, err, flush=True)"
    );
    let mut s = settings(Duration::from_secs(10), 4096);
    s.max_processes = 16;
    let r = python_in(&code, s, sandbox).await;
    let stdout = r["stdout"].as_str().unwrap();
    let forked: u32 = stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{r:#}"));
    assert!(
        (1..=16).contains(&forked),
        "forked {forked} with a limit of 16: {r:#}"
    );
    assert!(stdout.contains("Resource temporarily unavailable"), "{r:#}");
    assert!(
        all_gone(&m, Duration::from_secs(5)).await,
        "every forked process ended with the call"
    );
}

#[tokio::test]
async fn a_setsid_daemon_does_not_escape_the_timeout_or_the_end_of_the_call() {
    let Some(sandbox) = sandbox_as(Some(61_005)) else {
        return;
    };
    let daemon = |m: &str, then: &str| {
        format!(
            "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execv('/bin/sleep', ['sleep', '{m}'])\n    os._exit(0)\nos.wait()\n{then}"
        )
    };
    // The program outlives its timeout.
    let m = marker();
    let started = tokio::time::Instant::now();
    let r = python_in(
        &daemon(&m, "time.sleep(60)"),
        settings(Duration::from_secs(2), 4096),
        sandbox.clone(),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r["timed_out"], true, "{r:#}");
    assert!(
        all_gone(&m, Duration::from_secs(5)).await,
        "the daemon was killed"
    );
    // The program ends at once, leaving its daemon behind.
    let m = marker();
    let r = python_in(
        &daemon(&m, "print('left')"),
        settings(Duration::from_secs(20), 4096),
        sandbox,
    )
    .await;
    assert_eq!(
        (r["rc"].as_i64(), r["timed_out"].as_bool()),
        (Some(0), Some(false)),
        "{r:#}"
    );
    assert!(
        all_gone(&m, Duration::from_secs(5)).await,
        "the daemon ended with the call"
    );
}

#[tokio::test]
async fn connecting_out_needs_network_true() {
    let Some(sandbox) = sandbox_as(Some(61_006)) else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n    print('connected')\nexcept Exception as e:\n    print('refused:', type(e).__name__)"
    );
    let r = python_in(
        &code,
        settings(Duration::from_secs(10), 4096),
        sandbox.clone(),
    )
    .await;
    assert!(
        r["stdout"].as_str().unwrap().starts_with("refused"),
        "{r:#}"
    );
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "nothing reached the test's listener"
    );
    // The same program with `network: true` connects: the refusal above was the sandbox's.
    let mut s = settings(Duration::from_secs(10), 4096);
    s.network = true;
    let r = python_in(&code, s, sandbox).await;
    assert_eq!(r["stdout"], "connected\n", "{r:#}");
    assert!(listener.accept().is_ok());
}

#[tokio::test]
async fn signalling_the_gateway_or_its_other_processes_is_refused() {
    let Some(sandbox) = sandbox_as(Some(61_007)) else {
        return;
    };
    let mut victim = StdCommand::new("sleep").arg("60").spawn().unwrap();
    let parent = std::process::id();
    // Signal 0 to the test process itself: it proves reachability without harming the run.
    let code = format!(
        "import os, signal, json\nout = {{}}\nfor name, pid, sig in [('victim', {victim}, signal.SIGKILL), ('parent', {parent}, 0)]:\n    try:\n        os.kill(pid, sig)\n        out[name] = 'delivered'\n    except Exception as e:\n        out[name] = 'refused: ' + type(e).__name__\nprint(json.dumps(out))",
        victim = victim.id()
    );
    let r = python_in(&code, settings(Duration::from_secs(10), 4096), sandbox).await;
    let out = stdout_json(&r);
    for name in ["victim", "parent"] {
        assert!(
            out[name].as_str().unwrap().starts_with("refused"),
            "{name}: {out:#}"
        );
    }
    assert!(
        victim.try_wait().unwrap().is_none(),
        "the victim still runs"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
}

#[tokio::test]
async fn with_a_uid_per_call_a_fork_bomb_does_not_starve_a_concurrent_call() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: a uid per call needs root");
        return;
    }
    let settings_for = |uids| SandboxSettings {
        user: Some(IdSpec::Id(61_020)),
        uids,
        ..SandboxSettings::default()
    };
    let sandbox = match Sandbox::establish(&settings_for(2)) {
        Ok(s) => Arc::new(s),
        Err(e @ SandboxError::KernelLacks(..)) => {
            eprintln!("SKIPPED (the kernel lacks a feature the sandbox needs): {e}");
            return;
        }
        Err(e) => panic!("the exec sandbox cannot be established on this host: {e}"),
    };
    let m = marker();
    // Fills its budget, then holds it until its timeout.
    let bomb = format!(
        "import os, time\nn = 0\nwhile n < 200:\n    try:\n        pid = os.fork()\n    except OSError:\n        break\n    if pid == 0:\n        os.execv('/bin/sleep', ['sleep', '{m}'])\n    n += 1\ntime.sleep(60)"
    );
    // Generous bounds: on a loaded 2-core machine starting the sandboxed interpreter and its
    // forks takes seconds, and the bomb must still hold its budget when the second call runs.
    let mut s = settings(Duration::from_secs(16), 4096);
    s.max_processes = 8;
    let bombing = {
        let (s, sandbox) = (s.clone(), sandbox.clone());
        tokio::spawn(async move { python_in(&bomb, s, sandbox).await })
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(12);
    while running(&m).len() < 6 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(running(&m).len() >= 6, "the bomb filled its budget");
    let r = python_in("print('ok')", s, sandbox).await;
    assert_eq!(
        (r["rc"].as_i64(), r["stdout"].as_str()),
        (Some(0), Some("ok\n")),
        "{r:#}"
    );
    assert!(
        !bombing.is_finished(),
        "the bomb still held its budget meanwhile"
    );
    let r = bombing.await.unwrap();
    assert_eq!(r["timed_out"], true);
    assert!(all_gone(&m, Duration::from_secs(5)).await);
}
