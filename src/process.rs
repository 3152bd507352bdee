//! The standard `process_*` metrics (the names every Prometheus client library exports), read
//! from `/proc/self` at each scrape. On systems without `/proc` the families are present with
//! no samples.

use std::fs;

use prometheus::{
    Counter, Gauge, Opts,
    core::{Collector, Desc},
    proto::MetricFamily,
};

/// A collector of `process_*` metrics for this process.
#[derive(Debug, Clone)]
pub struct ProcessCollector {
    cpu: Counter,
    resident: Gauge,
    virtual_memory: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    start_time: Gauge,
    threads: Gauge,
    descs: Vec<Desc>,
}

/// What one read of `/proc/self` found.
#[derive(Debug, Default, PartialEq)]
struct Sample {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    threads: f64,
    start_time_seconds: f64,
}

// === impl ProcessCollector ===

impl ProcessCollector {
    /// The collector; register it once.
    pub fn new() -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| Gauge::with_opts(Opts::new(name, help));
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))?;
        let resident = gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        )?;
        let virtual_memory = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        )?;
        let open_fds = gauge("process_open_fds", "Number of open file descriptors.")?;
        let max_fds = gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        )?;
        let start_time = gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        )?;
        let threads = gauge("process_threads", "Number of OS threads in the process.")?;
        let mut descs = Vec::new();
        for c in [
            &resident,
            &virtual_memory,
            &open_fds,
            &max_fds,
            &start_time,
            &threads,
        ] {
            descs.extend(c.desc().into_iter().cloned());
        }
        descs.extend(cpu.desc().into_iter().cloned());
        Ok(Self {
            cpu,
            resident,
            virtual_memory,
            open_fds,
            max_fds,
            start_time,
            threads,
            descs,
        })
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        if let Some(s) = read_stat() {
            // A counter only goes up: add what was spent since the last scrape.
            let delta = s.cpu_seconds - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
            self.resident.set(s.resident_bytes);
            self.virtual_memory.set(s.virtual_bytes);
            self.threads.set(s.threads);
            self.start_time.set(s.start_time_seconds);
        }
        if let Ok(dir) = fs::read_dir("/proc/self/fd") {
            self.open_fds.set(dir.count() as f64);
        }
        if let Some(max) = fs::read_to_string("/proc/self/limits")
            .ok()
            .as_deref()
            .and_then(max_open_files)
        {
            self.max_fds.set(max);
        }
        let mut out = self.cpu.collect();
        for g in [
            &self.resident,
            &self.virtual_memory,
            &self.open_fds,
            &self.max_fds,
            &self.start_time,
            &self.threads,
        ] {
            out.extend(g.collect());
        }
        out
    }
}

/// `/proc/self/stat` (+ `/proc/stat` for the boot time, `/proc/self/status` for the RSS).
fn read_stat() -> Option<Sample> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let boot = fs::read_to_string("/proc/stat").ok()?;
    parse_stat(&stat, &status, &boot, clock_ticks())
}

fn parse_stat(stat: &str, status: &str, boot: &str, ticks: f64) -> Option<Sample> {
    // Fields after the `(comm)`, which may itself hold spaces: field 3 (state) is index 0.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    let btime: f64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    Some(Sample {
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        threads: field(20)?,
        start_time_seconds: btime + field(22)? / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: rss_kib * 1024.0,
    })
}

/// The soft limit on open files from `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Clock ticks per second (`AT_CLKTCK` from the auxiliary vector; 100 if unreadable, which is
/// what Linux uses everywhere in practice).
fn clock_ticks() -> f64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(auxv) = fs::read("/proc/self/auxv") else {
        return 100.0;
    };
    auxv.chunks_exact(16)
        .find_map(|pair| {
            let key = u64::from_ne_bytes(pair[..8].try_into().ok()?);
            let value = u64::from_ne_bytes(pair[8..].try_into().ok()?);
            (key == AT_CLKTCK && value > 0).then_some(value as f64)
        })
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1000 123456789 300 18446744073709551615";
        let status = "Name:\tx\nVmRSS:\t   2048 kB\n";
        let boot = "cpu 1 2 3\nbtime 1700000000\n";
        let s = parse_stat(stat, status, boot, 100.0).unwrap();
        assert_eq!(
            s,
            Sample {
                cpu_seconds: 3.0,
                resident_bytes: 2048.0 * 1024.0,
                virtual_bytes: 123_456_789.0,
                threads: 7.0,
                start_time_seconds: 1_700_000_010.0,
            }
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024.0));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let c = ProcessCollector::new().unwrap();
        let families = c.collect();
        let value = |name: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .map(|f| {
                    let m = &f.get_metric()[0];
                    m.get_gauge().get_value() + m.get_counter().get_value()
                })
                .unwrap()
        };
        assert!(value("process_resident_memory_bytes") > 0.0);
        assert!(value("process_open_fds") >= 1.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_start_time_seconds") > 1.6e9);
    }
}
