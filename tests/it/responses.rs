//! `/v1/responses`: translated (chat upstream) and native (Responses upstream) deployments, the
//! event stream, broken streams, stored conversations and affinity.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{
    Behavior, End, MockUpstream, TestGateway, http, openai_config, sse,
    upstream::{chunks, completion, ok_json},
};

const FIXTURE_JSON: &str = include_str!("../fixtures/responses/text.json");
const FIXTURE_SSE: &str = include_str!("../fixtures/responses/text.sse");

/// A group `name` whose one deployment declares the Responses API.
fn native_config(name: &str, up: &MockUpstream, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: {name}\n    litellm_params:\n      model: openai/upstream-{name}\n      api_base: http://{}/v1\n      api_key: sk-deployment-secret\n      timeout: 5\n    model_info: {{ id: dep-{name}, supported_endpoints: [/v1/responses] }}\n{extra}",
        up.addr
    )
}

async fn post(gw: &TestGateway, body: Value) -> (u16, String) {
    let resp = http()
        .post(gw.url("/v1/responses"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// `(type, data)` of each SSE event.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|e| {
            let data = e.lines().find_map(|l| l.strip_prefix("data: "))?;
            let v: Value = serde_json::from_str(data).ok()?;
            Some((v["type"].as_str()?.to_owned(), v))
        })
        .collect()
}

fn fixture_events() -> Vec<String> {
    FIXTURE_SSE
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| format!("{e}\n\n"))
        .collect()
}

#[tokio::test]
async fn translated_request_and_answer() {
    let up = MockUpstream::start(ok_json(completion("upstream-gpt", "Hi there"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let (status, body) = post(
        &gw,
        json!({"model": "gpt", "instructions": "Be terse.", "max_output_tokens": 50,
            "temperature": 0.2, "top_p": 0.9, "user": "u1", "metadata": {"k": "v"},
            "reasoning": {"effort": "low"}, "parallel_tool_calls": false,
            "text": {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": true}},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "f"},
            "input": [{"role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "https://example.com/a.png"}]}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sent = up.requests()[0].json();
    assert_eq!(up.requests()[0].path, "/v1/chat/completions");
    assert_eq!(sent["model"], "upstream-gpt");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be terse."})
    );
    assert_eq!(
        sent["messages"][1]["content"],
        json!([{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}])
    );
    assert_eq!(sent["max_tokens"], 50);
    assert_eq!(
        (sent["temperature"].clone(), sent["top_p"].clone()),
        (json!(0.2), json!(0.9))
    );
    assert_eq!(sent["user"], "u1");
    assert_eq!(sent["reasoning_effort"], "low");
    assert_eq!(sent["parallel_tool_calls"], false);
    assert_eq!(sent["tools"][0]["function"]["name"], "f");
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "function", "function": {"name": "f"}})
    );
    assert_eq!(sent["response_format"]["json_schema"]["schema"], schema);
    assert!(sent.get("metadata").is_none() && sent.get("input").is_none());
    let r: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["output"][0]["content"][0]["text"], "Hi there");
    assert_eq!(r["metadata"], json!({"k": "v"}));
    assert_eq!(r["usage"]["input_tokens"], 7);
    assert_eq!(r["usage"]["output_tokens"], 3);
    assert_eq!(r["usage"]["total_tokens"], 10);
}

#[tokio::test]
async fn a_length_stop_is_incomplete() {
    let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "cut"}, "finish_reason": "length"}]});
    let up = MockUpstream::start(ok_json(body.to_string())).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (_, text) = post(&gw, json!({"model": "gpt", "input": "x"})).await;
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
}

