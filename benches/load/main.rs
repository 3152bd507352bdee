//! Self-contained load benchmark: what the gateway costs compared with calling the upstream
//! directly, measured in one run on one machine (SPEC §12, docs/benchmarks.md).
//!
//! ```text
//! cargo bench --bench load -- [--duration-secs 10] [--quick] [--out target/load-results.json]
//!                             [--no-pin] [--no-build] [--gateway-bin PATH] [--streams 1000]
//!                             [--groups base,routing,cache,auth,redis]
//! cargo bench --bench load -- --endurance [--abandon 2000] [--soak-secs 600] [--soak-concurrency 32]
//! ```
//!
//! `--endurance` runs only the memory endurance measurements of `endurance.rs` (abandoned
//! streams, a mixed soak) on the plain gateway and prints their table.
//!
//! - An in-process mock OpenAI upstream (hyper, its own thread and tokio runtime) answers
//!   `POST /v1/chat/completions`: a 660-byte `chat.completion` with `usage`, or with
//!   `"stream": true` a role chunk, 20 content chunks, a finish chunk, a usage chunk when
//!   `stream_options.include_usage` is set, and `data: [DONE]`. Model `gpt-mock-hold` streams
//!   the role chunk and the first content chunk at once, then waits until the bench releases it
//!   (at most 60 s) and sends the rest with 50 ms between chunks: that holds streams open for
//!   the memory measurement.
//! - The gateway runs as child processes, one per generated config (`config.rs`):
//!   `target/release/switchyard` (built first with `cargo build --release --bin switchyard`
//!   unless `--no-build`), `RUST_LOG=warn`, pinned to CPU 1 with `taskset` (`--no-pin`: no
//!   pinning); only one of them is under load at a time. The bench process itself (mock + load
//!   generator) is pinned to the other CPUs.
//! - Load: an in-process hyper HTTP/1.1 client on a multi-thread runtime, one keep-alive
//!   connection per worker, the fixed 220-byte bench body, each cell for `--duration-secs`
//!   after an unrecorded warm-up. The cells come in groups (`--groups`, default all), each a
//!   pair of targets run back to back per row of its plan:
//!   - `base`: direct to the mock vs. the plain gateway (`gpt-mock`, `gpt-mock-hold`): c=1
//!     non-stream (latency), c=1 stream (time to first byte and total), c=64 and c=256
//!     non-stream (RPS); then memory: the gateway's VmRSS idle after start, after the load
//!     cells, with `--streams` concurrent streams open (first events received), its peak while
//!     they all stream, and after;
//!   - `routing`: `gpt-mock` (one deployment) vs. `gpt-mock-8` (eight, simple-shuffle) on one
//!     gateway: c=1 and c=64 non-stream;
//!   - `cache`: direct to the mock vs. cache hits (`cache: true`, local, warmed once, every
//!     answer checked for `x-switchyard-cache: hit`): c=1 and c=64 non-stream;
//!   - `auth`: a gateway without keys vs. one with a master key and a virtual key with rpm/tpm
//!     limits that are never reached, called with that key (both fresh, cache off): c=1 and
//!     c=64 non-stream.
//!
//! Output: a markdown report on stdout and JSON at `--out`. Every loop is bounded by a count or
//! a deadline; everything is on 127.0.0.1.

#![expect(clippy::print_stdout, reason = "the report is the bench's output")]

mod cells;
mod client;
mod compare;
mod config;
mod cpu;
mod endurance;
mod gateway;
mod groups;
mod hold;
mod json;
mod mock;
mod mock_sse;
mod redis_server;
mod report;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, bail};

use crate::{
    cpu::CpuLayout,
    gateway::{Fleet, gateway_binary},
    groups::Group,
    mock::Mock,
    report::{Meta, markdown},
};

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
  --groups LIST       comma-separated groups of cells to run (default: all, in this order):
                        base     direct vs. gateway: c=1 non-stream and stream, c=64, c=256; memory
                        routing  1 vs. 8 deployments per model group: c=1 latency, c=64 RPS
                        cache    cache hits vs. the mock directly: c=1 latency, c=64 RPS
                        auth     virtual key + rpm/tpm limits vs. no auth: c=1 latency, c=64 RPS
                        redis    limits + cache in Redis vs. in process: c=1 latency, c=64 RPS
                                 (starts redis-server on a free loopback port, or uses
                                 SWITCHYARD_BENCH_REDIS_URL)
  --endurance         only the endurance measurements: RSS after --abandon N streams whose
                      clients all leave (default 2000), and after a mixed soak of --soak-secs S
                      (default 600) at --soak-concurrency C (default 32)
  -h, --help
