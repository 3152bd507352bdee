//! The side-by-side rows of each group (the report's summary tables and the JSON `comparisons`):
//! latency rows are read as a difference, RPS rows as a ratio.

use crate::{
    cells::{Cell, Report},
    groups::{Group, Mode},
};

/// One measure of the two targets of a group.
pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) a: f64,
    pub(crate) b: f64,
    /// Latency (µs, read as `b − a`) or RPS (read as `b ÷ a`).
    pub(crate) latency: bool,
}

/// A group's table.
pub(crate) struct Comparison {
    pub(crate) group: Group,
    pub(crate) title: &'static str,
    /// Column heads: the two targets, their difference and their ratio.
    pub(crate) heads: [&'static str; 4],
    pub(crate) rows: Vec<Row>,
}

/// One table per group that ran, in run order.
pub(crate) fn comparisons(r: &Report) -> Vec<Comparison> {
    r.groups
        .iter()
        .map(|&group| {
            let (title, heads) = match group {
                Group::Base => (
                    "Gateway vs. direct",
                    ["direct", "gateway", "gateway − direct", "gateway ÷ direct"],
                ),
                Group::Routing => (
                    "Routing cost: 1 vs. 8 deployments per model group (one gateway)",
                    ["1 deployment", "8 deployments", "8 − 1", "8 ÷ 1"],
                ),
                Group::Cache => (
                    "Cache-hit path vs. calling the mock directly",
                    [
                        "direct (mock)",
                        "gateway, cache hit",
                        "hit − direct",
                        "hit ÷ direct",
                    ],
                ),
                Group::Auth => (
                    "Auth + limits on the miss path",
                    [
                        "gateway, no keys",
                        "gateway, virtual key + limits",
                        "keyed − plain",
                        "keyed ÷ plain",
                    ],
                ),
                Group::Redis => (
                    "Shared state: limits + cache in Redis vs. in process",
                    [
                        "in process",
                        "Redis (loopback)",
                        "Redis − in process",
                        "Redis ÷ in process",
                    ],
                ),
            };
            Comparison {
                group,
                title,
                heads,
                rows: rows(r, group),
            }
        })
        .collect()
}

fn rows(r: &Report, group: Group) -> Vec<Row> {
    let [a, b] = group.targets();
    let pair = |mode, c| Some((r.cell(group, a, mode, c)?, r.cell(group, b, mode, c)?));
    let mut rows = Vec::new();
    let mut push = |label: String, x: &Cell, y: &Cell, f: fn(&Cell) -> f64, latency: bool| {
        rows.push(Row {
            label,
            a: f(x),
            b: f(y),
            latency,
        });
    };
    if let Some((x, y)) = pair(Mode::NonStream, 1) {
        push(
            "non-stream c=1 latency p50 (µs)".into(),
            x,
            y,
            |c| c.total.p50,
            true,
        );
        push(
            "non-stream c=1 latency p99 (µs)".into(),
            x,
            y,
            |c| c.total.p99,
            true,
        );
    }
    if let Some((x, y)) = pair(Mode::Stream, 1) {
        let label = |what: &str| format!("stream c=1 {what} (µs)");
        push(label("time to first byte p50"), x, y, |c| c.ttfb.p50, true);
        push(label("time to first byte p99"), x, y, |c| c.ttfb.p99, true);
        push(label("total p50"), x, y, |c| c.total.p50, true);
        push(label("total p99"), x, y, |c| c.total.p99, true);
    }
    for c in [1, 64, 256] {
        if let Some((x, y)) = pair(Mode::NonStream, c) {
            push(format!("non-stream c={c} RPS"), x, y, |c| c.rps, false);
        }
    }
    if let Some((x, y)) = pair(Mode::Stream, 1) {
        push("stream c=1 RPS".into(), x, y, |c| c.rps, false);
    }
    rows
}
