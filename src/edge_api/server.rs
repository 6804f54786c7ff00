//! The HTTP surface: authentication, routing, list/get/watch from the
//! store, and read-only passthrough to the cluster.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limits::{Limiter, WatchPermit, retry_after_secs};
use super::metered::{group_of, metered};
use super::query::{Params, is_watch};
use super::route::{FilteredKind, Route, RouteError, route, split_edge_path};
use super::status::ApiStatus;
use super::store::Store;
use super::tokens::{TokenMap, Tokens};
use super::view::{EdgeObject, Scope, View, list_json, stamped, view};
use super::watch::start_watch;
use crate::telemetry::Telemetry;

/// What a client refused a watch is told to wait: a place frees up when
/// one of its own watches ends, which it knows best.
const WATCH_RETRY_AFTER_SECS: u64 = 1;

/// How long a request waits for the first complete listing of the cluster.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct AppState {
    pub client: kube::Client,
    pub tokens: Tokens,
    pub store: Store,
    pub cancel: CancellationToken,
    pub telemetry: Arc<Telemetry>,
    pub limiter: Limiter,
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
    let tokens = state.tokens.current();
    let (token, token_node) = authenticate(&tokens, &parts.headers)?;
    if let Err(wait) = state.limiter.request(token, &tokens) {
        return Err(ApiStatus::too_many_requests(
            format!(
                "the token of node {token_node:?} is over its limit of {} requests per second",
                state.limiter.limits().requests_per_second
            ),
            retry_after_secs(wait),
        ));
    }
    let (node, route) = authorize(&token_node, &parts.method, parts.uri.path())?;
    // Held for as long as the watch streams; other requests need none.
    let permit = match is_watch(&parts.uri) {
        true => Some(state.limiter.watch(token).ok_or_else(|| {
            ApiStatus::too_many_requests(
                format!(
                    "the token of node {token_node:?} has {} watches open, its limit",
                    state.limiter.limits().watches_per_token
                ),
                WATCH_RETRY_AFTER_SECS,
            )
        })?),
        false => None,
    };
    let response = match route {
        Route::Passthrough { path } => passthrough(state, parts, &path).await?,
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
                    filtered::<EndpointSlice>(state, node, scope, params).await?
                }
                FilteredKind::Endpoints => {
                    filtered::<Endpoints>(state, node, scope, params).await?
                }
            }
        }
    };
    Ok(match permit {
        Some(permit) => {
            let revoked = state.tokens.revoked(token.to_owned(), node.to_owned());
            until_revoked(response, permit, revoked)
        }
        None => response,
    })
}

/// Ends a watch's stream once its token is revoked (the client relists
/// and gets 401), and frees its watch place when the stream ends.
fn until_revoked(
    response: Response,
    permit: WatchPermit,
    revoked: impl std::future::Future<Output = ()> + Send + 'static,
) -> Response {
    let (head, body) = response.into_parts();
    let stream = body
        .into_data_stream()
        .take_until(revoked)
        .map(move |chunk| {
            let _held = &permit;
            chunk
        });
    Response::from_parts(head, Body::from_stream(stream))
}

/// The token of the request and its node: 401 without a known one.
pub(crate) fn authenticate<'h>(
    tokens: &TokenMap,
    headers: &'h HeaderMap,
) -> Result<(&'h str, String), ApiStatus> {
    let token = bearer_token(headers).ok_or_else(ApiStatus::unauthorized)?;
    let node = tokens.node_for(token).ok_or_else(ApiStatus::unauthorized)?;
    Ok((token, node.to_owned()))
}

/// Node check and routing, in the API server's order after
/// authentication: 404/400 for paths outside `/edge/<valid node>/`, 403 for
/// another node's view, 405 for writes, 403/404 for paths the edge API
/// does not serve.
pub(crate) fn authorize<'p>(
    token_node: &str,
    method: &Method,
    path: &'p str,
) -> Result<(&'p str, Route), ApiStatus> {
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

    fn admit(authorization: Option<&str>, method: &Method, path: &str) -> Result<Route, ApiStatus> {
        let tokens = tokens();
        let headers = headers(authorization);
        let (_, node) = authenticate(&tokens, &headers)?;
        authorize(&node, method, path).map(|(_, route)| route)
    }

    fn admitted(authorization: Option<&str>, method: Method, path: &str) -> Result<Route, u16> {
        admit(authorization, &method, path).map_err(|status| status.code.as_u16())
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
        let status = admit(Some("Bearer tok-bj"), &Method::GET, SLICES).expect_err("other node");
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
}
