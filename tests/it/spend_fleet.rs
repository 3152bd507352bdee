//! Spend across replicas (SPEC §10, §14): three gateway processes (the built binary) on one
//! Redis stop a key at the same budget, and the fleet's recorded spend is exactly the sum of the
//! cost headers its answers carried, also when Redis is killed and restarted mid-run.
//!
//! `fleet_stops_a_key_at_one_budget` needs `SWITCHYARD_TEST_REDIS_URL`;
//! `fleet_spend_is_exact_across_a_redis_restart` starts its own `redis-server` (from
//! `SWITCHYARD_TEST_REDIS_SERVER`, else `redis-server` on the PATH). Each says so and passes
//! when what it needs is missing.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::common::{MockUpstream, chat_body, http, upstream::ok_json};

const MASTER: &str = "sk-fleet-master-7";
const CAPPED: &str = "sk-fleet-capped-8";
const OPEN: &str = "sk-fleet-open-9";
/// What one answer costs (1000 prompt + 1000 completion tokens on gpt-4o): 0.0125 USD.
const COST_MICROS: u64 = 12_500;

/// A gateway process, killed on drop.
struct Gateway {
    addr: SocketAddr,
    _child: Child,
}

/// A redis-server owned by the test.
struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "switchyard-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn answer() -> crate::common::Behavior {
    ok_json(
        json!({"id": "c", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}})
        .to_string(),
    )
}

fn config(upstream: &MockUpstream, redis_url: &str, namespace: &str) -> String {
    format!(
        "model_list:\n  - model_name: g\n    litellm_params: {{ model: openai/gpt-4o, api_base: 'http://{}/v1', api_key: sk-deployment-secret }}\n    model_info: {{ id: dep-g }}\nrouter_settings: {{ redis_url: '{redis_url}' }}\nlitellm_settings: {{ cache_params: {{ namespace: {namespace} }} }}\ngeneral_settings: {{ master_key: {MASTER} }}\nswitchyard_settings:\n  redis: {{ timeout_seconds: 2 }}\n  keys:\n    - {{ key: {CAPPED}, key_alias: capped, max_budget: 0.5, budget_duration: 1d }}\n    - {{ key: {OPEN}, key_alias: open }}\n",
        upstream.addr
    )
}

impl Gateway {
    async fn start(config: &Path, log: &Path) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("--config")
            .arg(config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(log).unwrap()))
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(log).unwrap(),
            ))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let url = format!("http://{addr}/health/liveliness");
        for _ in 0..500 {
            if http()
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Self {
                    addr,
                    _child: child,
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "gateway did not start: {}",
            std::fs::read_to_string(log).unwrap()
        );
    }

    /// One chat completion: `Some(cost in micro-dollars)` when answered, `None` when refused
    /// for the budget.
    async fn chat(&self, key: &str) -> Option<u64> {
        let r = http()
            .post(format!("http://{}/v1/chat/completions", self.addr))
            .bearer_auth(key)
            .json(&chat_body("g", false))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            200 => {
                let cost = r.headers()["x-switchyard-response-cost"].to_str().unwrap();
                let (whole, frac) = cost.split_once('.').unwrap();
                Some(whole.parse::<u64>().unwrap() * 1_000_000 + frac.parse::<u64>().unwrap())
            }
            400 => {
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
                None
            }
            other => panic!("unexpected {other}: {}", r.text().await.unwrap()),
        }
    }

    /// The key's spend as this gateway reads it, in micro-dollars.
    async fn spend(&self, key: &str) -> u64 {
        let r = http()
            .get(format!("http://{}/key/info", self.addr))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let info: Value = r.json().await.unwrap();
        (info["info"]["spend"].as_f64().unwrap() * 1e6).round() as u64
    }
}

