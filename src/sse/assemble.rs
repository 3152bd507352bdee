//! Rebuilds a complete `chat.completion` from the chunks of a stream, so a streamed answer can be
//! cached and served again as JSON or SSE.

use serde_json::{Map, Value, json};

/// Accumulates the chunks of one stream.
#[derive(Debug, Default)]
pub(super) struct Assembler {
    id: Option<Value>,
    model: Option<Value>,
    created: Option<Value>,
    fingerprint: Option<Value>,
    choices: Vec<Choice>,
    usage: Option<Value>,
}

#[derive(Debug, Default)]
struct Choice {
    content: Option<String>,
    tool_calls: Vec<ToolCall>,
    finish_reason: Option<Value>,
}

#[derive(Debug, Default)]
struct ToolCall {
    id: Option<Value>,
    name: String,
    arguments: String,
}

impl Assembler {
    /// Takes one chunk's JSON.
    pub(super) fn feed(&mut self, data: &[u8]) {
        let Ok(Value::Object(chunk)) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        for (slot, key) in [
            (&mut self.id, "id"),
            (&mut self.model, "model"),
            (&mut self.created, "created"),
        ] {
            if slot.is_none() {
                *slot = chunk.get(key).cloned();
            }
        }
        if let Some(f) = chunk.get("system_fingerprint").filter(|f| !f.is_null()) {
            self.fingerprint = Some(f.clone());
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(u.clone());
        }
        for c in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if index >= 64 {
                continue;
            }
            if self.choices.len() <= index {
                self.choices.resize_with(index + 1, Choice::default);
            }
            let choice = &mut self.choices[index];
            if let Some(f) = c.get("finish_reason").filter(|f| !f.is_null()) {
                choice.finish_reason = Some(f.clone());
            }
            let Some(delta) = c.get("delta") else {
                continue;
            };
            if let Some(text) = delta.get("content").and_then(Value::as_str) {
                choice
                    .content
                    .get_or_insert_with(String::new)
                    .push_str(text);
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let i = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                if i >= 128 {
                    continue;
                }
                if choice.tool_calls.len() <= i {
                    choice.tool_calls.resize_with(i + 1, ToolCall::default);
                }
                let t = &mut choice.tool_calls[i];
                if let Some(id) = call.get("id").filter(|v| !v.is_null()) {
                    t.id = Some(id.clone());
                }
                if let Some(f) = call.get("function") {
                    if let Some(n) = f.get("name").and_then(Value::as_str) {
                        t.name.push_str(n);
                    }
                    if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                        t.arguments.push_str(a);
                    }
                }
            }
        }
    }

    /// The usage of the answer, when the stream reported one.
    pub(super) fn set_usage(&mut self, usage: Option<crate::openai::Usage>) {
        if let Some(u) = usage {
            self.usage = serde_json::to_value(u).ok();
        }
    }

    /// The complete answer.
    pub(super) fn finish(self) -> bytes::Bytes {
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .enumerate()
            .map(|(index, c)| {
                let mut message = Map::new();
                message.insert("role".into(), "assistant".into());
                message.insert("content".into(), c.content.map_or(Value::Null, Value::String));
                if !c.tool_calls.is_empty() {
                    let calls: Vec<Value> = c
                        .tool_calls
                        .into_iter()
                        .map(|t| json!({"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}))
                        .collect();
                    message.insert("tool_calls".into(), Value::Array(calls));
                }
                json!({"index": index, "message": message, "logprobs": null, "finish_reason": c.finish_reason})
            })
            .collect();
        let mut out = json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": choices,
        });
        if let Some(f) = self.fingerprint {
            out["system_fingerprint"] = f;
        }
        if let Some(u) = self.usage {
            out["usage"] = u;
        }
        bytes::Bytes::from(out.to_string())
    }
}

/// The SSE replay of a complete `chat.completion`: a role chunk, the content, each tool call,
/// the finish chunk, the usage chunk when asked for, and `[DONE]`.
pub fn replay(completion: &[u8], include_usage: bool) -> Option<bytes::Bytes> {
    let Value::Object(c) = serde_json::from_slice::<Value>(completion).ok()? else {
        return None;
    };
    let head = |choices: Value| {
        let mut chunk = json!({"id": c.get("id"), "object": "chat.completion.chunk", "created": c.get("created"),
            "model": c.get("model"), "choices": choices});
        if let Some(f) = c.get("system_fingerprint") {
            chunk["system_fingerprint"] = f.clone();
        }
        format!("data: {chunk}\n\n")
    };
    let mut out = String::new();
    for choice in c.get("choices")?.as_array()? {
        let index = choice.get("index").cloned().unwrap_or(json!(0));
        let message = choice.get("message")?;
        out.push_str(&head(json!([{"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])));
        // Word by word, so a replayed answer streams like the original did.
        let text = message.get("content").and_then(Value::as_str).unwrap_or("");
        for piece in text.split_inclusive(' ') {
            let choices =
                json!([{"index": index, "delta": {"content": piece}, "finish_reason": null}]);
            out.push_str(&head(choices));
        }
        for (i, call) in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let delta = json!({"tool_calls": [{"index": i, "id": call.get("id"), "type": "function", "function": call.get("function")}]});
            out.push_str(&head(
                json!([{"index": index, "delta": delta, "finish_reason": null}]),
            ));
        }
        let finish = choice
            .get("finish_reason")
            .cloned()
            .unwrap_or(json!("stop"));
        out.push_str(&head(
            json!([{"index": index, "delta": {}, "finish_reason": finish}]),
        ));
    }
    if include_usage {
        if let Some(usage) = c.get("usage") {
            let mut chunk: Value =
                serde_json::from_str(head(json!([])).trim_start_matches("data: ").trim_end())
                    .ok()?;
            chunk["usage"] = usage.clone();
            out.push_str(&format!("data: {chunk}\n\n"));
        }
    }
    out.push_str("data: [DONE]\n\n");
    Some(bytes::Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_text_tool_calls_and_usage_and_replays_them() {
        let mut a = Assembler::default();
        for chunk in [
            r#"{"id":"c1","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"lo","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"ci"}}]}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}}]}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        ] {
            a.feed(chunk.as_bytes());
        }
        let done = a.finish();
        let v: Value = serde_json::from_slice(&done).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["model"], "m");
        assert_eq!(v["choices"][0]["message"]["content"], "Hello");
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "call_1");
        assert_eq!(call["function"]["name"], "get_weather");
        assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(v["usage"]["total_tokens"], 7);

        let sse = String::from_utf8(replay(&done, true).unwrap().to_vec()).unwrap();
        let mut again = Assembler::default();
        for event in sse
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
        {
            again.feed(event.as_bytes());
        }
        assert_eq!(
            serde_json::from_slice::<Value>(&again.finish()).unwrap(),
            v,
            "replay round-trips"
        );
        assert!(sse.ends_with("data: [DONE]\n\n"));
        assert!(
            !String::from_utf8(replay(&done, false).unwrap().to_vec())
                .unwrap()
                .contains("usage")
        );
    }
}
