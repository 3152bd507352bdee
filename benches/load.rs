//! Self-contained load benchmark: what the gateway costs compared with calling the upstream
//! directly, measured in one run on one machine (SPEC §12, docs/benchmarks.md).
//!
//! ```text
//! cargo bench --bench load -- [--duration-secs 10] [--quick] [--out target/load-results.json]
//!                             [--no-pin] [--no-build] [--gateway-bin PATH] [--streams 1000]
//! ```
//!
//! - An in-process mock OpenAI upstream (hyper, its own thread and tokio runtime) answers
//!   `POST /v1/chat/completions`: a 660-byte `chat.completion` with `usage`, or with
//!   `"stream": true` a role chunk, 20 content chunks, a finish chunk, a usage chunk when
//!   `stream_options.include_usage` is set, and `data: [DONE]`. Model `gpt-mock-hold` streams
//!   the role chunk and the first content chunk at once, then waits until the bench releases it
//!   (at most 60 s) and sends the rest with 50 ms between chunks: that holds streams open for
//!   the memory measurement.
//! - The gateway runs as a child process: `target/release/switchyard` (built first with
//!   `cargo build --release --bin switchyard` unless `--no-build`), with a generated config
//!   routing `gpt-mock` and `gpt-mock-hold` to the mock, `RUST_LOG=warn`, pinned to CPU 1 with
//!   `taskset` (`--no-pin`: no pinning). The bench process itself (mock + load generator) is
//!   pinned to the other CPUs.
//! - Load: an in-process hyper HTTP/1.1 client on a multi-thread runtime, one keep-alive
//!   connection per worker, the fixed 220-byte bench body, each cell for `--duration-secs`
//!   after an unrecorded warm-up: c=1 non-stream (latency), c=1 stream (time to first byte and
//!   total), c=64 and c=256 non-stream (RPS), each direct to the mock and through the gateway.
//! - Memory: the gateway's VmRSS idle after start, after the load cells, with `--streams`
//!   concurrent streams open (first events received), its peak while they all stream, and after.
//!
//! Output: a markdown report on stdout and JSON at `--out`. Every loop is bounded by a count or
//! a deadline; everything is on 127.0.0.1.

#![expect(clippy::print_stdout, reason = "the report is the bench's output")]

use std::{
    convert::Infallible,
    fmt::Write as _,
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    task::{Context, Poll, ready},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::{Semaphore, oneshot, watch},
    task::JoinSet,
    time::Instant,
};

const CHAT_PATH: &str = "/v1/chat/completions";
const BODY_NONSTREAM: &str = r#"{"model":"gpt-mock","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short sentence about load testing an HTTP proxy, please."}],"temperature":0.2,"stream":false}"#;
const BODY_STREAM: &str = r#"{"model":"gpt-mock","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short sentence about load testing an HTTP proxy, please."}],"temperature":0.2,"stream":true}"#;
const BODY_HOLD: &str = r#"{"model":"gpt-mock-hold","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write one short sentence about load testing an HTTP proxy, please."}],"temperature":0.2,"stream":true}"#;
const DONE: &[u8] = b"data: [DONE]\n\n";

/// Targets from the performance issue (SPEC §12).
const TARGET_ADDED_P50_US: f64 = 40.0;
const TARGET_ADDED_P99_US: f64 = 150.0;
const TARGET_RPS_C64: f64 = 20_000.0;
const TARGET_RSS_IDLE_MB: f64 = 20.0;
const TARGET_RSS_STREAMS_MB: f64 = 80.0;
/// "Other CPU" above this (% of one core) marks a cell as disturbed by other processes.
const OTHER_CPU_WARN_PCT: f64 = 10.0;

const HELP: &str = "\
load: the gateway's cost as ratios to calling a mock upstream directly

USAGE: cargo bench --bench load -- [OPTIONS]

  --duration-secs S   measured seconds per cell (default 10; --quick: 1)
  --warmup-secs S     unrecorded warm-up per cell (default 2; --quick: 0.3)
  --quick             short cells, for smoke runs
  --out PATH          JSON results (default target/load-results.json)
  --no-pin            do not pin the gateway (CPU 1) and the harness (the other CPUs) with taskset
  --no-build          do not run `cargo build --release --bin switchyard` first
  --gateway-bin PATH  gateway binary (default target/release/switchyard)
  --streams N         concurrent streams for the memory measurement (default 1000)
  --quiet-wait S      before each pair of cells, wait up to S seconds until other processes use
                      under 10 % of a core (default 0: do not wait; a shared machine wants 60+)
  -h, --help
";

// ---------------------------------------------------------------------------------- options

struct Opts {
    duration: Duration,
    warmup: Duration,
    quick: bool,
    quiet_wait: Duration,
    out: PathBuf,
    pin: bool,
    build: bool,
    gateway_bin: Option<PathBuf>,
    streams: usize,
}

fn parse_opts() -> anyhow::Result<Option<Opts>> {
    let mut duration = None;
    let mut warmup = None;
    let mut quick = false;
    let mut out = PathBuf::from("target/load-results.json");
    let mut pin = true;
    let mut build = true;
    let mut gateway_bin = None;
    let mut streams = 1000;
    let mut quiet_wait = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    let secs = |name: &str, v: Option<String>| -> anyhow::Result<Duration> {
        let v = v.with_context(|| format!("{name} needs a value"))?;
        let s: f64 = v.parse().with_context(|| format!("bad {name}: {v}"))?;
        if !(s.is_finite() && (0.0..=3600.0).contains(&s)) {
            bail!("{name} must be between 0 and 3600");
        }
        Ok(Duration::from_secs_f64(s))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {} // cargo passes it to every bench binary
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(None);
            }
            "--duration-secs" => duration = Some(secs("--duration-secs", args.next())?),
            "--warmup-secs" => warmup = Some(secs("--warmup-secs", args.next())?),
            "--quick" => quick = true,
            "--quiet-wait" => quiet_wait = secs("--quiet-wait", args.next())?,
            "--out" => out = args.next().context("--out needs a path")?.into(),
            "--no-pin" => pin = false,
            "--no-build" => build = false,
            "--gateway-bin" => {
                gateway_bin = Some(args.next().context("--gateway-bin needs a path")?.into())
            }
            "--streams" => {
                let v = args.next().context("--streams needs a number")?;
                streams = v.parse().with_context(|| format!("bad --streams: {v}"))?;
                if !(1..=10_000).contains(&streams) {
                    bail!("--streams must be between 1 and 10000");
                }
            }
            other => bail!("unknown argument {other:?}\n\n{HELP}"),
        }
    }
    let (d, w) = if quick { (1.0, 0.3) } else { (10.0, 2.0) };
    Ok(Some(Opts {
        duration: duration
            .unwrap_or(Duration::from_secs_f64(d))
            .max(Duration::from_millis(100)),
        warmup: warmup.unwrap_or(Duration::from_secs_f64(w)),
        quick,
        quiet_wait,
        out,
        pin,
        build,
        gateway_bin,
        streams,
    }))
}

