//! The exec tools' sandbox (SPEC §15): each call runs under bubblewrap in its own user, PID,
//! mount, network, IPC, UTS and cgroup namespaces, as an unprivileged user, with a read-only
//! view of `/usr` and nothing of the gateway's files, environment or processes. The process
//! limit is `RLIMIT_NPROC` of that (non-root) user; the PID namespace makes the end of its first
//! process the end of every descendant. When any of this cannot be had, the tools are refused.

use std::{
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use crate::config::{ExecSettings, SandboxSettings};

mod users;

pub use users::Lease;
use users::{Identity, Pool, identity};

/// An established sandbox: who runs the tools and with which bubblewrap.
#[derive(Debug)]
pub struct Sandbox {
    bwrap: PathBuf,
    bwrap_version: String,
    /// `--disable-userns` (bubblewrap 0.8+): no nested user namespaces in the sandbox.
    disable_userns: bool,
    identity: Identity,
    /// `sandbox.uids` > 1: a uid of its own per call.
    pool: Option<Pool>,
}

/// Why the exec tools are refused on this host.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    /// The tools would run as root.
    #[error(
        "refusing to run exec tools as root: set switchyard_settings.agent.sandbox.user to an unprivileged user"
    )]
    Root,
    /// The configured user or group does not exist.
    #[error("switchyard_settings.agent.sandbox.{0}: no such {0} `{1}`")]
    Unknown(&'static str, String),
    /// Not root, so no other user can be switched to.
    #[error(
        "the gateway runs as uid {0}, not root, so it cannot switch to switchyard_settings.agent.sandbox.user (uid {1}); unset it to run tools as uid {0} inside a user namespace"
    )]
    CannotSwitch(u32, u32),
    /// `uids` > 1 without root, or a range that does not fit.
    #[error("switchyard_settings.agent.sandbox.uids: {0}")]
    Uids(String),
    /// No bubblewrap.
    #[error(
        "bubblewrap (`bwrap`) is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap)"
    )]
    NoBwrap,
    /// The kernel has no such namespaces.
    #[error("the kernel lacks {0} namespaces (/proc/self/ns/{1} is missing)")]
    KernelLacks(&'static str, &'static str),
    /// bubblewrap could not set the sandbox up.
    #[error(
        "bubblewrap cannot create the sandbox here ({0}); see docs/sandbox.md for what the host must allow"
    )]
    Probe(String),
}

/// The host paths a sandbox may see read-only: the system's programs and libraries.
const SYSTEM: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/// Single files from `/etc` that programs need and that hold no secret.
const ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/alternatives",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
];
/// More from `/etc` for tools with `network: true`: name resolution and TLS roots.
const ETC_NETWORK: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
];
/// bubblewrap's own processes in the sandbox's budget (its monitor, the PID namespace's init).
const BWRAP_PROCESSES: u64 = 3;

// === impl Sandbox ===

