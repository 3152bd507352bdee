//! Provider conformance: the same cases run through every provider adapter, non-stream and
//! stream, against a raw mock upstream answering from `tests/fixtures/{openai,anthropic}/`. The
//! client must read the same answer whichever adapter served it; each adapter must send its
//! upstream the request its API expects.

use serde_json::{Value, json};

use crate::common::{Behavior, End, MockUpstream, TestGateway, http, sse, upstream::Recorded};

/// An adapter under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adapter {
    OpenAi,
    Anthropic,
}

const ADAPTERS: [Adapter; 2] = [Adapter::OpenAi, Adapter::Anthropic];

/// What a client reads, reduced to what must not depend on the adapter.
#[derive(Debug, PartialEq)]
struct Answer {
    text: String,
    /// (id, name, arguments as JSON)
    tool_calls: Vec<(String, String, Value)>,
    finish: String,
    /// (prompt, completion, total)
    usage: (u64, u64, u64),
}

fn fixture(path: &str) -> String {
    let path = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An SSE fixture as a behaviour, one write per event.
pub fn sse_fixture(path: &str) -> Behavior {
    sse(
        fixture(path)
            .split_inclusive("\n\n")
            .map(str::to_owned)
            .collect(),
        End::Clean,
    )
}

/// A JSON fixture as a behaviour.
pub fn json_fixture(path: &str, status: u16) -> Behavior {
    Behavior::Json {
        status,
        body: fixture(path),
        headers: vec![],
    }
}

impl Adapter {
    fn dir(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
        }
    }

    fn config(self, up: &MockUpstream, extra: &str) -> String {
        let (model, base) = match self {
            Self::OpenAi => ("openai/gpt-4o", format!("http://{}/v1", up.addr)),
            Self::Anthropic => (
                "anthropic/claude-sonnet-4-5-20250929",
                format!("http://{}", up.addr),
            ),
        };
        format!(
            "model_list:\n  - model_name: m\n    litellm_params:\n      model: {model}\n      api_base: {base}\n      api_key: sk-deployment-secret\n      timeout: 5\n    model_info: {{ id: dep-m }}\n{extra}"
        )
    }

    fn answer(self, name: &str, stream: bool) -> Behavior {
        if stream {
            sse_fixture(&format!("{}/{name}.sse", self.dir()))
        } else {
            json_fixture(&format!("{}/{name}.json", self.dir()), 200)
        }
    }
}

fn read_json(v: &Value) -> Answer {
    let choice = &v["choices"][0];
    let message = &choice["message"];
    let tool_calls = message["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    assert_eq!(c["type"], "function");
                    let args = c["function"]["arguments"].as_str().unwrap();
                    (
                        c["id"].as_str().unwrap().to_owned(),
                        c["function"]["name"].as_str().unwrap().to_owned(),
                        serde_json::from_str(args).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Answer {
        text: message["content"].as_str().unwrap_or("").to_owned(),
        tool_calls,
        finish: choice["finish_reason"].as_str().unwrap().to_owned(),
        usage: usage(&v["usage"]),
    }
}

fn usage(u: &Value) -> (u64, u64, u64) {
    let n = |k: &str| u[k].as_u64().unwrap();
    (
        n("prompt_tokens"),
        n("completion_tokens"),
        n("total_tokens"),
    )
}

/// Assembles a stream as a client would, checking the chunk protocol on the way: `[DONE]` last,
/// a tool call's id and name on its first delta only, `finish_reason` once, usage chunk last.
fn read_sse(text: &str) -> Answer {
    let data: Vec<&str> = text
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let mut answer = Answer {
        text: String::new(),
        tool_calls: Vec::new(),
        finish: String::new(),
        usage: (0, 0, 0),
    };
    let mut args: Vec<String> = Vec::new();
    for d in &data[..data.len() - 1] {
        let v: Value = serde_json::from_str(d).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk", "{d}");
        assert!(v.get("error").is_none(), "{d}");
        if !v["usage"].is_null() {
            answer.usage = usage(&v["usage"]);
        }
        let Some(choice) = v["choices"].get(0) else {
            continue;
        };
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str() {
            answer.text.push_str(t);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().unwrap() as usize;
            if let Some(id) = call["id"].as_str() {
                assert_eq!(i, answer.tool_calls.len(), "tool calls start in order");
                let name = call["function"]["name"].as_str().unwrap();
                answer
                    .tool_calls
                    .push((id.to_owned(), name.to_owned(), Value::Null));
                args.push(String::new());
            } else {
                assert!(i < args.len(), "a fragment before its call's id: {d}");
                assert!(call["function"].get("name").is_none(), "{d}");
            }
            if let Some(a) = call["function"]["arguments"].as_str() {
                args[i].push_str(a);
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            assert!(answer.finish.is_empty(), "one finish_reason: {text}");
            answer.finish = f.to_owned();
        }
    }
    for (call, a) in answer.tool_calls.iter_mut().zip(args) {
        call.2 = serde_json::from_str(&a).unwrap();
    }
    answer
}

fn text_answer(text: &str, finish: &str, usage: (u64, u64, u64)) -> Answer {
    Answer {
        text: text.into(),
        tool_calls: vec![],
        finish: finish.into(),
        usage,
    }
}

fn weather_answer() -> Answer {
    Answer {
        text: "I'll check the weather in both cities.".into(),
        tool_calls: ["Paris", "Tokyo"]
            .iter()
            .zip([
                "toolu_01A09q90qw90lq917835lq9",
                "toolu_01B8wq8e7r8t7y6u5i4o3p2",
            ])
            .map(|(city, id)| {
                (
                    id.to_owned(),
                    "get_weather".to_owned(),
                    json!({"location": city, "unit": "celsius"}),
                )
            })
            .collect(),
        finish: "tool_calls".into(),
        usage: (410, 120, 530),
    }
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}, "unit": {"type": "string"}}, "required": ["location"]}}}])
}

