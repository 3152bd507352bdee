use std::{collections::HashMap, time::Duration};

use super::*;
use crate::state::spend::InProcess;

fn spend(keys: &str) -> Spend {
    let yaml = format!(
        "model_list:\n  - model_name: g\n    litellm_params: {{model: mock/m, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}}\n    model_info: {{id: d, max_budget: 0.001, budget_duration: 1h}}\n  - model_name: free\n    litellm_params: {{model: mock/unpriced}}\ngeneral_settings: {{master_key: sk-master}}\nswitchyard_settings: {{keys: [{keys}]}}"
    );
    let env: HashMap<String, String> = HashMap::new();
    let config = crate::config::parse(&yaml, "t", &env).unwrap().0;
    let metric = crate::metrics::Metrics::new().unwrap().spend();
    Spend::new(&config, Arc::new(InProcess::new()), metric)
}

fn usage(prompt: u64, completion: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        ..Usage::default()
    }
}

#[test]
fn labels_never_show_the_key() {
    let s = spend("{key: sk-secret-a, key_alias: team-a}, {key: sk-secret-b}");
    assert_eq!(s.label(Payer::Virtual(0)), "team-a");
    assert_eq!(s.label(Payer::Virtual(1)), "key-1");
    assert_eq!(s.label(Payer::Master), "master");
    assert_eq!(s.label(Payer::Anonymous), "anonymous");
    for a in s.keys() {
        assert!(!a.counter.name.contains("sk-secret"));
        assert_eq!(a.token.len(), 64);
    }
    assert_eq!(s.cost("d", &usage(1000, 500)), 2000);
    assert_eq!(
        s.cost("free#0", &usage(1000, 500)),
        0,
        "unpriced costs nothing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_key_is_refused_once_spent_and_admitted_again_after_its_period() {
    let s = spend("{key: sk-a, key_alias: a, max_budget: 0.01, budget_duration: 30s}");
    let a = Payer::Virtual(0);
    for _ in 0..3 {
        s.admit(a).await.unwrap();
        s.record(a, "free", "d", 3_000).await.unwrap();
    }
    s.admit(a).await.unwrap();
    s.record(a, "free", "d", 3_000).await.unwrap();
    let e = s.admit(a).await.unwrap_err();
    let GatewayError::BudgetExceeded {
        scope,
        name,
        spent_micros,
        max_micros,
        resets_in,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (*scope, name.as_str(), *spent_micros, *max_micros),
        (BudgetScope::Key, "a", 12_000, 10_000)
    );
    assert_eq!(*resets_in, Some(Duration::from_secs(30)));
    assert_eq!(e.status().as_u16(), 400);
    assert_eq!(e.code(), "budget_exceeded");
    // The master key and anonymous callers have no budget.
    s.admit(Payer::Master).await.unwrap();
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(s.admit(a).await.is_err());
    tokio::time::advance(Duration::from_secs(1)).await;
    s.admit(a).await.unwrap();
    assert_eq!(s.spent(&s.keys()[0]).await.unwrap().micros, 0);
}

#[tokio::test(start_paused = true)]
async fn over_admission_is_bounded_by_the_requests_in_flight() {
    // Budget 10_000 µ$, each request costs 3_000 µ$, 4 requests in flight at a time: the key is
    // admitted while its spend is under budget, so it ends at most one batch of in-flight
    // requests over it, never more.
    let s = spend("{key: sk-a, max_budget: 0.01}");
    let a = Payer::Virtual(0);
    let (cost, in_flight) = (3_000u64, 4usize);
    let mut admitted = 0u64;
    loop {
        let mut batch = 0;
        for _ in 0..in_flight {
            if s.admit(a).await.is_ok() {
                batch += 1;
            }
        }
        if batch == 0 {
            break;
        }
        for _ in 0..batch {
            s.record(a, "free", "d", cost).await.unwrap();
        }
        admitted += batch;
    }
    let spent = s.spent(&s.keys()[0]).await.unwrap().micros;
    assert_eq!(spent, admitted * cost);
    assert!(spent >= 10_000);
    assert!(
        spent < 10_000 + in_flight as u64 * cost,
        "over by at most the requests in flight: {spent}"
    );
    assert_eq!(
        admitted, 4,
        "one batch under budget, the next refused whole"
    );
}

#[tokio::test(start_paused = true)]
async fn a_spent_model_group_is_refused_for_the_router() {
    let s = spend("{key: sk-a}");
    assert!(s.has_group_budgets());
    s.admit_group("g").await.unwrap();
    s.record(Payer::Master, "g", "d", 1_000).await.unwrap();
    let e = s.admit_group("g").await.unwrap_err();
    assert!(matches!(
        e,
        GatewayError::BudgetExceeded {
            scope: BudgetScope::Model,
            ..
        }
    ));
    assert_eq!(
        crate::retry::classify(&e),
        crate::retry::Decision::Fallback(crate::retry::FallbackKind::General)
    );
    s.admit_group("free").await.unwrap();
    tokio::time::advance(Duration::from_secs(3600)).await;
    s.admit_group("g").await.unwrap();
}
