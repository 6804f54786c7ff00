//! `edgedeck engine`: every controller (and optionally the edge API) without
//! a console, as it runs in a cluster. Engine events go to the log.

use std::path::PathBuf;

use thiserror::Error;
use tokio::sync::broadcast::error::RecvError;

use crate::connect::{self, ConnectError};
use crate::controllers::{Engine, EngineOptions, LeaseOptions};

#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub leader_elect: bool,
    pub lease_namespace: Option<String>,
    pub identity: Option<String>,
}

#[derive(Debug, Error)]
pub enum HeadlessError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("waiting for a shutdown signal: {0}")]
    Signal(std::io::Error),
}

/// Runs until SIGINT or SIGTERM, then shuts the engine down cleanly
/// (releasing the lease, when it holds one).
pub async fn run(options: HeadlessOptions) -> Result<(), HeadlessError> {
    let client = connect::client(options.kubeconfig.as_deref(), options.context.as_deref()).await?;
    let mut lease = LeaseOptions::default();
    if let Some(ns) = options.lease_namespace {
        lease.namespace = ns;
    }
    if let Some(identity) = options.identity {
        lease.identity = identity;
    }
    let engine = Engine::spawn(
        client,
        EngineOptions {
            leader_elect: options.leader_elect,
            lease,
            ..EngineOptions::default()
        },
    );
    let mut events = engine.subscribe();
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
    let signal = shutdown_signal().await;
    tracing::info!("shutting down");
    engine.shutdown().await;
    log.abort();
    signal.map_err(HeadlessError::Signal)
}

async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}
