//! Who runs the exec tools: the sandbox user resolved from the config and the gateway's own uid,
//! and with `sandbox.uids` > 1 a pool that leases a uid of its own to each call.

use nix::unistd::{Group, Uid, User, geteuid};
use parking_lot::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::SandboxError;
use crate::config::{IdSpec, SandboxSettings};

/// Who runs the tools.
#[derive(Debug, Clone)]
pub(super) enum Identity {
    /// The gateway is root and drops to this user for every call.
    Dropped { uid: u32, gid: u32 },
    /// The gateway is not root: its own uid, inside a user namespace.
    Own { uid: u32 },
}

/// The uid a call runs as, held until the call ends.
pub struct Lease<'a> {
    uid: u32,
    pool: Option<(&'a Pool, SemaphorePermit<'a>)>,
}

/// Uids handed out one per call.
#[derive(Debug)]
pub(super) struct Pool {
    free: Mutex<Vec<u32>>,
    permits: Semaphore,
    first: u32,
    count: u32,
}

// === impl Lease ===

impl Lease<'_> {
    /// The sandbox user's uid, shared by concurrent calls.
    pub(super) fn shared(uid: u32) -> Self {
        Self { uid, pool: None }
    }

    /// The uid the call runs as.
    pub(super) fn uid(&self) -> u32 {
        self.uid
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // Back to the pool before the permit (a field) is released.
        if let Some((pool, _)) = &self.pool {
            pool.free.lock().push(self.uid);
        }
    }
}

// === impl Pool ===

impl Pool {
    /// A pool of `uids` uids from the dropped-to user's on, or none for a single uid.
    pub(super) fn new(identity: &Identity, uids: u32) -> Result<Option<Self>, SandboxError> {
        Ok(match *identity {
            _ if uids <= 1 => None,
            Identity::Own { uid } => {
                return Err(SandboxError::Uids(format!(
                    "{uids} uids need a gateway running as root (it runs as uid {uid})"
                )));
            }
            Identity::Dropped { uid, .. } => {
                if uid.checked_add(uids).is_none() {
                    return Err(SandboxError::Uids(format!(
                        "uid {uid} + {uids} uids overflows"
                    )));
                }
                Some(Pool {
                    free: Mutex::new((uid..uid + uids).rev().collect()),
                    permits: Semaphore::new(uids as usize),
                    first: uid,
                    count: uids,
                })
            }
        })
    }

    pub(super) async fn lease(&self) -> std::io::Result<Lease<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(std::io::Error::other)?;
        let uid = self
            .free
            .lock()
            .pop()
            .ok_or_else(|| std::io::Error::other("no free sandbox uid"))?;
        Ok(Lease {
            uid,
            pool: Some((self, permit)),
        })
    }

    pub(super) fn first(&self) -> u32 {
        self.first
    }

    pub(super) fn count(&self) -> u32 {
        self.count
    }
}

/// Who runs the tools, from the config and the gateway's own uid.
pub(super) fn identity(settings: &SandboxSettings) -> Result<Identity, SandboxError> {
    let euid = geteuid().as_raw();
    let (uid, primary) = match &settings.user {
        None if euid != 0 => return Ok(Identity::Own { uid: euid }),
        None => match User::from_name("nobody") {
            Ok(Some(u)) => (u.uid.as_raw(), Some(u.gid.as_raw())),
            _ => (65_534, Some(65_534)),
        },
        Some(IdSpec::Id(uid)) => (
            *uid,
            User::from_uid(Uid::from_raw(*uid))
                .ok()
                .flatten()
                .map(|u| u.gid.as_raw()),
        ),
        Some(IdSpec::Name(name)) => match User::from_name(name) {
            Ok(Some(u)) => (u.uid.as_raw(), Some(u.gid.as_raw())),
            _ => return Err(SandboxError::Unknown("user", name.clone())),
        },
    };
    if uid == 0 {
        return Err(SandboxError::Root);
    }
    if euid != 0 {
        return if uid == euid {
            Ok(Identity::Own { uid })
        } else {
            Err(SandboxError::CannotSwitch(euid, uid))
        };
    }
    let gid = match &settings.group {
        Some(IdSpec::Id(gid)) => *gid,
        Some(IdSpec::Name(name)) => match Group::from_name(name) {
            Ok(Some(g)) => g.gid.as_raw(),
            _ => return Err(SandboxError::Unknown("group", name.clone())),
        },
        None => primary.unwrap_or(uid),
    };
    if gid == 0 {
        return Err(SandboxError::Root);
    }
    Ok(Identity::Dropped { uid, gid })
}
