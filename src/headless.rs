//! `edgedeck engine`: every controller (and optionally the edge API) without
//! a console, as it runs in a cluster. Engine events go to the log.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::connect::{self, ConnectError};
use crate::controllers::{Engine, EngineOptions, LeaseOptions};
use crate::edge_api::{
    self, EdgeApiError, EdgeApiOptions, EdgeLimits, EdgeTls, ServeOptions, Tokens,
};
use crate::telemetry::http::{self as metrics_http, MetricsError};
use crate::telemetry::{DEFAULT_PROGRESS_DEADLINE, Telemetry};

#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub leader_elect: bool,
    pub lease_namespace: Option<String>,
    pub identity: Option<String>,
    /// Lease duration; renewals every third of it (client-go's 15 s / 10 s
    /// deadline / 2 s retry is tighter; a third keeps two retries in a lease).
    pub lease_duration: Option<Duration>,
    pub edge_api: Option<EdgeApiConfig>,
    /// Where to serve `/metrics`, `/healthz` and `/readyz`.
    pub metrics_listen: Option<SocketAddr>,
    /// How long a controller owing work may finish nothing before `/readyz` fails.
    pub progress_deadline: Option<Duration>,
}

/// Where and how to serve the edge API, as given on the command line.
#[derive(Debug, Clone)]
pub struct EdgeApiConfig {
    pub listen: SocketAddr,
    pub tokens: PathBuf,
    /// Certificate chain and key; `None` serves plain http (behind a TLS-terminating proxy).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Per-token rate and watch limits.
    pub limits: EdgeLimits,
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
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error("waiting for a shutdown signal: {0}")]
    Signal(std::io::Error),
}

/// Reads the token file and certificates before anything starts, so a typo
/// fails at once; the token file is reread whenever it changes after that.
fn edge_api_options(config: &EdgeApiConfig) -> Result<EdgeApiOptions, HeadlessError> {
    let tokens =
        Tokens::watch_file(&config.tokens).map_err(|e| HeadlessError::Tokens(e.to_string()))?;
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
        serve: ServeOptions {
            tokens,
            tls,
            limits: config.limits,
            telemetry: None,
        },
    })
}

/// Runs until SIGINT or SIGTERM, then shuts the engine down cleanly
/// (releasing the lease, when it holds one).
pub async fn run(options: HeadlessOptions) -> Result<(), HeadlessError> {
    let telemetry = Arc::new(Telemetry::new(
        options
            .progress_deadline
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE),
    ));
    let mut edge = options
        .edge_api
        .as_ref()
        .map(edge_api_options)
        .transpose()?;
    if let Some(edge) = edge.as_mut() {
        edge.serve.telemetry = Some(telemetry.clone());
    }
    let metrics_listener = match options.metrics_listen {
        Some(addr) => Some(metrics_http::bind(addr).await?),
        None => None,
    };
    let client = connect::client(options.kubeconfig.as_deref(), options.context.as_deref()).await?;
    let stop_edge = CancellationToken::new();
    let mut edge_task = edge.map(|opts| {
        tracing::info!(listen = %opts.listen, "edge API serving");
        tokio::spawn(edge_api::serve(client.clone(), opts, stop_edge.clone()))
    });
    let stop_metrics = CancellationToken::new();
    let metrics_task = metrics_listener.map(|listener| {
        let (telemetry, stop) = (telemetry.clone(), stop_metrics.clone());
        tokio::spawn(async move {
            if let Err(e) = metrics_http::serve(listener, telemetry, stop).await {
                tracing::error!(error = %e, "metrics listener stopped");
            }
        })
    });
    let mut lease = LeaseOptions::default();
    if let Some(ns) = options.lease_namespace {
        lease.namespace = ns;
    }
    if let Some(identity) = options.identity {
        lease.identity = identity;
    }
    if let Some(duration) = options.lease_duration {
        lease.duration = duration;
        lease.renew_every = duration / 3;
    }
    // Subscribed from the start: a lease failure is reported once only.
    let (engine, mut events) = Engine::spawn_subscribed(
        client,
        EngineOptions {
            leader_elect: options.leader_elect,
            lease,
            telemetry,
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
    // Last, so probes and scrapes see the shutdown through.
    stop_metrics.cancel();
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
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
