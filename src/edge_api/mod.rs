//! Edge API: a per-node, read-only, Kubernetes-compatible API that applies
//! traffic closure (DESIGN §2, §3) without touching kube-proxy.
//!
//! `edgedeck engine --edge-api-listen ADDR --edge-api-tokens FILE` serves,
//! under `/edge/<node>/`, what an edge node's unmodified kube-proxy (or any
//! client) reads. Its kubeconfig points at `https://ADDR/edge/<node>` with
//! the node's bearer token.
//!
//! - **Filtered** — EndpointSlices (`discovery.k8s.io/v1`) and Endpoints
//!   (core `v1`): get, list and watch, served from the engine's watchers and
//!   filtered for `<node>` by [`crate::engine::topology`] when their Service
//!   is annotated `range-nodegroup` (see `view` for what a view is). Views
//!   are recomputed when a slice, a node's group or a Service's annotation
//!   changes, and open watches get the ADDED/MODIFIED/DELETED events that
//!   turn what they have into the new view.
//! - **Passthrough** — discovery (`/api`, `/apis`, `/version`, `/openapi`),
//!   health checks, and `services`, `nodes`, `namespaces`, `servicecidrs`:
//!   forwarded to the cluster read-only, watches streamed (see `route` for
//!   the allowlist and why it is one).
//! - **Refused** — any write: `405 MethodNotAllowed`; no or unknown token:
//!   `401`; a token for node A asking for `/edge/B`: `403`; a node name that
//!   is not a DNS-1123 subdomain: `400`; any other path: `403`/`404`. All as
//!   Kubernetes `Status` objects.
//!
//! Serve it over https ([`EdgeTls`], [`serve_tls_on`]): client-go's
//! clientcmd (kube-proxy, kubectl) attaches a kubeconfig's bearer token only
//! to `https` servers. Plain http ([`serve_on`]) is for tests and for a
//! TLS-terminating proxy in front.
//!
//! `/healthz` and `/readyz` (at the root, no token) report liveness and
//! whether the cluster has been listed; requests on filtered paths wait up
//! to 30 s for that first listing, then get `503`.
//!
//! # Versions and watches
//!
//! resourceVersions on filtered paths are the proxy's own counter (see
//! `store`); lists and objects carry it. A watch:
//! - without `resourceVersion`, with `"0"` or with `sendInitialEvents=true`
//!   first sends the whole view as ADDED (then a bookmark annotated
//!   `k8s.io/initial-events-end` for `sendInitialEvents`);
//! - with a version still in the history resumes exactly from there;
//! - with any other version gets, as from the API server, one
//!   `ERROR` event holding a `410 Expired` Status, and the client relists.
//!
//! With `allowWatchBookmarks`, an idle watch is sent a BOOKMARK with the
//! newest version every 15 s when it moved, and once more before
//! `timeoutSeconds` (default 30 min) ends the watch.
//!
//! Filtered paths answer in JSON only; clients asking for protobuf (the
//! kube-proxy default) decode by the response's Content-Type, as client-go
//! does. `limit`/`continue` are ignored: lists come whole.

mod metered;
mod query;
mod route;
mod selector;
mod server;
mod status;
mod store;
mod tls;
mod tokens;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use tls::{EdgeTls, SelfSigned, TlsError};

use crate::telemetry::Telemetry;
pub use tokens::{TokenFileError, TokenMap};

/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish once serving stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Options of [`serve`].
#[derive(Debug, Clone)]
pub struct EdgeApiOptions {
    pub listen: SocketAddr,
    pub tokens: TokenMap,
    /// Serve https (what kube-proxy and kubectl need to send their token);
    /// `None` serves plain http, for tests or behind a TLS-terminating proxy.
    pub tls: Option<EdgeTls>,
    /// Where to count requests, watches, bytes and filter time (a private
    /// registry when `None`).
    pub telemetry: Option<Arc<Telemetry>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EdgeApiError {
    #[error("edge API cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("edge API server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Binds `opts.listen` and serves until `cancel` fires.
pub async fn serve(
    client: kube::Client,
    opts: EdgeApiOptions,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| EdgeApiError::Bind {
            addr: opts.listen,
            source,
        })?;
    let telemetry = opts.telemetry.unwrap_or_default();
    match opts.tls {
        Some(tls) => serve_tls(listener, client, opts.tokens, tls, telemetry, cancel).await,
        None => serve_plain(listener, client, opts.tokens, telemetry, cancel).await,
    }
}

/// Serves plain http on an already bound listener (port 0 in tests) until
/// `cancel` fires; open watches end then too.
pub async fn serve_on(
    listener: TcpListener,
    client: kube::Client,
    tokens: TokenMap,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    serve_plain(listener, client, tokens, Arc::default(), cancel).await
}

async fn serve_plain(
    listener: TcpListener,
    client: kube::Client,
    tokens: TokenMap,
    telemetry: Arc<Telemetry>,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    let inner = cancel.child_token();
    tracing::warn!("edge API without TLS: kube-proxy and kubectl send no bearer token over http");
    let app = app(&listener, client, tokens, telemetry, &inner, "http");
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(inner.clone().cancelled_owned())
        .await
        .map_err(EdgeApiError::Serve);
    inner.cancel();
    result
}

/// Serves https on an already bound listener until `cancel` fires.
pub async fn serve_tls_on(
    listener: TcpListener,
    client: kube::Client,
    tokens: TokenMap,
    tls: EdgeTls,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    serve_tls(listener, client, tokens, tls, Arc::default(), cancel).await
}

async fn serve_tls(
    listener: TcpListener,
    client: kube::Client,
    tokens: TokenMap,
    tls: EdgeTls,
    telemetry: Arc<Telemetry>,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    let inner = cancel.child_token();
    let app = app(&listener, client, tokens, telemetry, &inner, "https");
    let acceptor = tls.acceptor();
    loop {
        let tcp = tokio::select! {
            () = inner.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    // e.g. out of file descriptors: back off instead of spinning
                    tracing::warn!(%error, "edge API: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let stop = inner.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
                }
            }
        });
    }
    Ok(())
}

/// Starts the store (stopped by `cancel`) and builds the router.
fn app(
    listener: &TcpListener,
    client: kube::Client,
    tokens: TokenMap,
    telemetry: Arc<Telemetry>,
    cancel: &CancellationToken,
    scheme: &str,
) -> axum::Router {
    let store = store::Store::spawn(&client, cancel.clone());
    let synced = store.clone();
    telemetry.edge_cache(move || synced.current().synced);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, scheme, tokens = tokens.len(), "edge API listening");
    }
    server::router(Arc::new(server::AppState {
        client,
        tokens,
        store,
        cancel: cancel.clone(),
        telemetry,
    }))
}
