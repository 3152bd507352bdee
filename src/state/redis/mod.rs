//! The Redis connection every kind of shared state uses: one process-wide [`Redis`] handle built
//! from [`RedisSettings`], with a short timeout, a circuit breaker and metrics around every call.
//!
//! # API (stable; `state/*.rs` build on it)
//!
//! - [`Redis::new`]`(&RedisSettings, RedisMetrics)` → handle. Never waits and never fails on a
//!   down server: the connection is made lazily and remade in the background, so a gateway
//!   started before Redis joins when it comes up, and one whose Redis restarts reconnects.
//!   Only a malformed URL is an error. Clone the handle freely (it is an `Arc`).
//! - [`Redis::query`]`(op, Cmd)`, [`Redis::invoke`]`(op, &Script, &Cmd)` (the command from
//!   [`Redis::script`]: EVALSHA, loading the script when the server lacks it),
//!   [`Redis::pipe`]`(op, &Pipeline)` and the general [`Redis::run`]`(op, |conn| async { .. })`
//!   each cost one round trip bounded by [`RedisSettings::timeout`], through the breaker,
//!   recording `switchyard_redis_command_duration_seconds{op}` and
//!   `switchyard_redis_errors_total{op,kind}`. `query` and `invoke` are batched with the other
//!   requests' commands (`batch.rs`): concurrent requests share round trips.
//!   `op` is a short static name (`limits.admit`, `cache.get`, …): it is a metric label.
//!   A [`RedisError`] means "do without Redis this time": callers fall back to their in-process
//!   state (or refuse, under [`OnFailure::Deny`](crate::config::OnFailure::Deny)) and never fail the request for it.
//! - [`Redis::subscribe`]`(channel)`: a dedicated pub/sub connection's message stream (ends when
//!   the connection is lost; resubscribe and re-read what may have been missed).
//! - [`Redis::is_up`] / [`Redis::watch_up`]: the degraded signal (also `switchyard_redis_up`).
//!   Up after a successful call or ping; down when the breaker opens (3 failures in a row) or
//!   the background ping (every second) fails. [`Redis::warn_degraded`] logs at most once a
//!   minute for the whole process.
//! - [`Redis::key`]`(kind, entity, rest)` → `<namespace>:<kind>:{<entity>}:<rest>`: keys are
//!   hash-tagged per entity, so keys that one script touches together (same entity) share a
//!   Redis Cluster slot while different entities spread over the cluster.
//! - [`Redis::same`]: whether two handles are one connection (reloads keep it).
//! - [`Redis::settings`]: the settings, with [`RedisSettings::display`] (the URL with its
//!   password replaced by `***`) for logs and `switchyard check`.
//!
//! The handle lives in `AppState` for the whole process and is rebuilt on reload only when
//! [`RedisSettings`] change, so reloads never leak connections.

mod batch;
mod breaker;
mod digest;
mod error;

use std::{borrow::Cow, future::Future, sync::Arc, time::Duration};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use redis::{
    Cmd, FromRedisValue, Pipeline, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::{sync::watch, time::Instant};

use self::{
    batch::Queue,
    breaker::{Breaker, Permit},
};
pub use self::{digest::digest, error::RedisError};
use crate::{config::RedisSettings, metrics::RedisMetrics};

/// How often the background task pings Redis (and reconnects while it is down).
const PING_EVERY: Duration = Duration::from_secs(1);
/// At most one "Redis unavailable" warning per this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The process-wide Redis handle. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    settings: RedisSettings,
    client: redis::Client,
    conn: ArcSwap<ConnectionManager>,
    breaker: Breaker,
    metrics: RedisMetrics,
    up: watch::Sender<bool>,
    last_warning: Mutex<Option<Instant>>,
    queue: Arc<Queue>,
}

// === impl Redis ===

impl Redis {
    /// A handle for `settings`. Does not connect now (see the module docs); must be called
    /// inside a Tokio runtime, which runs the background ping until the last handle is dropped.
    pub fn new(settings: &RedisSettings, metrics: RedisMetrics) -> Result<Self, RedisError> {
        let client = redis::Client::open(settings.url.expose())
            // The error text may quote the URL: keep only its kind.
            .map_err(|e| RedisError::Config(format!("{:?}", e.kind())))?;
        let conn = manager(&client, settings.timeout)?;
        metrics.up.set(0);
        let inner = Arc::new(Inner {
            settings: settings.clone(),
            client,
            conn: ArcSwap::from_pointee(conn),
            breaker: Breaker::new(),
            metrics,
            up: watch::channel(false).0,
            last_warning: Mutex::new(None),
            queue: Arc::default(),
        });
        tokio::spawn(monitor(Arc::downgrade(&inner)));
        tokio::spawn(batch::flusher(Arc::downgrade(&inner), inner.queue.clone()));
        Ok(Self { inner })
    }

