//! HTTP front of the embedded cluster (axum): authentication, routing,
//! content negotiation (JSON / Table), watch streaming.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::cluster::Cluster;
use super::discovery;
use super::error::{ApiError, ApiResult};
use super::faults::{self, Decision, Faults, RequestClass};
use super::limits::WatchSlot;
use super::openapi;
use super::operations::{self, Deleted, Subresource};
use super::patch::PatchKind;
use super::request::{Query, ResourcePath, Route, check_path_segment, decode_body, route};
use super::resources::ResourceInfo;
use super::resources::crd_key;
use super::table::{self, IncludeObject};
use super::watch::{self, WatchOptions};

/// Requests larger than this are refused with 413, like the real API server's 3 MiB.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

pub struct ServerState {
    pub cluster: Arc<Cluster>,
    pub token: String,
    /// `127.0.0.1:port`, advertised in /api.
    pub address: String,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub simulator: Option<Arc<super::simulator::Simulator>>,
    pub limits: super::limits::HttpLimits,
    pub watches: super::limits::WatchSlots,
    pub faults: Arc<Faults>,
    /// Whether a restart keeps the objects (the cluster has a data directory).
    pub restartable: bool,
}

pub fn router(state: Arc<ServerState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let decision = injected(&state, &request);
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = match decision.answer {
        Some(fault) => ApiError::Injected(fault).into_response(),
        None => match dispatch(&state, request, decision.cut_watch_after).await {
            Ok(response) => response,
            Err(error) => error.into_response(),
        },
    };
    // A write is acknowledged only once it is durable (see store::Store::transaction).
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        && let Some(failure) = state.cluster.store.persistence_failure()
    {
        response = ApiError::Internal(failure).into_response();
    }
    tracing::debug!(%method, %path, status = response.status().as_u16(), "embedded api request");
    response
}

/// What the fault injection does to this request: only the Kubernetes
/// API is affected, never the control endpoints.
fn injected(state: &ServerState, request: &Request) -> Decision {
    let path = request.uri().path();
    if !(path == "/api" || path.starts_with("/api/") || path.starts_with("/apis")) {
        return Decision::default();
    }
    let query = Query::parse(request.uri().query()).ok();
    let watch = query.as_ref().is_some_and(Query::is_watch);
    let resumes = watch
        && query
            .as_ref()
            .and_then(|q| q.get("resourceVersion"))
            .is_some_and(|rv| !rv.is_empty() && rv != "0");
    state.faults.decide(RequestClass {
        write: !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        ),
        watch,
        resumes,
    })
}

/// Compares without an early exit so response timing does not leak the token.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| token_matches(given.trim().as_bytes(), token.as_bytes()))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The whole body, within [`MAX_BODY_BYTES`] and the body timeout.
async fn read_body(
    state: &ServerState,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<axum::body::Bytes> {
    let declared = header_str(headers, header::CONTENT_LENGTH)
        .parse::<usize>()
        .ok();
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let timeout = state.limits.body_timeout;
    match tokio::time::timeout(timeout, collect_limited(body, MAX_BODY_BYTES)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::RequestTimeout(format!(
            "the request body did not arrive within {} s",
            timeout.as_secs_f64()
        ))),
    }
}

