//! Deployment state replicas share (SPEC §10): cooldowns, the one probe after a cooldown, and
//! this minute's request count per deployment. Each replica's router keeps deciding from its
//! own `DeploymentState` (no round trip on the hot path); `DeploymentEvents` carries what one
//! replica learns to the others.
//!
//! - In process ([`Local`]): nothing to tell; every probe is this replica's.
//! - Redis ([`RedisDeployments`]): a cooldown is a key with a TTL (`cooldown:{id}`) plus a
//!   message on the `cooldowns` channel; every replica applies it to its local state when the
//!   message arrives (pub/sub: sub-millisecond on one network), and re-reads every cooldown key
//!   when it (re)subscribes, so a replica that was cut off catches up. After `cooldown_time` the
//!   probe goes to the replica that wins `SET probe:{id} NX PX <timeout>` in a script that first
//!   checks the cooldown key (so a replica that has not yet heard that the probe failed and
//!   cooled it again does not probe a second time); the others keep it cooled until the probe's
//!   result arrives (`recovered`, or a new cooldown). Requests are
//!   counted with `HINCRBY usage:{id}:<minute>` and the fleet's counts re-read every
//!   [`USAGE_EVERY`], so usage-based routing and `rpm` see every replica's traffic (eventually:
//!   within that period).

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use futures_util::{StreamExt, future::BoxFuture};
use tokio::time::Instant;

use crate::{
    proxy::{Deployment, ModelTable, wall_minute},
    state::redis::Redis,
};

/// How often fleet usage is re-read.
pub const USAGE_EVERY: Duration = Duration::from_millis(250);
/// How long a lost probe slot keeps a deployment cooled on this replica before it asks again.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// What one replica tells the others about its deployments.
pub trait DeploymentEvents: Send + Sync {
    /// `deployment` was cooled down for `cooldown` here. Awaited before the request moves on,
    /// so the other replicas are told before this one answers.
    fn cooled<'a>(&'a self, deployment: &'a Deployment, cooldown: Duration) -> BoxFuture<'a, ()>;
    /// `deployment`'s probe succeeded here.
    fn recovered(&self, deployment: &Deployment);
    /// Whether this replica may send `deployment`'s half-open probe (true when it won the slot).
    fn probe<'a>(&'a self, deployment: &'a Deployment) -> BoxFuture<'a, bool>;
    /// One request was sent to `deployment`.
    fn sent(&self, deployment: &Deployment);
}

/// Nothing shared.
#[derive(Debug, Default)]
pub struct Local;

/// Shared through Redis.
pub struct RedisDeployments {
    redis: Redis,
    channel: String,
    /// This process, so it skips its own messages.
    replica: String,
}

/// The probe slot: `{0, ms}` while the deployment is cooled in Redis (KEYS[1] has a TTL: a probe
/// on another replica failed and cooled it again), else `{1, 0}` when this replica wins
/// `SET KEYS[2] ARGV[1] NX PX ARGV[2]`, `{0, 0}` when another holds it.
const PROBE: &str = r"
local cooling = redis.call('PTTL', KEYS[1])
if cooling > 0 then return {0, cooling} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, 0}
";

fn probe_script() -> &'static redis::Script {
    static SCRIPT: std::sync::OnceLock<redis::Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| redis::Script::new(PROBE))
}

// === impl Local ===

impl DeploymentEvents for Local {
    fn cooled<'a>(&'a self, _: &'a Deployment, _: Duration) -> BoxFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }
    fn recovered(&self, _: &Deployment) {}
    fn probe<'a>(&'a self, _: &'a Deployment) -> BoxFuture<'a, bool> {
        Box::pin(std::future::ready(true))
    }
    fn sent(&self, _: &Deployment) {}
}

// === impl RedisDeployments ===

impl RedisDeployments {
    /// Events for the deployments of `models`; starts the task that applies other replicas'
    /// cooldowns and reads fleet usage, until `models` is dropped (the runtime was replaced).
    pub fn new(redis: Redis, models: &Arc<ModelTable>) -> Self {
        let replica = format!("{}-{:x}", std::process::id(), rand::random::<u64>());
        let this = Self {
            channel: redis.key("cooldowns", "events", ""),
            redis,
            replica,
        };
        tokio::spawn(follow(
            this.redis.clone(),
            this.channel.clone(),
            this.replica.clone(),
            Arc::downgrade(models),
        ));
        this
    }

    fn cooldown_key(redis: &Redis, id: &str) -> String {
        redis.key("cooldown", id, "")
    }
}