    /// Whether `other` is this very handle (same connection), not merely the same settings.
    pub fn same(&self, other: &Redis) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The settings this handle was built from.
    pub fn settings(&self) -> &RedisSettings {
        &self.inner.settings
    }

    /// Whether Redis answered lately (the breaker is closed and the last ping worked).
    pub fn is_up(&self) -> bool {
        *self.inner.up.borrow()
    }

    /// Follows [`Redis::is_up`].
    pub fn watch_up(&self) -> watch::Receiver<bool> {
        self.inner.up.subscribe()
    }

    /// `<namespace>:<kind>:{<entity>}:<rest>`; `{`/`}` in `entity` become `_` so the tag holds.
    pub fn key(&self, kind: &str, entity: &str, rest: &str) -> String {
        let entity: Cow<'_, str> = if entity.contains(['{', '}']) {
            entity.replace(['{', '}'], "_").into()
        } else {
            entity.into()
        };
        let ns = &self.inner.settings.namespace;
        // Pushed, not `format!`ted: this runs for every cached request.
        let mut key = String::with_capacity(ns.len() + kind.len() + entity.len() + rest.len() + 5);
        for part in [ns, ":", kind, ":{", &entity, "}"] {
            key.push_str(part);
        }
        if !rest.is_empty() {
            key.push(':');
            key.push_str(rest);
        }
        key
    }

    /// Logs that Redis is unavailable and `what` falls back, at most once a minute per process.
    pub fn warn_degraded(&self, what: &str, error: &RedisError) {
        let now = Instant::now();
        {
            let mut last = self.inner.last_warning.lock();
            if last.is_some_and(|t| now.duration_since(t) < WARN_EVERY) {
                return;
            }
            *last = Some(now);
        }
        tracing::warn!(
            redis = %self.inner.settings.display(),
            error = %error,
            "redis unavailable: {what} falls back to per-replica state (next warning in a minute at the earliest)"
        );
    }

    /// Runs one command (batched with other requests' commands; taken by value, so a large
    /// SET is not copied into the batch).
    pub async fn query<T: FromRedisValue>(
        &self,
        op: &'static str,
        cmd: Cmd,
    ) -> Result<T, RedisError> {
        let start = Instant::now();
        let result = self.queued(cmd).await.and_then(from_value);
        self.inner.record(op, start, result)
    }

    /// `EVALSHA <sha of script> <keys>`: add the keys, then the arguments, and pass it to
    /// [`Redis::invoke`] with the same script.
    pub fn script(script: &Script, keys: usize) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash()).arg(keys);
        cmd
    }

    /// Runs a script call built by [`Redis::script`] (batched); loads the script when the
    /// server does not know it yet and calls it again.
    pub async fn invoke<T: FromRedisValue>(
        &self,
        op: &'static str,
        script: &Script,
        call: &Cmd,
    ) -> Result<T, RedisError> {
        let start = Instant::now();
        match self.queued(call.clone()).await {
            Err(e) if e.is_no_script() => {
                self.run(op, |mut conn| async move {
                    script.load_async(&mut conn).await?;
                    call.query_async(&mut conn).await
                })
                .await
            }
            result => self.inner.record(op, start, result.and_then(from_value)),
        }
    }

    /// Runs a pipeline (one round trip of its own).
    pub async fn pipe<T: FromRedisValue>(
        &self,
        op: &'static str,
        pipe: &Pipeline,
    ) -> Result<T, RedisError> {
        self.run(
            op,
            |mut conn| async move { pipe.query_async(&mut conn).await },
        )
        .await
    }

    /// A dedicated pub/sub connection subscribed to `channel` (connect and subscribe bounded by
    /// the timeout, through the breaker). The stream ends when the connection is lost: callers
    /// resubscribe, and re-read what they may have missed.
    pub async fn subscribe(&self, channel: &str) -> Result<redis::aio::PubSubStream, RedisError> {
        let client = self.inner.client.clone();
        let channel = channel.to_owned();
        let connect = async move {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok(pubsub.into_on_message())
        };
        // The connect may take longer than one command: allow it a few timeouts' worth.
        let deadline = self.inner.settings.timeout.max(Duration::from_millis(500)) * 2;
        match tokio::time::timeout(deadline, connect).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(RedisError::from_redis(e)),
            Err(_) => Err(RedisError::Timeout(deadline)),
        }
    }

    /// Runs `call` on a connection, bounded by the timeout, through the breaker, measured.
    pub async fn run<T, F, Fut>(&self, op: &'static str, call: F) -> Result<T, RedisError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let start = Instant::now();
        let result = match self.inner.breaker.permit() {
            Permit::Refuse => Err(RedisError::Unavailable),
            Permit::Call | Permit::Trial => self.inner.round_trip(call).await,
        };
        self.inner.record(op, start, result)
    }

    /// `cmd`'s reply from the next batch, or why there is none.
    async fn queued(&self, cmd: Cmd) -> Result<redis::Value, RedisError> {
        if self.inner.breaker.permit() == Permit::Refuse {
            return Err(RedisError::Unavailable);
        }
        match self.inner.queue.push(cmd).await {
            Ok(reply) => reply,
            // The batch was dropped unsent: the runtime is shutting down.
            Err(_) => Err(RedisError::Unavailable),
        }
    }
}

