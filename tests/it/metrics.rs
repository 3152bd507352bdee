//! `/metrics`: the base families with bounded labels.

use crate::common::{
    MockUpstream, TestGateway, chat_body, http, openai_config, sse,
    upstream::{completion, error_json, full_stream, ok_json},
};

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()
}

#[tokio::test]
async fn requests_tokens_durations_and_in_flight_are_exported() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let gw = TestGateway::start(&openai_config(
        "gpt",
        &up,
        "router_settings: { num_retries: 0 }\n",
    ))
    .await;
    let client = http();
    let post = |body: serde_json::Value| {
        client
            .post(gw.url("/v1/chat/completions"))
            .json(&body)
            .send()
    };

    assert_eq!(post(chat_body("gpt", false)).await.unwrap().status(), 200);
    up.push(full_stream("m", &["a", "b", "c"]));
    let streamed = post(chat_body("gpt", true))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(streamed.contains("[DONE]"));
    up.push(error_json(429, "rate_limit_exceeded", "slow", &[]));
    assert_eq!(post(chat_body("gpt", false)).await.unwrap().status(), 429);
    assert_eq!(
        post(chat_body("secret-model-name-from-caller", false))
            .await
            .unwrap()
            .status(),
        400
    );

    let text = gw.metrics().await;
    let requests =
        r#"switchyard_requests_total{deployment="dep-gpt",model="gpt",provider="openai",status="#;
    assert_eq!(
        sample(&text, &format!(r#"{requests}"200"}}"#)),
        Some(2.0),
        "{text}"
    );
    assert_eq!(sample(&text, &format!(r#"{requests}"429"}}"#)), Some(1.0));
    assert_eq!(
        sample(
            &text,
            r#"switchyard_requests_total{deployment="none",model="unknown",provider="none",status="400"}"#
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("secret-model-name-from-caller"),
        "label values come from config only"
    );
    // 3 prompt+completion tokens from the JSON answer, plus the stream's usage chunk (5 + 3).
    assert_eq!(
        sample(
            &text,
            r#"switchyard_tokens_total{kind="prompt",model="gpt"}"#
        ),
        Some(12.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"switchyard_tokens_total{kind="completion",model="gpt"}"#
        ),
        Some(6.0)
    );
    assert_eq!(
        sample(&text, r#"switchyard_in_flight_requests{model="gpt"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"switchyard_time_to_first_token_seconds_count{model="gpt"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"switchyard_request_duration_seconds_count{model="gpt"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"switchyard_upstream_duration_seconds_count{deployment="dep-gpt"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, r#"switchyard_overhead_seconds_count{model="gpt"}"#),
        Some(2.0)
    );
    assert!(!text.contains("sk-deployment-secret"));
}

#[tokio::test]
async fn an_open_stream_counts_as_in_flight_until_it_ends() {
    use std::time::Duration;

    use crate::common::{End, upstream::chunks};
    let events: Vec<String> = chunks("m", &["x"]).into_iter().take(2).collect();
    let up = MockUpstream::start(sse(events, End::Hang)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let mut resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&chat_body("gpt", true))
        .send()
        .await
        .unwrap();
    resp.chunk().await.unwrap().unwrap();
    let metrics = || async { gw.metrics().await };
    assert_eq!(
        sample(
            &metrics().await,
            r#"switchyard_in_flight_requests{model="gpt"}"#
        ),
        Some(1.0)
    );
    drop(resp);
    assert!(up.wait_disconnect(Duration::from_secs(5)).await);
    // The gauge drops when the body is dropped, which happens before the upstream sees the close.
    assert_eq!(
        sample(
            &metrics().await,
            r#"switchyard_in_flight_requests{model="gpt"}"#
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_fresh_gateway_shows_every_family_with_help_and_type_and_process_metrics() {
    let gw = TestGateway::start(
        "model_list:\n  - model_name: m\n    litellm_params: { model: mock/m }\n",
    )
    .await;
    let text = gw.metrics().await;
    for family in [
        "switchyard_requests_total",
        "switchyard_request_duration_seconds",
        "switchyard_upstream_duration_seconds",
        "switchyard_time_to_first_token_seconds",
        "switchyard_tokens_total",
        "switchyard_in_flight_requests",
        "switchyard_retries_total",
        "switchyard_fallbacks_total",
        "switchyard_deployment_cooldown",
        "switchyard_cache_requests_total",
        "switchyard_rate_limited_total",
        "switchyard_router_shadow_disagreements_total",
        "switchyard_agent_runs_total",
        "switchyard_agent_tool_calls_total",
        "switchyard_overhead_seconds",
        "switchyard_build_info",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        assert_eq!(
            text.matches(&format!("# HELP {family} ")).count(),
            1,
            "{family}: {text}"
        );
        assert_eq!(
            text.matches(&format!("# TYPE {family} ")).count(),
            1,
            "{family}: {text}"
        );
    }
    assert_eq!(
        sample(&text, "switchyard_router_shadow_disagreements_total "),
        Some(0.0)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(
            &text,
            &format!("switchyard_build_info{{version=\"{version}\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert!(sample(&text, "process_resident_memory_bytes").unwrap() > 1e6);
    assert!(sample(&text, "process_open_fds").unwrap() >= 3.0);
    assert!(sample(&text, "process_start_time_seconds").unwrap() > 1.6e9);
}
