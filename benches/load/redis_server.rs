//! The Redis of the `redis` group: `SWITCHYARD_BENCH_REDIS_URL` when set, else a private
//! `redis-server` on a free loopback port (no persistence), stopped when dropped.

use std::{
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};

pub(crate) struct RedisServer {
    pub(crate) url: String,
    child: Option<Child>,
}

impl RedisServer {
    pub(crate) fn start() -> anyhow::Result<Self> {
        if let Ok(url) = std::env::var("SWITCHYARD_BENCH_REDIS_URL") {
            return Ok(Self { url, child: None });
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (install Debian's redis-server, or set SWITCHYARD_BENCH_REDIS_URL)")?;
        let server = Self {
            url: format!("redis://127.0.0.1:{port}"),
            child: Some(child),
        };
        for _ in 0..200 {
            if ping(port).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        bail!("redis-server on port {port} did not answer PING")
    }
}

fn ping(port: u16) -> anyhow::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.write_all(b"PING\r\n")?;
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf)?;
    if &buf == b"+PONG\r\n" {
        Ok(())
    } else {
        bail!("unexpected reply")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
