//! The markdown report: a side-by-side table per group, every cell, memory, targets.

use std::{fmt::Write as _, path::Path, process::Command};

use crate::{
    Opts,
    cells::{Memory, Report},
    compare::{Comparison, comparisons},
    cpu::{CpuLayout, OTHER_CPU_WARN_PCT},
    gateway::LogSummary,
    groups::{Group, Mode, Target},
    mock::MockStatsSnapshot,
};

/// Targets from the performance issue (SPEC §12).
const TARGET_ADDED_P50_US: f64 = 40.0;
const TARGET_ADDED_P99_US: f64 = 150.0;
const TARGET_RPS_C64: f64 = 20_000.0;
const TARGET_RSS_IDLE_MB: f64 = 20.0;
const TARGET_RSS_STREAMS_MB: f64 = 80.0;

pub(crate) struct Meta {
    pub(crate) date: String,
    pub(crate) git: String,
    pub(crate) layout: String,
    pub(crate) duration_s: f64,
    pub(crate) warmup_s: f64,
    pub(crate) quick: bool,
    pub(crate) gateway_bin: String,
    pub(crate) threads: usize,
    pub(crate) groups: Vec<&'static str>,
}

impl Meta {
    pub(crate) fn collect(opts: &Opts, layout: &CpuLayout, bin: &Path, manifest: &Path) -> Self {
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
            groups: opts.groups.iter().map(|g| g.name()).collect(),
        }
    }
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

