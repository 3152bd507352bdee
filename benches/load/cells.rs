//! The scenarios: which cells run in which order, each measured with its CPU and memory context.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use anyhow::bail;
use http::HeaderValue;
use tokio::time::Instant;

use crate::{
    Opts,
    client::{Call, Pcts, WorkerStats, chat_body, connect, drive, exchange, pcts},
    config::{Kind, VIRTUAL_KEY},
    cpu::{CpuSample, OTHER_CPU_WARN_PCT, clk_tck},
    gateway::{Fleet, Gateway, rss_kb},
    groups::{Group, Mode, Target},
    hold::{HoldResult, hold_streams},
    mock::{Mock, MockStats},
};

pub(crate) struct Cell {
    pub(crate) group: Group,
    pub(crate) target: Target,
    pub(crate) mode: Mode,
    pub(crate) concurrency: usize,
    pub(crate) secs: f64,
    pub(crate) requests: u64,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) non_2xx: u64,
    pub(crate) bad_body: u64,
    /// Answers without `x-switchyard-cache: hit` (cache-hit cells only).
    pub(crate) not_hit: u64,
    pub(crate) rps: f64,
    pub(crate) total: Pcts,
    pub(crate) ttfb: Pcts,
    pub(crate) gateway_cpu_pct: f64,
    pub(crate) other_cpu_pct: f64,
    pub(crate) steal_pct: f64,
    pub(crate) gateway_rss_kb: u64,
    /// Connections the mock accepted during the measured phase (the gateway's pool at work).
    pub(crate) mock_conns: u64,
    pub(crate) first_error: Option<String>,
}

pub(crate) struct Env<'a> {
    opts: &'a Opts,
    mock: SocketAddr,
    fleet: &'a Fleet,
    hz: f64,
    mock_stats: Arc<MockStats>,
}

async fn run_cell(
    env: &Env<'_>,
    group: Group,
    target: Target,
    mode: Mode,
    concurrency: usize,
) -> anyhow::Result<Cell> {
    let addr = match target.kind() {
        None => env.mock,
        Some(kind) => env.fleet.get(kind)?.addr,
    };
    let pid = env.fleet.get(target.kind().unwrap_or(group.watched()))?.pid;
    let call = Call {
        host: HeaderValue::from_str(&addr.to_string())?,
        body: chat_body(target.model(), mode == Mode::Stream),
        auth: matches!(
            target,
            Target::AuthLimits | Target::StateLocal | Target::StateRedis
        )
        .then(|| HeaderValue::from_str(&format!("Bearer {VIRTUAL_KEY}")))
        .transpose()?,
        expect_hit: matches!(
            target,
            Target::CacheHit | Target::StateLocal | Target::StateRedis
        ),
    };
    if !env.opts.warmup.is_zero() {
        let _ = drive(addr, &call, mode, concurrency, env.opts.warmup).await?;
    }
    let cpu = CpuSample::take(pid);
    let conns0 = env.mock_stats.conns.load(Relaxed);
    let (stats, secs) = drive(addr, &call, mode, concurrency, env.opts.duration).await?;
    let mock_conns = env.mock_stats.conns.load(Relaxed) - conns0;
    let (gateway_cpu_pct, other_cpu_pct, steal_pct) = cpu.since(pid, env.hz);
    let mut all = WorkerStats::default();
    for s in stats {
        all.total_ns.extend(s.total_ns);
        all.ttfb_ns.extend(s.ttfb_ns);
        all.ok += s.ok;
        all.errors += s.errors;
        all.non_2xx += s.non_2xx;
        all.bad_body += s.bad_body;
        all.not_hit += s.not_hit;
        if all.first_error.is_none() {
            all.first_error = s.first_error;
        }
    }
    let requests = all.total_ns.len() as u64;
    let cell = Cell {
        group,
        target,
        mode,
        concurrency,
        secs,
        requests,
        ok: all.ok,
        errors: all.errors,
        non_2xx: all.non_2xx,
        bad_body: all.bad_body,
        not_hit: all.not_hit,
        rps: all.ok as f64 / secs.max(1e-9),
        total: pcts(all.total_ns),
        ttfb: pcts(all.ttfb_ns),
        gateway_cpu_pct: if target.kind().is_some() {
            gateway_cpu_pct
        } else {
            0.0
        },
        other_cpu_pct,
        steal_pct,
        gateway_rss_kb: rss_kb(pid, "VmRSS").unwrap_or(0),
        mock_conns,
        first_error: all.first_error,
    };
    eprintln!(
        "load: {:<7} {:<11} {:<10} c={:<3} rps={:>9.0} p50={:>8.1}µs p99={:>8.1}µs ttfb p50={:>7.1}µs errors={} non2xx={} bad={} not_hit={} gw_cpu={:.0}% other_cpu={:.0}%",
        group.name(),
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
        cell.not_hit,
        cell.gateway_cpu_pct,
        cell.other_cpu_pct
    );
    Ok(cell)
}

