//! The gateway under test as a child process: build, generated config, start, health, stop, log,
//! and its memory from `/proc`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};
use tokio::time::Instant;

use crate::{Opts, config::Kind, cpu::CpuLayout};

pub(crate) fn gateway_binary(opts: &Opts, manifest: &Path) -> anyhow::Result<PathBuf> {
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

pub(crate) struct Gateway {
    pub(crate) kind: Kind,
    child: Option<Child>,
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
    pub(crate) log: PathBuf,
}

impl Gateway {
    pub(crate) fn start(
        bin: &Path,
        work: &Path,
        kind: Kind,
        mock: SocketAddr,
        layout: &CpuLayout,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let (config, log) = kind.files();
        let (config, log) = (work.join(config), work.join(log));
        std::fs::write(&config, kind.yaml(mock))
            .with_context(|| format!("writing {}", config.display()))?;
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
            kind,
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
                        "the {} gateway exited at start ({status}); see {}",
                        self.kind.name(),
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
            "the {} gateway did not answer /health/liveliness within 30 s; see {}",
            self.kind.name(),
            self.log.display()
        )
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn log_summary(&self) -> LogSummary {
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

/// The gateway processes of one run, one per config the selected groups need.
pub(crate) struct Fleet {
    gateways: Vec<Gateway>,
}

impl Fleet {
    /// Starts one gateway per kind, in `Kind::ALL` order, each after the previous is healthy.
    pub(crate) fn start(
        kinds: &[Kind],
        bin: &Path,
        work: &Path,
        mock: SocketAddr,
        layout: &CpuLayout,
    ) -> anyhow::Result<Self> {
        let mut gateways = Vec::new();
        for kind in Kind::ALL.into_iter().filter(|k| kinds.contains(k)) {
            let g = Gateway::start(bin, work, kind, mock, layout)?;
            eprintln!(
                "load: {} gateway pid {} on {} (log: {})",
                kind.name(),
                g.pid,
                g.addr,
                g.log.display()
            );
            gateways.push(g);
        }
        Ok(Self { gateways })
    }

    pub(crate) fn get(&self, kind: Kind) -> anyhow::Result<&Gateway> {
        self.gateways
            .iter()
            .find(|g| g.kind == kind)
            .with_context(|| format!("no {} gateway was started", kind.name()))
    }

    /// The logs of all gateways together; WARN/ERROR lines carry the gateway's name.
    pub(crate) fn log_summary(&self) -> LogSummary {
        let mut all = LogSummary {
            lines: 0,
            warn_or_error: 0,
            first: Vec::new(),
        };
        for g in &self.gateways {
            let one = g.log_summary();
            all.lines += one.lines;
            all.warn_or_error += one.warn_or_error;
            let room = 5usize.saturating_sub(all.first.len());
            all.first.extend(
                one.first
                    .into_iter()
                    .take(room)
                    .map(|l| format!("[{}] {l}", g.kind.name())),
            );
        }
        all
    }

    pub(crate) fn stop(&mut self) {
        for g in &mut self.gateways {
            g.stop();
        }
    }
}

pub(crate) struct LogSummary {
    pub(crate) lines: usize,
    pub(crate) warn_or_error: usize,
    pub(crate) first: Vec<String>,
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

pub(crate) fn rss_kb(pid: u32, key: &str) -> Option<u64> {
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