impl RedisServer {
    fn binary() -> Option<PathBuf> {
        if let Ok(p) = std::env::var("SWITCHYARD_TEST_REDIS_SERVER") {
            return Some(PathBuf::from(p));
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("redis-server"))
                .find(|p| p.is_file())
        })
    }

    async fn start(binary: PathBuf) -> Self {
        let mut server = Self {
            binary,
            port: free_port(),
            dir: scratch_dir("redis"),
            child: None,
        };
        server.launch().await;
        server
    }

    /// Starts the server (again) on its port and directory: the append-only file, synced on
    /// every write, brings back what it held.
    async fn launch(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..500 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis-server did not start");
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Three gateways on `redis_url`, their logs in `dir`.
async fn fleet(upstream: &MockUpstream, redis_url: &str, dir: &Path) -> Vec<Arc<Gateway>> {
    let namespace = format!("t{:x}", rand::random::<u64>());
    let path = dir.join("config.yaml");
    std::fs::write(&path, config(upstream, redis_url, &namespace)).unwrap();
    let mut out = Vec::new();
    for n in 0..3 {
        out.push(Arc::new(
            Gateway::start(&path, &dir.join(format!("gateway-{n}.log"))).await,
        ));
    }
    out
}

/// Every gateway's log: no key value in any of them.
fn assert_logs_clean(dir: &Path) {
    for n in 0..3 {
        let log = std::fs::read_to_string(dir.join(format!("gateway-{n}.log"))).unwrap();
        for secret in [MASTER, CAPPED, OPEN, "sk-deployment-secret"] {
            assert!(!log.contains(secret), "a key in gateway-{n}.log");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fleet_stops_a_key_at_one_budget() {
    let Ok(redis_url) = std::env::var("SWITCHYARD_TEST_REDIS_URL") else {
        eprintln!("SKIPPED fleet_stops_a_key_at_one_budget: set SWITCHYARD_TEST_REDIS_URL");
        return;
    };
    let upstream = MockUpstream::start(answer()).await;
    let dir = scratch_dir("fleet-budget");
    let gateways = fleet(&upstream, &redis_url, &dir).await;
    // Four clients per gateway spend on the capped key until each is refused.
    let told = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for g in &gateways {
        for _ in 0..4 {
            let (g, told) = (g.clone(), told.clone());
            clients.push(tokio::spawn(async move {
                while let Some(cost) = g.chat(CAPPED).await {
                    told.fetch_add(cost, Ordering::SeqCst);
                }
            }));
        }
    }
    for c in clients {
        c.await.unwrap();
    }
    let told = told.load(Ordering::SeqCst);
    let budget = 500_000;
    assert!(told >= budget, "stopped before the budget: {told}");
    assert!(
        told < budget + 12 * COST_MICROS,
        "over-admitted by more than the 12 requests in flight: {told}"
    );
    for g in &gateways {
        assert_eq!(
            g.spend(CAPPED).await,
            told,
            "every replica reads the fleet's spend"
        );
        assert_eq!(g.chat(CAPPED).await, None, "every replica refuses the key");
    }
    assert_logs_clean(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fleet_spend_is_exact_across_a_redis_restart() {
    let Some(binary) = RedisServer::binary() else {
        eprintln!(
            "SKIPPED fleet_spend_is_exact_across_a_redis_restart: no redis-server (set SWITCHYARD_TEST_REDIS_SERVER or put it on the PATH)"
        );
        return;
    };
    let mut redis = RedisServer::start(binary).await;
    let upstream = MockUpstream::start(answer()).await;
    let dir = scratch_dir("fleet-restart");
    let gateways = fleet(&upstream, &redis.url(), &dir).await;
    let told = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for g in &gateways {
        for _ in 0..3 {
            let (g, told, answered, stop) =
                (g.clone(), told.clone(), answered.clone(), stop.clone());
            clients.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let cost = g.chat(OPEN).await.expect("the open key has no budget");
                    told.fetch_add(cost, Ordering::SeqCst);
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            }));
        }
    }
    let wait_answers = |n: u64| {
        let answered = answered.clone();
        async move {
            for _ in 0..3000 {
                if answered.load(Ordering::SeqCst) >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("the fleet stopped answering");
        }
    };
    wait_answers(60).await;
    // Redis goes away mid-run (SIGKILL) and comes back on the same port and data.
    redis.kill().await;
    let before = answered.load(Ordering::SeqCst);
    wait_answers(before + 30).await;
    redis.launch().await;
    let before = answered.load(Ordering::SeqCst);
    wait_answers(before + 60).await;
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let told = told.load(Ordering::SeqCst);
    assert_eq!(told, answered.load(Ordering::SeqCst) * COST_MICROS);
    // Charges that failed while Redis was down are retried with their ids: once Redis has them
    // all, every replica reads exactly what the fleet told its clients, no more, no less.
    let mut spent = Vec::new();
    for _ in 0..600 {
        spent.clear();
        for g in &gateways {
            spent.push(g.spend(OPEN).await);
        }
        if spent.iter().all(|s| *s == told) {
            break;
        }
        assert!(
            spent.iter().all(|s| *s <= told),
            "counted twice: {spent:?} > {told}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(spent, vec![told; 3]);
    let all: Value = http()
        .get(format!("http://{}/spend/keys", gateways[0].addr))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (all[1]["spend"].as_f64().unwrap() * 1e6).round() as u64,
        told
    );
    assert_logs_clean(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}