impl DeploymentEvents for RedisDeployments {
    fn cooled<'a>(&'a self, deployment: &'a Deployment, cooldown: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let redis = &self.redis;
            let ms = u64::try_from(cooldown.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let key = Self::cooldown_key(redis, &deployment.id);
            let probe = redis.key("probe", &deployment.id, "");
            let message = format!("cooled\t{}\t{ms}\t{}", deployment.id, self.replica);
            let mut pipe = redis::pipe();
            pipe.cmd("SET").arg(&key).arg(ms).arg("PX").arg(ms).ignore();
            // The next probe slot opens with this cooldown's end, not with the old probe's hold.
            pipe.cmd("DEL").arg(&probe).ignore();
            pipe.cmd("PUBLISH")
                .arg(&self.channel)
                .arg(&message)
                .ignore();
            if let Err(e) = redis.pipe::<()>("cooldown.set", &pipe).await {
                redis.warn_degraded("cooldowns", &e);
            }
        })
    }

    fn recovered(&self, deployment: &Deployment) {
        let redis = self.redis.clone();
        let key = Self::cooldown_key(&redis, &deployment.id);
        let probe = redis.key("probe", &deployment.id, "");
        let message = format!("recovered\t{}\t0\t{}", deployment.id, self.replica);
        let channel = self.channel.clone();
        tokio::spawn(async move {
            let mut pipe = redis::pipe();
            pipe.cmd("DEL").arg(&key).arg(&probe).ignore();
            pipe.cmd("PUBLISH").arg(&channel).arg(&message).ignore();
            if let Err(e) = redis.pipe::<()>("cooldown.clear", &pipe).await {
                redis.warn_degraded("cooldowns", &e);
            }
        });
    }

    fn probe<'a>(&'a self, deployment: &'a Deployment) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let hold = u64::try_from(deployment.config.timeout.as_millis())
                .unwrap_or(u64::MAX)
                .clamp(1000, 600_000);
            let mut call = Redis::script(probe_script(), 2);
            call.arg(Self::cooldown_key(&self.redis, &deployment.id))
                .arg(self.redis.key("probe", &deployment.id, ""))
                .arg(&self.replica)
                .arg(hold);
            match self
                .redis
                .invoke::<(i64, i64)>("cooldown.probe", probe_script(), &call)
                .await
            {
                Ok((1, _)) => true,
                Ok((_, cooling)) => {
                    // Cooled again by another replica's probe (not heard of yet), or another
                    // replica probes now: stay cooled here until its result arrives.
                    let wait = u64::try_from(cooling)
                        .ok()
                        .filter(|ms| *ms > 0)
                        .map_or(PROBE_WAIT, Duration::from_millis);
                    deployment.state.cool_down(Instant::now(), wait);
                    false
                }
                // Without Redis every replica decides alone.
                Err(_) => true,
            }
        })
    }

    fn sent(&self, deployment: &Deployment) {
        let redis = self.redis.clone();
        let key = redis.key("usage", &deployment.id, &wall_minute().to_string());
        tokio::spawn(async move {
            let mut pipe = redis::pipe();
            pipe.cmd("INCR").arg(&key).ignore();
            pipe.cmd("EXPIRE").arg(&key).arg(120).ignore();
            let _ = redis.pipe::<()>("usage.count", &pipe).await;
        });
    }
}

/// Applies other replicas' cooldowns and reads fleet usage while the runtime lives.
async fn follow(redis: Redis, channel: String, replica: String, models: Weak<ModelTable>) {
    let mut usage_tick = tokio::time::interval(USAGE_EVERY);
    usage_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let Some(table) = models.upgrade() else {
            return;
        };
        let deployments: Vec<Arc<Deployment>> = table
            .groups()
            .flat_map(|g| g.deployments.iter().cloned())
            .collect();
        drop(table);
        let mut stream = match redis.subscribe(&channel).await {
            Ok(stream) => stream,
            Err(_) => {
                // Down: read usage when it is back; try again shortly.
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        catch_up(&redis, &deployments).await;
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let Ok(text) = message.get_payload::<String>() else { continue };
                    apply(&text, &replica, &deployments);
                }
                _ = usage_tick.tick() => {
                    if models.strong_count() == 0 {
                        return;
                    }
                    read_usage(&redis, &deployments).await;
                }
            }
        }
    }
}

/// `cooled|recovered \t id \t ms \t replica` from another replica, applied here.
fn apply(text: &str, replica: &str, deployments: &[Arc<Deployment>]) {
    let mut parts = text.split('\t');
    let (Some(what), Some(id), Some(ms), Some(from)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    if from == replica {
        return;
    }
    let Some(d) = deployments.iter().find(|d| &*d.id == id) else {
        return;
    };
    match (what, ms.parse::<u64>()) {
        ("cooled", Ok(ms)) => d.state.cool_down(Instant::now(), Duration::from_millis(ms)),
        ("recovered", _) => d.state.recover(),
        _ => {}
    }
}

/// Every deployment's cooldown still running in Redis, applied here (after a (re)subscribe).
async fn catch_up(redis: &Redis, deployments: &[Arc<Deployment>]) {
    let mut pipe = redis::pipe();
    for d in deployments {
        pipe.cmd("PTTL")
            .arg(RedisDeployments::cooldown_key(redis, &d.id));
    }
    if let Ok(ttls) = redis.pipe::<Vec<i64>>("cooldown.catch_up", &pipe).await {
        for (d, ttl) in deployments.iter().zip(ttls) {
            if let Ok(ms) = u64::try_from(ttl) {
                if ms > 0 && !d.state.is_cooling(Instant::now()) {
                    d.state.cool_down(Instant::now(), Duration::from_millis(ms));
                }
            }
        }
    }
}

/// The fleet's request counts this minute.
async fn read_usage(redis: &Redis, deployments: &[Arc<Deployment>]) {
    let minute = wall_minute();
    let mut pipe = redis::pipe();
    for d in deployments {
        pipe.cmd("GET")
            .arg(redis.key("usage", &d.id, &minute.to_string()));
    }
    if let Ok(counts) = redis.pipe::<Vec<Option<u64>>>("usage.read", &pipe).await {
        for (d, n) in deployments.iter().zip(counts) {
            d.state.set_fleet_requests(minute, n.unwrap_or(0));
        }
    }
}
