//! Wildcard model groups end to end: explicit names before patterns, the most specific pattern
//! wins, the upstream gets the requested name, retries and metrics work with the pattern as the
//! (bounded) `model` label, `/v1/models` lists the patterns, and keys may name patterns.

use crate::common::{
    MockUpstream, TestGateway, chat_body, http,
    upstream::{completion, error_json, full_stream, ok_json},
};

fn config(a: &MockUpstream, b: &MockUpstream, c: &MockUpstream) -> String {
    let dep = |name: &str, model: &str, up: &MockUpstream, id: &str| {
        format!(
            "  - model_name: \"{name}\"\n    litellm_params: {{ model: \"{model}\", api_base: \"http://{}/v1\", api_key: sk-up, timeout: 5 }}\n    model_info: {{ id: {id} }}\n",
            up.addr
        )
    };
    format!(
        "model_list:\n{}{}{}{}router_settings: {{ num_retries: 2 }}\ngeneral_settings: {{ master_key: sk-master }}\nswitchyard_settings:\n  keys:\n    - {{ key: sk-team, models: [\"team/*\"] }}\n",
        dep("*", "openai/*", c, "catch-all"),
        dep("team/*", "openai/team-*", b, "team"),
        dep("team/special-*", "openai/special-*", a, "team-special"),
        dep("gpt-4o", "openai/explicit-gpt-4o", a, "explicit"),
    )
}

#[tokio::test]
async fn wildcard_groups_route_by_specificity_with_the_requested_name() {
    let a = MockUpstream::start(ok_json(completion("a", "from a"))).await;
    let b = MockUpstream::start(ok_json(completion("b", "from b"))).await;
    let c = MockUpstream::start(ok_json(completion("c", "from c"))).await;
    let gw = TestGateway::start(&config(&a, &b, &c)).await;
    let client = http();
    let post = |model: &str, stream: bool, key: &str| {
        client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&chat_body(model, stream))
            .send()
    };
    let last_model = |up: &MockUpstream| up.requests().last().unwrap().json()["model"].clone();

    // An explicit group wins over the `*` that also matches it.
    assert_eq!(
        post("gpt-4o", false, "sk-master").await.unwrap().status(),
        200
    );
    assert_eq!(last_model(&a), "explicit-gpt-4o");
    assert_eq!(c.hits(), 0);
    // `team/*` fills its template; the longer `team/special-*` wins where both match.
    assert_eq!(
        post("team/foo", false, "sk-master").await.unwrap().status(),
        200
    );
    assert_eq!(last_model(&b), "team-foo");
    assert_eq!(
        post("team/special-x", false, "sk-master")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(last_model(&a), "special-x");
    // Anything else goes to the catch-all under its own name, streams included, and a 503 is
    // retried there like any other group.
    c.push(error_json(503, "overloaded", "busy", &[]));
    assert_eq!(
        post("some-random-model", false, "sk-master")
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(c.hits(), 2);
    assert_eq!(last_model(&c), "some-random-model");
    c.push(full_stream("c", &["x", "y"]));
    let text = post("vendor/other-model", true, "sk-master")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("[DONE]"), "{text}");
    assert_eq!(last_model(&c), "vendor/other-model");

    // A key that names a pattern reaches what it matches, nothing else.
    assert_eq!(
        post("team/bar", false, "sk-team").await.unwrap().status(),
        200
    );
    assert_eq!(
        post("gpt-4o", false, "sk-team").await.unwrap().status(),
        403
    );

    // `/v1/models` lists the groups, patterns included (LiteLLM lists a pattern it cannot expand).
    let models: serde_json::Value = client
        .get(gw.url("/v1/models"))
        .bearer_auth("sk-master")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["*", "team/*", "team/special-*", "gpt-4o"]);

    // Metric labels stay bounded: the pattern, never the requested name.
    let metrics = gw.metrics().await;
    for requested in [
        "some-random-model",
        "vendor/other-model",
        "team/foo",
        "team/bar",
    ] {
        assert!(
            !metrics.contains(requested),
            "{requested} leaked into /metrics"
        );
    }
    assert!(
        metrics.contains(r#"switchyard_requests_total{deployment="catch-all",model="*",provider="openai",status="200"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"model="team/*""#) && metrics.contains(r#"model="team/special-*""#),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("switchyard_retries_total{") && l.contains(r#"model="*""#)),
        "{metrics}"
    );
}
