//! The OpenAI endpoints beyond chat and embeddings (`/v1/completions`, images, speech,
//! transcriptions, moderations, rerank): the mock answers each; an OpenAI-compatible upstream
//! receives them with only `model` rewritten (the multipart form byte for byte otherwise), with
//! retries, metrics and the endpoint-not-served 400.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    End, MockUpstream, TestGateway, http, openai_config, sse,
    upstream::{Behavior, error_json, ok_json},
};

const MOCKS: &str = "model_list:
  - model_name: instruct
    litellm_params: { model: mock/gpt-3.5-turbo-instruct }
    model_info: { id: mock-instruct, mode: completion }
  - model_name: dall-e-3
    litellm_params: { model: mock/dall-e-3 }
    model_info: { mode: image_generation }
  - model_name: tts-1
    litellm_params: { model: mock/tts-1 }
    model_info: { mode: audio_speech }
  - model_name: whisper-1
    litellm_params: { model: mock/whisper-1 }
    model_info: { mode: audio_transcription }
  - model_name: omni-moderation-latest
    litellm_params: { model: mock/omni-moderation-latest }
    model_info: { mode: moderation }
  - model_name: rerank-v1
    litellm_params: { model: mock/rerank-v1 }
    model_info: { mode: rerank }
  - model_name: embed
    litellm_params: { model: mock/embed }
    model_info: { mode: embedding }
";