// ------------------------------------------------------------------------------------- main

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let Some(opts) = parse_opts()? else {
        return Ok(());
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let layout = CpuLayout::new(opts.pin)?;
    eprintln!("load: cpu layout: {}", layout.describe());
    let gateway_bin = gateway_binary(&opts, manifest)?;
    let threads = layout.harness_threads();

    let mock = Mock::start(threads)?;
    eprintln!("load: mock upstream on {}", mock.addr);

    let work = manifest.join("target").join("load-bench");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let gateway = Gateway::start(&gateway_bin, &work, mock.addr, &layout)?;
    eprintln!(
        "load: gateway pid {} on {} (log: {})",
        gateway.pid,
        gateway.addr,
        gateway.log.display()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("load-client")
        .enable_all()
        .build()?;
    let report = rt.block_on(measure(&opts, &mock, &gateway))?;
    drop(rt);

    let gateway_log = gateway.log_summary();
    let mut gateway = gateway;
    gateway.stop();
    let mock_stats = mock.stats.snapshot();
    mock.stop();

    let meta = Meta::collect(&opts, &layout, &gateway_bin, manifest);
    let md = markdown(&meta, &report, &gateway_log, &mock_stats);
    println!("{md}");
    let out = if opts.out.is_absolute() {
        opts.out.clone()
    } else {
        manifest.join(&opts.out)
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let doc = to_json(&meta, &report, &gateway_log, &mock_stats);
    std::fs::write(&out, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!("load: JSON written to {}", out.display());
    Ok(())
}

// -------------------------------------------------------------------------------- CPU layout

struct CpuLayout {
    gateway_cpu: Option<usize>,
    harness: Vec<usize>,
}

impl CpuLayout {
    /// The gateway on CPU 1, this process (mock + load generator) on the others, when taskset
    /// exists, pinning is wanted and CPU 1 is one of ours.
    fn new(pin: bool) -> anyhow::Result<Self> {
        let allowed = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("Cpus_allowed_list:")
                        .map(|v| parse_cpu_list(v.trim()))
                })
            })
            .unwrap_or_default();
        let taskset = Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !pin || !taskset || allowed.len() < 2 || !allowed.contains(&1) {
            if pin {
                eprintln!("load: not pinning (taskset: {taskset}, allowed CPUs: {allowed:?})");
            }
            return Ok(Self {
                gateway_cpu: None,
                harness: allowed,
            });
        }
        let harness: Vec<usize> = allowed.into_iter().filter(|&c| c != 1).collect();
        let list = harness
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // All threads of this process; threads started later inherit it.
        let ok = Command::new("taskset")
            .args(["-a", "-p", "-c", &list, &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!("taskset could not pin the bench to CPUs {list} (use --no-pin)");
        }
        Ok(Self {
            gateway_cpu: Some(1),
            harness,
        })
    }

    fn harness_threads(&self) -> usize {
        if self.gateway_cpu.is_some() {
            self.harness.len().max(1)
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    fn describe(&self) -> String {
        match self.gateway_cpu {
            Some(g) => format!(
                "gateway on CPU {g}, mock + load generator on CPUs {:?}",
                self.harness
            ),
            None => "not pinned".to_owned(),
        }
    }
}

fn parse_cpu_list(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b.min(a + 4096));
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

// ---------------------------------------------------------------------------- gateway child

fn gateway_binary(opts: &Opts, manifest: &Path) -> anyhow::Result<PathBuf> {
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| manifest.join("target"), PathBuf::from);
    let bin = opts
        .gateway_bin
        .clone()
        .unwrap_or_else(|| target_dir.join("release").join("switchyard"));
    if opts.build && opts.gateway_bin.is_none() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!("load: cargo build --release --bin switchyard");
        let status = Command::new(cargo)
            .args(["build", "--release", "--bin", "switchyard"])
            .current_dir(manifest)
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("`cargo build --release --bin switchyard` failed ({status})");
        }
    }
    if !bin.is_file() {
        bail!(
            "no gateway binary at {}: build it with `cargo build --release --bin switchyard`",
            bin.display()
        );
    }
    Ok(bin)
}

struct Gateway {
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
    log: PathBuf,
}

impl Gateway {
    fn start(
        bin: &Path,
        work: &Path,
        mock: SocketAddr,
        layout: &CpuLayout,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let config = work.join("switchyard.yaml");
        let mut yaml = String::from("# generated by benches/load.rs\nmodel_list:\n");
        for model in ["gpt-mock", "gpt-mock-hold"] {
            let _ = write!(
                yaml,
                "  - model_name: {model}\n    litellm_params:\n      model: openai/{model}\n      api_base: http://{mock}/v1\n      api_key: dummy\n"
            );
        }
        yaml.push_str("router_settings:\n  num_retries: 0\n");
        std::fs::write(&config, yaml).with_context(|| format!("writing {}", config.display()))?;
        let log = work.join("gateway.log");
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = match layout.gateway_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &cpu.to_string()]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("--config")
            .arg(&config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id(); // taskset execs the gateway: same pid
        let mut gateway = Self {
            child: Some(child),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        gateway.wait_healthy()?;
        Ok(gateway)
    }

    fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!(
                        "the gateway exited at start ({status}); see {}",
                        self.log.display()
                    );
                }
            }
            if http_get_ok(self.addr, "/health/liveliness") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "the gateway did not answer /health/liveliness within 30 s; see {}",
            self.log.display()
        )
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_summary(&self) -> LogSummary {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let warn: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect();
        LogSummary {
            lines: text.lines().count(),
            warn_or_error: warn.len(),
            first: warn.iter().take(5).map(|l| (*l).to_owned()).collect(),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop();
    }
}

