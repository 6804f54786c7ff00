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
//! - **Limited** — per token, a request rate and a number of open watches
//!   (`429` with `Retry-After` beyond, see `limits`); per connection, the
//!   time for the TLS handshake and for each request's headers (see
//!   `listen`). The token file is reread when it changes, and a revoked
//!   token's open watches end (see [`Tokens`]).
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

mod limits;
mod listen;
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
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use limits::EdgeLimits;
pub use tls::{EdgeTls, SelfSigned, TlsError};
pub use tokens::{TokenFileError, TokenMap, Tokens};

use crate::telemetry::Telemetry;

/// Options of [`serve`].
#[derive(Debug, Clone)]
pub struct EdgeApiOptions {
    pub listen: SocketAddr,
    pub serve: ServeOptions,
}

/// How to serve on a bound listener ([`serve_listener`]).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Which token reads which node's view; a file is reread on change.
    pub tokens: Tokens,
    /// Serve https (what kube-proxy and kubectl need to send their token);
    /// `None` serves plain http, for tests or behind a TLS-terminating proxy.
    pub tls: Option<EdgeTls>,
    /// Per-token rate and watch limits, connection timeouts.
    pub limits: EdgeLimits,
    /// Where to count requests, watches, bytes and filter time (a private
    /// registry when `None`).
    pub telemetry: Option<Arc<Telemetry>>,
}

impl ServeOptions {
    /// Plain http with the default limits.
    pub fn new(tokens: impl Into<Tokens>) -> ServeOptions {
        ServeOptions {
            tokens: tokens.into(),
            tls: None,
            limits: EdgeLimits::DEFAULT,
            telemetry: None,
        }
    }

    pub fn with_tls(self, tls: EdgeTls) -> ServeOptions {
        ServeOptions {
            tls: Some(tls),
            ..self
        }
    }

    pub fn with_limits(self, limits: EdgeLimits) -> ServeOptions {
        ServeOptions { limits, ..self }
    }
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
    serve_listener(listener, client, opts.serve, cancel).await
}

/// Serves on an already bound listener (port 0 in tests) until `cancel`
/// fires; open watches end then too.
pub async fn serve_listener(
    listener: TcpListener,
    client: kube::Client,
    opts: ServeOptions,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    let inner = cancel.child_token();
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    if opts.tls.is_none() {
        tracing::warn!(
            "edge API without TLS: kube-proxy and kubectl send no bearer token over http"
        );
    }
    let header_timeout = opts.limits.header_timeout;
    let acceptor = opts.tls.as_ref().map(EdgeTls::acceptor);
    let app = app(&listener, client, opts, &inner, scheme);
    listen::accept_loop(listener, app, acceptor, header_timeout, inner.clone()).await;
    inner.cancel();
    Ok(())
}

/// Plain http with the default limits, on a bound listener.
pub async fn serve_on(
    listener: TcpListener,
    client: kube::Client,
    tokens: impl Into<Tokens>,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    serve_listener(listener, client, ServeOptions::new(tokens), cancel).await
}

/// https with the default limits, on a bound listener.
pub async fn serve_tls_on(
    listener: TcpListener,
    client: kube::Client,
    tokens: impl Into<Tokens>,
    tls: EdgeTls,
    cancel: CancellationToken,
) -> Result<(), EdgeApiError> {
    let opts = ServeOptions::new(tokens).with_tls(tls);
    serve_listener(listener, client, opts, cancel).await
}

/// Starts the store and the token reloader (stopped by `cancel`) and
/// builds the router.
fn app(
    listener: &TcpListener,
    client: kube::Client,
    opts: ServeOptions,
    cancel: &CancellationToken,
    scheme: &str,
) -> axum::Router {
    let store = store::Store::spawn(&client, cancel.clone());
    let telemetry = opts.telemetry.unwrap_or_default();
    let synced = store.clone();
    telemetry.edge_cache(move || synced.current().synced);
    opts.tokens.spawn_reloader(cancel.clone());
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, scheme, tokens = opts.tokens.len(), "edge API listening");
    }
    server::router(Arc::new(server::AppState {
        client,
        tokens: opts.tokens,
        store,
        cancel: cancel.clone(),
        telemetry,
        limiter: limits::Limiter::new(opts.limits),
    }))
}