/// A multipart body with a file part and a `model` field, and its content type.
fn form(model: &str, extra: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----switchyardTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"speech.wav\"\r\nContent-Type: audio/wav\r\n\r\n").as_bytes());
    // Bytes a text field could never hold: NULs, CR LF, invalid UTF-8.
    body.extend_from_slice(b"RIFF\x00\x01\r\n\xff\xfe--not-a-boundary\x00");
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}"
        )
        .as_bytes(),
    );
    for (k, v) in extra {
        body.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post(gw: &TestGateway, path: &str, body: Value) -> reqwest::Response {
    http().post(gw.url(path)).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn the_mock_answers_every_endpoint() {
    let gw = TestGateway::start(MOCKS).await;

    let r = post(
        &gw,
        "/v1/completions",
        json!({"model": "instruct", "prompt": "Say hi"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-litellm-model-id"], "mock-instruct");
    assert_eq!(r.headers()["x-litellm-attempted-retries"], "0");
    assert!(r.headers().contains_key("x-litellm-overhead-duration-ms"));
    assert_eq!(
        r.headers()["x-litellm-call-id"],
        r.headers()["x-request-id"]
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "text_completion");
    assert!(v["choices"][0]["text"].as_str().unwrap().contains("Say hi"));

    let r = post(
        &gw,
        "/completions",
        json!({"model": "instruct", "prompt": "Say hi", "stream": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.unwrap();
    assert!(text.contains("\"text_completion\""), "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(!text.contains("\"usage\""), "usage only when asked: {text}");

    let v: Value = post(
        &gw,
        "/v1/images/generations",
        json!({"model": "dall-e-3", "prompt": "a cat", "n": 2, "response_format": "b64_json"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert!(
        v["data"][0]["b64_json"]
            .as_str()
            .unwrap()
            .starts_with("iVBOR")
    );

    let r = post(
        &gw,
        "/v1/audio/speech",
        json!({"model": "tts-1", "input": "hello there", "voice": "alloy"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let audio = r.bytes().await.unwrap();
    assert!(audio.starts_with(b"RIFF") && audio.len() > 44);

    let (ct, body) = form("whisper-1", &[("response_format", "text")]);
    let r = http()
        .post(gw.url("/v1/audio/transcriptions"))
        .header("content-type", ct)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains("speech.wav") && text.contains("(27 bytes)"),
        "{text}"
    );

    let v: Value = post(
        &gw,
        "/v1/moderations",
        json!({"model": "omni-moderation-latest", "input": ["a", "b"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert_eq!(v["results"][0]["flagged"], false);

    for path in ["/v1/rerank", "/rerank"] {
        let v: Value = post(
            &gw,
            path,
            json!({"model": "rerank-v1", "query": "red apple",
            "documents": ["a green pear", "a red apple", "red paint"], "top_n": 2}),
        )
        .await
        .json()
        .await
        .unwrap();
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["index"], 1);
        assert_eq!(results[0]["relevance_score"], 1.0);
    }

    let metrics = gw.metrics().await;
    for endpoint in [
        "completions",
        "images",
        "speech",
        "transcriptions",
        "moderations",
        "rerank",
    ] {
        assert!(
            metrics.contains(&format!(
                "switchyard_endpoint_requests_total{{endpoint=\"{endpoint}\",status=\"200\"}}"
            )),
            "{endpoint}: {metrics}"
        );
    }
}

#[tokio::test]
async fn an_endpoint_a_group_cannot_serve_is_a_400_naming_both() {
    let yaml = format!(
        "{MOCKS}  - model_name: claude
    litellm_params: {{ model: anthropic/claude-x, api_key: k, api_base: 'http://127.0.0.1:9' }}
"
    );
    let gw = TestGateway::start(&yaml).await;
    for (path, body) in [
        (
            "/v1/images/generations",
            json!({"model": "embed", "prompt": "x"}),
        ),
        ("/v1/completions", json!({"model": "claude", "prompt": "x"})),
        (
            "/v1/audio/speech",
            json!({"model": "instruct", "input": "x"}),
        ),
        (
            "/v1/rerank",
            json!({"model": "whisper-1", "query": "q", "documents": ["d"]}),
        ),
    ] {
        let r = post(&gw, path, body.clone()).await;
        assert_eq!(r.status(), 400, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "endpoint_not_supported", "{path}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(body["model"].as_str().unwrap()),
            "{message}"
        );
    }
    // Missing required fields and an unknown model are the usual 400s.
    let r = post(&gw, "/v1/completions", json!({"model": "instruct"})).await;
    assert_eq!(r.status(), 400);
    let r = post(
        &gw,
        "/v1/moderations",
        json!({"model": "nope", "input": "x"}),
    )
    .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "model_not_found"
    );
    // A transcription that is not a form.
    let r = post(
        &gw,
        "/v1/audio/transcriptions",
        json!({"model": "whisper-1"}),
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn openai_compatible_upstreams_get_each_endpoint_with_only_model_rewritten() {
    let up = MockUpstream::start(ok_json(json!({"ok": true}).to_string())).await;
    let gw = TestGateway::start(&openai_config("g", &up, "")).await;

    for (path, upstream_path, body) in [
        (
            "/v1/completions",
            "/v1/completions",
            json!({"model": "g", "prompt": "p", "suffix": "s", "echo": false}),
        ),
        (
            "/v1/images/generations",
            "/v1/images/generations",
            json!({"model": "g", "prompt": "p", "size": "1024x1024"}),
        ),
        (
            "/v1/moderations",
            "/v1/moderations",
            json!({"model": "g", "input": "x"}),
        ),
        (
            "/rerank",
            "/v1/rerank",
            json!({"model": "g", "query": "q", "documents": ["a", {"text": "b"}], "top_n": 1}),
        ),
    ] {
        let r = post(&gw, path, body.clone()).await;
        assert_eq!(r.status(), 200, "{path}");
        let got = up.requests().pop().unwrap();
        assert_eq!(got.path, upstream_path);
        assert_eq!(
            got.header("authorization"),
            Some("Bearer sk-deployment-secret")
        );
        let mut expected = body.clone();
        expected["model"] = json!("upstream-g");
        assert_eq!(got.json(), expected, "{path}");
    }

    // Speech: the audio bytes and content type come back as the upstream sent them.
    let audio: &[u8] = b"ID3\x04\x00\x00\xff\xfb\x90\x00binary-mp3";
    let mut raw = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: audio/mpeg\r\ncontent-length: {}\r\n\r\n",
        audio.len()
    )
    .into_bytes();
    raw.extend_from_slice(audio);
    up.push(Behavior::Raw(raw));
    let r = post(
        &gw,
        "/v1/audio/speech",
        json!({"model": "g", "input": "hi", "voice": "alloy"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    assert_eq!(&r.bytes().await.unwrap()[..], audio);
    assert_eq!(up.requests().pop().unwrap().path, "/v1/audio/speech");

    // Transcriptions: the form as received, boundary kept, the model field rewritten.
    up.push(ok_json(json!({"text": "hello"}).to_string()));
    let (ct, body) = form("g", &[("language", "en")]);
    let r = http()
        .post(gw.url("/v1/audio/transcriptions"))
        .header("content-type", ct.clone())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["text"], "hello");
    let got = up.requests().pop().unwrap();
    assert_eq!(got.path, "/v1/audio/transcriptions");
    assert_eq!(got.header("content-type"), Some(ct.as_str()));
    let (_, expected) = form("upstream-g", &[("language", "en")]);
    assert_eq!(&got.body[..], &expected[..]);
}

#[tokio::test]
async fn a_transcription_whose_upstream_name_is_the_same_goes_byte_for_byte() {
    let up = MockUpstream::start(ok_json(json!({"text": "hi"}).to_string())).await;
    let yaml = format!(
        "model_list:\n  - model_name: whisper-1\n    litellm_params: {{ model: openai/whisper-1, api_base: 'http://{}/v1', api_key: k }}\n",
        up.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let (ct, body) = form("whisper-1", &[("temperature", "0")]);
    let r = http()
        .post(gw.url("/v1/audio/transcriptions"))
        .header("content-type", ct)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&up.requests().pop().unwrap().body[..], &body[..]);
}

#[tokio::test]
async fn new_endpoints_retry_on_another_deployment_and_keep_limits() {
    let bad = MockUpstream::start(error_json(503, "overloaded", "busy", &[])).await;
    let good = MockUpstream::start(ok_json(
        json!({"id": "cmpl-1", "object": "text_completion", "choices": [{"text": "ok", "index": 0, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
        .to_string(),
    ))
    .await;
    let yaml = format!(
        "model_list:
  - model_name: g
    litellm_params: {{ model: openai/a, api_base: 'http://{}/v1', api_key: k }}
    model_info: {{ id: bad }}
  - model_name: g
    litellm_params: {{ model: openai/b, api_base: 'http://{}/v1', api_key: k }}
    model_info: {{ id: good }}
router_settings: {{ router_core: v1, num_retries: 3 }}
general_settings: {{ master_key: sk-master }}
switchyard_settings:
  keys:
    - {{ key: sk-team, models: [g], rpm_limit: 2 }}
",
        bad.addr, good.addr
    );
    let gw = TestGateway::start(&yaml).await;
    let call = || {
        http()
            .post(gw.url("/v1/completions"))
            .bearer_auth("sk-team")
            .json(&json!({"model": "g", "prompt": "x"}))
            .send()
    };
    let r = call().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-litellm-model-id"], "good");
    assert_eq!(r.headers()["x-switchyard-attempts"], "2");
    assert_eq!(r.headers()["x-litellm-attempted-retries"], "1");
    assert!(r.headers().contains_key("x-ratelimit-remaining-requests"));
    let _ = call().await.unwrap();
    let r = call().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(good.wait_requests(2, Duration::from_secs(5)).await);
    // v1 tries the first deployment each time; the refused third request reached neither.
    assert_eq!((bad.hits(), good.hits()), (2, 2));
}

#[tokio::test]
async fn a_text_completion_stream_is_forwarded_event_by_event() {
    let chunk = |text: &str, finish: Option<&str>| {
        let c = json!({"id": "cmpl-up", "object": "text_completion", "created": 1, "model": "upstream-g",
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let usage = json!({"id": "cmpl-up", "object": "text_completion", "created": 1, "model": "upstream-g",
        "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}});
    let events = vec![
        chunk("Hello", None),
        chunk(" world", None),
        chunk("", Some("stop")),
        format!("data: {usage}\n\n"),
        "data: [DONE]\n\n".to_owned(),
    ];
    let up = MockUpstream::start(sse(events, End::Clean)).await;
    let gw = TestGateway::start(&openai_config("g", &up, "")).await;
    let r = post(
        &gw,
        "/v1/completions",
        json!({"model": "g", "prompt": "p", "stream": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("\"Hello\"") && text.contains("\" world\""),
        "{text}"
    );
    assert!(
        !text.contains("total_tokens"),
        "usage only when asked: {text}"
    );
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let got = up.requests().pop().unwrap().json();
    assert_eq!(got["stream_options"]["include_usage"], true);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("switchyard_tokens_total{kind=\"completion\",model=\"g\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_streamed_image_generation_is_passed_through_whole() {
    let events = vec![
        "event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"AAA\"}\n\n".to_owned(),
        "event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"BBB\"}\n\n".to_owned(),
    ];
    let up = MockUpstream::start(sse(events.clone(), End::Clean)).await;
    let gw = TestGateway::start(&openai_config("g", &up, "")).await;
    let r = post(
        &gw,
        "/v1/images/generations",
        json!({"model": "g", "prompt": "p", "stream": true, "partial_images": 1}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.text().await.unwrap(), events.concat());
    assert_eq!(up.requests().pop().unwrap().json()["partial_images"], 1);
}
