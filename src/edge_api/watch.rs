//! Watches on filtered paths: the view as ADDED events (or what changed
//! since a version still in the history), then the events that turn what
//! the client has into each new view, bookmarks, and the end of the watch at
//! its timeout.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::metered::group_of;
use super::query::Params;
use super::server::AppState;
use super::status::ApiStatus;
use super::view::{
    EdgeObject, Scope, Snapshot, View, bookmark, diff, event_line, same_inputs, stamp, view,
};
use crate::telemetry::Telemetry;

/// Watch length without (or with zero) `timeoutSeconds`, like the API
/// server's default minimum request timeout.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often an idle watch that asked for bookmarks is told the current version.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(15);
/// Longer than any watch lives; what a timeout past the clock's range becomes.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `timeout` from now; `timeoutSeconds=18446744073709551615` must not
/// overflow the clock (a panic in the handler).
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(NEVER))
        .unwrap_or(now)
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

pub(crate) fn start_watch<T: EdgeObject>(
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
                deadline: deadline_after(timeout),
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

#[cfg(test)]
mod tests {
    use super::*;

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
