//! The accept loop: a cap on open connections (refused ones counted and logged), accept errors
//! logged, and the drain on shutdown.

use std::{future::Future, io, sync::Arc, time::Duration};

use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};

use super::conn::{self, Phase};
use crate::{config::ServerSettings, metrics::ConnectionMetrics};

/// How long streams still open at the drain timeout get to write their error event.
const CUT_GRACE: Duration = Duration::from_secs(1);
/// Pause after an accept error, so a full file table is not a busy loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one "connection limit reached" line per this interval.
const REFUSED_LOG_EVERY: Duration = Duration::from_secs(10);

/// `max_connections`, within what the open-file limit allows: the soft limit is raised to the
/// hard one, and client connections get at most half of it (upstream connections, the listener
/// and the log need the rest). Past that, accepts would fail for every client at once.
fn fd_budget(max_connections: usize) -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return max_connections;
    };
    let soft = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    let budget = usize::try_from(soft / 2).unwrap_or(usize::MAX).max(1);
    if max_connections > budget {
        tracing::warn!(
            max_connections,
            open_file_limit = soft,
            using = budget,
            "max_connections is more than half the open-file limit; using half the limit \
             (raise `ulimit -n` to allow more)"
        );
        return budget;
    }
    max_connections
}

/// Accepts until `shutdown`, then drains for up to `drain`.
pub(super) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    settings: Arc<ServerSettings>,
    metrics: ConnectionMetrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> io::Result<()> {
    // Every open connection holds one permit: all permits back means every connection closed.
    let max = fd_budget(settings.max_connections)
        .min(Semaphore::MAX_PERMITS)
        .min(u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(max));
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let mut last_refused_log: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // EMFILE/ENFILE and friends: say so, and do not spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.refused.inc();
            let now = tokio::time::Instant::now();
            if last_refused_log.is_none_or(|t| now.duration_since(t) >= REFUSED_LOG_EVERY) {
                last_refused_log = Some(now);
                tracing::warn!(
                    max_connections = max,
                    "connection limit reached: closing new connections at once \
                     (switchyard_settings.server.max_connections)"
                );
            }
            drop(tcp);
            continue;
        };
        // Nagle's algorithm would hold small SSE events back (SPEC §12).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        tokio::spawn(conn::serve(
            tcp,
            permit,
            router.clone(),
            settings.clone(),
            phase_rx.clone(),
            metrics.clone(),
        ));
    }
    drop(listener);
    tracing::info!(
        drain_seconds = drain.as_secs_f64(),
        "shutting down: draining in-flight requests"
    );
    let _ = phase_tx.send(Phase::Draining);
    let all_closed = slots.acquire_many(max as u32);
    if tokio::time::timeout(drain, all_closed).await.is_ok() {
        return Ok(());
    }
    tracing::warn!("drain timeout reached; ending the streams still open with an error event");
    let _ = phase_tx.send(Phase::Cut);
    if tokio::time::timeout(CUT_GRACE, slots.acquire_many(max as u32))
        .await
        .is_err()
    {
        tracing::warn!("exiting with requests still in flight");
    }
    Ok(())
}
