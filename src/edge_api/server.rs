//! The HTTP surface: authentication, routing, list/get/watch from the
//! store, and read-only passthrough to the cluster.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::metered::{group_of, metered};
use super::query::Params;
use super::route::{FilteredKind, Route, RouteError, route, split_edge_path};
use super::status::ApiStatus;
use super::store::Store;
use super::tokens::TokenMap;
use super::view::{
    EdgeObject, Scope, Snapshot, View, bookmark, diff, event_line, list_json, same_inputs, stamp,
    stamped, view,
};
use crate::telemetry::Telemetry;

/// How long a request waits for the first complete listing of the cluster.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Watch length without (or with zero) `timeoutSeconds`, like the API
/// server's default minimum request timeout.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often an idle watch that asked for bookmarks is told the current version.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(15);

pub(crate) struct AppState {
    pub client: kube::Client,
    pub tokens: TokenMap,
    pub store: Store,
    pub cancel: CancellationToken,
    pub telemetry: Arc<Telemetry>,
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(handle)
        .with_state(state)
}

/// Liveness, without a token.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready once the cluster has been listed, without a token.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.store.current().synced {
        "ok".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not synced").into_response()
    }
}

async fn handle(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let result = serve(&state, &parts).await;
    let response = metered(
        &state,
        &parts,
        result.unwrap_or_else(IntoResponse::into_response),
    );
    tracing::debug!(
        method = %parts.method,
        path = parts.uri.path(),
        status = response.status().as_u16(),
        "edge API request"
    );
    response
}

async fn serve(state: &Arc<AppState>, parts: &Parts) -> Result<Response, ApiStatus> {
    let (node, route) = admit(
        &state.tokens,
        &parts.headers,
        &parts.method,
        parts.uri.path(),
    )?;
    match route {
        Route::Passthrough { path } => passthrough(state, parts, &path).await,
        Route::Filtered {
            kind,
            namespace,
            name,
        } => {
            let params =
                Params::from_uri(&parts.uri).map_err(|e| ApiStatus::bad_request(e.to_string()))?;
            let scope = Scope {
                namespace,
                name,
                labels: params.labels.clone(),
                fields: params.fields.clone(),
            };
            match kind {
                FilteredKind::EndpointSlices => {
                    filtered::<EndpointSlice>(state, node, scope, params).await
                }
                FilteredKind::Endpoints => filtered::<Endpoints>(state, node, scope, params).await,
            }
        }
    }
}

/// Authentication, node check and routing, in the API server's order:
/// 401 without a known token, 404/400 for paths outside `/edge/<valid
/// node>/`, 403 for another node's view, 405 for writes, 403/404 for paths
/// the edge API does not serve.
pub(crate) fn admit<'p>(
    tokens: &TokenMap,
    headers: &HeaderMap,
    method: &Method,
    path: &'p str,
) -> Result<(&'p str, Route), ApiStatus> {
    let token_node = bearer_token(headers)
        .and_then(|token| tokens.node_for(token))
        .ok_or_else(ApiStatus::unauthorized)?;
    let (node, segments) = split_edge_path(path).map_err(route_status)?;
    if node != token_node {
        return Err(ApiStatus::forbidden(format!(
            "the token of node {token_node:?} may not read the view of node {node:?}"
        )));
    }
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiStatus::method_not_allowed(method.as_str()));
    }
    let route = route(&segments).map_err(route_status)?;
    Ok((node, route))
}

fn route_status(error: RouteError) -> ApiStatus {
    let message = error.to_string();
    match error {
        RouteError::NotEdge | RouteError::NotFound => ApiStatus::not_found(message),
        RouteError::InvalidNode(_) | RouteError::InvalidSegment(_) => {
            ApiStatus::bad_request(message)
        }
        RouteError::NotServed(_) => ApiStatus::forbidden(message),
    }
}