struct LogSummary {
    lines: usize,
    warn_or_error: usize,
    first: Vec<String>,
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A blocking one-shot `GET` (health checks before the client runtime exists).
fn http_get_ok(addr: SocketAddr, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200")
}

fn rss_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| {
        l.strip_prefix(key)?
            .strip_prefix(':')?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some((_, rest)) = s.rsplit_once(") ") else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Busy (user + nice + system) and steal ticks of the whole machine. Interrupt and softirq
/// time (loopback networking) is left out: it is no other process's work.
fn machine_ticks() -> (u64, u64) {
    let Ok(s) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(line) = s.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let n = |i: usize| f.get(i).copied().unwrap_or(0);
    (n(0) + n(1) + n(2), n(7))
}

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// CPU use over a cell: the gateway, and everything on the machine except the gateway and us.
struct CpuSample {
    at: Instant,
    gateway: u64,
    us: u64,
    machine: (u64, u64),
}

impl CpuSample {
    fn take(gateway_pid: u32) -> Self {
        Self {
            at: Instant::now(),
            gateway: cpu_ticks(&gateway_pid.to_string()),
            us: cpu_ticks("self"),
            machine: machine_ticks(),
        }
    }

    /// (gateway %, other %, steal %) of one core since `self`.
    fn since(&self, gateway_pid: u32, hz: f64) -> (f64, f64, f64) {
        let now = Self::take(gateway_pid);
        let secs = now.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let pct = |ticks: i128| (ticks as f64 / hz / secs * 100.0).max(0.0);
        let g = i128::from(now.gateway) - i128::from(self.gateway);
        let us = i128::from(now.us) - i128::from(self.us);
        let busy = i128::from(now.machine.0) - i128::from(self.machine.0);
        let steal = i128::from(now.machine.1) - i128::from(self.machine.1);
        (pct(g), pct(busy - g - us), pct(steal))
    }
}

// ------------------------------------------------------------------------------------ mock

#[derive(Default)]
struct MockStats {
    chat: AtomicU64,
    stream: AtomicU64,
    bad: AtomicU64,
    held_now: AtomicU64,
    held_total: AtomicU64,
}

struct MockStatsSnapshot {
    chat: u64,
    stream: u64,
    bad: u64,
    held_total: u64,
}

impl MockStats {
    fn snapshot(&self) -> MockStatsSnapshot {
        MockStatsSnapshot {
            chat: self.chat.load(Relaxed),
            stream: self.stream.load(Relaxed),
            bad: self.bad.load(Relaxed),
            held_total: self.held_total.load(Relaxed),
        }
    }
}

struct MockConfig {
    chunks: usize,
    hold_chunk_delay: Duration,
    hold_max: Duration,
    release: watch::Receiver<bool>,
    stats: Arc<MockStats>,
    next_id: AtomicU64,
}

struct Mock {
    addr: SocketAddr,
    stats: Arc<MockStats>,
    release: watch::Sender<bool>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    /// Starts the mock on its own thread and runtime (`threads` workers).
    fn start(threads: usize) -> anyhow::Result<Self> {
        let stats = Arc::new(MockStats::default());
        let (release, release_rx) = watch::channel(false);
        let cfg = Arc::new(MockConfig {
            chunks: 20,
            hold_chunk_delay: Duration::from_millis(50),
            hold_max: Duration::from_secs(60),
            release: release_rx,
            stats: stats.clone(),
            next_id: AtomicU64::new(1),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mock-main".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .thread_name("mock")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match bind_listener() {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(listener.local_addr().map_err(|e| e.to_string()));
                    mock_serve(listener, cfg, shutdown_rx).await;
                });
            })?;
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the mock did not start")?
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            addr,
            stats,
            release,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bind_listener() -> std::io::Result<tokio::net::TcpListener> {
    let sock = TcpSocket::new_v4()?;
    sock.set_reuseaddr(true)?;
    sock.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    sock.listen(4096)
}

async fn mock_serve(
    listener: tokio::net::TcpListener,
    cfg: Arc<MockConfig>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await; // e.g. EMFILE
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let cfg = cfg.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| mock_handle(req, cfg.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
    conns.shutdown().await;
}

type MockBody = Either<Full<Bytes>, MockSse>;

fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<MockBody> {
    let mut r = Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn mock_error(status: StatusCode, message: &str) -> Response<MockBody> {
    let body = json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}});
    full(status, "application/json", body.to_string())
}

async fn mock_handle(
    req: Request<Incoming>,
    cfg: Arc<MockConfig>,
) -> Result<Response<MockBody>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/chat/completions" | "/chat/completions") => mock_chat(req, &cfg).await,
        (&Method::GET, "/health") => full(StatusCode::OK, "text/plain", "ok\n"),
        _ => mock_error(StatusCode::NOT_FOUND, "Unknown request URL"),
    })
}

const PIECES: [&str; 20] = [
    "This",
    " is",
    " a",
    " mock",
    " reply",
    " from",
    " the",
    " upstream",
    " server",
    ".",
    " It",
    " streams",
    " one",
    " short",
    " token",
    " per",
    " chunk",
    " for",
    " benchmarks",
    ".",
];

fn usage_json(prompt: usize, completion: usize) -> String {
    format!(
        r#""usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}"#,
        prompt + completion
    )
}

