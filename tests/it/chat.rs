//! Non-streaming and streaming chat, embeddings and models, through real clients.

use async_openai::types::{
    chat::{
        ChatCompletionRequestUserMessageArgs, ChatCompletionStreamOptions,
        CreateChatCompletionRequestArgs,
    },
    embeddings::CreateEmbeddingRequestArgs,
};
use futures_util::StreamExt;

use crate::common::{
    MockUpstream, TestGateway, http, openai_config,
    upstream::{completion, full_stream, ok_json},
};

const DEFAULT: &str = switchyard::config::DEFAULT_CONFIG;

#[tokio::test]
async fn passthrough_rewrites_only_the_model_and_sends_the_deployment_key() {
    let up = MockUpstream::start(ok_json(completion("upstream-gpt-4o-2024", "hi"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let body = r#"{"model":"gpt","messages":[{"role":"user","content":"hello"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto","x_vendor":{"nested" : [1, 2.50]},"cache":{"no-cache":true},"seed":7}"#;
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .header("authorization", "Bearer client-key-must-not-leak")
        .header("x-request-id", "req-123")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["x-request-id"], "req-123");
    assert_eq!(h["x-switchyard-model-id"], "dep-gpt");
    assert_eq!(h["x-switchyard-attempts"], "1");
    assert!(
        h["x-switchyard-overhead-ms"]
            .to_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            >= 0.0
    );
    // The upstream's answer reaches the client byte for byte.
    assert_eq!(
        resp.text().await.unwrap(),
        completion("upstream-gpt-4o-2024", "hi")
    );

    let got = &up.requests()[0];
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        got.header("authorization"),
        Some("Bearer sk-deployment-secret")
    );
    assert_eq!(got.header("x-request-id"), Some("req-123"));
    let sent = std::str::from_utf8(&got.body).unwrap();
    assert_eq!(
        sent,
        r#"{"model":"upstream-gpt","messages":[{"role":"user","content":"hello"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto","x_vendor":{"nested" : [1, 2.50]},"seed":7}"#
    );
    assert!(!format!("{:?}", got.headers).contains("client-key-must-not-leak"));
}

#[tokio::test]
async fn async_openai_chat_and_stream_on_the_embedded_default_config() {
    let gw = TestGateway::start(DEFAULT).await;
    let client = gw.openai("unused");
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt-4o-mini")
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("ping")
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap();
    let answer = client.chat().create(request.clone()).await.unwrap();
    let text = answer.choices[0].message.content.clone().unwrap();
    assert!(text.ends_with("You said: ping"), "{text}");
    assert!(answer.usage.unwrap().total_tokens > 0);

    let mut streamed = request;
    streamed.stream = Some(true);
    streamed.stream_options = Some(ChatCompletionStreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    let mut stream = client.chat().create_stream(streamed).await.unwrap();
    let (mut joined, mut usage, mut finish) = (String::new(), None, None);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(u) = chunk.usage {
            usage = Some(u);
        }
        for c in chunk.choices {
            joined.push_str(c.delta.content.as_deref().unwrap_or(""));
            finish = finish.or(c.finish_reason);
        }
    }
    assert_eq!(joined, text);
    assert!(finish.is_some());
    assert!(usage.unwrap().completion_tokens > 0);
}

#[tokio::test]
async fn async_openai_stream_through_an_openai_compatible_upstream() {
    let up = MockUpstream::start(full_stream("upstream-gpt", &["Hel", "lo", " world"])).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let request = CreateChatCompletionRequestArgs::default()
        .model("gpt")
        .stream(true)
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("hi")
            .build()
            .unwrap()
            .into()])
        .build()
        .unwrap();
    let mut stream = gw.openai("k").chat().create_stream(request).await.unwrap();
    let mut joined = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.usage.is_none(), "the client did not ask for usage");
        for c in chunk.choices {
            joined.push_str(c.delta.content.as_deref().unwrap_or(""));
        }
    }
    assert_eq!(joined, "Hello world");
    let sent = up.requests()[0].json();
    assert_eq!(
        sent["stream_options"]["include_usage"], true,
        "the gateway asks for usage to count tokens"
    );
    assert_eq!(up.requests()[0].header("accept"), Some("text/event-stream"));
}

