//! What the edge API records about its answers, per node group (never per
//! node: any name can be typed into a path, only the cluster's groups
//! become labels).

use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::response::Response;
use futures::StreamExt as _;

use super::query::Params;
use super::route::split_edge_path;
use super::server::AppState;
use super::view::Snapshot;

/// The metric label of the node a path asks for: its group, `none` for a
/// node in no group or unknown (any name can be typed into a path; only
/// groups the cluster has become labels).
fn group_label(state: &AppState, path: &str) -> String {
    split_edge_path(path)
        .ok()
        .and_then(|(node, _)| state.store.current().groups.get(node).cloned())
        .unwrap_or_else(|| "none".to_owned())
}

/// Counts the request and the bytes of its answer (a watch's as they
/// stream), and holds an open-watch mark for as long as the body lives.
pub(super) fn metered(state: &Arc<AppState>, parts: &Parts, response: Response) -> Response {
    let group = group_label(state, parts.uri.path());
    let telemetry = state.telemetry.clone();
    telemetry.edge_request(&group, response.status().as_u16());
    let watching =
        response.status().is_success() && Params::from_uri(&parts.uri).is_ok_and(|p| p.watch);
    let open = watching.then(|| telemetry.edge_watch(&group));
    let (head, body) = response.into_parts();
    let counted = body.into_data_stream().map(move |chunk| {
        let _open = &open;
        if let Ok(bytes) = &chunk {
            telemetry.edge_sent(&group, bytes.len());
        }
        chunk
    });
    Response::from_parts(head, Body::from_stream(counted))
}

pub(super) fn group_of(snapshot: &Snapshot, node: &str) -> String {
    snapshot
        .groups
        .get(node)
        .cloned()
        .unwrap_or_else(|| "none".to_owned())
}