/// Runs one case through every adapter, non-stream and stream. `request` is the OpenAI body
/// without `model`/`stream`; `check` inspects the body the Anthropic upstream received.
async fn conformance(request: Value, answer: &str, expected: Answer, check: fn(&Value)) {
    for adapter in ADAPTERS {
        for stream in [false, true] {
            let up = MockUpstream::start(adapter.answer(answer, stream)).await;
            let gw = TestGateway::start(&adapter.config(&up, "")).await;
            let mut body = request.clone();
            body["model"] = json!("m");
            if stream {
                body["stream"] = json!(true);
                body["stream_options"] = json!({"include_usage": true});
            }
            let resp = http()
                .post(gw.url("/v1/chat/completions"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{adapter:?} stream={stream}");
            let text = resp.text().await.unwrap();
            let got = if stream {
                read_sse(&text)
            } else {
                read_json(&serde_json::from_str(&text).unwrap())
            };
            assert_eq!(got, expected, "{adapter:?} stream={stream}: {text}");
            let sent = &up.requests()[0];
            match adapter {
                Adapter::OpenAi => {
                    assert_eq!(sent.path, "/v1/chat/completions");
                    assert_eq!(sent.json()["messages"], request["messages"]);
                }
                Adapter::Anthropic => {
                    check_anthropic_request(sent, stream);
                    check(&sent.json());
                }
            }
        }
    }
}

fn check_anthropic_request(sent: &Recorded, stream: bool) {
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-deployment-secret"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert!(sent.header("authorization").is_none());
    let body = sent.json();
    assert_eq!(body["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(body["stream"].as_bool().unwrap_or(false), stream);
    assert!(body.get("stream_options").is_none(), "{body}");
}

#[tokio::test]
async fn plain_text() {
    conformance(
        json!({"messages": [{"role": "user", "content": "Hello"}]}),
        "text",
        text_answer("Hello! How can I help you today?", "stop", (12, 9, 21)),
        |b| {
            assert_eq!(b["messages"], json!([{"role": "user", "content": "Hello"}]));
            assert_eq!(b["max_tokens"], 4096);
            assert!(b.get("system").is_none());
        },
    )
    .await;
}

#[tokio::test]
async fn system_prompt() {
    conformance(
        json!({"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello"}]}),
        "text",
        text_answer("Hello! How can I help you today?", "stop", (12, 9, 21)),
        |b| {
            assert_eq!(b["system"], "You are terse.");
            assert_eq!(b["messages"], json!([{"role": "user", "content": "Hello"}]));
        },
    )
    .await;
}

#[tokio::test]
async fn multi_turn() {
    conformance(
        json!({"messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "How are you?"}]}),
        "text",
        text_answer("Hello! How can I help you today?", "stop", (12, 9, 21)),
        |b| {
            let roles: Vec<&str> = b["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["role"].as_str().unwrap())
                .collect();
            assert_eq!(roles, ["user", "assistant", "user"]);
        },
    )
    .await;
}

#[tokio::test]
async fn parallel_tool_calls() {
    conformance(
        json!({"messages": [{"role": "user", "content": "Weather in Paris and Tokyo?"}],
            "tools": weather_tool(), "tool_choice": "auto"}),
        "tool_calls",
        weather_answer(),
        |b| {
            assert_eq!(b["tools"][0]["name"], "get_weather");
            assert_eq!(
                b["tools"][0]["input_schema"]["required"],
                json!(["location"])
            );
            assert!(b.get("tool_choice").is_none());
        },
    )
    .await;
}

#[tokio::test]
async fn tool_results() {
    conformance(
        json!({"tools": weather_tool(), "messages": [
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_01A", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}},
                {"id": "toolu_01B", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Tokyo\"}"}}]},
            {"role": "tool", "tool_call_id": "toolu_01A", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_01B", "content": "24C"}]}),
        "text",
        text_answer("Hello! How can I help you today?", "stop", (12, 9, 21)),
        |b| {
            assert_eq!(
                b["messages"][1],
                json!({"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "Paris"}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "get_weather", "input": {"location": "Tokyo"}}]})
            );
            assert_eq!(
                b["messages"][2],
                json!({"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18C"},
                    {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "24C"}]})
            );
        },
    )
    .await;
}

#[tokio::test]
async fn stop_sequences() {
    conformance(
        json!({"messages": [{"role": "user", "content": "Count to 5 then say END"}], "stop": ["END"]}),
        "stop_sequence",
        text_answer("Counting: 1, 2, 3", "stop", (15, 8, 23)),
        |b| assert_eq!(b["stop_sequences"], json!(["END"])),
    )
    .await;
}

#[tokio::test]
async fn max_tokens() {
    conformance(
        json!({"messages": [{"role": "user", "content": "Tell me the history of Rome"}], "max_tokens": 5}),
        "max_tokens",
        text_answer("The history of Rome", "length", (14, 5, 19)),
        |b| assert_eq!(b["max_tokens"], 5),
    )
    .await;
}

#[tokio::test]
async fn image_input() {
    conformance(
        json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in these images?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/ant.jpg"}}]}]}),
        "text",
        text_answer("Hello! How can I help you today?", "stop", (12, 9, 21)),
        |b| {
            assert_eq!(
                b["messages"][0]["content"],
                json!([
                    {"type": "text", "text": "What is in these images?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/ant.jpg"}}])
            );
        },
    )
    .await;
}

/// Upstream HTTP errors in each API's own shape, and what the client sees (the same for both).
fn upstream_error(adapter: Adapter, status: u16) -> Behavior {
    match (adapter, status) {
        (Adapter::OpenAi, 400) => {
            openai_error(400, "invalid_request_error", "max_tokens: bad", &[])
        }
        (Adapter::OpenAi, 429) => openai_error(
            429,
            "rate_limit_error",
            "slow down",
            &[("retry-after", "0")],
        ),
        (Adapter::OpenAi, _) => openai_error(503, "api_error", "Overloaded", &[]),
        (Adapter::Anthropic, 400) => json_fixture("anthropic/error_invalid_request.json", 400),
        (Adapter::Anthropic, 429) => Behavior::Json {
            status: 429,
            body: fixture("anthropic/error_rate_limit.json"),
            headers: vec![("retry-after".into(), "0".into())],
        },
        (Adapter::Anthropic, _) => json_fixture("anthropic/error_overloaded.json", 529),
    }
}

fn openai_error(status: u16, kind: &str, message: &str, headers: &[(&str, &str)]) -> Behavior {
    Behavior::Json {
        status,
        body: json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
            .to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[tokio::test]
async fn errors() {
    let retries = "router_settings: { num_retries: 1, retry_after: 0, allowed_fails: 100 }\n";
    for adapter in ADAPTERS {
        for stream in [false, true] {
            // (upstream status, client status, type, attempts made)
            for (status, client, kind, hits) in [
                (400, 400, "invalid_request_error", 1),
                (429, 429, "rate_limit_error", 2),
                (529, 503, "api_error", 2),
            ] {
                let up = MockUpstream::start(upstream_error(adapter, status)).await;
                let gw = TestGateway::start(&adapter.config(&up, retries)).await;
                let resp = http()
                    .post(gw.url("/v1/chat/completions"))
                    .json(&json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "x"}]}))
                    .send()
                    .await
                    .unwrap();
                let what = format!("{adapter:?} stream={stream} upstream {status}");
                assert_eq!(resp.status(), client, "{what}");
                let v: Value = resp.json().await.unwrap();
                assert_eq!(v["error"]["type"], kind, "{what}: {v}");
                assert!(v["error"]["message"].as_str().unwrap().len() > 3, "{what}");
                assert_eq!(up.hits(), hits, "{what}");
            }
        }
    }
}

#[tokio::test]
async fn an_anthropic_error_event_mid_stream_ends_the_stream_with_an_error() {
    let up = MockUpstream::start(sse_fixture("anthropic/error_midstream.sse")).await;
    let gw = TestGateway::start(&Adapter::Anthropic.config(&up, "")).await;
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(
            &json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("\"content\":\"Hello\""), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    let last = text.split("\n\n").filter(|e| !e.is_empty()).last().unwrap();
    let v: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(v["error"]["code"], "overloaded_error");
}

#[tokio::test]
async fn a_cut_anthropic_stream_is_continued_on_another_with_a_prefill() {
    // Deployment a: the text fixture's first two text deltas, then the connection drops.
    let events: Vec<String> = fixture("anthropic/text.sse")
        .split_inclusive("\n\n")
        .take(5) // message_start, block start, ping, "Hello", "! How can I"
        .map(str::to_owned)
        .collect();
    let a = MockUpstream::start(sse(events, End::Cut)).await;
    // Deployment b continues after the prefill.
    let ev = |t: &str, d: Value| format!("event: {t}\ndata: {d}\n\n");
    let continuation = vec![
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_b", "type": "message", "role": "assistant", "content": [], "model": "claude-b", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 20, "output_tokens": 1}}}),
        ),
        ev(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " help you today?"}}),
        ),
        ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        ev(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 5}}),
        ),
        ev("message_stop", json!({"type": "message_stop"})),
    ];
    let b = MockUpstream::start(sse(continuation, End::Clean)).await;
    let config = format!(
        "model_list:
  - model_name: m
    litellm_params: {{ model: anthropic/claude-a, api_base: 'http://{}', api_key: k }}
    model_info: {{ id: dep-a }}
  - model_name: m
    litellm_params: {{ model: anthropic/claude-b, api_base: 'http://{}', api_key: k }}
    model_info: {{ id: dep-b }}
router_settings: {{ router_core: v1 }}
",
        a.addr, b.addr
    );
    let gw = TestGateway::start(&config).await;
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let answer = read_sse(&text);
    assert_eq!(answer.text, "Hello! How can I help you today?");
    assert_eq!(answer.finish, "stop");
    // b was asked to continue the partial answer: a trailing assistant turn (a prefill).
    let sent = b.requests()[0].json();
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hello! How can I"}])
    );
}

#[tokio::test]
async fn metrics_label_the_anthropic_provider() {
    let up = MockUpstream::start(Adapter::Anthropic.answer("text", false)).await;
    let gw = TestGateway::start(&Adapter::Anthropic.config(&up, "")).await;
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let metrics = http()
        .get(gw.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("switchyard_requests_total")
                && l.contains(r#"provider="anthropic""#)
                && l.contains(r#"status="200""#)),
        "{metrics}"
    );
    // Usage translated from Anthropic's counts reaches the token metrics.
    for (kind, n) in [("prompt", 12), ("completion", 9)] {
        let line = format!(r#"switchyard_tokens_total{{kind="{kind}",model="m"}} {n}"#);
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}
