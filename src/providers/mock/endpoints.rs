//! The mock's answers to the OpenAI endpoints beyond chat and embeddings: text completions (JSON
//! and SSE), image generations, speech (a WAV of silence), transcriptions, moderations and
//! rerank. Simple and deterministic: the same request gets the same answer.

use bytes::Bytes;
use http::HeaderValue;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Mock, estimate_tokens, now_secs, paced};
use crate::proxy::{ProxyRequest, Reply};

/// A 1x1 transparent PNG, the mock's every image.
const PIXEL_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// The moderation categories OpenAI reports, all unflagged.
const CATEGORIES: &[&str] = &[
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// A string or a list of strings (`prompt`, `input`).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<Value>),
}

fn texts(request: &ProxyRequest, field: &str) -> Vec<String> {
    match request.body.field::<OneOrMany>(field) {
        Ok(Some(OneOrMany::One(s))) => vec![s],
        Ok(Some(OneOrMany::Many(v))) => v
            .into_iter()
            .map(|x| match x {
                Value::String(s) => s,
                Value::Object(o) => o
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                other => other.to_string(),
            })
            .collect(),
        _ => vec![String::new()],
    }
}

fn string_field(request: &ProxyRequest, field: &str) -> Option<String> {
    request.body.field::<String>(field).ok().flatten()
}

fn json(body: &Value) -> Reply {
    Reply::Json(Bytes::from(body.to_string()))
}