/// Fills the cache gateway's entry for the bench body, then checks that the next answer is a
/// hit. Returns what the two answers said.
async fn warm_cache(env: &Env<'_>) -> anyhow::Result<String> {
    let addr = env.fleet.get(Kind::Cache)?.addr;
    let call = Call {
        host: HeaderValue::from_str(&addr.to_string())?,
        body: chat_body("gpt-mock", false),
        auth: None,
        expect_hit: true,
    };
    let mut sender = connect(addr).await?;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let x = exchange(&mut sender, &call).await?;
        if !x.status.is_success() {
            bail!("the cache gateway answered HTTP {}", x.status);
        }
        let value = x.cache.as_ref().and_then(|v| v.to_str().ok());
        seen.push(value.unwrap_or("(none)").to_owned());
    }
    let note = format!(
        "warm-up request: x-switchyard-cache: {}; next: {}",
        seen[0], seen[1]
    );
    if seen[1] != "hit" {
        bail!("{note} (expected hit)");
    }
    Ok(note)
}

// ---------------------------------------------------------------------------- measurement

/// The plain gateway's memory: idle, after the load cells, with many streams open.
pub(crate) struct Memory {
    pub(crate) rss_idle_start_kb: u64,
    pub(crate) rss_idle_after_load_kb: u64,
    pub(crate) hold: Option<HoldResult>,
    pub(crate) hold_error: Option<String>,
    pub(crate) vm_hwm_kb: u64,
}

pub(crate) struct Report {
    pub(crate) groups: Vec<Group>,
    pub(crate) cells: Vec<Cell>,
    /// `None` without the base group.
    pub(crate) memory: Option<Memory>,
    /// The cache group's warm-up check (`Err`: no hit after warming).
    pub(crate) cache_check: Option<Result<String, String>>,
}

impl Report {
    pub(crate) fn cell(&self, group: Group, target: Target, mode: Mode, c: usize) -> Option<&Cell> {
        self.cells.iter().find(|x| {
            x.group == group && x.target == target && x.mode == mode && x.concurrency == c
        })
    }
}

/// Waits (at most `--quiet-wait`) until other processes use under `OTHER_CPU_WARN_PCT` of a
/// core over one second (`pid`: the gateway whose CPU does not count as other).
async fn wait_quiet(env: &Env<'_>, pid: u32) {
    if env.opts.quiet_wait.is_zero() {
        return;
    }
    let deadline = Instant::now() + env.opts.quiet_wait;
    let mut warned = false;
    loop {
        let sample = CpuSample::take(pid);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (_, other, _) = sample.since(pid, env.hz);
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

pub(crate) async fn measure(opts: &Opts, mock: &Mock, fleet: &Fleet) -> anyhow::Result<Report> {
    let env = Env {
        opts,
        mock: mock.addr,
        fleet,
        hz: clk_tck(),
        mock_stats: mock.stats.clone(),
    };
    let mut report = Report {
        groups: opts.groups.clone(),
        cells: Vec::new(),
        memory: None,
        cache_check: None,
    };
    for &group in &opts.groups {
        let watched = fleet.get(group.watched())?;
        let mut rss_idle_start_kb = 0;
        if group == Group::Base {
            tokio::time::sleep(Duration::from_millis(500)).await;
            rss_idle_start_kb = rss_kb(watched.pid, "VmRSS").unwrap_or(0);
            eprintln!(
                "load: gateway RSS idle after start: {:.1} MiB",
                rss_idle_start_kb as f64 / 1024.0
            );
        }
        if group == Group::Cache {
            let check = warm_cache(&env).await.map_err(|e| format!("{e:#}"));
            match &check {
                Ok(note) => eprintln!("load: cache: {note}"),
                Err(e) => eprintln!("load: cache warm-up check failed: {e}"),
            }
            report.cache_check = Some(check);
        }
        for &(mode, c) in group.plan() {
            wait_quiet(&env, watched.pid).await;
            for target in group.targets() {
                report
                    .cells
                    .push(run_cell(&env, group, target, mode, c).await?);
            }
        }
        if group == Group::Base {
            report.memory = Some(memory(watched, mock, opts.streams, rss_idle_start_kb).await);
        }
    }
    Ok(report)
}

async fn memory(gateway: &Gateway, mock: &Mock, streams: usize, idle_start_kb: u64) -> Memory {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_after_load_kb = rss_kb(gateway.pid, "VmRSS").unwrap_or(0);
    let (hold, hold_error) = match hold_streams(gateway, mock, streams).await {
        Ok(h) => (Some(h), None),
        Err(e) => {
            eprintln!("load: held-streams measurement failed: {e:#}");
            (None, Some(format!("{e:#}")))
        }
    };
    Memory {
        rss_idle_start_kb: idle_start_kb,
        rss_idle_after_load_kb,
        hold,
        hold_error,
        vm_hwm_kb: rss_kb(gateway.pid, "VmHWM").unwrap_or(0),
    }
}
