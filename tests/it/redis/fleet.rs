//! Two and three replicas on one Redis behave as one gateway.

use std::time::Duration;

use futures_util::future::join_all;

use super::{Replica, chat, config, metric, namespace, shared_redis, wait_metric};
use crate::common::{
    MockUpstream,
    upstream::{completion, error_json, full_stream, ok_json},
};

const CHARGES: &str = r#"switchyard_redis_command_duration_seconds_count{op="limits.charge"}"#;
/// A generous Redis timeout: these tests check sharing, not outages, on a loaded CI machine.
const FLEET_REDIS: &str = "timeout_seconds: 2";
const PUTS: &str = r#"switchyard_redis_command_duration_seconds_count{op="cache.put"}"#;

#[tokio::test]
async fn three_replicas_admit_exactly_the_rpm_limit_fleet_wide() {
    let Some(url) = shared_redis("three_replicas_admit_exactly_the_rpm_limit_fleet_wide") else {
        return;
    };
    let up = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let yaml = config(
        &url,
        &namespace("rpm"),
        &[("d1", up.addr)],
        "",
        false,
        FLEET_REDIS,
        "  keys:\n    - { key: sk-team, rpm_limit: 10 }\n",
    );
    let fleet = join_all((0..3).map(|_| Replica::start(&yaml))).await;
    // 30 requests at once, spread over the three replicas.
    let calls = (0..30).map(|i| chat(&fleet[i % 3], "sk-team", "hi", false));
    let statuses: Vec<u16> = join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let admitted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (admitted, refused),
        (10, 20),
        "exactly the limit, fleet-wide: {statuses:?}"
    );
    assert_eq!(up.hits(), 10);
}

#[tokio::test]
async fn tokens_are_charged_once_whichever_replica_served() {
    let Some(url) = shared_redis("tokens_are_charged_once_whichever_replica_served") else {
        return;
    };
    // Every answer uses 10 tokens.
    let up = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let yaml = config(
        &url,
        &namespace("tpm"),
        &[("d1", up.addr)],
        "",
        false,
        FLEET_REDIS,
        "  keys:\n    - { key: sk-team, tpm_limit: 25 }\n",
    );
    let (a, b) = (Replica::start(&yaml).await, Replica::start(&yaml).await);
    // 10 + 10 tokens on two replicas leave 5: once charged, the third request is admitted and
    // spends the rest; a fourth is refused. Charged twice, the third would be refused; never
    // charged, the fourth would pass.
    let r = chat(&a, "sk-team", "hi", false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining-tokens"], "24");
    wait_metric(&a, CHARGES, 1.0).await;
    let r = chat(&b, "sk-team", "hi", false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-ratelimit-remaining-tokens"],
        "14",
        "A's 10 tokens charged once"
    );
    wait_metric(&b, CHARGES, 1.0).await;
    let r = chat(&a, "sk-team", "hi", false).await;
    assert_eq!(r.status(), 200);
    wait_metric(&a, CHARGES, 2.0).await;
    let r = chat(&b, "sk-team", "hi", false).await;
    assert_eq!(r.status(), 429);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(up.hits(), 3);
}

#[tokio::test]
async fn the_cache_is_shared_for_json_and_streamed_answers() {
    let Some(url) = shared_redis("the_cache_is_shared_for_json_and_streamed_answers") else {
        return;
    };
    let up = MockUpstream::start(ok_json(completion("up", "cached words"))).await;
    let yaml = config(
        &url,
        &namespace("cache"),
        &[("d1", up.addr)],
        "",
        true,
        FLEET_REDIS,
        "",
    );
    let (a, b) = (Replica::start(&yaml).await, Replica::start(&yaml).await);

    // A JSON miss on A is a hit on B, as JSON and as a replayed stream.
    let r = chat(&a, "", "same question", false).await;
    assert_eq!(r.headers()["x-switchyard-cache"], "miss");
    wait_metric(&a, PUTS, 1.0).await;
    let r = chat(&b, "", "same question", false).await;
    assert_eq!(r.headers()["x-switchyard-cache"], "hit");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "cached words");
    let r = chat(&b, "", "same question", true).await;
    assert_eq!(r.headers()["x-switchyard-cache"], "hit");
    let text = r.text().await.unwrap();
    assert!(
        text.contains("cached") && text.trim_end().ends_with("data: [DONE]"),
        "{text}"
    );
    assert_eq!(up.hits(), 1);

    // A streamed miss on B is stored assembled, and a hit on A.
    up.push(full_stream("up", &["streamed", " answer"]));
    let r = chat(&b, "", "streamed question", true).await;
    assert_eq!(r.headers()["x-switchyard-cache"], "miss");
    let _ = r.text().await.unwrap();
    wait_metric(&b, PUTS, 1.0).await;
    let r = chat(&a, "", "streamed question", false).await;
    assert_eq!(r.headers()["x-switchyard-cache"], "hit");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "streamed answer");
    assert_eq!(up.hits(), 2);
}

