//! The scenarios: which cells run in which order, each measured with its CPU and memory context.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use bytes::Bytes;
use http::HeaderValue;
use tokio::time::Instant;

use crate::{
    Opts,
    client::{BODY_NONSTREAM, BODY_STREAM, Pcts, WorkerStats, drive, pcts},
    cpu::{CpuSample, OTHER_CPU_WARN_PCT, clk_tck},
    gateway::{Gateway, rss_kb},
    hold::{HoldResult, hold_streams},
    mock::{Mock, MockStats},
};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    NonStream,
    Stream,
}

impl Mode {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Mode::NonStream => "non-stream",
            Mode::Stream => "stream",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Direct,
    Gateway,
}

impl Target {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::Gateway => "gateway",
        }
    }
}

pub(crate) struct Cell {
    pub(crate) target: Target,
    pub(crate) mode: Mode,
    pub(crate) concurrency: usize,
    pub(crate) secs: f64,
    pub(crate) requests: u64,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) non_2xx: u64,
    pub(crate) bad_body: u64,
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
    pub(crate) gateway: SocketAddr,
    pub(crate) gateway_pid: u32,
    hz: f64,
    mock_stats: Arc<MockStats>,
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
    let conns0 = env.mock_stats.conns.load(Relaxed);
    let (stats, secs) = drive(addr, &host, &body, mode, concurrency, env.opts.duration).await?;
    let mock_conns = env.mock_stats.conns.load(Relaxed) - conns0;
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
        mock_conns,
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

// ---------------------------------------------------------------------------- measurement

pub(crate) struct Report {
    pub(crate) cells: Vec<Cell>,
    pub(crate) rss_idle_start_kb: u64,
    pub(crate) rss_idle_after_load_kb: u64,
    pub(crate) hold: Option<HoldResult>,
    pub(crate) hold_error: Option<String>,
    pub(crate) vm_hwm_kb: u64,
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

pub(crate) async fn measure(opts: &Opts, mock: &Mock, gateway: &Gateway) -> anyhow::Result<Report> {
    let env = Env {
        opts,
        mock: mock.addr,
        gateway: gateway.addr,
        gateway_pid: gateway.pid,
        hz: clk_tck(),
        mock_stats: mock.stats.clone(),
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
