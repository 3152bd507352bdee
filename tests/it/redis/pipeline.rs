//! One Redis round trip per request: a limited key's admission and its cache lookup are sent
//! together. A relay between the gateway and Redis holds every answer from Redis until it has
//! seen the cache lookup: a gateway that waited for the admission's answer before looking up
//! would wait out its Redis timeout instead (an error in `switchyard_redis_errors_total`), and
//! `switchyard_redis_batch_commands` shows the two leaving as one batch.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

use super::{Replica, chat, config, metric, namespace, shared_redis, wait_metric};
use crate::common::{
    MockUpstream,
    upstream::{completion, ok_json},
};

/// What the relay saw from the gateway while it held Redis's answers.
#[derive(Default)]
struct Seen {
    /// The commands sent while holding (bounded).
    sent: Vec<u8>,
    /// Released because the cache lookup arrived after the admission.
    released_on_lookup: bool,
}

/// A TCP relay to Redis that can hold Redis's answers until the cache lookup is sent.
struct Relay {
    port: u16,
    holding: watch::Sender<bool>,
    seen: Arc<Mutex<Seen>>,
}

impl Relay {
    async fn start(redis_url: &str) -> Self {
        let target = redis_url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (holding, _) = watch::channel(false);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (h, s) = (holding.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, h.clone(), s.clone()));
            }
        });
        Self {
            port,
            holding,
            seen,
        }
    }

    fn hold(&self) {
        *self.seen.lock() = Seen::default();
        self.holding.send_replace(true);
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    holding: watch::Sender<bool>,
    seen: Arc<Mutex<Seen>>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = {
        let holding = holding.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if *holding.borrow() {
                    let mut s = seen.lock();
                    if s.sent.len() < 64 * 1024 {
                        s.sent.extend_from_slice(&buf[..n]);
                    }
                    let admission = find(&s.sent, b"EVALSHA");
                    let lookup = admission.and_then(|at| find(&s.sent[at..], b":cache:{"));
                    if lookup.is_some() {
                        s.released_on_lookup = true;
                        holding.send_replace(false);
                    }
                }
                if server_write.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    };
    let downstream = async move {
        let mut rx = holding.subscribe();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // Held while holding: released by the lookup (or the relay's owner).
            if rx.wait_for(|h| !*h).await.is_err() {
                return;
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(upstream, downstream);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

const ADMIT: &str = r#"op="limits.admit""#;
const PUTS: &str = r#"switchyard_redis_command_duration_seconds_count{op="cache.put"}"#;

#[tokio::test]
async fn the_admission_and_the_cache_lookup_share_one_round_trip() {
    let Some(url) = shared_redis("the_admission_and_the_cache_lookup_share_one_round_trip") else {
        return;
    };
    let relay = Relay::start(&url).await;
    let up = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let yaml = config(
        &format!("redis://127.0.0.1:{}", relay.port),
        &namespace("pipeline"),
        &[("d1", up.addr)],
        "",
        true,
        // Long enough that only a gateway waiting on the held answer times out.
        "timeout_seconds: 2",
        "  keys:\n    - { key: sk-team, rpm_limit: 1 }\n",
    );
    let gateway = Replica::start(&yaml).await;
    gateway
        .wait_redis_up(true, std::time::Duration::from_secs(10))
        .await;

    relay.hold();
    let first = chat(&gateway, "sk-team", "one trip", false).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-switchyard-cache"], "miss");
    let (released, sent) = {
        let seen = relay.seen.lock();
        (seen.released_on_lookup, seen.sent.clone())
    };
    assert!(
        released,
        "the relay saw no cache lookup after the admission: {:?}",
        String::from_utf8_lossy(&sent)
    );
    let metrics = gateway.metrics().await;
    let admit_errors: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("switchyard_redis_errors_total{") && l.contains(ADMIT))
        .collect();
    assert!(
        admit_errors.is_empty(),
        "the admission waited for its answer before the lookup was sent: {admit_errors:?}"
    );
    // They left as one batch of the gateway's Redis queue.
    let batches = metric(&metrics, "switchyard_redis_batch_commands_count");
    let singles = metric(
        &metrics,
        r#"switchyard_redis_batch_commands_bucket{le="1"}"#,
    );
    assert!(
        batches > singles,
        "no batch of two or more commands: {batches} batches, {singles} of one command"
    );

    // The answer is stored; the same request over the key's limit is refused, not served from
    // the lookup made alongside its admission.
    wait_metric(&gateway, PUTS, 1.0).await;
    let second = chat(&gateway, "sk-team", "one trip", false).await;
    assert_eq!(second.status(), 429);
    assert_eq!(up.hits(), 1);
}
