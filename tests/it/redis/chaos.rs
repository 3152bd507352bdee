//! Redis frozen, killed and restarted, or not started yet: never a failed request.

use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;

use super::{PrivateRedis, Replica, chat, config, namespace, wait_metric};
use crate::common::{
    MockUpstream,
    upstream::{completion, ok_json},
};

const KEYS: &str = "  keys:\n    - { key: sk-team, rpm_limit: 100000, tpm_limit: 100000000 }\n    - { key: sk-free }\n";

/// `n` concurrent rounds of limited, cached and uncached requests to `replicas`: all must be
/// 200 within `bound`.
async fn load(replicas: &[&Replica], rounds: usize, bound: Duration) {
    for round in 0..rounds {
        let calls = replicas.iter().enumerate().flat_map(|(i, r)| {
            let content = format!("q{round}-{i}");
            [
                (*r, "sk-team", content.clone(), false),
                (*r, "sk-free", format!("{content}-free"), false),
                (*r, "sk-free", "same".to_owned(), false),
            ]
        });
        let timed = calls.map(|(r, key, content, stream)| async move {
            let start = Instant::now();
            let resp = chat(r, key, &content, stream).await;
            let status = resp.status();
            let _ = resp.bytes().await.unwrap();
            (status, start.elapsed())
        });
        for (status, took) in join_all(timed).await {
            assert_eq!(status, 200, "round {round}");
            assert!(took < bound, "round {round}: a request took {took:?}");
        }
    }
}

fn yaml(url: &str, up: &MockUpstream, redis: &str) -> String {
    config(
        url,
        &namespace("chaos"),
        &[("d1", up.addr)],
        "",
        true,
        redis,
        KEYS,
    )
}

#[tokio::test]
async fn a_frozen_redis_never_fails_or_stalls_a_request() {
    let Some(redis) = PrivateRedis::start("a_frozen_redis_never_fails_or_stalls_a_request").await
    else {
        return;
    };
    let up = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let yaml = yaml(&redis.url(), &up, "");
    let (a, b) = (Replica::start(&yaml).await, Replica::start(&yaml).await);
    a.wait_redis_up(true, Duration::from_secs(10)).await;
    load(&[&a, &b], 3, Duration::from_secs(2)).await;

    redis.freeze(true);
    // The Redis timeout is 250 ms: a request waits at most about that per store (limits, cache)
    // before the breaker opens; then it answers without waiting. The bound is loose: CI machines
    // are loaded, and speed is measured in benchmarks, not here.
    load(&[&a, &b], 10, Duration::from_secs(2)).await;
    a.wait_redis_up(false, Duration::from_secs(10)).await;
    load(&[&a, &b], 5, Duration::from_secs(2)).await;

    redis.freeze(false);
    a.wait_redis_up(true, Duration::from_secs(10)).await;
    b.wait_redis_up(true, Duration::from_secs(10)).await;
    load(&[&a, &b], 3, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_killed_and_restarted_redis_is_rejoined_without_a_restart() {
    let Some(mut redis) =
        PrivateRedis::start("a_killed_and_restarted_redis_is_rejoined_without_a_restart").await
    else {
        return;
    };
    let up = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let yaml = yaml(&redis.url(), &up, "");
    let (mut a, b) = (Replica::start(&yaml).await, Replica::start(&yaml).await);
    a.wait_redis_up(true, Duration::from_secs(10)).await;
    load(&[&a, &b], 2, Duration::from_secs(2)).await;

    redis.kill().await;
    load(&[&a, &b], 5, Duration::from_secs(2)).await;
    a.wait_redis_up(false, Duration::from_secs(10)).await;

    redis.spawn().await;
    let took = a.wait_redis_up(true, Duration::from_secs(15)).await;
    b.wait_redis_up(true, Duration::from_secs(15)).await;
    eprintln!("replica saw the restarted Redis within {took:?}");
    // Shared state resumes: a limited request writes its GCRA state into the new server.
    let before = wait_keys(&redis).await;
    load(&[&a, &b], 2, Duration::from_secs(2)).await;
    wait_metric(
        &a,
        r#"switchyard_redis_command_duration_seconds_count{op="limits.admit"}"#,
        1.0,
    )
    .await;
    assert!(
        wait_keys(&redis).await > before,
        "state written to the restarted Redis"
    );
    assert!(a.alive());
}

#[tokio::test]
async fn a_gateway_started_before_redis_joins_when_it_comes_up() {
    let Some(mut redis) =
        PrivateRedis::planned("a_gateway_started_before_redis_joins_when_it_comes_up")
    else {
        return;
    };
    let up = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let yaml = yaml(&redis.url(), &up, "");
    let a = Replica::start(&yaml).await;
    load(&[&a], 3, Duration::from_secs(2)).await;
    a.wait_redis_up(false, Duration::from_secs(1)).await;

    redis.spawn().await;
    a.wait_redis_up(true, Duration::from_secs(15)).await;
    load(&[&a], 2, Duration::from_secs(2)).await;
    assert!(
        wait_keys(&redis).await > 0,
        "the late gateway writes shared state"
    );
}

#[tokio::test]
async fn on_failure_deny_refuses_limited_keys_with_503_while_redis_is_down() {
    let Some(redis) =
        PrivateRedis::planned("on_failure_deny_refuses_limited_keys_with_503_while_redis_is_down")
    else {
        return;
    };
    let up = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let yaml = yaml(&redis.url(), &up, "on_failure: deny, timeout_seconds: 0.1");
    let a = Replica::start(&yaml).await;
    let r = chat(&a, "sk-team", "hi", false).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limiter_unavailable");
    // A key without limits is served.
    assert_eq!(chat(&a, "sk-free", "hi", false).await.status(), 200);
}

/// The number of keys in the server.
async fn wait_keys(redis: &PrivateRedis) -> u64 {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("DBSIZE").query_async(&mut c).await.unwrap()
}