/// `/v1/completions`: the echo (or `mock_response`) as a `text_completion`, streamed when asked.
pub(super) fn completion(mock: &Mock, request: &ProxyRequest) -> Reply {
    let prompt = texts(request, "prompt").join(" ");
    let full = match &mock.params.response {
        Some(text) => text.clone(),
        None => {
            let said: String = prompt.chars().take(200).collect();
            format!("This is a mock completion from switchyard. You said: {said}")
        }
    };
    let limit = request.body.field::<u64>("max_tokens").ok().flatten();
    let mut words: Vec<&str> = full.split_inclusive(' ').collect();
    let mut finish = "stop";
    if let Some(limit) = limit.filter(|l| (*l as usize) < words.len()) {
        words.truncate(limit as usize);
        finish = "length";
    }
    let prompt_tokens = estimate_tokens(&prompt).max(1);
    let completion_tokens = words.len() as u64;
    let usage = json!({"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens});
    let id = format!("cmpl-{}", request.id.as_str());
    let created = now_secs();
    let model = &*mock.model;
    if !request.view.stream {
        return json(&json!({
            "id": id, "object": "text_completion", "created": created, "model": model,
            "choices": [{"text": words.concat(), "index": 0, "logprobs": null, "finish_reason": finish}],
            "usage": usage,
        }));
    }
    let chunk = |text: &str, finish: Option<&str>| {
        let c = json!({"id": &id, "object": "text_completion", "created": created, "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]});
        Bytes::from(format!("data: {c}\n\n"))
    };
    let mut events: Vec<Bytes> = words.iter().map(|w| chunk(w, None)).collect();
    events.push(chunk("", Some(finish)));
    // Always sent; the SSE body drops it when the client did not ask for usage.
    let c = json!({"id": &id, "object": "text_completion", "created": created, "model": model,
        "choices": [], "usage": usage});
    events.push(Bytes::from(format!("data: {c}\n\n")));
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    Reply::Sse(paced(events, mock.params.chunk_delay))
}

/// `/v1/images/generations`: `n` copies of a 1x1 PNG, as `b64_json` or a `data:` URL.
pub(super) fn images(request: &ProxyRequest) -> Reply {
    let n = request
        .body
        .field::<u64>("n")
        .ok()
        .flatten()
        .unwrap_or(1)
        .clamp(1, 10);
    let prompt = string_field(request, "prompt").unwrap_or_default();
    let b64 = string_field(request, "response_format").as_deref() == Some("b64_json");
    let data: Vec<Value> = (0..n)
        .map(|_| match b64 {
            true => json!({"b64_json": PIXEL_PNG, "revised_prompt": &prompt}),
            false => json!({"url": format!("data:image/png;base64,{PIXEL_PNG}"), "revised_prompt": &prompt}),
        })
        .collect();
    json(&json!({"created": now_secs(), "data": data}))
}

/// `/v1/audio/speech`: a mono 16-bit 8 kHz WAV of silence, 50 ms per input word (at most 10 s);
/// raw PCM for `response_format: pcm`.
pub(super) fn speech(request: &ProxyRequest) -> Reply {
    const RATE: u32 = 8000;
    let input = string_field(request, "input").unwrap_or_default();
    let words = input.split_whitespace().count().clamp(1, 200) as u32;
    let samples = RATE / 20 * words;
    let pcm = vec![0u8; samples as usize * 2];
    let format = string_field(request, "response_format");
    if format.as_deref() == Some("pcm") {
        return Reply::Other {
            content_type: HeaderValue::from_static("audio/pcm"),
            bytes: Bytes::from(pcm),
        };
    }
    let data_len = pcm.len() as u32;
    let mut wav = Vec::with_capacity(44 + pcm.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.extend_from_slice(&pcm);
    Reply::Other {
        content_type: HeaderValue::from_static("audio/wav"),
        bytes: Bytes::from(wav),
    }
}

/// `/v1/audio/transcriptions`: a sentence naming the file and its size, in the asked format.
pub(super) fn transcription(request: &ProxyRequest) -> Reply {
    let (name, size) = request
        .form
        .as_ref()
        .map(|f| {
            let size = f.part("file").map_or(0, <[u8]>::len);
            (string_field(request, "file").unwrap_or_default(), size)
        })
        .unwrap_or_default();
    let text = format!("This is a mock transcription from switchyard of {name} ({size} bytes).");
    let other = |content_type: &'static str, body: String| Reply::Other {
        content_type: HeaderValue::from_static(content_type),
        bytes: Bytes::from(body),
    };
    match string_field(request, "response_format").as_deref() {
        Some("text") => other("text/plain; charset=utf-8", format!("{text}\n")),
        Some("srt") => other(
            "text/plain; charset=utf-8",
            format!("1\n00:00:00,000 --> 00:00:01,000\n{text}\n\n"),
        ),
        Some("vtt") => other(
            "text/plain; charset=utf-8",
            format!("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{text}\n\n"),
        ),
        Some("verbose_json") => other(
            "application/json",
            json!({"task": "transcribe", "language": "english", "duration": 1.0, "text": text,
                "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": text,
                    "tokens": [], "temperature": 0.0, "avg_logprob": 0.0,
                    "compression_ratio": 1.0, "no_speech_prob": 0.0}]})
            .to_string(),
        ),
        _ => other("application/json", json!({"text": text}).to_string()),
    }
}

/// `/v1/moderations`: one unflagged result per input.
pub(super) fn moderation(mock: &Mock, request: &ProxyRequest) -> Reply {
    let results: Vec<Value> = texts(request, "input")
        .iter()
        .map(|_| {
            let flags: serde_json::Map<String, Value> = CATEGORIES
                .iter()
                .map(|c| ((*c).to_owned(), Value::Bool(false)))
                .collect();
            let scores: serde_json::Map<String, Value> = CATEGORIES
                .iter()
                .map(|c| ((*c).to_owned(), json!(0.0)))
                .collect();
            let applied: serde_json::Map<String, Value> = CATEGORIES
                .iter()
                .map(|c| ((*c).to_owned(), json!(["text"])))
                .collect();
            json!({"flagged": false, "categories": flags, "category_scores": scores,
                "category_applied_input_types": applied})
        })
        .collect();
    json(
        &json!({"id": format!("modr-{}", request.id.as_str()), "model": &*mock.model,
        "results": results}),
    )
}

/// `/v1/rerank`: documents scored by the share of the query's words they contain, best first,
/// `top_n` of them, in Cohere's shape.
pub(super) fn rerank(mock: &Mock, request: &ProxyRequest) -> Reply {
    let query = string_field(request, "query")
        .unwrap_or_default()
        .to_lowercase();
    let words: Vec<&str> = query.split_whitespace().collect();
    let documents = texts(request, "documents");
    let mut scored: Vec<(usize, f64)> = documents
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let d = d.to_lowercase();
            let hits = words.iter().filter(|w| d.contains(**w)).count();
            (i, hits as f64 / words.len().max(1) as f64)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top = request
        .body
        .field::<usize>("top_n")
        .ok()
        .flatten()
        .unwrap_or(scored.len());
    let with_docs = request
        .body
        .field::<bool>("return_documents")
        .ok()
        .flatten()
        .unwrap_or(false);
    let results: Vec<Value> = scored
        .into_iter()
        .take(top)
        .map(|(i, score)| match with_docs {
            true => {
                json!({"index": i, "relevance_score": score, "document": {"text": documents[i]}})
            }
            false => json!({"index": i, "relevance_score": score}),
        })
        .collect();
    let tokens =
        estimate_tokens(&query) + documents.iter().map(|d| estimate_tokens(d)).sum::<u64>();
    json(
        &json!({"id": format!("rerank-{}", request.id.as_str()), "model": &*mock.model,
        "results": results,
        "meta": {"billed_units": {"search_units": 1}, "tokens": {"input_tokens": tokens, "output_tokens": 0}},
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}),
    )
}