";

// ---------------------------------------------------------------------------------- options

pub(crate) struct Opts {
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) quick: bool,
    pub(crate) quiet_wait: Duration,
    pub(crate) out: PathBuf,
    pub(crate) pin: bool,
    pub(crate) build: bool,
    pub(crate) gateway_bin: Option<PathBuf>,
    pub(crate) streams: usize,
    /// In `Group::ALL` order, no repeats.
    pub(crate) groups: Vec<Group>,
    /// `--endurance`: (abandoned streams, soak duration, soak concurrency).
    pub(crate) endurance: Option<(usize, Duration, usize)>,
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
    let mut groups = Group::ALL.to_vec();
    let mut endurance = false;
    let mut abandon = 2000;
    let mut soak = Duration::from_secs(600);
    let mut soak_concurrency = 32;
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
            "--endurance" => endurance = true,
            "--soak-secs" => soak = secs("--soak-secs", args.next())?,
            "--abandon" | "--soak-concurrency" => {
                let v = args
                    .next()
                    .with_context(|| format!("{arg} needs a number"))?;
                let n: usize = v.parse().with_context(|| format!("bad {arg}: {v}"))?;
                if !(1..=10_000).contains(&n) {
                    bail!("{arg} must be between 1 and 10000");
                }
                if arg == "--abandon" {
                    abandon = n;
                } else {
                    soak_concurrency = n;
                }
            }
            "--groups" => {
                let v = args.next().context("--groups needs a list")?;
                let mut wanted = Vec::new();
                for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let group = Group::ALL
                        .into_iter()
                        .find(|g| g.name() == name)
                        .with_context(|| format!("unknown group {name:?} in --groups"))?;
                    wanted.push(group);
                }
                groups = Group::ALL
                    .into_iter()
                    .filter(|g| wanted.contains(g))
                    .collect();
                if groups.is_empty() {
                    bail!("--groups needs at least one of base, routing, cache, auth, redis");
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
        groups: if endurance {
            vec![Group::ALL[0]]
        } else {
            groups
        },
        endurance: endurance.then_some((abandon, soak, soak_concurrency)),
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
    let kinds: Vec<_> = opts.groups.iter().flat_map(|g| g.kinds()).collect();
    let _redis = if opts.groups.contains(&Group::Redis) {
        let server = redis_server::RedisServer::start()?;
        eprintln!("load: redis at {}", server.url);
        let _ = config::REDIS_URL.set(server.url.clone());
        Some(server)
    } else {
        None
    };
    let mut fleet = Fleet::start(&kinds, &gateway_bin, &work, mock.addr, &layout)?;
    // The date and commit of the build under test, not of the end of the run.
    let meta = Meta::collect(&opts, &layout, &gateway_bin, manifest);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("load-client")
        .enable_all()
        .build()?;
    if let Some((abandon, soak, concurrency)) = opts.endurance {
        let gateway = fleet.get(config::Kind::Plain)?;
        let lines = rt.block_on(async {
            let a = endurance::abandon(gateway, &mock, abandon).await;
            let s = endurance::soak(gateway, soak, concurrency).await;
            [a, s]
        });
        drop(rt);
        fleet.stop();
        mock.stop();
        println!("| measurement | load | RSS | RSS | RSS |\n| --- | --- | --- | --- | --- |");
        for line in lines {
            println!("{line}");
        }
        return Ok(());
    }
    let report = rt.block_on(cells::measure(&opts, &mock, &fleet))?;
    drop(rt);

    let gateway_log = fleet.log_summary();
    fleet.stop();
    let mock_stats = mock.stats.snapshot();
    mock.stop();

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
    let doc = json::to_json(&meta, &report, &gateway_log, &mock_stats);
    std::fs::write(&out, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("writing {}", out.display()))?;
    eprintln!("load: JSON written to {}", out.display());
    Ok(())
}