/// `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn json_response(value: &impl Serialize) -> Result<Response, ApiStatus> {
    let body = serde_json::to_vec(value).map_err(|e| ApiStatus::internal(e.to_string()))?;
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn filtered<T: EdgeObject>(
    state: &Arc<AppState>,
    viewer: &str,
    scope: Scope,
    params: Params,
) -> Result<Response, ApiStatus> {
    let snapshot = state
        .store
        .synced(SYNC_TIMEOUT)
        .await
        .ok_or_else(|| ApiStatus::unavailable("the edge API has not listed the cluster yet"))?;
    if params.watch {
        return Ok(start_watch::<T>(state, viewer, scope, &params));
    }
    let started = Instant::now();
    let items: View<T> = view(&snapshot, viewer, &scope);
    state
        .telemetry
        .edge_filtered(&group_of(&snapshot, viewer), started.elapsed());
    match &scope.name {
        Some(name) => match items.into_values().next() {
            Some(object) => json_response(&stamped(object, snapshot.rv)),
            None => Err(ApiStatus::not_found(format!(
                "{} {name:?} not found",
                T::QUALIFIED
            ))),
        },
        None => {
            let list =
                list_json(items, snapshot.rv).map_err(|e| ApiStatus::internal(e.to_string()))?;
            json_response(&list)
        }
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    /// Send the whole current view as ADDED first.
    Fresh,
    /// Send what changed since this version.
    Resume(u64),
    /// A version this server never had.
    Unknown(String),
}

/// `resourceVersion` semantics of a watch: absent or `"0"` (or
/// `sendInitialEvents=true`) starts fresh; a number resumes.
pub(crate) fn watch_start(params: &Params) -> Start {
    let rv = params.resource_version.as_str();
    if params.send_initial_events || rv.is_empty() || rv == "0" {
        return Start::Fresh;
    }
    match rv.parse() {
        Ok(rv) => Start::Resume(rv),
        Err(_) => Start::Unknown(rv.to_owned()),
    }
}

struct WatchTask<T: EdgeObject> {
    viewer: String,
    scope: Scope,
    bookmarks: bool,
    initial_events_end: bool,
    deadline: Instant,
    /// What the client has (empty for a fresh watch), at which version,
    /// and the snapshot it was computed from (none for a fresh watch).
    sent: View<T>,
    sent_rv: u64,
    sent_from: Option<Arc<Snapshot>>,
    /// The snapshot to catch up with first.
    start: Arc<Snapshot>,
    rx: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    cancel: CancellationToken,
    telemetry: Arc<Telemetry>,
}

fn start_watch<T: EdgeObject>(
    state: &Arc<AppState>,
    viewer: &str,
    scope: Scope,
    params: &Params,
) -> Response {
    // Subscribe before reading the current snapshot: no change is missed.
    let mut rx = state.store.subscribe();
    let current = Arc::clone(&rx.borrow_and_update());
    let (tx, body_rx) = mpsc::channel::<Bytes>(32);
    let timeout = params
        .timeout
        .filter(|t| !t.is_zero())
        .unwrap_or(DEFAULT_WATCH_TIMEOUT);
    let baseline = match watch_start(params) {
        Start::Fresh => Some((View::new(), current.rv, None)),
        Start::Resume(rv) => state
            .store
            .at(rv)
            .map(|then| (view::<T>(&then, viewer, &scope), rv, Some(then))),
        Start::Unknown(_) => None,
    };
    match baseline {
        Some((sent, sent_rv, sent_from)) => {
            let task = WatchTask::<T> {
                viewer: viewer.to_owned(),
                scope,
                bookmarks: params.bookmarks,
                initial_events_end: params.send_initial_events,
                deadline: Instant::now() + timeout,
                sent,
                sent_rv,
                sent_from,
                start: current,
                rx,
                cancel: state.cancel.clone(),
                telemetry: state.telemetry.clone(),
            };
            tokio::spawn(task.run(tx));
        }
        None => {
            let status = ApiStatus::expired(format!(
                "too old resource version: {} ({})",
                params.resource_version, current.rv
            ));
            tokio::spawn(async move {
                send(&tx, &status.to_json(), "ERROR").await;
            });
        }
    }
    let stream = futures::stream::unfold(body_rx, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

impl<T: EdgeObject> WatchTask<T> {
    async fn run(mut self, tx: mpsc::Sender<Bytes>) {
        let start = Arc::clone(&self.start);
        if self.catch_up(start, &tx).await.is_none() {
            return;
        }
        if self.initial_events_end
            && !send(&tx, &bookmark::<T>(self.sent_rv, true), "BOOKMARK").await
        {
            return;
        }
        // The newest version the client was told (by an event or a bookmark).
        let mut told_rv = self.sent_rv;
        let mut ticks =
            tokio::time::interval_at(Instant::now() + BOOKMARK_INTERVAL, BOOKMARK_INTERVAL);
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => break,
                () = tx.closed() => break,
                () = tokio::time::sleep_until(self.deadline) => {
                    // Lets the client resume from the newest version.
                    if self.bookmarks && told_rv != self.sent_rv {
                        send(&tx, &bookmark::<T>(self.sent_rv, false), "BOOKMARK").await;
                    }
                    break;
                }
                _ = ticks.tick() => {
                    if self.bookmarks && told_rv != self.sent_rv {
                        if !send(&tx, &bookmark::<T>(self.sent_rv, false), "BOOKMARK").await {
                            break;
                        }
                        told_rv = self.sent_rv;
                    }
                }
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        break; // the store stopped
                    }
                    let snapshot = Arc::clone(&self.rx.borrow_and_update());
                    match self.catch_up(snapshot, &tx).await {
                        Some(true) => told_rv = self.sent_rv,
                        Some(false) => {}
                        None => break,
                    }
                }
            }
        }
    }

    /// Sends the events from what the client has to `snapshot`.
    ///
    /// Some(true) if events were sent, Some(false) if the view did not
    /// change, None once the client is gone.
    async fn catch_up(
        &mut self,
        snapshot: Arc<Snapshot>,
        tx: &mpsc::Sender<Bytes>,
    ) -> Option<bool> {
        let unchanged = self
            .sent_from
            .as_ref()
            .is_some_and(|from| same_inputs::<T>(from, &snapshot));
        let mut sent_any = false;
        if !unchanged {
            let started = Instant::now();
            let next: View<T> = view(&snapshot, &self.viewer, &self.scope);
            self.telemetry
                .edge_filtered(&group_of(&snapshot, &self.viewer), started.elapsed());
            let changes = stamp(diff(&self.sent, &next), self.sent_rv, snapshot.rv);
            for change in &changes {
                if !send(tx, change.object(), change.event_type()).await {
                    return None;
                }
            }
            sent_any = !changes.is_empty();
            self.sent = next;
        }
        self.sent_rv = snapshot.rv;
        self.sent_from = Some(snapshot);
        Some(sent_any)
    }
}

