//! Where the processes run and what CPU they use: taskset pinning, `/proc` CPU counters.

use std::process::{Command, Stdio};

use anyhow::bail;
use tokio::time::Instant;

/// "Other CPU" above this (% of one core) marks a cell as disturbed by other processes.
pub(crate) const OTHER_CPU_WARN_PCT: f64 = 10.0;

pub(crate) struct CpuLayout {
    pub(crate) gateway_cpu: Option<usize>,
    harness: Vec<usize>,
}

impl CpuLayout {
    /// The gateway on CPU 1, this process (mock + load generator) on the others, when taskset
    /// exists, pinning is wanted and CPU 1 is one of ours.
    pub(crate) fn new(pin: bool) -> anyhow::Result<Self> {
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

    pub(crate) fn harness_threads(&self) -> usize {
        if self.gateway_cpu.is_some() {
            self.harness.len().max(1)
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }

    pub(crate) fn describe(&self) -> String {
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

pub(crate) fn clk_tck() -> f64 {
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
pub(crate) struct CpuSample {
    at: Instant,
    gateway: u64,
    us: u64,
    machine: (u64, u64),
}

impl CpuSample {
    pub(crate) fn take(gateway_pid: u32) -> Self {
        Self {
            at: Instant::now(),
            gateway: cpu_ticks(&gateway_pid.to_string()),
            us: cpu_ticks("self"),
            machine: machine_ticks(),
        }
    }

    /// (gateway %, other %, steal %) of one core since `self`.
    pub(crate) fn since(&self, gateway_pid: u32, hz: f64) -> (f64, f64, f64) {
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
