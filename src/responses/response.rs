//! A chat completion as a Response object, for deployments without the Responses API; and the
//! request members every Response echoes.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::wire::{
    CreateRequest, IncompleteDetails, InputDetails, OutputContent, OutputDetails, OutputItem,
    Response, ResponseUsage, new_id,
};
use crate::openai::{
    JsonBody,
    wire::{ChatCompletion, CompletionUsage},
};

/// What a Response repeats of its request.
#[derive(Debug, Clone)]
pub struct Echo {
    /// `resp_...`, chosen before the answer so a stream and the store agree.
    pub id: String,
    /// Unix seconds.
    pub created_at: u64,
    instructions: Option<String>,
    max_output_tokens: Option<u32>,
    parallel_tool_calls: bool,
    previous_response_id: Option<String>,
    reasoning: Value,
    /// Whether the response is kept.
    pub store: bool,
    temperature: Option<f64>,
    text: Value,
    tool_choice: Value,
    tools: Value,
    top_p: Option<f64>,
    user: Option<String>,
    metadata: Map<String, Value>,
}

#[derive(Deserialize)]
struct AgentOnly {
    #[serde(default)]
    agent: Option<Value>,
}

// === impl Echo ===

impl Echo {
    /// The echo of `req` (typed) whose raw body is `raw` (for members echoed as sent).
    pub fn new(req: &CreateRequest, raw: &JsonBody) -> Self {
        let member = |key: &str, default: Value| -> Value {
            raw.field::<Value>(key).ok().flatten().unwrap_or(default)
        };
        Self {
            id: new_id("resp"),
            created_at: now_secs(),
            instructions: req.instructions.clone(),
            max_output_tokens: req.max_output_tokens,
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            previous_response_id: req.previous_response_id.clone(),
            reasoning: member("reasoning", json!({"effort": null, "summary": null})),
            store: req.store.unwrap_or(true),
            temperature: req.temperature,
            text: member("text", json!({"format": {"type": "text"}})),
            tool_choice: member("tool_choice", json!("auto")),
            tools: member("tools", json!([])),
            top_p: req.top_p,
            user: req.user.clone(),
            metadata: req.metadata.clone().unwrap_or_default(),
        }
    }

    /// A Response with this echo, `status` and no output yet.
    pub fn response(&self, model: &str, status: &str) -> Response {
        Response {
            id: self.id.clone(),
            object: "response".into(),
            created_at: self.created_at,
            status: status.into(),
            error: None,
            incomplete_details: None,
            instructions: self.instructions.clone(),
            max_output_tokens: self.max_output_tokens,
            model: model.into(),
            output: Vec::new(),
            parallel_tool_calls: self.parallel_tool_calls,
            previous_response_id: self.previous_response_id.clone(),
            reasoning: self.reasoning.clone(),
            store: self.store,
            temperature: self.temperature,
            text: self.text.clone(),
            tool_choice: self.tool_choice.clone(),
            tools: self.tools.clone(),
            top_p: self.top_p,
            truncation: "disabled".into(),
            usage: None,
            user: self.user.clone(),
            metadata: self.metadata.clone(),
            extra: Map::new(),
        }
    }
}

/// The Response for a chat completion body; `Err` says why the body is not one.
pub fn translate(body: &[u8], echo: &Echo) -> Result<Response, String> {
    let completion: ChatCompletion =
        serde_json::from_slice(body).map_err(|e| format!("not a chat completion ({e})"))?;
    let agent = serde_json::from_slice::<AgentOnly>(body)
        .ok()
        .and_then(|a| a.agent);
    let mut response = echo.response(&completion.model, "completed");
    let mut finish = None;
    if let Some(choice) = completion.choices.into_iter().next() {
        finish = choice.finish_reason;
        let message = choice.message;
        let status = item_status(finish.as_deref());
        if let Some(text) = message.content.filter(|t| !t.is_empty()) {
            response.output.push(OutputItem::Message {
                id: new_id("msg"),
                status: status.into(),
                role: "assistant".into(),
                content: vec![output_text(text)],
            });
        }
        for call in message.tool_calls.unwrap_or_default() {
            response.output.push(OutputItem::FunctionCall {
                id: new_id("fc"),
                call_id: if call.id.is_empty() {
                    new_id("call")
                } else {
                    call.id
                },
                name: call.function.name,
                arguments: call.function.arguments,
                status: "completed".into(),
            });
        }
    }
    finalize(&mut response, finish.as_deref(), completion.usage.as_ref());
    if let Some(agent) = agent {
        response.extra.insert("agent".into(), agent);
    }
    Ok(response)
}

/// An `output_text` part.
pub fn output_text(text: String) -> OutputContent {
    OutputContent::OutputText {
        text,
        annotations: Vec::new(),
        logprobs: Vec::new(),
    }
}

/// The status of an output item whose answer ended with `finish`.
pub fn item_status(finish: Option<&str>) -> &'static str {
    match finish {
        Some("length" | "content_filter") => "incomplete",
        _ => "completed",
    }
}

/// Status, `incomplete_details` and usage from the chat answer's end.
pub fn finalize(response: &mut Response, finish: Option<&str>, usage: Option<&CompletionUsage>) {
    let reason = match finish {
        Some("length") => Some("max_output_tokens"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    };
    response.status = if reason.is_some() {
        "incomplete"
    } else {
        "completed"
    }
    .into();
    response.incomplete_details = reason.map(|r| IncompleteDetails { reason: r.into() });
    response.usage = usage.map(to_usage);
}

/// Chat usage as Responses usage.
pub fn to_usage(u: &CompletionUsage) -> ResponseUsage {
    let cached = u
        .prompt_tokens_details
        .map(|d| d.cached_tokens)
        .or(u.cache_read_input_tokens)
        .unwrap_or(0);
    ResponseUsage {
        input_tokens: u.prompt_tokens,
        input_tokens_details: InputDetails {
            cached_tokens: cached,
        },
        output_tokens: u.completion_tokens,
        output_tokens_details: OutputDetails::default(),
        total_tokens: if u.total_tokens > 0 {
            u.total_tokens
        } else {
            u.prompt_tokens + u.completion_tokens
        },
    }
}

/// Now, in Unix seconds.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