/// Writes one event line; false once the client is gone.
async fn send(tx: &mpsc::Sender<Bytes>, object: &impl Serialize, event_type: &str) -> bool {
    match event_line(event_type, object) {
        Ok(line) => tx.send(line).await.is_ok(),
        Err(error) => {
            tracing::error!(%error, "cannot encode a watch event");
            false
        }
    }
}

/// Forwards a GET/HEAD to the cluster with the engine's credentials and
/// streams the answer back (watches included), status and content type kept.
async fn passthrough(
    state: &Arc<AppState>,
    parts: &Parts,
    path: &str,
) -> Result<Response, ApiStatus> {
    let uri = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut builder = axum::http::Request::builder()
        .method(parts.method.clone())
        .uri(uri);
    if let Some(accept) = parts.headers.get(header::ACCEPT) {
        builder = builder.header(header::ACCEPT, accept.clone());
    }
    let request = builder
        .body(kube::client::Body::empty())
        .map_err(|e| ApiStatus::bad_request(e.to_string()))?;
    let upstream = state
        .client
        .send(request)
        .await
        .map_err(|e| ApiStatus::unavailable(format!("cannot reach the cluster: {e}")))?;
    let (upstream, body) = upstream.into_parts();
    let stream = Body::new(body)
        .into_data_stream()
        .take_until(state.cancel.clone().cancelled_owned());
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = upstream.status;
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::CACHE_CONTROL,
    ] {
        if let Some(value) = upstream.headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> TokenMap {
        TokenMap::parse("tok-hz hz-1\ntok-bj bj-1\n").expect("valid")
    }

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("ascii"),
            );
        }
        headers
    }

    fn admitted(authorization: Option<&str>, method: Method, path: &str) -> Result<Route, u16> {
        admit(&tokens(), &headers(authorization), &method, path)
            .map(|(_, route)| route)
            .map_err(|status| status.code.as_u16())
    }

    const SLICES: &str = "/edge/hz-1/apis/discovery.k8s.io/v1/endpointslices";

    #[test]
    fn needs_a_known_bearer_token() {
        assert_eq!(admitted(None, Method::GET, SLICES), Err(401));
        assert_eq!(admitted(Some("Bearer nope"), Method::GET, SLICES), Err(401));
        assert_eq!(
            admitted(Some("Basic tok-hz"), Method::GET, SLICES),
            Err(401)
        );
        assert_eq!(admitted(Some("Bearer "), Method::GET, SLICES), Err(401));
        assert!(admitted(Some("Bearer tok-hz"), Method::GET, SLICES).is_ok());
        assert!(admitted(Some("bearer  tok-hz"), Method::GET, SLICES).is_ok());
        // no path is revealed without a token
        assert_eq!(admitted(None, Method::GET, "/elsewhere"), Err(401));
        assert_eq!(admitted(None, Method::POST, SLICES), Err(401));
    }

    #[test]
    fn a_token_reads_only_its_own_node() {
        assert_eq!(
            admitted(Some("Bearer tok-bj"), Method::GET, SLICES),
            Err(403)
        );
        let status = admit(
            &tokens(),
            &headers(Some("Bearer tok-bj")),
            &Method::GET,
            SLICES,
        )
        .expect_err("other node");
        assert_eq!(status.reason, "Forbidden");
        assert!(status.message.contains("bj-1") && status.message.contains("hz-1"));
    }

    #[test]
    fn refuses_every_write() {
        for method in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert_eq!(
                admitted(Some("Bearer tok-hz"), method.clone(), SLICES),
                Err(405),
                "{method}"
            );
            assert_eq!(
                admitted(
                    Some("Bearer tok-hz"),
                    method.clone(),
                    "/edge/hz-1/api/v1/services"
                ),
                Err(405),
                "{method}"
            );
        }
        assert!(admitted(Some("Bearer tok-hz"), Method::HEAD, SLICES).is_ok());
    }

    #[test]
    fn maps_route_errors_to_statuses() {
        let auth = Some("Bearer tok-hz");
        assert_eq!(admitted(auth, Method::GET, "/api/v1/services"), Err(404));
        assert_eq!(admitted(auth, Method::GET, "/edge/HZ_1/api"), Err(400));
        assert_eq!(
            admitted(auth, Method::GET, "/edge/hz-1/api/v1/%2e%2e/x"),
            Err(400)
        );
        assert_eq!(
            admitted(auth, Method::GET, "/edge/hz-1/api/v1/secrets"),
            Err(403)
        );
        assert_eq!(
            admitted(auth, Method::GET, "/edge/hz-1/api/v1/endpoints/x"),
            Err(404)
        );
        assert_eq!(
            admitted(auth, Method::GET, "/edge/hz-1/api/v1/services"),
            Ok(Route::Passthrough {
                path: "/api/v1/services".into()
            })
        );
    }

    fn start(query: &str) -> Start {
        let uri: axum::http::Uri = format!("/x?{query}").parse().expect("uri");
        watch_start(&Params::from_uri(&uri).expect("valid"))
    }

    #[test]
    fn watch_start_follows_resource_version_semantics() {
        assert_eq!(start("watch=1"), Start::Fresh);
        assert_eq!(start("watch=1&resourceVersion=0"), Start::Fresh);
        assert_eq!(start("watch=1&resourceVersion=42"), Start::Resume(42));
        assert_eq!(
            start("watch=1&resourceVersion=42&sendInitialEvents=true"),
            Start::Fresh
        );
        assert_eq!(
            start("watch=1&resourceVersion=abc"),
            Start::Unknown("abc".into())
        );
    }
}
