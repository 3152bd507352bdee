//! What SDKs, dashboards and Claude Code read besides model calls: `models.retrieve`, `GET /`
//! and `HEAD /`, LiteLLM's `/model/info`, `/model_group/info` and deep `/health` — in LiteLLM's
//! shapes, keys never shown, a virtual key seeing only its models.

use serde_json::{Value, json};

use crate::common::{
    MockUpstream, TestGateway, http,
    upstream::{Behavior, error_json, ok_json},
};

const SECRET: &str = "sk-deployment-secret-1234";

fn config(up: &MockUpstream, down: &MockUpstream, hang: &MockUpstream) -> String {
    format!(
        "model_list:
  - model_name: gpt-4o
    litellm_params: {{ model: openai/gpt-4o-2024, api_base: 'http://{}/v1', api_key: {SECRET}, rpm: 10 }}
    model_info: {{ id: up }}
  - model_name: gpt-4o
    litellm_params: {{ model: openai/gpt-4o-2024, api_base: 'http://{}/v1', api_key: {SECRET}, rpm: 5 }}
    model_info: {{ id: down }}
  - model_name: slow
    litellm_params: {{ model: openai/slow, api_base: 'http://{}/v1', api_key: {SECRET}, timeout: 1 }}
    model_info: {{ id: hang }}
  - model_name: embed
    litellm_params: {{ model: mock/embed }}
    model_info: {{ id: mock-embed, mode: embedding }}
  - model_name: whisper
    litellm_params: {{ model: mock/whisper }}
    model_info: {{ id: mock-whisper, mode: audio_transcription }}
general_settings: {{ master_key: sk-master }}
switchyard_settings:
  keys:
    - {{ key: sk-team, models: [embed] }}
",
        up.addr, down.addr, hang.addr
    )
}

async fn get(gw: &TestGateway, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = http().get(gw.url(path));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    req.send().await.unwrap()
}

async fn start() -> (TestGateway, MockUpstream, MockUpstream, MockUpstream) {
    let up = MockUpstream::start(ok_json(
        json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "p"}, "finish_reason": "length"}]}).to_string(),
    ))
    .await;
    let down =
        MockUpstream::start(error_json(401, "invalid_api_key", "Incorrect API key", &[])).await;
    let hang = MockUpstream::start(Behavior::Hang).await;
    let gw = TestGateway::start(&config(&up, &down, &hang)).await;
    (gw, up, down, hang)
}

#[tokio::test]
async fn models_retrieve_and_the_root_probe() {
    let (gw, ..) = start().await;
    let r = get(&gw, "/v1/models/gpt-4o", Some("sk-master")).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], "gpt-4o");
    assert_eq!(v["object"], "model");

    let r = get(&gw, "/v1/models/nope", Some("sk-master")).await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "not_found_error");
    assert_eq!(v["error"]["code"], "model_not_found");

    // A virtual key sees only its models; others read as absent.
    assert_eq!(
        get(&gw, "/v1/models/embed", Some("sk-team")).await.status(),
        200
    );
    assert_eq!(
        get(&gw, "/v1/models/gpt-4o", Some("sk-team"))
            .await
            .status(),
        404
    );
    assert_eq!(get(&gw, "/v1/models/gpt-4o", None).await.status(), 401);

    // The base URL answers 200 to GET and HEAD, no key needed.
    assert_eq!(get(&gw, "/", None).await.status(), 200);
    let r = http().head(gw.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn model_info_in_litellm_shapes_without_keys() {
    let (gw, ..) = start().await;
    for path in ["/model/info", "/v1/model/info"] {
        let r = get(&gw, path, Some("sk-master")).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(
            !text.contains(SECRET) && !text.contains("api_key"),
            "{text}"
        );
        let v: Value = serde_json::from_str(&text).unwrap();
        let data = v["data"].as_array().unwrap();
        assert_eq!(data.len(), 5);
        assert_eq!(data[0]["model_name"], "gpt-4o");
        assert_eq!(data[0]["litellm_params"]["model"], "openai/gpt-4o-2024");
        assert!(
            data[0]["litellm_params"]["api_base"]
                .as_str()
                .unwrap()
                .ends_with("/v1")
        );
        assert_eq!(data[0]["model_info"]["id"], "up");
        assert_eq!(data[0]["model_info"]["mode"], "chat");
        assert_eq!(data[3]["model_info"]["mode"], "embedding");
    }
    let v: Value = get(&gw, "/model/info?litellm_model_id=down", Some("sk-master"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let v: Value = get(&gw, "/model/info", Some("sk-team"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(get(&gw, "/model/info", None).await.status(), 401);

    let v: Value = get(&gw, "/model_group/info", Some("sk-master"))
        .await
        .json()
        .await
        .unwrap();
    let groups = v["data"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    assert_eq!(groups[0]["model_group"], "gpt-4o");
    assert_eq!(groups[0]["providers"], json!(["openai"]));
    assert_eq!(groups[0]["rpm"], 15);
    assert_eq!(groups[0]["mode"], "chat");
    assert!(
        groups[0]["supported_openai_params"]
            .as_array()
            .unwrap()
            .contains(&json!("tools"))
    );
    assert_eq!(groups[3]["mode"], "audio_transcription");
    let v: Value = get(
        &gw,
        "/model_group/info?model_group=embed",
        Some("sk-master"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["data"][0]["model_group"], "embed");
}

#[tokio::test]
async fn deep_health_checks_every_deployment_for_real() {
    let (gw, up, down, hang) = start().await;
    assert_eq!(get(&gw, "/health", None).await.status(), 401);
    // The cheap probes stay keyless.
    assert_eq!(get(&gw, "/health/liveliness", None).await.status(), 200);
    assert_eq!(get(&gw, "/health/readiness", None).await.status(), 200);

    let r = get(&gw, "/health", Some("sk-master")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(SECRET), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["healthy_count"], 3, "{v}");
    assert_eq!(v["unhealthy_count"], 2, "{v}");
    let ids = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|e| e["model_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids("healthy_endpoints"),
        ["up", "mock-embed", "mock-whisper"]
    );
    assert_eq!(ids("unhealthy_endpoints"), ["down", "hang"]);
    let bad = &v["unhealthy_endpoints"][0];
    assert_eq!(bad["model"], "openai/gpt-4o-2024");
    assert_eq!(bad["api_base"], format!("http://{}/v1", down.addr));
    assert!(bad["error"].as_str().unwrap().contains("401"), "{bad}");
    assert!(bad.get("api_key").is_none());

    // A real, tiny request with the deployment's own model and key.
    let got = up.requests().pop().unwrap();
    assert_eq!(got.path, "/v1/chat/completions");
    assert_eq!(
        got.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(got.json()["model"], "gpt-4o-2024");
    assert_eq!(got.json()["max_tokens"], 1);
    assert_eq!(hang.hits(), 1);

    // A check is not traffic: the failing deployment is not cooled down by it.
    let ready: Value = get(&gw, "/health/readiness", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ready["healthy_deployments"], 5);

    // One group only, and a virtual key only sees its own.
    let v: Value = get(&gw, "/health?model=embed", Some("sk-master"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["healthy_count"].clone(), v["unhealthy_count"].clone()),
        (json!(1), json!(0))
    );
    let v: Value = get(&gw, "/health", Some("sk-team"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["healthy_count"], 1);
    assert_eq!(v["unhealthy_count"], 0);
}