#[tokio::test]
async fn embeddings_and_models() {
    let gw = TestGateway::start(DEFAULT).await;
    let client = gw.openai("unused");
    let request = CreateEmbeddingRequestArgs::default()
        .model("text-embedding-3-small")
        .input(vec!["a", "b"])
        .build()
        .unwrap();
    let out = client.embeddings().create(request).await.unwrap();
    assert_eq!(out.data.len(), 2);
    assert_eq!(out.data[0].embedding.len(), 16);
    assert_ne!(out.data[0].embedding, out.data[1].embedding);

    let models = client.models().list().await.unwrap();
    let names: Vec<_> = models.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        names,
        [
            "gpt-4o-mini",
            "gpt-4o",
            "gpt-mock",
            "text-embedding-3-small",
            "gpt-3.5-turbo-instruct",
            "dall-e-3",
            "tts-1",
            "whisper-1",
            "omni-moderation-latest",
            "rerank-english-v3.0"
        ]
    );

    // An embedding-only deployment does not serve chat.
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&crate::common::chat_body("text-embedding-3-small", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn unprefixed_routes_and_embeddings_passthrough() {
    let up = MockUpstream::start(ok_json(r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"e","usage":{"prompt_tokens":1,"total_tokens":1}}"#.into())).await;
    let gw = TestGateway::start(&openai_config("emb", &up, "")).await;
    let resp = http()
        .post(gw.url("/embeddings"))
        .json(&serde_json::json!({"model": "emb", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.requests()[0].path, "/v1/embeddings");
    assert_eq!(up.requests()[0].json()["model"], "upstream-emb");
    let resp = http().get(gw.url("/models")).send().await.unwrap();
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["data"][0]["id"],
        "emb"
    );
}

#[tokio::test]
async fn azure_and_ollama_profiles_build_their_own_urls_and_auth() {
    let up = MockUpstream::start(ok_json(completion("x", "ok"))).await;
    let yaml = format!(
        "model_list:
  - model_name: az
    litellm_params: {{ model: azure/gpt-prod, api_base: 'http://{a}', api_key: az-secret, api_version: '2024-06-01' }}
  - model_name: local
    litellm_params: {{ model: ollama/qwen2.5-coder:3b, api_base: 'http://{a}' }}
",
        a = up.addr
    );
    let gw = TestGateway::start(&yaml).await;
    for model in ["az", "local"] {
        let resp = http()
            .post(gw.url("/v1/chat/completions"))
            .json(&crate::common::chat_body(model, false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{model}");
    }
    let reqs = up.requests();
    assert_eq!(
        reqs[0].path,
        "/openai/deployments/gpt-prod/chat/completions?api-version=2024-06-01"
    );
    assert_eq!(reqs[0].header("api-key"), Some("az-secret"));
    assert_eq!(reqs[0].header("authorization"), None);
    assert_eq!(reqs[1].path, "/v1/chat/completions");
    assert_eq!(reqs[1].json()["model"], "qwen2.5-coder:3b");
    assert_eq!(reqs[1].header("authorization"), None);
}

#[tokio::test]
async fn upstream_connections_are_pooled_and_kept_alive() {
    let up = MockUpstream::start(ok_json(completion("m", "ok"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    for _ in 0..5 {
        let resp = http()
            .post(gw.url("/v1/chat/completions"))
            .json(&crate::common::chat_body("gpt", false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    up.push(crate::common::upstream::full_stream("m", &["a"]));
    let text = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&crate::common::chat_body("gpt", true))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("[DONE]"));
    assert_eq!(
        http()
            .post(gw.url("/v1/chat/completions"))
            .json(&crate::common::chat_body("gpt", false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(up.hits(), 7);
    assert_eq!(
        up.connections(),
        1,
        "sequential requests, a finished stream included, reuse one upstream connection"
    );
}