async fn mock_chat(req: Request<Incoming>, cfg: &Arc<MockConfig>) -> Response<MockBody> {
    cfg.stats.chat.fetch_add(1, Relaxed);
    let bad = |msg: &str| {
        cfg.stats.bad.fetch_add(1, Relaxed);
        mock_error(StatusCode::BAD_REQUEST, msg)
    };
    let Ok(body) = req.into_body().collect().await.map(|c| c.to_bytes()) else {
        return bad("could not read the body");
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("the body is not JSON");
    };
    let Some(model) = v.get("model").and_then(Value::as_str) else {
        return bad("you must provide a model parameter");
    };
    if !v.get("messages").is_some_and(Value::is_array) {
        return bad("Missing required parameter: 'messages'.");
    }
    let stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = stream
        && v.pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let hold = model.ends_with("-hold");
    let model_json = Value::String(model.to_owned()).to_string();
    let prompt = (body.len() / 4).max(1);
    let id = cfg.next_id.fetch_add(1, Relaxed);
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = cfg.chunks;
    if !stream {
        let text: String = PIECES.iter().cycle().take(n).copied().collect();
        let s = format!(
            r#"{{"id":"chatcmpl-mock{id:016x}","object":"chat.completion","created":{created},"model":{model_json},"choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}","refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"stop"}}],{},"service_tier":"default","system_fingerprint":"fp_mock"}}"#,
            usage_json(prompt, n)
        );
        return full(StatusCode::OK, "application/json", s);
    }
    cfg.stats.stream.fetch_add(1, Relaxed);
    let prefix = format!(
        r#"data: {{"id":"chatcmpl-mock{id:016x}","object":"chat.completion.chunk","created":{created},"model":{model_json},"service_tier":"default","system_fingerprint":"fp_mock","choices":["#
    );
    let usage_null = if include_usage {
        r#","usage":null"#
    } else {
        ""
    };
    let mut s = String::with_capacity((prefix.len() + 120) * (n + 4));
    let mut ends = Vec::with_capacity(n + 4);
    let mut push = |s: &mut String, delta: &str, finish: &str| {
        let _ = write!(
            s,
            r#"{prefix}{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]{usage_null}}}"#
        );
        s.push_str("\n\n");
        ends.push(s.len());
    };
    push(
        &mut s,
        r#"{"role":"assistant","content":"","refusal":null}"#,
        "null",
    );
    for p in PIECES.iter().cycle().take(n) {
        push(&mut s, &format!(r#"{{"content":"{p}"}}"#), "null");
    }
    push(&mut s, "{}", r#""stop""#);
    if include_usage {
        let _ = write!(s, "{prefix}],{}}}\n\n", usage_json(prompt, n));
        ends.push(s.len());
    }
    s.push_str("data: [DONE]\n\n");
    ends.push(s.len());

    let (gate, held, delay) = if hold {
        let mut rx = cfg.release.clone();
        let max = cfg.hold_max;
        let gate: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let wait = async {
                loop {
                    let released = *rx.borrow_and_update();
                    if released || rx.changed().await.is_err() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(max, wait).await;
        });
        cfg.stats.held_now.fetch_add(1, Relaxed);
        cfg.stats.held_total.fetch_add(1, Relaxed);
        (
            Some(gate),
            Some(HeldGuard(cfg.stats.clone())),
            cfg.hold_chunk_delay,
        )
    } else {
        (None, None, Duration::ZERO)
    };
    let body = MockSse {
        data: Bytes::from(s),
        ends,
        next: 0,
        pos: 0,
        delay,
        sleep: None,
        gate,
        held,
    };
    let mut r = Response::new(Either::Right(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Counts a held stream until it passes its gate or goes away.
struct HeldGuard(Arc<MockStats>);

impl Drop for HeldGuard {
    fn drop(&mut self) {
        self.0.held_now.fetch_sub(1, Relaxed);
    }
}

/// The mock's SSE body: one frame per event. In hold mode, the events after the first content
/// chunk wait for the gate, then `delay` apart.
struct MockSse {
    data: Bytes,
    ends: Vec<usize>,
    next: usize,
    pos: usize,
    delay: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    gate: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    held: Option<HeldGuard>,
}

impl Body for MockSse {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let Some(&end) = this.ends.get(this.next) else {
            return Poll::Ready(None);
        };
        if this.next >= 2 {
            if let Some(gate) = this.gate.as_mut() {
                ready!(gate.as_mut().poll(cx));
                this.gate = None;
                this.held = None;
            }
            if !this.delay.is_zero() {
                let delay = this.delay;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
        }
        let chunk = this.data.slice(this.pos..end);
        this.pos = end;
        this.next += 1;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.ends.len()
    }
}

// ---------------------------------------------------------------------------------- client

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

struct Exchange {
    status: StatusCode,
    ttfb: Duration,
    total: Duration,
    ends_with_done: bool,
}

/// One request on a keep-alive connection, body read to the end.
async fn exchange(
    sender: &mut Sender,
    host: &HeaderValue,
    body: &Bytes,
) -> anyhow::Result<Exchange> {
    sender.ready().await?;
    let req = Request::builder()
        .method(Method::POST)
        .uri(CHAT_PATH)
        .header(header::HOST, host.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))?;
    let t0 = Instant::now();
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut ttfb = None;
    let mut tail: Vec<u8> = Vec::with_capacity(64);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if data.is_empty() {
                continue;
            }
            ttfb.get_or_insert_with(|| t0.elapsed());
            tail.extend_from_slice(&data[data.len().saturating_sub(DONE.len())..]);
            if tail.len() > DONE.len() {
                tail.drain(..tail.len() - DONE.len());
            }
        }
    }
    let total = t0.elapsed();
    Ok(Exchange {
        status,
        ttfb: ttfb.unwrap_or(total),
        total,
        ends_with_done: tail == DONE,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    NonStream,
    Stream,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::NonStream => "non-stream",
            Mode::Stream => "stream",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Direct,
    Gateway,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::Gateway => "gateway",
        }
    }
}

#[derive(Default)]
struct WorkerStats {
    total_ns: Vec<u64>,
    ttfb_ns: Vec<u64>,
    ok: u64,
    errors: u64,
    non_2xx: u64,
    bad_body: u64,
    first_error: Option<String>,
    finished: Option<Instant>,
}

const MAX_ERRORS_PER_WORKER: u64 = 1000;

async fn worker(
    mut sender: Sender,
    addr: SocketAddr,
    host: HeaderValue,
    body: Bytes,
    mode: Mode,
    deadline: Instant,
) -> WorkerStats {
    let mut st = WorkerStats {
        total_ns: Vec::with_capacity(4096),
        ttfb_ns: Vec::with_capacity(4096),
        ..WorkerStats::default()
    };
    while Instant::now() < deadline && st.errors < MAX_ERRORS_PER_WORKER {
        match exchange(&mut sender, &host, &body).await {
            Ok(x) => {
                st.total_ns
                    .push(u64::try_from(x.total.as_nanos()).unwrap_or(u64::MAX));
                st.ttfb_ns
                    .push(u64::try_from(x.ttfb.as_nanos()).unwrap_or(u64::MAX));
                if !x.status.is_success() {
                    st.non_2xx += 1;
                    st.first_error
                        .get_or_insert_with(|| format!("HTTP {}", x.status));
                } else if mode == Mode::Stream && !x.ends_with_done {
                    st.bad_body += 1;
                    st.first_error
                        .get_or_insert_with(|| "stream did not end with data: [DONE]".to_owned());
                } else {
                    st.ok += 1;
                }
            }
            Err(e) => {
                st.errors += 1;
                st.first_error.get_or_insert_with(|| format!("{e:#}"));
                match connect(addr).await {
                    Ok(s) => sender = s,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }
    st.finished = Some(Instant::now());
    st
}

#[derive(Clone, Copy, Default)]
struct Pcts {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

/// Percentiles (nearest rank) in microseconds.
fn pcts(mut ns: Vec<u64>) -> Pcts {
    if ns.is_empty() {
        return Pcts::default();
    }
    ns.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * ns.len() as f64).ceil() as usize).clamp(1, ns.len());
        ns[rank - 1] as f64 / 1000.0
    };
    let mean = ns.iter().map(|&v| v as f64).sum::<f64>() / ns.len() as f64 / 1000.0;
    Pcts {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: at(1.0),
        mean,
    }
}

struct Cell {
    target: Target,
    mode: Mode,
    concurrency: usize,
    secs: f64,
    requests: u64,
    ok: u64,
    errors: u64,
    non_2xx: u64,
    bad_body: u64,
    rps: f64,
    total: Pcts,
    ttfb: Pcts,
    gateway_cpu_pct: f64,
    other_cpu_pct: f64,
    steal_pct: f64,
    gateway_rss_kb: u64,
    first_error: Option<String>,
}

struct Env<'a> {
    opts: &'a Opts,
    mock: SocketAddr,
    gateway: SocketAddr,
    gateway_pid: u32,
    hz: f64,
}

async fn run_cell(
    env: &Env<'_>,
    target: Target,
    mode: Mode,
    concurrency: usize,
) -> anyhow::Result<Cell> {
    let addr = match target {
        Target::Direct => env.mock,
        Target::Gateway => env.gateway,
    };
    let body = Bytes::from_static(match mode {
        Mode::NonStream => BODY_NONSTREAM.as_bytes(),
        Mode::Stream => BODY_STREAM.as_bytes(),
    });
    let host = HeaderValue::from_str(&addr.to_string())?;
    if !env.opts.warmup.is_zero() {
        let _ = drive(addr, &host, &body, mode, concurrency, env.opts.warmup).await?;
    }
    let cpu = CpuSample::take(env.gateway_pid);
    let (stats, secs) = drive(addr, &host, &body, mode, concurrency, env.opts.duration).await?;
    let (gateway_cpu_pct, other_cpu_pct, steal_pct) = cpu.since(env.gateway_pid, env.hz);
    let mut all = WorkerStats::default();
    for s in stats {
        all.total_ns.extend(s.total_ns);
        all.ttfb_ns.extend(s.ttfb_ns);
        all.ok += s.ok;
        all.errors += s.errors;
        all.non_2xx += s.non_2xx;
        all.bad_body += s.bad_body;
        if all.first_error.is_none() {
            all.first_error = s.first_error;
        }
    }
    let requests = all.total_ns.len() as u64;
    let cell = Cell {
        target,
        mode,
        concurrency,
        secs,
        requests,
        ok: all.ok,
        errors: all.errors,
        non_2xx: all.non_2xx,
        bad_body: all.bad_body,
        rps: all.ok as f64 / secs.max(1e-9),
        total: pcts(all.total_ns),
        ttfb: pcts(all.ttfb_ns),
        gateway_cpu_pct: if target == Target::Gateway {
            gateway_cpu_pct
        } else {
            0.0
        },
        other_cpu_pct,
        steal_pct,
        gateway_rss_kb: rss_kb(env.gateway_pid, "VmRSS").unwrap_or(0),
        first_error: all.first_error,
    };
    eprintln!(
        "load: {:<7} {:<10} c={:<3} rps={:>9.0} p50={:>8.1}µs p99={:>8.1}µs ttfb p50={:>7.1}µs errors={} non2xx={} bad={} gw_cpu={:.0}% other_cpu={:.0}%",
        target.label(),
        mode.label(),
        concurrency,
        cell.rps,
        cell.total.p50,
        cell.total.p99,
        cell.ttfb.p50,
        cell.errors,
        cell.non_2xx,
        cell.bad_body,
        cell.gateway_cpu_pct,
        cell.other_cpu_pct
    );
    Ok(cell)
}

/// `concurrency` workers, each on its own connection, until `duration` has passed (the request
/// in flight at the deadline is finished and counted). Returns the stats and the wall time.
async fn drive(
    addr: SocketAddr,
    host: &HeaderValue,
    body: &Bytes,
    mode: Mode,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(Vec<WorkerStats>, f64)> {
    let mut senders = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        senders.push(
            connect(addr)
                .await
                .with_context(|| format!("connecting to {addr}"))?,
        );
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut set = JoinSet::new();
    for sender in senders {
        set.spawn(worker(
            sender,
            addr,
            host.clone(),
            body.clone(),
            mode,
            deadline,
        ));
    }
    let mut out = Vec::with_capacity(concurrency);
    let mut last = start;
    while let Some(joined) = set.join_next().await {
        let st = joined?;
        if let Some(f) = st.finished {
            last = last.max(f);
        }
        out.push(st);
    }
    Ok((out, last.duration_since(start).as_secs_f64()))
}

// ------------------------------------------------------------------------- held streams

struct HoldResult {
    streams: usize,
    opened: usize,
    open_secs: f64,
    mock_held: u64,
    rss_open_kb: u64,
    rss_peak_streaming_kb: u64,
    rss_after_kb: u64,
    completed: usize,
    failed: usize,
    stream_secs: f64,
    first_error: Option<String>,
}

/// Opens `n` streams through the gateway, waits until each has its first event, samples the
/// gateway's RSS, then releases them and samples the peak while they finish.
async fn hold_streams(env: &Env<'_>, mock: &Mock, n: usize) -> anyhow::Result<HoldResult> {
    mock.release.send_replace(false);
    let addr = env.gateway;
    let host = HeaderValue::from_str(&addr.to_string())?;
    let body = Bytes::from_static(BODY_HOLD.as_bytes());
    let opened = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let connecting = Arc::new(Semaphore::new(64));
    let t0 = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..n {
        let (opened, ended, connecting, host, body) = (
            opened.clone(),
            ended.clone(),
            connecting.clone(),
            host.clone(),
            body.clone(),
        );
        let stream = async move {
            let permit = connecting.acquire_owned().await?;
            let mut sender = connect(addr).await?;
            drop(permit);
            sender.ready().await?;
            let req = Request::builder()
                .method(Method::POST)
                .uri(CHAT_PATH)
                .header(header::HOST, host)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(body))?;
            let resp = sender.send_request(req).await?;
            if !resp.status().is_success() {
                bail!("HTTP {}", resp.status());
            }
            let mut body = resp.into_body();
            let mut first = true;
            let mut tail: Vec<u8> = Vec::new();
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame?.into_data() {
                    if data.is_empty() {
                        continue;
                    }
                    if std::mem::take(&mut first) {
                        opened.fetch_add(1, Relaxed);
                    }
                    tail.extend_from_slice(&data);
                    if tail.len() > DONE.len() {
                        tail.drain(..tail.len() - DONE.len());
                    }
                }
            }
            if tail != DONE {
                bail!("stream did not end with data: [DONE]");
            }
            anyhow::Ok(())
        };
        set.spawn(async move {
            let result = stream.await;
            ended.fetch_add(1, Relaxed);
            result
        });
    }
    // Wait (bounded) until every stream has its first event, or until nothing more can open.
    let open_deadline = t0 + Duration::from_secs(60);
    while opened.load(Relaxed) + ended.load(Relaxed) < n && Instant::now() < open_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let open_secs = t0.elapsed().as_secs_f64();
    let opened_n = opened.load(Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mock_held = mock.stats.held_now.load(Relaxed);
    let rss_open_kb = rss_kb(env.gateway_pid, "VmRSS").unwrap_or(0);
    eprintln!(
        "load: {opened_n}/{n} streams open through the gateway in {open_secs:.2}s (mock holds {mock_held}); gateway RSS {:.1} MiB",
        rss_open_kb as f64 / 1024.0
    );

    mock.release.send_replace(true);
    let t1 = Instant::now();
    let finish_deadline = Instant::now() + Duration::from_secs(60);
    let mut peak = rss_open_kb;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut completed, mut failed, mut first_error) = (0, 0, None);
    loop {
        tokio::select! {
            joined = set.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => completed += 1,
                Some(Ok(Err(e))) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| format!("{e:#}"));
                }
                Some(Err(e)) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            },
            _ = tick.tick() => peak = peak.max(rss_kb(env.gateway_pid, "VmRSS").unwrap_or(0)),
            () = tokio::time::sleep_until(finish_deadline) => {
                failed += set.len();
                first_error.get_or_insert_with(|| "streams still open after 60 s".to_owned());
                set.shutdown().await;
                break;
            }
        }
    }
    let stream_secs = t1.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kb = rss_kb(env.gateway_pid, "VmRSS").unwrap_or(0);
    eprintln!(
        "load: streams done in {stream_secs:.2}s: {completed} complete, {failed} failed; peak RSS {:.1} MiB, after {:.1} MiB",
        peak as f64 / 1024.0,
        rss_after_kb as f64 / 1024.0
    );
    Ok(HoldResult {
        streams: n,
        opened: opened_n,
        open_secs,
        mock_held,
        rss_open_kb,
        rss_peak_streaming_kb: peak,
        rss_after_kb,
        completed,
        failed,
        stream_secs,
        first_error,
    })
}

