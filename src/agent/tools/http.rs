//! HTTP tool hosts: `GET {base}/tools` lists `{"tools": [{"name", "description", "parameters"}]}`;
//! `POST {base}/invoke` takes `{"name", "arguments"}` and answers `{"ok": true, "result": ...}` or
//! `{"ok": false, "error": "..."}`. Tools are offered as `<host>__<tool>`; the caller's
//! `Authorization` is passed when the host is configured for it; 429 is retried a few times.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::{Method, Request, header};
use http_body_util::Full;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CallContext, Tool, ToolOutput, ToolSpec};
use crate::{
    config::HttpToolSettings,
    retry::Backoff,
    upstream::{self, HttpClient},
};

const RETRIES_ON_429: u32 = 3;
const MAX_ANSWER: usize = 4 << 20;

/// One tool of a host.
pub struct HttpTool {
    spec: ToolSpec,
    remote: String,
    host: Arc<Host>,
}

struct Host {
    settings: HttpToolSettings,
    client: HttpClient,
}

#[derive(Deserialize)]
struct Listing {
    tools: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "empty_schema")]
    parameters: Value,
}

fn empty_schema() -> Value {
    json!({"type": "object", "properties": {}})
}

/// Lists a host's tools.
pub async fn discover(
    settings: &HttpToolSettings,
    client: &HttpClient,
) -> Result<Vec<Arc<dyn Tool>>, String> {
    let uri = format!("{}/tools", settings.base_url);
    let request = Request::builder()
        .method(Method::GET)
        .uri(&uri)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .map_err(|_| format!("{uri}: no answer within 10 s"))?
        .map_err(|e| format!("{uri}: {}", upstream::describe(&e)))?;
    if !response.status().is_success() {
        return Err(format!("{uri}: {}", response.status()));
    }
    let body = upstream::collect(response.into_body(), MAX_ANSWER).await?;
    let listing: Listing = serde_json::from_slice(&body).map_err(|e| format!("{uri}: {e}"))?;
    let host = Arc::new(Host {
        settings: settings.clone(),
        client: client.clone(),
    });
    Ok(listing
        .tools
        .into_iter()
        .map(|t| {
            let spec = ToolSpec {
                name: format!("{}__{}", settings.name, t.name),
                description: t.description,
                parameters: t.parameters,
            };
            Arc::new(HttpTool {
                spec,
                remote: t.name,
                host: host.clone(),
            }) as Arc<dyn Tool>
        })
        .collect())
}

impl Tool for HttpTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, arguments: Value, context: &CallContext) -> BoxFuture<'static, ToolOutput> {
        let host = self.host.clone();
        let body = Bytes::from(json!({"name": self.remote, "arguments": arguments}).to_string());
        let authorization = context
            .authorization
            .clone()
            .filter(|_| host.settings.forward_authorization);
        Box::pin(async move {
            let backoff = Backoff {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(5),
                min: Duration::ZERO,
            };
            let uri = format!("{}/invoke", host.settings.base_url);
            for attempt in 0..=RETRIES_ON_429 {
                let mut builder = Request::builder()
                    .method(Method::POST)
                    .uri(&uri)
                    .header(header::CONTENT_TYPE, "application/json");
                if let Some(auth) = &authorization {
                    builder = builder.header(header::AUTHORIZATION, auth.clone());
                }
                let Ok(request) = builder.body(Full::new(body.clone())) else {
                    return ToolOutput::error("could not build the request");
                };
                let response = match tokio::time::timeout(
                    Duration::from_secs(60),
                    host.client.request(request),
                )
                .await
                {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => {
                        return ToolOutput::error(format!(
                            "tool host unreachable: {}",
                            upstream::describe(&e)
                        ));
                    }
                    Err(_) => return ToolOutput::error("the tool host did not answer within 60 s"),
                };
                let status = response.status();
                if status.as_u16() == 429 && attempt < RETRIES_ON_429 {
                    let wait = backoff.delay(attempt, upstream::retry_after(response.headers()));
                    tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
                    continue;
                }
                let answer = upstream::collect(response.into_body(), MAX_ANSWER)
                    .await
                    .unwrap_or_default();
                let parsed: Option<Value> = serde_json::from_slice(&answer).ok();
                let ok = status.is_success()
                    && parsed
                        .as_ref()
                        .and_then(|v| v.get("ok"))
                        .and_then(Value::as_bool)
                        == Some(true);
                let content = match parsed {
                    Some(v) => v.to_string(),
                    None => {
                        json!({"ok": false, "error": format!("the tool host answered {status}")})
                            .to_string()
                    }
                };
                return ToolOutput { content, ok };
            }
            ToolOutput::error("the tool host kept answering 429")
        })
    }
}
