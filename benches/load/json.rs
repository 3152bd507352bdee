//! The JSON results (`--out`).

use serde_json::{Value, json};

use crate::{
    cells::Report, client::Pcts, compare::comparisons, gateway::LogSummary, groups::Group,
    mock::MockStatsSnapshot, report::Meta,
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
                "group": c.group.name(), "target": c.target.label(), "mode": c.mode.label(), "concurrency": c.concurrency,
                "duration_s": c.secs, "requests": c.requests, "ok": c.ok, "errors": c.errors,
                "non_2xx": c.non_2xx, "bad_body": c.bad_body, "not_hit": c.not_hit, "rps": c.rps,
                "latency_us": pcts_json(&c.total), "ttfb_us": pcts_json(&c.ttfb),
                "gateway_cpu_pct": c.target.kind().is_some().then_some(c.gateway_cpu_pct),
                "other_cpu_pct": c.other_cpu_pct, "steal_pct": c.steal_pct,
                "gateway_rss_kib": c.gateway_rss_kb, "mock_conns": c.mock_conns,
                "first_error": c.first_error,
            })
        })
        .collect();
    let row = |row: &crate::compare::Row, a: &str, b: &str| {
        if row.latency {
            json!({"measure": row.label, a: row.a, b: row.b, "added": row.b - row.a})
        } else {
            json!({"measure": row.label, a: row.a, b: row.b, "ratio": row.b / row.a.max(1e-9)})
        }
    };
    let mut summary = Vec::new();
    let mut groups = Vec::new();
    for cmp in comparisons(r) {
        let [a, b] = cmp.group.targets().map(|t| t.label());
        if cmp.group == Group::Base {
            summary = cmp.rows.iter().map(|x| row(x, a, b)).collect();
        }
        groups.push(json!({
            "group": cmp.group.name(), "a": a, "b": b,
            "rows": cmp.rows.iter().map(|x| row(x, "a", "b")).collect::<Vec<_>>(),
        }));
    }
    let memory = r.memory.as_ref().map(|m| {
        json!({
            "idle_start": m.rss_idle_start_kb,
            "idle_after_load": m.rss_idle_after_load_kb,
            "vm_hwm": m.vm_hwm_kb,
            "held_streams": m.hold.as_ref().map(|h| json!({
                "streams": h.streams, "opened": h.opened, "open_s": h.open_secs, "mock_held": h.mock_held,
                "rss_open": h.rss_open_kb, "rss_peak_streaming": h.rss_peak_streaming_kb, "rss_after": h.rss_after_kb,
                "completed": h.completed, "failed": h.failed, "stream_s": h.stream_secs, "first_error": h.first_error,
            })),
            "held_streams_error": m.hold_error,
        })
    });
    let cache_check = r.cache_check.as_ref().map(|c| match c {
        Ok(note) => json!({"ok": true, "note": note}),
        Err(e) => json!({"ok": false, "note": e}),
    });
    json!({
        "date": meta.date, "git": meta.git, "cpu_layout": meta.layout, "duration_s": meta.duration_s,
        "warmup_s": meta.warmup_s, "quick": meta.quick, "gateway_bin": meta.gateway_bin,
        "harness_threads": meta.threads,
        "groups": meta.groups,
        "summary": summary,
        "comparisons": groups,
        "cells": cells,
        "memory_kib": memory,
        "cache_check": cache_check,
        "mock": {"chat": mock.chat, "stream": mock.stream, "held": mock.held_total, "bad": mock.bad},
        "gateway_log": {"lines": log.lines, "warn_or_error": log.warn_or_error, "first": log.first},
    })
}