impl Sandbox {
    /// Resolves the user, finds bubblewrap and starts one empty sandbox to prove it works here.
    /// Blocks for as long as that takes (milliseconds; at most 10 s).
    pub fn establish(settings: &SandboxSettings) -> Result<Self, SandboxError> {
        for (kind, ns) in [
            ("user", "user"),
            ("PID", "pid"),
            ("mount", "mnt"),
            ("network", "net"),
        ] {
            if !Path::new("/proc/self/ns").join(ns).exists() {
                return Err(SandboxError::KernelLacks(kind, ns));
            }
        }
        let identity = identity(settings)?;
        let pool = Pool::new(&identity, settings.uids)?;
        let bwrap = ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or(SandboxError::NoBwrap)?;
        let version = Command::new(&bwrap)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| SandboxError::Probe(format!("bwrap --version: {e}")))?;
        let bwrap_version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
        let sandbox = Self {
            disable_userns: supports_disable_userns(&bwrap_version),
            bwrap,
            bwrap_version,
            identity,
            pool,
        };
        sandbox.probe()?;
        Ok(sandbox)
    }

    /// The command that runs `argv` as `lease` in a fresh sandbox whose only writable place is
    /// `dir`. Its environment is empty but for `env`.
    pub fn command(
        &self,
        lease: &Lease<'_>,
        argv: &[String],
        dir: &Path,
        env: &[(&str, &str)],
        s: &ExecSettings,
    ) -> Command {
        let mut cmd = Command::new(prlimit());
        cmd.arg(format!("--cpu={}", s.timeout.as_secs() + 1))
            .arg(format!("--as={}", s.memory_mb << 20))
            .arg(format!("--fsize={}", 64u64 << 20))
            .arg(format!("--nproc={}", self.nproc(s.max_processes)))
            .arg("--nofile=256")
            .arg("--core=0")
            .arg("--")
            .arg(&self.bwrap)
            .args(["--unshare-all", "--unshare-user"]);
        if self.disable_userns {
            cmd.arg("--disable-userns");
        }
        if s.network {
            cmd.arg("--share-net");
        }
        cmd.args(["--die-with-parent", "--new-session", "--cap-drop", "ALL"])
            .args(["--ro-bind", "/usr", "/usr"]);
        for name in SYSTEM {
            let path = Path::new("/").join(name);
            match std::fs::read_link(&path) {
                Ok(target) => {
                    cmd.arg("--symlink").arg(target).arg(&path);
                }
                Err(_) if path.is_dir() => {
                    cmd.arg("--ro-bind").arg(&path).arg(&path);
                }
                Err(_) => {}
            }
        }
        let etc = ETC.iter().chain(if s.network { ETC_NETWORK } else { &[] });
        for path in etc {
            cmd.args(["--ro-bind-try", path, path]);
        }
        cmd.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"])
            .arg("--bind")
            .arg(dir)
            .arg(dir)
            .arg("--chdir")
            .arg(dir)
            .arg("--")
            .args(argv)
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .process_group(0);
        if let Identity::Dropped { gid, .. } = self.identity {
            // std drops the supplementary groups too when it switches from root.
            cmd.uid(lease.uid()).gid(gid);
        }
        cmd
    }

    /// Gives `dir` (made by the gateway) to the user of `lease`.
    pub fn own(&self, lease: &Lease<'_>, dir: &Path) -> std::io::Result<()> {
        match self.identity {
            Identity::Dropped { gid, .. } => {
                std::os::unix::fs::chown(dir, Some(lease.uid()), Some(gid))
            }
            Identity::Own { .. } => Ok(()),
        }
    }

    /// What holds on this host, one `(protection, how)` line each, for `switchyard check`.
    pub fn protections(&self, s: &ExecSettings) -> Vec<(&'static str, String)> {
        let user = match (&self.identity, &self.pool) {
            (Identity::Dropped { gid, .. }, Some(pool)) => format!(
                "uids {}-{} gid {gid}, one per call, at most {} calls at once (dropped from root, no supplementary groups)",
                pool.first(),
                pool.first() + (pool.count() - 1),
                pool.count()
            ),
            (Identity::Dropped { uid, gid }, None) => {
                format!("uid {uid} gid {gid} (dropped from root, no supplementary groups)")
            }
            (Identity::Own { uid }, _) => format!(
                "uid {uid}, the gateway's own (not root), in a user namespace; the gateway is non-dumpable"
            ),
        };
        let budget = if self.pool.is_some() {
            "the call's own uid".to_owned()
        } else {
            format!("uid {}, shared by concurrent calls", self.uid())
        };
        let userns = if self.disable_userns {
            "; no nested user namespaces"
        } else {
            "; nested user namespaces allowed (bubblewrap < 0.8)"
        };
        vec![
            ("user", user),
            (
                "namespaces",
                format!(
                    "user, PID, mount, network, IPC, UTS, cgroup ({}){userns}",
                    self.bwrap_version
                ),
            ),
            (
                "filesystem",
                "read-only /usr and system libraries, a few /etc files, fresh /proc /dev /tmp; writable: the call's own directory".into(),
            ),
            (
                "landlock",
                "not used (the mount namespace hides the host's files)".into(),
            ),
            (
                "seccomp",
                "no filter; no_new_privs, all capabilities dropped".into(),
            ),
            (
                "pids limit",
                format!(
                    "{} processes (RLIMIT_NPROC of {budget}); kill: the PID namespace ends with its first process",
                    s.max_processes
                ),
            ),
            (
                "network",
                if s.network {
                    "ON: the host's network (network: true)".into()
                } else {
                    "none (an empty network namespace)".into()
                },
            ),
        ]
    }

    /// The uid for one call: the sandbox user's, or with a pool one of its own (waiting for a
    /// free one).
    pub async fn lease(&self) -> std::io::Result<Lease<'_>> {
        match &self.pool {
            Some(pool) => pool.lease().await,
            None => Ok(Lease::shared(self.uid())),
        }
    }

    fn uid(&self) -> u32 {
        match self.identity {
            Identity::Dropped { uid, .. } | Identity::Own { uid } => uid,
        }
    }

    /// `RLIMIT_NPROC` for a call: counted per real uid over every user namespace, so as the
    /// gateway's own uid the gateway's threads count too.
    fn nproc(&self, max_processes: u32) -> u64 {
        let own = match self.identity {
            Identity::Dropped { .. } => 0,
            Identity::Own { .. } => own_threads(),
        };
        own + u64::from(max_processes) + BWRAP_PROCESSES
    }

    /// Runs `true` in a sandbox without network.
    fn probe(&self) -> Result<(), SandboxError> {
        let dir =
            std::env::temp_dir().join(format!("switchyard-probe-{:032x}", rand::random::<u128>()));
        std::fs::create_dir(&dir)
            .map_err(|e| SandboxError::Probe(format!("{}: {e}", dir.display())))?;
        let result = self.probe_in(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn probe_in(&self, dir: &Path) -> Result<(), SandboxError> {
        let lease = Lease::shared(self.uid());
        self.own(&lease, dir)
            .map_err(|e| SandboxError::Probe(format!("chown {}: {e}", dir.display())))?;
        let settings = ExecSettings {
            timeout: Duration::from_secs(10),
            max_output_bytes: 4096,
            memory_mb: 512,
            max_processes: 64,
            network: false,
            allow: Vec::new(),
        };
        let mut cmd = self.command(
            &lease,
            &["true".into()],
            dir,
            &[("PATH", super::PATH)],
            &settings,
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| SandboxError::Probe(format!("spawn: {e}")))?;
        let deadline = std::time::SystemTime::now() + settings.timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    let err = err.trim();
                    return Err(SandboxError::Probe(if err.is_empty() {
                        status.to_string()
                    } else {
                        err.chars().take(300).collect()
                    }));
                }
                Ok(None) if std::time::SystemTime::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SandboxError::Probe(
                        "an empty sandbox did not finish in 10 s".into(),
                    ));
                }
                Err(e) => return Err(SandboxError::Probe(format!("wait: {e}"))),
            }
        }
    }
}

/// `bubblewrap 0.8.0` and later know `--disable-userns`.
fn supports_disable_userns(version: &str) -> bool {
    let mut parts = version
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (0, 8)
}

/// The gateway's threads (they count against `RLIMIT_NPROC` of its uid).
fn own_threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(64)
}

fn prlimit() -> &'static str {
    ["/usr/bin/prlimit", "/bin/prlimit"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("prlimit")
}
