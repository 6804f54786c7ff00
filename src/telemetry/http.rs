//! The `--metrics-listen` listener: `/metrics`, `/healthz`, `/readyz`.
//!
//! Plain http with no authentication, like kube-controller-manager's
//! metrics port used to be: nothing here is secret, and it is meant for
//! the kubelet's probes and a scraper inside the cluster network.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{Readiness, Telemetry};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen on {addr} for metrics: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("metrics server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Binds `addr` now, so a taken port fails before anything else starts.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })
}

/// Serves until `cancel` fires; also ticks the heartbeat `/healthz` reads.
pub async fn serve(
    listener: TcpListener,
    telemetry: Arc<Telemetry>,
    cancel: CancellationToken,
) -> Result<(), MetricsError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "metrics, /healthz and /readyz listening");
    }
    let heartbeat = {
        let telemetry = telemetry.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { telemetry.heartbeat(cancel).await })
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(telemetry);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.clone().cancelled_owned())
        .await
        .map_err(MetricsError::Serve);
    cancel.cancel();
    let _ = heartbeat.await;
    served
}

async fn metrics(State(telemetry): State<Arc<Telemetry>>) -> Response {
    let content_type = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
    ([(header::CONTENT_TYPE, content_type)], telemetry.encode()).into_response()
}

async fn healthz(State(telemetry): State<Arc<Telemetry>>) -> Response {
    if telemetry.is_alive() {
        "ok\n".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the runtime heartbeat is stale\n",
        )
            .into_response()
    }
}

async fn readyz(State(telemetry): State<Arc<Telemetry>>) -> Response {
    match telemetry.readiness() {
        Readiness::Ready => "ok\n".into_response(),
        Readiness::NotReady(problems) => {
            let mut body = String::from("not ready\n");
            for p in problems {
                body.push_str(&p);
                body.push('\n');
            }
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}
