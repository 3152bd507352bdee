//! The server: accept (bounded), serve with TCP_NODELAY, drain on SIGTERM/SIGINT, reload on SIGHUP.

use std::{future::Future, io, path::PathBuf, sync::Arc};

use tokio::net::TcpListener;

mod conn;
mod listen;

use crate::{
    api,
    config::{Config, ConfigError, Env, Warning},
    metrics::Metrics,
    runtime::AppState,
    upstream,
};

/// A configured gateway, ready to serve.
#[derive(Clone)]
pub struct Gateway {
    state: Arc<AppState>,
}

/// What can stop a gateway from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Metric registration failed (a bug).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The TLS client could not be set up.
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
}

// === impl Gateway ===

impl Gateway {
    /// A gateway for `config`. `config_path` is what SIGHUP re-reads (`None`: the embedded default).
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        env: Arc<dyn Env>,
    ) -> Result<Self, StartError> {
        let metrics = Metrics::new()?;
        let client = upstream::client()?;
        let state = AppState::new(config, config_path, env, metrics, client)?;
        Ok(Self {
            state: Arc::new(state),
        })
    }

    /// The axum router (for embedding or in-process tests).
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    /// Re-reads the config; on error the old config stays in force.
    pub fn reload(&self) -> Result<Vec<Warning>, ConfigError> {
        self.state.reload()
    }

    /// Serves on `listener` until `shutdown` resolves, then drains in-flight requests (streams
    /// included) for up to the configured drain timeout. Connections are bounded by
    /// `switchyard_settings.server` (header-read and idle timeouts, `max_connections`).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let config = &self.state.runtime().config;
        let drain = config.drain_timeout;
        let settings = Arc::new(config.server.clone());
        listen::serve(
            listener,
            self.router(),
            settings,
            self.state.metrics.connections(),
            shutdown,
            drain,
        )
        .await
    }
}

/// Runs until SIGTERM or SIGINT; SIGHUP reloads the config.
pub async fn run(gateway: Gateway, listener: TcpListener) -> io::Result<()> {
    let reloader = gateway.clone();
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match reloader.reload() {
                Ok(warnings) => {
                    for w in warnings {
                        tracing::warn!("{w}");
                    }
                    tracing::info!("config reloaded");
                }
                Err(e) => {
                    tracing::error!(error = %e, "config reload rejected; the previous config stays in force")
                }
            }
        }
    });
    gateway.serve(listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