/// The body's bytes, refused once they pass `limit` (413), or when the
/// connection breaks off before the end (400).
async fn collect_limited(body: Body, limit: usize) -> ApiResult<axum::body::Bytes> {
    use futures::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut bytes = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::BadRequest(format!("the request body could not be read: {error}"))
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

async fn dispatch(
    state: &ServerState,
    request: Request,
    cut_watch: Option<std::time::Duration>,
) -> ApiResult<Response> {
    if !authorized(request.headers(), &state.token) {
        return Err(ApiError::Unauthorized);
    }
    if request.uri().path().starts_with("/edgedeck/faults") {
        let (parts, body) = request.into_parts();
        let bytes = read_body(state, &parts.headers, body).await?;
        let answer = faults::control(
            &state.faults,
            state.restartable,
            parts.method.as_str(),
            parts.uri.path(),
            &bytes,
        )
        .map_err(ApiError::BadRequest)?;
        return Ok(json_response(StatusCode::OK, &answer));
    }
    if request.uri().path().starts_with("/edgedeck/simulator") {
        let (parts, body) = request.into_parts();
        let bytes = read_body(state, &parts.headers, body).await?;
        let answer = super::simulator::control(
            &state.cluster,
            state.simulator.as_deref(),
            parts.method.as_str(),
            parts.uri.path(),
            &bytes,
        )?;
        return Ok(json_response(StatusCode::OK, &answer));
    }
    let registry = state.cluster.registry();
    let (parts, body) = request.into_parts();
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    match route(parts.uri.path(), &registry) {
        Route::Version => ok(discovery::version()),
        Route::Health => Ok((StatusCode::OK, "ok").into_response()),
        Route::CoreVersions => ok(discovery::core_versions(&state.address)),
        Route::GroupList => ok(discovery::group_list(&registry)),
        Route::Group(group) => discovery::group(&registry, &group)
            .map(|v| json_response(StatusCode::OK, &v))
            .ok_or(ApiError::NoSuchResource),
        Route::ResourceList { group, version } => {
            discovery::resource_list(&registry, &group, &version)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or(ApiError::NoSuchResource)
        }
        Route::OpenApiRoot => ok(openapi::root(
            &registry,
            state.cluster.store.last_change(&crd_key()),
        )),
        Route::OpenApiGroupVersion { group, version } => {
            openapi::group_version(&registry, &group, &version)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or(ApiError::NoSuchResource)
        }
        // OpenAPI v2 (protobuf) is not served; kubectl uses v3 when present.
        Route::OpenApiV2 | Route::Unknown => Err(ApiError::NoSuchResource),
        Route::Resource(path) => {
            if let Some(name) = &path.name {
                check_path_segment("resource name", name)?;
            }
            if let Some(namespace) = &path.namespace {
                check_path_segment("namespace", namespace)?;
            }
            let info = registry
                .find(&path.group, &path.version, &path.plural)
                .ok_or(ApiError::NoSuchResource)?;
            let query = Query::parse(parts.uri.query())?;
            let body = match parts.method {
                Method::GET | Method::HEAD => None,
                _ => Some(read_body(state, &parts.headers, body).await?),
            };
            let cut = cut_watch.map(|after| WatchCut {
                after,
                faults: state.faults.clone(),
            });
            resource_request(
                state,
                &info,
                &path,
                &parts.method,
                &parts.headers,
                &query,
                body,
                cut,
            )
            .await
        }
    }
}

/// How the client wants objects rendered.
fn table_mode(headers: &HeaderMap, query: &Query) -> Option<IncludeObject> {
    table::wants_table(header_str(headers, header::ACCEPT))
        .then(|| IncludeObject::parse(query.get("includeObject")))
}

fn body_value(headers: &HeaderMap, body: Option<&axum::body::Bytes>) -> ApiResult<Value> {
    let bytes = body.ok_or_else(|| ApiError::BadRequest("the request body is empty".into()))?;
    decode_body(header_str(headers, header::CONTENT_TYPE), bytes)
}

#[allow(clippy::too_many_arguments)]
async fn resource_request(
    state: &ServerState,
    info: &Arc<ResourceInfo>,
    path: &ResourcePath,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    body: Option<axum::body::Bytes>,
    cut: Option<WatchCut>,
) -> ApiResult<Response> {
    let cluster = &state.cluster;
    let ns = path.namespace.as_deref();
    if ns.is_some() && !info.namespaced {
        return Err(ApiError::NoSuchResource);
    }
    let sub = match path.subresource.as_deref() {
        None => Subresource::Main,
        Some("status") if info.status_subresource => Subresource::Status,
        Some("scale") if info.scale.is_some() => {
            return scale_request(state, info, path, method, headers, query, body.as_ref());
        }
        Some("log") if info.kind == "Pod" && method == Method::GET => {
            let pod = operations::get(cluster, info, ns, path.name.as_deref().unwrap_or(""))?;
            let q = super::pod_log::LogQuery::parse(query)?;
            return super::pod_log::respond(pod, q, state.shutdown.clone());
        }
        Some(_) => return Err(ApiError::NoSuchResource),
    };
    let table = table_mode(headers, query);
    let render_one = |object: Value| -> Value {
        match table {
            Some(include) => {
                let meta = json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)});
                table::table(info, &[&object], include, meta, true)
            }
            None => object,
        }
    };
    let mut write_opts = query.write_options();
    // Like kube-apiserver, a write without fieldManager is recorded under the
    // User-Agent's product name; an apply must name its manager itself.
    let applying = method == Method::PATCH
        && PatchKind::from_content_type(header_str(headers, header::CONTENT_TYPE))
            .is_ok_and(|k| k == PatchKind::Apply);
    if write_opts.field_manager.is_none() && !applying {
        write_opts.field_manager = Some(manager_from_user_agent(header_str(
            headers,
            header::USER_AGENT,
        )));
    }
    match (method, path.name.as_deref()) {
        (&Method::GET, None) if query.is_watch() => {
            watch_response(state, info, ns, query, table, cut)
        }
        (&Method::GET, Some(name)) if query.is_watch() => {
            // Legacy single-object watch: a watch filtered by name.
            let slot = watch_slot(state)?;
            let mut opts = watch_options(info, ns, query, table)?;
            opts.fields = super::selectors::FieldSelector::parse(
                &format!("metadata.name={name}"),
                &info.group,
                &info.plural,
            )?;
            let stream = watch::start(cluster.clone(), info.clone(), opts, state.shutdown.clone())?;
            Ok(stream_response(stream, slot, cut))
        }
        (&Method::GET, None) => {
            let opts = query.list_options(&info.group, &info.plural)?;
            let (mut items, meta) = operations::list(cluster, info, ns, &opts)?;
            let body = match table {
                Some(include) => table::table(
                    info,
                    &items.iter().collect::<Vec<_>>(),
                    include,
                    meta.to_json(),
                    true,
                ),
                None => {
                    untype_list_items(info, &mut items);
                    json!({
                        "kind": info.list_kind(),
                        "apiVersion": info.api_version(),
                        "metadata": meta.to_json(),
                        "items": items,
                    })
                }
            };
            Ok(json_response(StatusCode::OK, &body))
        }
        (&Method::GET, Some(name)) => {
            let object = operations::get(cluster, info, ns, name)?;
            Ok(json_response(StatusCode::OK, &render_one(object)))
        }
        (&Method::POST, None) if sub == Subresource::Main => {
            let value = body_value(headers, body.as_ref())?;
            let created = operations::create(cluster, info, ns, value, &write_opts)?;
            Ok(json_response(StatusCode::CREATED, &render_one(created)))
        }
        (&Method::PUT, Some(name)) => {
            let value = body_value(headers, body.as_ref())?;
            let updated = operations::update(cluster, info, ns, name, value, sub, &write_opts)?;
            Ok(json_response(StatusCode::OK, &render_one(updated)))
        }
        (&Method::PATCH, Some(name)) => {
            let kind = PatchKind::from_content_type(header_str(headers, header::CONTENT_TYPE))?;
            let value = body_value(headers, body.as_ref())?;
            let existed =
                kind != PatchKind::Apply || operations::get(cluster, info, ns, name).is_ok();
            let patched =
                operations::patch(cluster, info, ns, name, kind, value, sub, &write_opts)?;
            let code = if existed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok(json_response(code, &render_one(patched)))
        }
        (&Method::DELETE, Some(name)) if sub == Subresource::Main => {
            let options = delete_body(headers, body.as_ref())?;
            let opts = query.delete_options(options.as_ref())?;
            match operations::delete(cluster, info, ns, name, &opts)? {
                Deleted::Pending(object) => Ok(json_response(StatusCode::OK, &object)),
                Deleted::Gone(object) => Ok(json_response(
                    StatusCode::OK,
                    &success_status(info, &object),
                )),
            }
        }
        (&Method::DELETE, None) => {
            let options = delete_body(headers, body.as_ref())?;
            let opts = query.delete_options(options.as_ref())?;
            let list_opts = query.list_options(&info.group, &info.plural)?;
            let mut items = operations::delete_collection(cluster, info, ns, &list_opts, &opts)?;
            untype_list_items(info, &mut items);
            let body = json!({
                "kind": info.list_kind(),
                "apiVersion": info.api_version(),
                "metadata": {"resourceVersion": cluster.store.current_rv().to_string()},
                "items": items,
            });
            Ok(json_response(StatusCode::OK, &body))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// The text before the first `/` of a User-Agent, printable characters only,
/// at most 128 (kube-apiserver's `prefixFromUserAgent`); "unknown" if empty.
fn manager_from_user_agent(user_agent: &str) -> String {
    let product: String = user_agent
        .split('/')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(128)
        .collect();
    if product.is_empty() {
        "unknown".into()
    } else {
        product
    }
}

/// Like kube-apiserver, a list of a built-in kind names apiVersion and kind
/// once, on the list: its items carry neither (their TypeMeta is empty and
/// omitted). Custom resources are unstructured there and keep both. Clients
/// that take an item's kind from the item break on a real server; serving the
/// same shape here makes them break in our tests too.
fn untype_list_items(info: &ResourceInfo, items: &mut [Value]) {
    if info.custom {
        return;
    }
    for item in items {
        if let Some(map) = item.as_object_mut() {
            map.remove("apiVersion");
            map.remove("kind");
        }
    }
}

/// A DELETE body is optional; when present it is a DeleteOptions object.
fn delete_body(headers: &HeaderMap, body: Option<&axum::body::Bytes>) -> ApiResult<Option<Value>> {
    match body {
        Some(bytes) if !bytes.iter().all(u8::is_ascii_whitespace) => {
            decode_body(header_str(headers, header::CONTENT_TYPE), bytes).map(Some)
        }
        _ => Ok(None),
    }
}

fn success_status(info: &ResourceInfo, object: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "group": info.group,
            "kind": info.plural,
            "uid": object.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
        },
    })
}

