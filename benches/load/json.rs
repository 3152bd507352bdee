//! The JSON results (`--out`).

use serde_json::{Value, json};

use crate::{
    cells::{Report, Target},
    client::Pcts,
    gateway::LogSummary,
    mock::MockStatsSnapshot,
    report::{Meta, summary_rows},
};

fn pcts_json(p: &Pcts) -> Value {
    json!({"p50": p.p50, "p90": p.p90, "p99": p.p99, "max": p.max, "mean": p.mean})
}

pub(crate) fn to_json(
    meta: &Meta,
    r: &Report,
    log: &LogSummary,
    mock: &MockStatsSnapshot,
) -> Value {
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
                "gateway_rss_kib": c.gateway_rss_kb, "mock_conns": c.mock_conns,
                "first_error": c.first_error,
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