impl Inner {
    /// One round trip bounded by the timeout; its outcome moves the breaker.
    async fn round_trip<T, F, Fut>(&self, call: F) -> Result<T, RedisError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = ConnectionManager::clone(&self.conn.load());
        let result = match tokio::time::timeout(self.settings.timeout, call(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(RedisError::from_redis(e)),
            Err(_) => Err(RedisError::Timeout(self.settings.timeout)),
        };
        match &result {
            Err(e) if e.is_outage() => self.failed(),
            _ => self.succeeded(),
        }
        result
    }

    /// Records one call of `op` (started at `start`): its duration and its error, if any.
    fn record<T>(
        &self,
        op: &'static str,
        start: Instant,
        result: Result<T, RedisError>,
    ) -> Result<T, RedisError> {
        if !matches!(result, Err(RedisError::Unavailable)) {
            self.metrics
                .duration
                .with_label_values(&[op])
                .observe(start.elapsed().as_secs_f64());
        }
        if let Err(e) = &result {
            self.metrics.errors.with_label_values(&[op, e.kind()]).inc();
        }
        result
    }

    fn succeeded(&self) {
        self.breaker.success();
        self.set_up(true);
    }

    fn failed(&self) {
        self.breaker.failure();
        if self.breaker.is_open() {
            self.set_up(false);
        }
    }

    fn set_up(&self, up: bool) {
        self.metrics.up.set(i64::from(up));
        self.up.send_if_modified(|v| std::mem::replace(v, up) != up);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// A reply as the caller's type.
fn from_value<T: FromRedisValue>(value: redis::Value) -> Result<T, RedisError> {
    T::from_redis_value(value).map_err(|e| RedisError::from_redis(e.into()))
}

/// A lazily connecting manager: no connect now; bounded connects and responses later.
fn manager(client: &redis::Client, timeout: Duration) -> Result<ConnectionManager, RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout.max(Duration::from_millis(500))))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
        .map_err(|e| RedisError::Config(format!("{:?}", e.kind())))
}

/// Pings every [`PING_EVERY`] so `redis_up` is right without traffic; while Redis is down it
/// replaces the connection manager, so recovery never depends on the driver's own reconnects.
async fn monitor(inner: std::sync::Weak<Inner>) {
    let mut ticker = tokio::time::interval(PING_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let mut conn = ConnectionManager::clone(&inner.conn.load());
        let ping = tokio::time::timeout(
            inner.settings.timeout.max(Duration::from_millis(500)),
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await;
        match ping {
            Ok(Ok(_)) => inner.succeeded(),
            Ok(Err(_)) | Err(_) => {
                for _ in 0..breaker::TRIP_AFTER {
                    inner.breaker.failure();
                }
                inner.set_up(false);
                if let Ok(fresh) = manager(&inner.client, inner.settings.timeout) {
                    inner.conn.store(Arc::new(fresh));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::OnFailure, metrics::Metrics, secret::Secret};

    #[tokio::test]
    async fn keys_are_namespaced_and_hash_tagged_by_entity() {
        let settings = RedisSettings {
            url: Secret::new("redis://127.0.0.1:1"),
            timeout: Duration::from_millis(50),
            on_failure: OnFailure::Allow,
            namespace: "ns".into(),
        };
        // Lazy: nothing connects to the unused port.
        let redis = Redis::new(&settings, Metrics::new().unwrap().redis()).unwrap();
        assert_eq!(redis.key("gcra", "abc", ""), "ns:gcra:{abc}");
        assert_eq!(redis.key("usage", "d{1}", "42"), "ns:usage:{d_1_}:42");
    }
}