#[tokio::test]
async fn a_cooldown_on_one_replica_is_avoided_by_the_other_and_probed_once() {
    let Some(url) =
        shared_redis("a_cooldown_on_one_replica_is_avoided_by_the_other_and_probed_once")
    else {
        return;
    };
    // `bad` has a wrong key (401: cooled down at once); `good` answers.
    let bad = MockUpstream::start(error_json(401, "invalid_api_key", "bad key", &[])).await;
    let good = MockUpstream::start(ok_json(completion("up", "ok"))).await;
    let ns = namespace("cooldown");
    let yaml = config(
        &url,
        &ns,
        &[("bad", bad.addr), ("good", good.addr)],
        "  cooldown_time: 8\n",
        false,
        FLEET_REDIS,
        "",
    );
    let (a, b) = (Replica::start(&yaml).await, Replica::start(&yaml).await);
    let channel = format!("{ns}:cooldowns:{{events}}");
    // Both replicas follow the cooldown channel (a signal, not a sleep), and so does the test, to
    // time the message against A's answer.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for _ in 0..250 {
        let (_, n): (String, u64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&channel)
            .query_async::<Vec<(String, u64)>>(&mut conn)
            .await
            .unwrap()
            .remove(0);
        if n >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(&channel).await.unwrap();
    let mut messages = pubsub.into_on_message();
    let heard = tokio::spawn(async move {
        use futures_util::StreamExt;
        messages.next().await.map(|_| tokio::time::Instant::now())
    });
    // Until A has met `bad` once (it then cools it and retries on `good`).
    let mut answered = None;
    for _ in 0..50 {
        assert_eq!(chat(&a, "", "hi", false).await.status(), 200);
        if bad.hits() == 1 {
            answered = Some(tokio::time::Instant::now());
            break;
        }
    }
    let answered = answered.expect("simple-shuffle reaches `bad` within 50 requests");
    // B's very next requests avoid it (well within the 8 s cooldown, even on a loaded machine).
    let mut hits = Vec::new();
    for _ in 0..10 {
        assert_eq!(chat(&b, "", "hi", false).await.status(), 200);
        hits.push(bad.hits());
    }
    let heard = tokio::time::timeout(Duration::from_secs(5), heard)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let delivered = answered.checked_duration_since(heard).map_or_else(
        || format!("{:?} after", heard - answered),
        |d| format!("{d:?} before"),
    );
    eprintln!(
        "cooldown message delivered to a subscriber {delivered} A's answer reached the client"
    );
    assert_eq!(
        bad.hits(),
        1,
        "B never sent to the deployment A cooled: {hits:?}"
    );
    let gauge = r#"switchyard_deployment_cooldown{deployment="bad"}"#;
    assert_eq!(metric(&b.metrics().await, gauge), 1.0);

    // After cooldown_time, both replicas under load: one probe across the fleet.
    tokio::time::sleep_until(answered + Duration::from_millis(8100)).await;
    let phase = tokio::time::Instant::now();
    let calls = (0..20).map(|i| chat(if i % 2 == 0 { &a } else { &b }, "", "hi", false));
    for r in join_all(calls).await {
        assert_eq!(r.status(), 200);
    }
    // The failed probe cools `bad` for another 8 s: one probe per cooldown, so a second one is
    // right only if this phase outlasted it (a very loaded machine).
    let cooldowns = 1 + (phase.elapsed().as_secs_f64() / 8.0).floor() as usize;
    let probes = bad.hits() - 1;
    assert!(
        probes >= 1 && probes <= cooldowns,
        "one probe per cooldown across the fleet, not one per replica: {probes} probes in {:?}",
        phase.elapsed()
    );
}

#[tokio::test]
async fn usage_based_routing_sees_the_other_replicas_traffic() {
    let Some(url) = shared_redis("usage_based_routing_sees_the_other_replicas_traffic") else {
        return;
    };
    let d1 = MockUpstream::start(ok_json(completion("up", "one"))).await;
    let d2 = MockUpstream::start(ok_json(completion("up", "two"))).await;
    let ns = namespace("usage");
    let strategy = "  routing_strategy: usage-based-routing\n";
    early_in_a_minute().await;
    // A knows only d1; B knows both.
    let a = Replica::start(&config(
        &url,
        &ns,
        &[("d1", d1.addr)],
        strategy,
        false,
        FLEET_REDIS,
        "",
    ))
    .await;
    let b = Replica::start(&config(
        &url,
        &ns,
        &[("d1", d1.addr), ("d2", d2.addr)],
        strategy,
        false,
        FLEET_REDIS,
        "",
    ))
    .await;
    for _ in 0..6 {
        assert_eq!(chat(&a, "", "hi", false).await.status(), 200);
    }
    // Until B has read the fleet's usage (polled every 250 ms): d1's count in Redis, then two
    // of B's read periods.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut pattern = redis::cmd("KEYS");
    pattern.arg(format!("{ns}:usage:{{d1}}:*"));
    for _ in 0..100 {
        let keys: Vec<String> = pattern.query_async(&mut conn).await.unwrap();
        let n: Option<u64> = match keys.first() {
            Some(k) => redis::cmd("GET")
                .arg(k)
                .query_async(&mut conn)
                .await
                .unwrap(),
            None => None,
        };
        if n == Some(6) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Then two of B's usage reads (every 250 ms) after that.
    let reads = r#"switchyard_redis_command_duration_seconds_count{op="usage.read"}"#;
    let seen = metric(&b.metrics().await, reads);
    wait_metric(&b, reads, seen + 2.0).await;
    for _ in 0..4 {
        assert_eq!(chat(&b, "", "hi", false).await.status(), 200);
    }
    assert_eq!(
        (d1.hits(), d2.hits()),
        (6, 4),
        "B sends its four to d2: it sees A's six on d1"
    );
}

/// Deployment usage is counted per wall-clock minute: a test of it starts early in a minute, so
/// its requests and the reads that follow them fall in the same one (the wait is the condition
/// itself: the clock reaching the next minute).
async fn early_in_a_minute() {
    let into = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        % 60.0;
    if into > 45.0 {
        tokio::time::sleep(Duration::from_secs_f64(60.0 - into + 0.05)).await;
    }
}