pub(crate) fn markdown(
    meta: &Meta,
    r: &Report,
    log: &LogSummary,
    mock: &MockStatsSnapshot,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## switchyard load bench — {} (git {})\n",
        meta.date, meta.git
    );
    let _ = writeln!(
        s,
        "{}; {} s per cell after {} s warm-up{}; client and mock runtimes: {} worker thread(s) each; gateway `{}` with RUST_LOG=warn; groups: {}.",
        meta.layout,
        meta.duration_s,
        meta.warmup_s,
        if meta.quick { " (--quick)" } else { "" },
        meta.threads,
        meta.gateway_bin,
        meta.groups.join(", ")
    );
    for cmp in comparisons(r) {
        comparison(&mut s, &cmp);
        group_note(&mut s, r, cmp.group);
    }
    let _ = writeln!(s, "\n### Cells\n");
    let _ = writeln!(
        s,
        "Latencies in µs from sending the request to the last body byte (TTFB: the first body byte). \
         Gateway CPU % and other CPU % (user + system time of every process except the gateway and \
         this bench) are in % of one core; gateway RSS is sampled at the end of the cell; new mock \
         conns: connections the mock accepted during the measured phase (direct: the client's own, \
         accepted as the cell starts; gateway: its upstream pool growing or churning, 0 when it \
         reuses the warm-up's connections).\n"
    );
    let _ = writeln!(
        s,
        "| group | target | mode | c | s | requests | RPS | p50 µs | p90 µs | p99 µs | max µs | TTFB p50 µs | TTFB p99 µs | errors | non-2xx | bad body | gateway CPU % | other CPU % | steal % | gateway RSS MiB | new mock conns |"
    );
    let _ = writeln!(
        s,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for c in &r.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {} | {} | {} | {} | {:.0}{} | {:.0} | {:.1} | {} |",
            c.group.name(),
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
            if c.target.kind().is_some() {
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
            c.mock_conns,
        );
    }
    if r.cells.iter().any(|c| c.other_cpu_pct > OTHER_CPU_WARN_PCT) {
        let _ = writeln!(
            s,
            "\n⚠ other processes used more than {OTHER_CPU_WARN_PCT:.0} % of a core during that cell: rerun on a quiet machine."
        );
    }
    if let Some(m) = &r.memory {
        memory(&mut s, m);
        targets(&mut s, r, m);
    }
    let errors: u64 = r
        .cells
        .iter()
        .map(|c| c.errors + c.non_2xx + c.bad_body + c.not_hit)
        .sum();
    let _ = writeln!(
        s,
        "\nErrors, non-2xx, bad bodies and cache answers that were not hits over all cells: {errors}{}. Mock: {} chat requests, {} streams, {} held, {} bad requests. Gateway log: {} lines, {} WARN/ERROR{}",
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

/// A group's side-by-side table.
fn comparison(s: &mut String, cmp: &Comparison) {
    let [a, b, diff, ratio] = cmp.heads;
    let _ = writeln!(s, "\n### {}\n", cmp.title);
    let _ = writeln!(s, "| measure | {a} | {b} | {diff} | {ratio} |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for row in &cmp.rows {
        let (x, y, label) = (row.a, row.b, &row.label);
        if row.latency {
            let _ = writeln!(
                s,
                "| {label} | {x:.1} | {y:.1} | **{:+.1}** | {:.2}× |",
                y - x,
                y / x.max(1e-9)
            );
        } else {
            let _ = writeln!(
                s,
                "| {label} | {x:.0} | {y:.0} | {:+.0} | **{:.3}** |",
                y - x,
                y / x.max(1e-9)
            );
        }
    }
}

/// What a group's table needs said next to it.
fn group_note(s: &mut String, r: &Report, group: Group) {
    match group {
        Group::Base => {}
        Group::Routing => {
            let _ = writeln!(
                s,
                "\nBoth columns on the same gateway process; `gpt-mock-8` picks one of its 8 deployments (all the same mock) per request."
            );
        }
        Group::Cache => {
            let hits = r.cells.iter().filter(|c| c.target == Target::CacheHit);
            let (ok, requests, not_hit) = hits.fold((0, 0, 0), |(o, n, m), c| {
                (o + c.ok, n + c.requests, m + c.not_hit)
            });
            let check = match &r.cache_check {
                Some(Ok(note)) => note.clone(),
                Some(Err(e)) => format!("FAILED: {e}"),
                None => "not run".to_owned(),
            };
            let _ = writeln!(
                s,
                "\n`x-switchyard-cache: hit` on {ok} of {requests} answers in the measured phases ({not_hit} without it); {check}."
            );
        }
        Group::Auth => {
            let _ = writeln!(
                s,
                "\nTwo fresh gateways with the same model and no cache; the right one has a master key and a virtual key whose `rpm_limit`/`tpm_limit` are far above what a cell can use, and is called with `Authorization: Bearer <virtual key>`."
            );
        }
        Group::Redis => {
            let _ = writeln!(
                s,
                "\nTwo gateways, each a virtual key with rpm/tpm limits (far above what a cell uses) and the response cache (every answer a hit): left in process, right in Redis on loopback (the limit script and the cache GET sent together: one round trip per request). Targets: <= +150 us p50 at c=1, >= 0.7x the in-process RPS at c=64."
            );
        }
    }
}

fn memory(s: &mut String, m: &Memory) {
    let _ = writeln!(s, "\n### Gateway memory (VmRSS)\n");
    let _ = writeln!(s, "| state | MiB | MB |");
    let _ = writeln!(s, "|---|---:|---:|");
    let mut mem = vec![
        ("idle after start".to_owned(), m.rss_idle_start_kb),
        (
            "idle after the load cells".to_owned(),
            m.rss_idle_after_load_kb,
        ),
    ];
    if let Some(h) = &m.hold {
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
    mem.push(("VmHWM (peak over the run)".to_owned(), m.vm_hwm_kb));
    for (label, kb) in mem {
        let _ = writeln!(s, "| {label} | {:.1} | {:.1} |", mib(kb), mb(kb));
    }
    if let Some(h) = &m.hold {
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
    if let Some(e) = &m.hold_error {
        let _ = writeln!(s, "\nheld-streams measurement failed: {e}");
    }
}

fn targets(s: &mut String, r: &Report, m: &Memory) {
    let _ = writeln!(
        s,
        "\n### Targets (SPEC §12 issue; gateway pinned to one core)\n"
    );
    let _ = writeln!(s, "| target | measured | |");
    let _ = writeln!(s, "|---|---:|---|");
    if let (Some(d), Some(g)) = (
        r.cell(Group::Base, Target::Direct, Mode::NonStream, 1),
        r.cell(Group::Base, Target::Gateway, Mode::NonStream, 1),
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
    if let Some(g) = r.cell(Group::Base, Target::Gateway, Mode::NonStream, 64) {
        let _ = writeln!(
            s,
            "| ≥ {TARGET_RPS_C64:.0} RPS non-stream at c=64 | {:.0} | {} |",
            g.rps,
            verdict(g.rps >= TARGET_RPS_C64)
        );
    }
    let idle = mb(m.rss_idle_start_kb);
    let _ = writeln!(
        s,
        "| RSS ≤ {TARGET_RSS_IDLE_MB} MB idle | {idle:.1} MB | {} |",
        verdict(idle <= TARGET_RSS_IDLE_MB)
    );
    if let Some(h) = &m.hold {
        let open = mb(h.rss_open_kb.max(h.rss_peak_streaming_kb));
        let _ = writeln!(
            s,
            "| RSS ≤ {TARGET_RSS_STREAMS_MB} MB with {} open streams | {open:.1} MB (peak) | {} |",
            h.streams,
            verdict(open <= TARGET_RSS_STREAMS_MB && h.opened == h.streams)
        );
    }
}
