//! Test harness: a real gateway on 127.0.0.1:0 and raw-TCP mock upstreams that record what they
//! receive and misbehave on demand.

pub mod upstream;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, sync::Once};

use switchyard::{Gateway, config};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use upstream::{Behavior, End, MockUpstream, sse};

/// A gateway serving on a loopback port until dropped.
pub struct TestGateway {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestGateway {
    /// Starts a gateway with `yaml` (env references resolved from `env`).
    pub async fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Self {
        init();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (config, _warnings) =
            config::parse(yaml, "test.yaml", &env).expect("test config is valid");
        let gateway = Gateway::new(config, None, Arc::new(env)).expect("gateway starts");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            gateway
                .serve(listener, async move {
                    let _ = rx.await;
                })
                .await
        });
        Self {
            addr,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Starts a gateway with `yaml`.
    pub async fn start(yaml: &str) -> Self {
        Self::start_with_env(yaml, &[]).await
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Asks the server to stop and waits for it (draining in-flight requests).
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap().await.unwrap()
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        http()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// An async-openai client pointed at this gateway.
    pub fn openai(&self, key: &str) -> async_openai::Client<async_openai::config::OpenAIConfig> {
        let cfg = async_openai::config::OpenAIConfig::new()
            .with_api_base(self.url("/v1"))
            .with_api_key(key);
        async_openai::Client::with_config(cfg)
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            h.abort();
        }
    }
}

/// Waits until a gateway process at `base` (`http://127.0.0.1:port`) answers
/// `/health/liveliness` with 200, asking every 25 ms at most `tries` times (another process's
/// start sends no signal); whether it did.
pub async fn wait_live(base: &str, tries: u32) -> bool {
    let url = format!("{base}/health/liveliness");
    for _ in 0..tries {
        if http()
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    false
}

/// A plain HTTP client (reqwest) for raw requests.
pub fn http() -> reqwest::Client {
    init();
    // A bound on every call: a regression that hangs fails the test instead of stalling CI.
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// One model group `name` served by `upstream` through the OpenAI-compatible adapter.
pub fn openai_config(name: &str, upstream: &MockUpstream, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: {name}\n    litellm_params:\n      model: openai/upstream-{name}\n      api_base: http://{}/v1\n      api_key: sk-deployment-secret\n      timeout: 5\n    model_info: {{ id: dep-{name} }}\n{extra}",
        upstream.addr
    )
}

/// The minimal chat body.
pub fn chat_body(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hello"}]})
}

fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
