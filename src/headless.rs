//! `edgedeck engine`: every controller (and optionally the edge API) without
//! a console, as it runs in a cluster. Engine events go to the log.

use std::path::PathBuf;

use thiserror::Error;
use tokio::sync::broadcast::error::RecvError;

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::connect::{self, ConnectError};
use crate::controllers::{Engine, EngineOptions, LeaseOptions};
use crate::edge_api::{self, EdgeApiError, EdgeApiOptions, EdgeTls, TokenMap};

#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub leader_elect: bool,
    pub lease_namespace: Option<String>,
    pub identity: Option<String>,
    pub edge_api: Option<EdgeApiConfig>,
}

/// Where and how to serve the edge API, as given on the command line.
#[derive(Debug, Clone)]
pub struct EdgeApiConfig {
    pub listen: SocketAddr,
    pub tokens: PathBuf,
    /// Certificate chain and key; `None` serves plain http (behind a TLS-terminating proxy).
    pub tls: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("edge API tokens: {0}")]
    Tokens(String),
    #[error("edge API TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    EdgeApi(#[from] EdgeApiError),
    #[error("waiting for a shutdown signal: {0}")]
    Signal(std::io::Error),
}

/// Reads the token file and certificates before anything starts, so a typo fails at once.
fn edge_api_options(config: &EdgeApiConfig) -> Result<EdgeApiOptions, HeadlessError> {
    let tokens =
        TokenMap::load(&config.tokens).map_err(|e| HeadlessError::Tokens(e.to_string()))?;
    let tls = match &config.tls {
        Some((cert, key)) => {
            Some(EdgeTls::load(cert, key).map_err(|e| HeadlessError::Tls(e.to_string()))?)
        }
        None => {
            tracing::warn!(
                "edge API serves plain http: clients will not send tokens unless a proxy terminates TLS"
            );
            None
        }
    };
    Ok(EdgeApiOptions {
        listen: config.listen,
        tokens,
        tls,
    })
}

/// Runs until SIGINT or SIGTERM, then shuts the engine down cleanly
/// (releasing the lease, when it holds one).
pub async fn run(options: HeadlessOptions) -> Result<(), HeadlessError> {
    let edge = options
        .edge_api
        .as_ref()
        .map(edge_api_options)
        .transpose()?;
    let client = connect::client(options.kubeconfig.as_deref(), options.context.as_deref()).await?;
    let stop_edge = CancellationToken::new();
    let mut edge_task = edge.map(|opts| {
        tracing::info!(listen = %opts.listen, "edge API serving");
        tokio::spawn(edge_api::serve(client.clone(), opts, stop_edge.clone()))
    });
    let mut lease = LeaseOptions::default();
    if let Some(ns) = options.lease_namespace {
        lease.namespace = ns;
    }
    if let Some(identity) = options.identity {
        lease.identity = identity;
    }
    // Subscribed from the start: a lease failure is reported once only.
    let (engine, mut events) = Engine::spawn_subscribed(
        client,
        EngineOptions {
            leader_elect: options.leader_elect,
            lease,
            ..EngineOptions::default()
        },
    );
    let log = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) if event.is_failure() => tracing::warn!("{event}"),
                Ok(event) => tracing::info!("{event}"),
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!("{n} engine events dropped from the log")
                }
                Err(RecvError::Closed) => break,
            }
        }
    });
    let outcome = tokio::select! {
        signal = shutdown_signal() => signal.map_err(HeadlessError::Signal),
        // The edge API only ends by itself when it failed (a port in use, say).
        Some(ended) = async { match edge_task.as_mut() { Some(task) => Some(task.await), None => None } } => {
            edge_task = None;
            match ended {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(HeadlessError::EdgeApi(e)),
                Err(join) => Err(HeadlessError::Tls(format!("edge API task ended: {join}"))),
            }
        }
    };
    tracing::info!("shutting down");
    stop_edge.cancel();
    if let Some(task) = edge_task {
        let _ = task.await;
    }
    engine.shutdown().await;
    log.abort();
    outcome
}

async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}