// ---------------------------------------------------------------------------- measurement

struct Report {
    cells: Vec<Cell>,
    rss_idle_start_kb: u64,
    rss_idle_after_load_kb: u64,
    hold: Option<HoldResult>,
    hold_error: Option<String>,
    vm_hwm_kb: u64,
}

/// Waits (at most `--quiet-wait`) until other processes use under `OTHER_CPU_WARN_PCT` of a
/// core over one second.
async fn wait_quiet(env: &Env<'_>) {
    if env.opts.quiet_wait.is_zero() {
        return;
    }
    let deadline = Instant::now() + env.opts.quiet_wait;
    let mut warned = false;
    loop {
        let sample = CpuSample::take(env.gateway_pid);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (_, other, _) = sample.since(env.gateway_pid, env.hz);
        if other <= OTHER_CPU_WARN_PCT {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "load: still busy (other CPU {other:.0} %) after --quiet-wait; measuring anyway"
            );
            return;
        }
        if !std::mem::replace(&mut warned, true) {
            eprintln!("load: other processes use {other:.0} % of a core; waiting for quiet");
        }
    }
}

async fn measure(opts: &Opts, mock: &Mock, gateway: &Gateway) -> anyhow::Result<Report> {
    let env = Env {
        opts,
        mock: mock.addr,
        gateway: gateway.addr,
        gateway_pid: gateway.pid,
        hz: clk_tck(),
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_start_kb = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    eprintln!(
        "load: gateway RSS idle after start: {:.1} MiB",
        rss_idle_start_kb as f64 / 1024.0
    );

    let plan = [
        (Mode::NonStream, 1),
        (Mode::Stream, 1),
        (Mode::NonStream, 64),
        (Mode::NonStream, 256),
    ];
    let mut cells = Vec::new();
    for (mode, c) in plan {
        wait_quiet(&env).await;
        for target in [Target::Direct, Target::Gateway] {
            cells.push(run_cell(&env, target, mode, c).await?);
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_after_load_kb = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    let (hold, hold_error) = match hold_streams(&env, mock, opts.streams).await {
        Ok(h) => (Some(h), None),
        Err(e) => {
            eprintln!("load: held-streams measurement failed: {e:#}");
            (None, Some(format!("{e:#}")))
        }
    };
    let vm_hwm_kb = rss_kb(gateway.pid, "VmHWM").unwrap_or(0);
    Ok(Report {
        cells,
        rss_idle_start_kb,
        rss_idle_after_load_kb,
        hold,
        hold_error,
        vm_hwm_kb,
    })
}

// --------------------------------------------------------------------------------- report

struct Meta {
    date: String,
    git: String,
    layout: String,
    duration_s: f64,
    warmup_s: f64,
    quick: bool,
    gateway_bin: String,
    threads: usize,
}

impl Meta {
    fn collect(opts: &Opts, layout: &CpuLayout, bin: &Path, manifest: &Path) -> Self {
        let cmd = |prog: &str, args: &[&str]| {
            Command::new(prog)
                .args(args)
                .current_dir(manifest)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let mut git = cmd("git", &["rev-parse", "--short", "HEAD"]);
        if !cmd("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() {
            git.push_str("-dirty");
        }
        Self {
            date: cmd("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
            git,
            layout: layout.describe(),
            duration_s: opts.duration.as_secs_f64(),
            warmup_s: opts.warmup.as_secs_f64(),
            quick: opts.quick,
            gateway_bin: bin.display().to_string(),
            threads: layout.harness_threads(),
        }
    }
}

fn cell(cells: &[Cell], target: Target, mode: Mode, c: usize) -> Option<&Cell> {
    cells
        .iter()
        .find(|x| x.target == target && x.mode == mode && x.concurrency == c)
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// (label, direct, gateway, unit) rows of the summary: latency rows report the difference, RPS
/// rows the ratio.
fn summary_rows(cells: &[Cell]) -> Vec<(String, f64, f64, bool)> {
    let mut rows = Vec::new();
    let pair = |mode, c| {
        Some((
            cell(cells, Target::Direct, mode, c)?,
            cell(cells, Target::Gateway, mode, c)?,
        ))
    };
    if let Some((d, g)) = pair(Mode::NonStream, 1) {
        rows.push((
            "non-stream c=1 latency p50 (µs)".to_owned(),
            d.total.p50,
            g.total.p50,
            true,
        ));
        rows.push((
            "non-stream c=1 latency p99 (µs)".to_owned(),
            d.total.p99,
            g.total.p99,
            true,
        ));
    }
    if let Some((d, g)) = pair(Mode::Stream, 1) {
        rows.push((
            "stream c=1 time to first byte p50 (µs)".to_owned(),
            d.ttfb.p50,
            g.ttfb.p50,
            true,
        ));
        rows.push((
            "stream c=1 time to first byte p99 (µs)".to_owned(),
            d.ttfb.p99,
            g.ttfb.p99,
            true,
        ));
        rows.push((
            "stream c=1 total p50 (µs)".to_owned(),
            d.total.p50,
            g.total.p50,
            true,
        ));
        rows.push((
            "stream c=1 total p99 (µs)".to_owned(),
            d.total.p99,
            g.total.p99,
            true,
        ));
    }
    for c in [1, 64, 256] {
        if let Some((d, g)) = pair(Mode::NonStream, c) {
            rows.push((format!("non-stream c={c} RPS"), d.rps, g.rps, false));
        }
    }
    if let Some((d, g)) = pair(Mode::Stream, 1) {
        rows.push(("stream c=1 RPS".to_owned(), d.rps, g.rps, false));
    }
    rows
}

fn markdown(meta: &Meta, r: &Report, log: &LogSummary, mock: &MockStatsSnapshot) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## switchyard load bench — {} (git {})\n",
        meta.date, meta.git
    );
    let _ = writeln!(
        s,
        "{}; {} s per cell after {} s warm-up{}; client and mock runtimes: {} worker thread(s) each; gateway `{}` with RUST_LOG=warn.\n",
        meta.layout,
        meta.duration_s,
        meta.warmup_s,
        if meta.quick { " (--quick)" } else { "" },
        meta.threads,
        meta.gateway_bin
    );
    let _ = writeln!(s, "### Gateway vs. direct\n");
    let _ = writeln!(
        s,
        "| measure | direct | gateway | gateway − direct | gateway ÷ direct |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for (label, d, g, latency) in summary_rows(&r.cells) {
        if latency {
            let _ = writeln!(
                s,
                "| {label} | {d:.1} | {g:.1} | **{:+.1}** | {:.2}× |",
                g - d,
                g / d.max(1e-9)
            );
        } else {
            let _ = writeln!(
                s,
                "| {label} | {d:.0} | {g:.0} | {:+.0} | **{:.3}** |",
                g - d,
                g / d.max(1e-9)
            );
        }
    }
    let _ = writeln!(s, "\n### Cells\n");
    let _ = writeln!(
        s,
        "Latencies in µs from sending the request to the last body byte (TTFB: the first body byte). \
         Gateway CPU % and other CPU % (user + system time of every process except the gateway and \
         this bench) are in % of one core; gateway RSS is sampled at the end of the cell.\n"
    );
    let _ = writeln!(
        s,
        "| target | mode | c | s | requests | RPS | p50 µs | p90 µs | p99 µs | max µs | TTFB p50 µs | TTFB p99 µs | errors | non-2xx | bad body | gateway CPU % | other CPU % | steal % | gateway RSS MiB |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in &r.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {} | {} | {} | {} | {:.0}{} | {:.0} | {:.1} |",
            c.target.label(),
            c.mode.label(),
            c.concurrency,
            c.secs,
            c.requests,
            c.rps,
            c.total.p50,
            c.total.p90,
            c.total.p99,
            c.total.max,
            c.ttfb.p50,
            c.ttfb.p99,
            c.errors,
            c.non_2xx,
            c.bad_body,
            if c.target == Target::Gateway {
                format!("{:.0}", c.gateway_cpu_pct)
            } else {
                "-".to_owned()
            },
            c.other_cpu_pct,
            if c.other_cpu_pct > OTHER_CPU_WARN_PCT {
                " ⚠"
            } else {
                ""
            },
            c.steal_pct,
            mib(c.gateway_rss_kb),
        );
    }
    if r.cells.iter().any(|c| c.other_cpu_pct > OTHER_CPU_WARN_PCT) {
        let _ = writeln!(
            s,
            "\n⚠ other processes used more than {OTHER_CPU_WARN_PCT:.0} % of a core during that cell: rerun on a quiet machine."
        );
    }
    let _ = writeln!(s, "\n### Gateway memory (VmRSS)\n");
    let _ = writeln!(s, "| state | MiB | MB |");
    let _ = writeln!(s, "|---|---:|---:|");
    let mut mem = vec![
        ("idle after start".to_owned(), r.rss_idle_start_kb),
        (
            "idle after the load cells".to_owned(),
            r.rss_idle_after_load_kb,
        ),
    ];
    if let Some(h) = &r.hold {
        mem.push((
            format!(
                "{} streams open ({} got their first event)",
                h.streams, h.opened
            ),
            h.rss_open_kb,
        ));
        mem.push((
            format!("peak while the {} streams finish", h.streams),
            h.rss_peak_streaming_kb,
        ));
        mem.push(("after they closed".to_owned(), h.rss_after_kb));
    }
    mem.push(("VmHWM (peak over the run)".to_owned(), r.vm_hwm_kb));
    for (label, kb) in mem {
        let _ = writeln!(s, "| {label} | {:.1} | {:.1} |", mib(kb), mb(kb));
    }
    if let Some(h) = &r.hold {
        let _ = writeln!(
            s,
            "\n{} streams: all open after {:.2} s (mock held {}), released, finished in {:.2} s: {} complete with `[DONE]`, {} failed{}.",
            h.streams,
            h.open_secs,
            h.mock_held,
            h.stream_secs,
            h.completed,
            h.failed,
            h.first_error
                .as_ref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        );
    }
    if let Some(e) = &r.hold_error {
        let _ = writeln!(s, "\nheld-streams measurement failed: {e}");
    }

    let _ = writeln!(
        s,
        "\n### Targets (SPEC §12 issue; gateway pinned to one core)\n"
    );
    let _ = writeln!(s, "| target | measured | |");
    let _ = writeln!(s, "|---|---:|---|");
    if let (Some(d), Some(g)) = (
        cell(&r.cells, Target::Direct, Mode::NonStream, 1),
        cell(&r.cells, Target::Gateway, Mode::NonStream, 1),
    ) {
        let p50 = g.total.p50 - d.total.p50;
        let p99 = g.total.p99 - d.total.p99;
        let _ = writeln!(
            s,
            "| added latency c=1 p50 ≤ {TARGET_ADDED_P50_US} µs | {p50:.1} µs | {} |",
            verdict(p50 <= TARGET_ADDED_P50_US)
        );
        let _ = writeln!(
            s,
            "| added latency c=1 p99 ≤ {TARGET_ADDED_P99_US} µs | {p99:.1} µs | {} |",
            verdict(p99 <= TARGET_ADDED_P99_US)
        );
    }
    if let Some(g) = cell(&r.cells, Target::Gateway, Mode::NonStream, 64) {
        let _ = writeln!(
            s,
            "| ≥ {TARGET_RPS_C64:.0} RPS non-stream at c=64 | {:.0} | {} |",
            g.rps,
            verdict(g.rps >= TARGET_RPS_C64)
        );
    }
    let idle = mb(r.rss_idle_start_kb);
    let _ = writeln!(
        s,
        "| RSS ≤ {TARGET_RSS_IDLE_MB} MB idle | {idle:.1} MB | {} |",
        verdict(idle <= TARGET_RSS_IDLE_MB)
    );
    if let Some(h) = &r.hold {
        let open = mb(h.rss_open_kb.max(h.rss_peak_streaming_kb));
        let _ = writeln!(
            s,
            "| RSS ≤ {TARGET_RSS_STREAMS_MB} MB with {} open streams | {open:.1} MB (peak) | {} |",
            h.streams,
            verdict(open <= TARGET_RSS_STREAMS_MB && h.opened == h.streams)
        );
    }
    let errors: u64 = r
        .cells
        .iter()
        .map(|c| c.errors + c.non_2xx + c.bad_body)
        .sum();
    let _ = writeln!(
        s,
        "\nErrors, non-2xx and bad bodies over all cells: {errors}{}. Mock: {} chat requests, {} streams, {} held, {} bad requests. Gateway log: {} lines, {} WARN/ERROR{}",
        r.cells
            .iter()
            .find_map(|c| c.first_error.as_ref())
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        mock.chat,
        mock.stream,
        mock.held_total,
        mock.bad,
        log.lines,
        log.warn_or_error,
        if log.first.is_empty() {
            ".".to_owned()
        } else {
            format!(", first:\n\n```\n{}\n```", log.first.join("\n"))
        }
    );
    s
}

fn pcts_json(p: &Pcts) -> Value {
    json!({"p50": p.p50, "p90": p.p90, "p99": p.p99, "max": p.max, "mean": p.mean})
}

fn to_json(meta: &Meta, r: &Report, log: &LogSummary, mock: &MockStatsSnapshot) -> Value {
    let cells: Vec<Value> = r
        .cells
        .iter()
        .map(|c| {
            json!({
                "target": c.target.label(), "mode": c.mode.label(), "concurrency": c.concurrency,
                "duration_s": c.secs, "requests": c.requests, "ok": c.ok, "errors": c.errors,
                "non_2xx": c.non_2xx, "bad_body": c.bad_body, "rps": c.rps,
                "latency_us": pcts_json(&c.total), "ttfb_us": pcts_json(&c.ttfb),
                "gateway_cpu_pct": (c.target == Target::Gateway).then_some(c.gateway_cpu_pct),
                "other_cpu_pct": c.other_cpu_pct, "steal_pct": c.steal_pct,
                "gateway_rss_kib": c.gateway_rss_kb, "first_error": c.first_error,
            })
        })
        .collect();
    let summary: Vec<Value> = summary_rows(&r.cells)
        .into_iter()
        .map(|(label, d, g, latency)| {
            if latency {
                json!({"measure": label, "direct": d, "gateway": g, "added": g - d})
            } else {
                json!({"measure": label, "direct": d, "gateway": g, "ratio": g / d.max(1e-9)})
            }
        })
        .collect();
    json!({
        "date": meta.date, "git": meta.git, "cpu_layout": meta.layout, "duration_s": meta.duration_s,
        "warmup_s": meta.warmup_s, "quick": meta.quick, "gateway_bin": meta.gateway_bin,
        "harness_threads": meta.threads,
        "summary": summary,
        "cells": cells,
        "memory_kib": {
            "idle_start": r.rss_idle_start_kb,
            "idle_after_load": r.rss_idle_after_load_kb,
            "vm_hwm": r.vm_hwm_kb,
            "held_streams": r.hold.as_ref().map(|h| json!({
                "streams": h.streams, "opened": h.opened, "open_s": h.open_secs, "mock_held": h.mock_held,
                "rss_open": h.rss_open_kb, "rss_peak_streaming": h.rss_peak_streaming_kb, "rss_after": h.rss_after_kb,
                "completed": h.completed, "failed": h.failed, "stream_s": h.stream_secs, "first_error": h.first_error,
            })),
            "held_streams_error": r.hold_error,
        },
        "mock": {"chat": mock.chat, "stream": mock.stream, "held": mock.held_total, "bad": mock.bad},
        "gateway_log": {"lines": log.lines, "warn_or_error": log.warn_or_error, "first": log.first},
    })
}