fn watch_options(
    info: &ResourceInfo,
    ns: Option<&str>,
    query: &Query,
    table: Option<IncludeObject>,
) -> ApiResult<WatchOptions> {
    let list = query.list_options(&info.group, &info.plural)?;
    Ok(WatchOptions {
        namespace: ns.map(str::to_string),
        labels: list.labels,
        fields: list.fields,
        resource_version: query.resource_version()?,
        send_initial_events: query.get("sendInitialEvents").map(|v| v == "true"),
        bookmarks: query.flag("allowWatchBookmarks"),
        timeout: query.timeout()?,
        table,
    })
}

fn watch_response(
    state: &ServerState,
    info: &Arc<ResourceInfo>,
    ns: Option<&str>,
    query: &Query,
    table: Option<IncludeObject>,
    cut: Option<WatchCut>,
) -> ApiResult<Response> {
    let slot = watch_slot(state)?;
    let opts = watch_options(info, ns, query, table)?;
    let stream = watch::start(
        state.cluster.clone(),
        info.clone(),
        opts,
        state.shutdown.clone(),
    )?;
    Ok(stream_response(stream, slot, cut))
}

fn watch_slot(state: &ServerState) -> ApiResult<WatchSlot> {
    state
        .watches
        .acquire()
        .ok_or(ApiError::TooManyWatches(state.limits.max_watches))
}

