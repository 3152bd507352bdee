use std::{collections::HashMap, sync::Arc, time::Duration};

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use tokio::time::Instant;

use super::by_name;
use crate::{
    config,
    proxy::{Deployment, DeploymentState},
    router::{RouterCore, Shadow, V1, V2},
};

/// Mock deployments from `model_list` entries' `litellm_params` (one group).
fn deployments(params: &[&str]) -> Vec<Arc<Deployment>> {
    let list: String = params
        .iter()
        .map(|p| format!("  - {{ model_name: g, litellm_params: {{ model: mock/m, {p} }} }}\n"))
        .collect();
    let env: HashMap<String, String> = HashMap::new();
    let (cfg, _) = config::parse(&format!("model_list:\n{list}"), "t", &env).unwrap();
    cfg.deployments
        .into_iter()
        .map(|c| {
            Arc::new(Deployment {
                id: c.id.as_str().into(),
                provider: Arc::new(crate::providers::mock::Mock::new(&c)),
                upstream_metric: Histogram::with_opts(HistogramOpts::new("h", "h")).unwrap(),
                state: DeploymentState::new(IntGauge::new("g", "g").unwrap())
                    .with_limits(c.rpm, c.tpm),
                config: c,
            })
        })
        .collect()
}

fn refs(d: &[Arc<Deployment>]) -> Vec<&Arc<Deployment>> {
    d.iter().collect()
}

fn counts(strategy: &str, d: &[Arc<Deployment>], n: usize) -> Vec<usize> {
    let s = by_name(strategy);
    let mut out = vec![0; d.len()];
    for _ in 0..n {
        out[s.pick(&refs(d), Instant::now())] += 1;
    }
    out
}

#[test]
fn simple_shuffle_follows_weight_then_rpm_then_tpm() {
    let d = deployments(&["weight: 1", "weight: 3"]);
    let c = counts("simple-shuffle", &d, 4000);
    let share = c[1] as f64 / 4000.0;
    // Expected 0.75; binomial sd at n = 4000 is about 0.007.
    assert!((0.72..=0.78).contains(&share), "{c:?}");
    let d = deployments(&["rpm: 100", "rpm: 900"]);
    let c = counts("simple-shuffle", &d, 4000);
    assert!((0.87..=0.93).contains(&(c[1] as f64 / 4000.0)), "{c:?}");
    let d = deployments(&["tpm: 1000", "weight: 1"]);
    assert_eq!(d[0].weight(), 1000.0);
    let d = deployments(&["api_key: a", "api_key: b"]);
    let c = counts("simple-shuffle", &d, 4000);
    assert!(
        (0.46..=0.54).contains(&(c[0] as f64 / 4000.0)),
        "equal by default: {c:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn least_busy_prefers_the_idle_deployment() {
    let d = deployments(&["api_key: a", "api_key: b", "api_key: c"]);
    let _busy = [
        d[0].state.begin(Instant::now()),
        d[0].state.begin(Instant::now()),
        d[2].state.begin(Instant::now()),
    ];
    assert_eq!(counts("least-busy", &d, 50), [0, 50, 0]);
}

#[test]
fn latency_based_prefers_the_fast_one_and_spreads_within_the_band() {
    let d = deployments(&["api_key: a", "api_key: b", "api_key: c"]);
    d[0].state.success(Duration::from_millis(300));
    d[1].state.success(Duration::from_millis(100));
    d[2].state.success(Duration::from_millis(105));
    let c = counts("latency-based-routing", &d, 1000);
    assert_eq!(c[0], 0, "{c:?}");
    assert!(
        c[1] > 350 && c[2] > 350,
        "within 10 % of the best, load spreads: {c:?}"
    );
    let fresh = deployments(&["api_key: a", "api_key: b"]);
    fresh[0].state.success(Duration::from_millis(50));
    assert_eq!(
        counts("latency-based-routing", &fresh, 20),
        [0, 20],
        "an unmeasured deployment gets measured"
    );
}

#[tokio::test(start_paused = true)]
async fn usage_based_routes_to_the_most_headroom() {
    let d = deployments(&["rpm: 10", "rpm: 10"]);
    let now = Instant::now();
    for _ in 0..9 {
        drop(d[0].state.begin(now));
    }
    drop(d[1].state.begin(now));
    assert_eq!(counts("usage-based-routing", &d, 20), [0, 20]);
    let d = deployments(&["tpm: 1000", "tpm: 1000"]);
    d[1].state.add_tokens(now, 900);
    assert_eq!(counts("usage-based-routing", &d, 20), [20, 0]);
}

#[test]
fn cost_based_picks_the_cheapest_and_unpriced_last() {
    let d = deployments(&[
        "input_cost_per_token: 0.00001, output_cost_per_token: 0.00003",
        "input_cost_per_token: 0.000001, output_cost_per_token: 0.000002",
        "api_key: unpriced",
    ]);
    assert_eq!(counts("cost-based-routing", &d, 20), [0, 20, 0]);
}

#[test]
fn v1_is_deterministic_and_shadow_counts_disagreements() {
    let d = deployments(&["weight: 1", "weight: 100"]);
    let v1 = V1;
    assert!((0..100).all(|_| v1.pick(&refs(&d), Instant::now()) == 0));
    let disagreements = IntCounter::new("d", "d").unwrap();
    let shadow = Shadow::new(V2::new("simple-shuffle"), disagreements.clone());
    let picks: Vec<usize> = (0..200)
        .map(|_| shadow.pick(&refs(&d), Instant::now()))
        .collect();
    let ones = picks.iter().filter(|&&p| p == 1).count() as u64;
    assert!(ones > 150, "v2 decides: {ones}");
    assert_eq!(
        disagreements.get(),
        ones,
        "every pick v1 would not have made is counted"
    );
}
