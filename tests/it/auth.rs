//! Master and virtual keys.

use crate::common::{
    MockUpstream, TestGateway, chat_body, http, openai_config,
    upstream::{completion, ok_json},
};

const KEYS: &str = "general_settings:\n  master_key: os.environ/TEST_MASTER\nswitchyard_settings:\n  keys:\n    - { key: sk-team-a, models: [gpt] }\n";

async fn gateway(up: &MockUpstream) -> TestGateway {
    let yaml = openai_config("gpt", up, KEYS).replace(
        "model_list:\n",
        "model_list:\n  - model_name: other\n    litellm_params: { model: mock/other }\n",
    );
    TestGateway::start_with_env(&yaml, &[("TEST_MASTER", "sk-master-123")]).await
}

#[tokio::test]
async fn keys_are_required_and_scoped() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let gw = gateway(&up).await;
    let call = |key: Option<(&'static str, &'static str)>, model: &'static str| {
        let mut r = http()
            .post(gw.url("/v1/chat/completions"))
            .json(&chat_body(model, false));
        if let Some((name, value)) = key {
            r = r.header(name, value);
        }
        r.send()
    };
    for (key, model, status, code) in [
        (None, "gpt", 401, Some("invalid_api_key")),
        (
            Some(("authorization", "Bearer wrong")),
            "gpt",
            401,
            Some("invalid_api_key"),
        ),
        (
            Some(("authorization", "Bearer sk-master-123")),
            "other",
            200,
            None,
        ),
        (
            Some(("authorization", "Bearer sk-team-a")),
            "gpt",
            200,
            None,
        ),
        (Some(("api-key", "sk-team-a")), "gpt", 200, None),
        (Some(("x-api-key", "sk-team-a")), "gpt", 200, None),
        (
            Some(("x-api-key", "sk-team-a")),
            "other",
            403,
            Some("model_not_allowed"),
        ),
    ] {
        let resp = call(key, model).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{key:?} {model}");
        let json: serde_json::Value = resp.json().await.unwrap();
        if let Some(code) = code {
            assert_eq!(json["error"]["code"], code);
            let ty = if status == 401 {
                "authentication_error"
            } else {
                "permission_error"
            };
            assert_eq!(json["error"]["type"], ty);
        }
    }
    // The caller's key never goes upstream; the deployment's does.
    for r in up.requests() {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer sk-deployment-secret")
        );
        assert_eq!(r.header("x-api-key"), None);
        assert_eq!(r.header("api-key"), None);
    }
}

#[tokio::test]
async fn a_virtual_key_sees_only_its_models_and_health_stays_open() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let gw = gateway(&up).await;
    let names = |key: &'static str| {
        let r = http().get(gw.url("/v1/models")).bearer_auth(key).send();
        async move {
            let v: serde_json::Value = r.await.unwrap().json().await.unwrap();
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("sk-team-a").await, ["gpt"]);
    assert_eq!(names("sk-master-123").await, ["other", "gpt"]);
    assert_eq!(
        http()
            .get(gw.url("/v1/models"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    for path in [
        "/health/liveliness",
        "/health/liveness",
        "/health/readiness",
        "/ready",
        "/metrics",
    ] {
        assert_eq!(
            http().get(gw.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn metrics_can_require_a_key() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let yaml = openai_config(
        "gpt",
        &up,
        "general_settings: { master_key: sk-m }\nswitchyard_settings: { metrics_require_key: true }\n",
    );
    let gw = TestGateway::start(&yaml).await;
    assert_eq!(
        http()
            .get(gw.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http()
            .get(gw.url("/metrics"))
            .bearer_auth("sk-m")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