/// A watch the faults chose to cut: after how long, and who counts it.
struct WatchCut {
    after: std::time::Duration,
    faults: Arc<Faults>,
}

/// Streams a watch; its slot is freed when the client goes and the stream
/// is dropped. A cut watch ends with an error, which aborts the connection
/// mid-stream as a dropped link or a dying server does.
fn stream_response(
    stream: impl futures::Stream<Item = Result<bytes::Bytes, std::convert::Infallible>> + Send + 'static,
    slot: WatchSlot,
    cut: Option<WatchCut>,
) -> Response {
    use futures::StreamExt as _;
    let stream = stream.map(move |chunk| {
        let _held = &slot;
        chunk.map_err(|never| match never {})
    });
    let body = match cut {
        None => Body::from_stream(stream),
        Some(cut) => Body::from_stream(cut_after(stream, cut)),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .unwrap_or_else(|e| ApiError::Internal(e.to_string()).into_response())
}

/// `stream` until `cut.after` has passed, then one error and the end.
fn cut_after(
    stream: impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    cut: WatchCut,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    use futures::StreamExt as _;
    let timer = Box::pin(tokio::time::sleep(cut.after));
    let state = Some((stream.boxed(), timer, cut.faults));
    futures::stream::unfold(state, |state| async move {
        let (mut stream, mut timer, faults) = state?;
        tokio::select! {
            item = stream.next() => item.map(|item| (item, Some((stream, timer, faults)))),
            () = &mut timer => {
                faults.watch_cut();
                let error = std::io::Error::other("injected fault: watch connection dropped");
                Some((Err(error), None))
            }
        }
    })
}

fn scale_request(
    state: &ServerState,
    info: &ResourceInfo,
    path: &ResourcePath,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    body: Option<&axum::body::Bytes>,
) -> ApiResult<Response> {
    let cluster = &state.cluster;
    let ns = path.namespace.as_deref();
    let name = path.name.as_deref().ok_or(ApiError::NoSuchResource)?;
    let scale = match *method {
        Method::GET => operations::get_scale(cluster, info, ns, name)?,
        Method::PUT => {
            let value = body_value(headers, body)?;
            operations::update_scale(cluster, info, ns, name, value, None, &query.write_options())?
        }
        Method::PATCH => {
            let kind = PatchKind::from_content_type(header_str(headers, header::CONTENT_TYPE))?;
            let value = body_value(headers, body)?;
            operations::update_scale(
                cluster,
                info,
                ns,
                name,
                value,
                Some(kind),
                &query.write_options(),
            )?
        }
        _ => return Err(ApiError::MethodNotAllowed),
    };
    Ok(json_response(StatusCode::OK, &scale))
}