#[tokio::test]
async fn built_in_tools_are_refused_by_name_on_translated_deployments() {
    let up = MockUpstream::start(ok_json(completion("m", "x"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (status, body) = post(
        &gw,
        json!({"model": "gpt", "input": "x", "tools": [{"type": "file_search"}, {"type": "computer_use_preview"}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("file_search") && body.contains("computer_use_preview"),
        "{body}"
    );
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn native_json_passes_through_with_only_the_model_rewritten() {
    let up = MockUpstream::start(ok_json(FIXTURE_JSON.into())).await;
    let gw = TestGateway::start(&native_config("gpt", &up, "")).await;
    let sent = r#"{"model":"gpt","input":"hi","include":["reasoning.encrypted_content"],"tools":[{"type":"web_search_preview"}],"x_vendor":{"a":1}}"#;
    let resp = http()
        .post(gw.url("/v1/responses"))
        .header("content-type", "application/json")
        .body(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), FIXTURE_JSON);
    let got = &up.requests()[0];
    assert_eq!(got.path, "/v1/responses");
    assert_eq!(
        std::str::from_utf8(&got.body).unwrap(),
        sent.replace(r#""model":"gpt""#, r#""model":"upstream-gpt""#)
    );
    // Stored: GET answers it under the upstream's id.
    let got = http()
        .get(gw.url("/v1/responses/resp_native_fixture"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.text().await.unwrap(), FIXTURE_JSON);
    // Usage read from the Response object, in the Responses API's names.
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"switchyard_tokens_total{kind="prompt",model="gpt"} 36"#),
        "{m}"
    );
    assert!(
        m.contains(r#"switchyard_tokens_total{kind="completion",model="gpt"} 4"#),
        "{m}"
    );
    assert!(
        m.contains(r#"switchyard_endpoint_requests_total{endpoint="responses",status="200"} 1"#),
        "{m}"
    );
}

#[tokio::test]
async fn native_stream_passes_through_event_by_event() {
    let up = MockUpstream::start(sse(fixture_events(), End::Clean)).await;
    let gw = TestGateway::start(&native_config("gpt", &up, "")).await;
    let (status, text) = post(&gw, json!({"model": "gpt", "input": "hi", "stream": true})).await;
    assert_eq!(status, 200);
    assert_eq!(text, FIXTURE_SSE);
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"switchyard_tokens_total{kind="completion",model="gpt"} 4"#),
        "{m}"
    );
}

async fn assert_failed_stream(up_events: Vec<String>, end: End, native: bool, expect: &str) {
    let up = MockUpstream::start(sse(up_events, end)).await;
    let extra = "switchyard_settings:\n  router: { stream_idle_timeout_seconds: 1, midstream_rescue: false }\n";
    let cfg = if native {
        native_config("gpt", &up, extra)
    } else {
        openai_config("gpt", &up, extra)
    };
    let gw = TestGateway::start(&cfg).await;
    let (status, text) = post(&gw, json!({"model": "gpt", "input": "hi", "stream": true})).await;
    assert_eq!(status, 200);
    let evs = events(&text);
    let types: Vec<&str> = evs.iter().map(|(t, _)| t.as_str()).collect();
    assert!(types.contains(&"response.output_text.delta"), "{text}");
    assert!(!types.contains(&"response.completed"), "{text}");
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{text}");
    assert_eq!(data["code"], expect, "{text}");
    // The error event continues the sequence.
    let seqs: Vec<u64> = evs
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "{text}");
}

#[tokio::test]
async fn cut_stalled_and_garbled_translated_streams_end_with_an_error_event() {
    let partial: Vec<String> = chunks("m", &["Hello", " there"])[..3].to_vec();
    assert_failed_stream(
        partial.clone(),
        End::Cut,
        false,
        "upstream_invalid_response",
    )
    .await;
    assert_failed_stream(
        partial.clone(),
        End::Hang,
        false,
        "upstream_invalid_response",
    )
    .await;
    let mut garbled = partial;
    garbled.push("data: {\"choices\": [ this is not json\n\n".into());
    garbled.push("garbage without a data field\n\n".into());
    assert_failed_stream(garbled, End::Cut, false, "upstream_invalid_response").await;
}

#[tokio::test]
async fn cut_stalled_and_garbled_native_streams_end_with_an_error_event() {
    let partial: Vec<String> = fixture_events()[..6].to_vec();
    assert_failed_stream(partial.clone(), End::Cut, true, "upstream_stream_cut").await;
    assert_failed_stream(partial.clone(), End::Hang, true, "upstream_stream_idle").await;
    let mut garbled = partial.clone();
    garbled.push("event: response.output_text.delta\ndata: {not json\n\n".into());
    assert_failed_stream(garbled, End::Cut, true, "upstream_stream_cut").await;
    // Ended cleanly, but without its terminal event.
    assert_failed_stream(partial, End::Clean, true, "upstream_stream_incomplete").await;
}

#[tokio::test]
async fn streamed_tool_call_fragments_without_ids_arrive_whole_and_in_order() {
    let chunk = |delta: Value, finish: Option<&str>| {
        let c = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let events_up = vec![
        chunk(json!({"role": "assistant", "content": "Checking."}), None),
        // Two calls; only the first fragment of each carries an id; the name of the second
        // comes in a fragment of its own; fragments interleave.
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"ci"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"arguments": "{\"q\":"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "ty\":\"Paris\"}"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "function": {"name": "search"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "function": {"arguments": "\"news\"}"}}]}),
            None,
        ),
        chunk(json!({}), Some("tool_calls")),
        "data: [DONE]\n\n".into(),
    ];
    let up = MockUpstream::start(sse(events_up, End::Clean)).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (_, text) = post(&gw, json!({"model": "gpt", "input": "hi", "stream": true,
        "tools": [{"type": "function", "name": "weather"}, {"type": "function", "name": "search"}]})).await;
    let evs = events(&text);
    let (last, done) = evs.last().unwrap();
    assert_eq!(last, "response.completed", "{text}");
    let output = &done["response"]["output"];
    assert_eq!(output[0]["content"][0]["text"], "Checking.");
    assert_eq!(
        (
            output[1]["call_id"].as_str(),
            output[1]["name"].as_str(),
            output[1]["arguments"].as_str()
        ),
        (Some("call_a"), Some("weather"), Some(r#"{"city":"Paris"}"#))
    );
    assert_eq!(
        (
            output[2]["call_id"].as_str(),
            output[2]["name"].as_str(),
            output[2]["arguments"].as_str()
        ),
        (Some("call_b"), Some("search"), Some(r#"{"q":"news"}"#))
    );
    // Per item, the deltas concatenate to the final arguments.
    for i in [1, 2] {
        let deltas: String = evs
            .iter()
            .filter(|(t, d)| {
                t == "response.function_call_arguments.delta" && d["output_index"] == i
            })
            .map(|(_, d)| d["delta"].as_str().unwrap())
            .collect();
        assert_eq!(deltas, output[i]["arguments"].as_str().unwrap());
    }
}

#[tokio::test]
async fn translated_stream_forwards_each_delta_as_it_arrives() {
    let up = MockUpstream::start(Behavior::Sse {
        events: {
            let mut e = chunks("m", &["one", " two"]);
            e.push("data: [DONE]\n\n".into());
            e
        },
        delay: Duration::from_millis(300),
        end: End::Clean,
    })
    .await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let mut resp = http()
        .post(gw.url("/v1/responses"))
        .json(&json!({"model": "gpt", "input": "hi", "stream": true}))
        .send()
        .await
        .unwrap();
    // The first delta is readable while the upstream still holds the rest back.
    let mut seen = String::new();
    while !seen.contains("response.output_text.delta") {
        let chunk = resp.chunk().await.unwrap().expect("stream open");
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(!seen.contains("response.completed"));
    while let Some(chunk) = resp.chunk().await.unwrap() {
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(seen.contains("response.completed"));
}

#[tokio::test]
async fn previous_response_id_resends_the_conversation_to_a_translated_deployment() {
    let up = MockUpstream::start(ok_json(completion("m", "first answer"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (_, first) = post(&gw, json!({"model": "gpt", "input": "first question"})).await;
    let first: Value = serde_json::from_str(&first).unwrap();
    let (status, _) = post(
        &gw,
        json!({"model": "gpt", "input": "second", "previous_response_id": first["id"]}),
    )
    .await;
    assert_eq!(status, 200);
    let sent = up.requests()[1].json();
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "first question"}]},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [{"type": "text", "text": "second"}]}])
    );
    let (status, body) = post(
        &gw,
        json!({"model": "gpt", "input": "x", "previous_response_id": "resp_unknown"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("previous_response_id"));
}

#[tokio::test]
async fn a_native_follow_up_goes_to_its_deployment_else_resends_the_conversation() {
    // Group `gpt`: a native deployment first, a translated one second (v1 core: config order).
    let native = MockUpstream::start(ok_json(FIXTURE_JSON.into())).await;
    let chat = MockUpstream::start(ok_json(completion("m", "from chat"))).await;
    let cfg = format!(
        "model_list:\n  - model_name: gpt\n    litellm_params: {{ model: openai/n, api_base: http://{}/v1, timeout: 5 }}\n    model_info: {{ id: native, supported_endpoints: [/v1/responses] }}\n  - model_name: gpt\n    litellm_params: {{ model: openai/c, api_base: http://{}/v1, timeout: 5 }}\n    model_info: {{ id: chat }}\nrouter_settings: {{ router_core: v1, num_retries: 1, allowed_fails: 0, cooldown_time: 60 }}\n",
        native.addr, chat.addr
    );
    let gw = TestGateway::start(&cfg).await;
    let (_, first) = post(&gw, json!({"model": "gpt", "input": "hello"})).await;
    assert_eq!(
        serde_json::from_str::<Value>(&first).unwrap()["id"],
        "resp_native_fixture"
    );
    let (_, _) = post(
        &gw,
        json!({"model": "gpt", "input": "again", "previous_response_id": "resp_native_fixture"}),
    )
    .await;
    let follow = native.requests()[1].json();
    assert_eq!(follow["previous_response_id"], "resp_native_fixture");
    assert_eq!(follow["input"], "again");
    // The native deployment fails: the follow-up moves on with the whole conversation.
    native.push(crate::common::upstream::error_json(
        500,
        "boom",
        "down",
        &[],
    ));
    let (status, body) = post(
        &gw,
        json!({"model": "gpt", "input": "third", "previous_response_id": "resp_native_fixture"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sent = chat.requests()[0].json();
    let texts: Vec<String> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].to_string())
        .collect();
    // The stored conversation of the last response with that id (the fixture's id repeats).
    let expected = ["hello", "Native hello.", "again", "Native hello.", "third"];
    assert_eq!(texts.len(), expected.len(), "{sent}");
    for (got, want) in texts.iter().zip(expected) {
        assert!(got.contains(want), "{sent}");
    }
}

#[tokio::test]
async fn get_delete_and_input_items() {
    let up = MockUpstream::start(ok_json(completion("m", "answer"))).await;
    let gw = TestGateway::start(&openai_config("gpt", &up, "")).await;
    let (_, r) = post(
        &gw,
        json!({"model": "gpt", "input": [
        {"role": "user", "content": "one"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "two"}]}]}),
    )
    .await;
    let id = serde_json::from_str::<Value>(&r).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let items: Value = http()
        .get(gw.url(&format!("/v1/responses/{id}/input_items?limit=1")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["object"], "list");
    assert_eq!(items["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        items["data"][0]["content"][0]["text"], "two",
        "newest first"
    );
    assert_eq!(items["has_more"], true);
    let del = http()
        .delete(gw.url(&format!("/v1/responses/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let gone = http()
        .get(gw.url(&format!("/v1/responses/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let body: Value = gone.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error");
}
