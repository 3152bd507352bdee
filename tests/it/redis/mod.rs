//! Shared state through Redis (SPEC §10): fleets of real `switchyard` processes on one real
//! Redis, and faults (frozen, killed and restarted, not yet started).
//!
//! Tests on the shared server read `SWITCHYARD_TEST_REDIS_URL` (`.ci/run` starts one) and skip
//! with a message when it is unset; each uses its own key namespace. Fault tests start their
//! own `redis-server` (skipping with a message when the binary is missing).

mod chaos;
mod fleet;
mod pipeline;

use std::{net::TcpListener as StdListener, path::PathBuf, process::Stdio, time::Duration};

use tokio::process::{Child, Command};

use crate::common::{http, wait_live};

/// The shared test server, or `None` (after saying so) when the variable is unset.
pub fn shared_redis(test: &str) -> Option<String> {
    match std::env::var("SWITCHYARD_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "SKIPPED {test}: SWITCHYARD_TEST_REDIS_URL is not set (bash .ci/run starts a Redis and sets it)"
            );
            None
        }
    }
}

/// A key namespace no other test uses.
pub fn namespace(test: &str) -> String {
    format!("it-{test}-{:x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `redis-server` process of this test's own, on a loopback port.
pub struct PrivateRedis {
    pub port: u16,
    bin: PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one, or says why not and returns `None`.
    pub async fn start(test: &str) -> Option<Self> {
        let Some(bin) = redis_server_bin() else {
            eprintln!(
                "SKIPPED {test}: no redis-server binary (install the Debian package redis-server)"
            );
            return None;
        };
        let mut r = Self {
            port: free_port(),
            bin,
            child: None,
        };
        r.spawn().await;
        Some(r)
    }

    /// A port for a server not started yet (`start_on`).
    pub fn planned(test: &str) -> Option<Self> {
        let Some(bin) = redis_server_bin() else {
            eprintln!(
                "SKIPPED {test}: no redis-server binary (install the Debian package redis-server)"
            );
            return None;
        };
        Some(Self {
            port: free_port(),
            bin,
            child: None,
        })
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it answers PING.
    pub async fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..200 {
            if let Ok(Ok(mut c)) = tokio::time::timeout(
                Duration::from_millis(500),
                client.get_multiplexed_async_connection(),
            )
            .await
            {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} did not come up", self.port);
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().await.unwrap();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`).
    pub fn freeze(&self, stop: bool) {
        let pid = self.child.as_ref().unwrap().id().unwrap();
        let signal = if stop {
            nix::sys::signal::Signal::SIGSTOP
        } else {
            nix::sys::signal::Signal::SIGCONT
        };
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            if let Some(pid) = c.id() {
                // A frozen server must be thawed for SIGKILL to reap it promptly.
                let pid = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
            }
        }
    }
}

fn redis_server_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("REDIS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            "/usr/bin".into(),
            "/usr/sbin".into(),
            "/usr/local/bin".into(),
        ])
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
}

/// A `switchyard` process on a loopback port, killed when dropped.
pub struct Replica {
    pub port: u16,
    child: Child,
    _config: TempFile,
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Replica {
    /// Starts the built binary with `yaml` and waits until it answers `/health/liveliness`.
    pub async fn start(yaml: &str) -> Self {
        let path = std::env::temp_dir().join(format!("switchyard-it-{:x}.yaml", rand_u64()));
        std::fs::write(&path, yaml).unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["--config", path.to_str().unwrap(), "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .env_remove("REDIS_URL")
            .env_remove("REDIS_HOST")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            // SWITCHYARD_IT_LOGS=1 shows the replicas' logs.
            .stderr(if std::env::var_os("SWITCHYARD_IT_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let r = Self {
            port,
            child,
            _config: TempFile(path),
        };
        if wait_live(&r.url(""), 400).await {
            return r;
        }
        panic!("switchyard on port {port} did not come up");
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        http()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Waits (bounded) until `switchyard_redis_up` is `up`; returns how long it took.
    pub async fn wait_redis_up(&self, up: bool, within: Duration) -> Duration {
        let start = tokio::time::Instant::now();
        let want = format!("switchyard_redis_up {}", u8::from(up));
        while start.elapsed() < within {
            // A whole sample line: the family's HELP text also starts with "1 while...".
            if self.metrics().await.lines().any(|l| l == want) {
                return start.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{want} not reached within {within:?}");
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// Config: group `gpt` of the `(id, upstream address)` deployments, Redis at `url` under key
/// namespace `ns`; `router` lines go under `router_settings`, `cache` turns the Redis cache on,
/// `redis` is the body of `switchyard_settings.redis: {..}`, `switchyard` more lines under
/// `switchyard_settings`.
pub fn config(
    url: &str,
    ns: &str,
    deployments: &[(&str, std::net::SocketAddr)],
    router: &str,
    cache: bool,
    redis: &str,
    switchyard: &str,
) -> String {
    let mut y = String::from("model_list:\n");
    for (id, addr) in deployments {
        y.push_str(&format!(
            "  - model_name: gpt\n    litellm_params: {{ model: openai/up, api_base: \"http://{addr}/v1\", api_key: sk-up, timeout: 5, rpm: 1000 }}\n    model_info: {{ id: {id} }}\n"
        ));
    }
    y.push_str(&format!(
        "router_settings:\n  redis_url: \"{url}\"\n{router}litellm_settings:\n  cache: {cache}\n  cache_params: {{ type: redis, namespace: {ns} }}\nswitchyard_settings:\n  redis: {{ {redis} }}\n{switchyard}"
    ));
    y
}

/// The value of the metric line starting with `name` (labels included), or 0.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits (bounded) until `replica`'s metric `name` is at least `at_least`.
pub async fn wait_metric(replica: &Replica, name: &str, at_least: f64) {
    for _ in 0..250 {
        if metric(&replica.metrics().await, name) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} did not reach {at_least}");
}

/// A chat request to `replica` with `key` (and `content`, `stream`).
pub async fn chat(replica: &Replica, key: &str, content: &str, stream: bool) -> reqwest::Response {
    http()
        .post(replica.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&serde_json::json!({"model": "gpt", "stream": stream, "messages": [{"role": "user", "content": content}]}))
        .send()
        .await
        .unwrap()
}
