//! Watch streams: newline-delimited JSON `{"type": …, "object": …}` events.
//!
//! A watch replays the store's event log from its start resourceVersion and
//! then follows it. Selectors are applied per event using the object's
//! previous state too, so an object leaving the selection is reported as
//! DELETED and one entering it as ADDED, as Kubernetes does.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cluster::Cluster;
use super::error::{ApiError, ApiResult};
use super::operations::present;
use super::resources::ResourceInfo;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{EventType, StoredEvent};
use super::table::{self, IncludeObject};

/// How often a bookmark is sent to watchers that asked for them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// None or Some(0): start with the current state as ADDED events.
    pub resource_version: Option<u64>,
    pub send_initial_events: Option<bool>,
    pub bookmarks: bool,
    pub timeout: Option<Duration>,
    /// Some when the client asked for Table objects (`kubectl get -w`).
    pub table: Option<IncludeObject>,
}

struct Watcher {
    cluster: Arc<Cluster>,
    info: Arc<ResourceInfo>,
    opts: WatchOptions,
    tx: mpsc::Sender<Bytes>,
    table_header_sent: bool,
}

impl Watcher {
    fn selected(&self, object: &Value) -> bool {
        let ns_ok = match &self.opts.namespace {
            Some(ns) => {
                object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    == Some(ns.as_str())
            }
            None => true,
        };
        ns_ok && self.opts.labels.matches(object) && self.opts.fields.matches(object)
    }

    fn render_object(&mut self, object: &Value) -> Value {
        let object = present(&self.info, object);
        match self.opts.table {
            None => object,
            Some(include) => {
                let rv = object
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                let first = !self.table_header_sent;
                self.table_header_sent = true;
                table::table(
                    &self.info,
                    &[&object],
                    include,
                    json!({"resourceVersion": rv}),
                    first,
                )
            }
        }
    }

    async fn send(&mut self, kind: &str, object: Value) -> bool {
        let mut line = json!({"type": kind, "object": object}).to_string();
        line.push('\n');
        self.tx.send(Bytes::from(line)).await.is_ok()
    }

    async fn send_object(&mut self, kind: &str, object: &Value) -> bool {
        let rendered = self.render_object(object);
        self.send(kind, rendered).await
    }

    async fn send_bookmark(&mut self, rv: u64, initial_events_end: bool) -> bool {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": metadata});
        self.send("BOOKMARK", object).await
    }

    /// Translates one stored event for this watcher's selection.
    fn translate(&self, event: &StoredEvent) -> Option<(&'static str, Arc<Value>)> {
        let now = self.selected(&event.object);
        let before = event.previous.as_deref().is_some_and(|p| self.selected(p));
        let kind = match (event.kind, before, now) {
            (EventType::Deleted, true, _) | (EventType::Deleted, _, true) => "DELETED",
            (EventType::Deleted, false, false) => return None,
            (_, true, true) => "MODIFIED",
            (_, false, true) => "ADDED",
            (_, true, false) => "DELETED",
            (_, false, false) => return None,
        };
        Some((kind, event.object.clone()))
    }

    async fn run(mut self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut head_rx = self.cluster.store.subscribe();
        let key = self.info.key();
        // Without a version (or with "0") a watch starts from the current
        // state, replayed as ADDED events; sendInitialEvents overrides that.
        let from = self.opts.resource_version.filter(|rv| *rv != 0);
        let initial = self.opts.send_initial_events.unwrap_or(from.is_none());
        let mut last = match from {
            Some(rv) if !initial => rv,
            _ => {
                let (rv, objects) = self.cluster.store.transaction(|t| {
                    (t.current_rv(), t.list(&key, self.opts.namespace.as_deref()))
                });
                if initial {
                    for (_, object) in objects {
                        if self.selected(&object) && !self.send_object("ADDED", &object).await {
                            return;
                        }
                    }
                }
                // kube-apiserver 1.36 ends every initial replay with this
                // bookmark when bookmarks are allowed, also for the legacy
                // "no resourceVersion" / "0" watch, not only for streaming lists.
                if initial && self.opts.bookmarks && !self.send_bookmark(rv, true).await {
                    return;
                }
                rv
            }
        };
        // A timeout past what the clock can count (timeoutSeconds=2^64-1) is none.
        let deadline = self
            .opts
            .timeout
            .and_then(|t| Instant::now().checked_add(t));
        let mut next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
        loop {
            match self.cluster.store.events_since(&key, last) {
                Ok((events, head)) => {
                    for event in events {
                        if let Some((kind, object)) = self.translate(&event)
                            && !self.send_object(kind, &object).await
                        {
                            return;
                        }
                    }
                    last = head;
                }
                Err(too_old) => {
                    let status = ApiError::from(too_old).to_status();
                    let _ = self.send("ERROR", status).await;
                    return;
                }
            }
            let sleep_until = match deadline {
                Some(d) if d < next_bookmark || !self.opts.bookmarks => d,
                _ => next_bookmark,
            };
            tokio::select! {
                changed = head_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(sleep_until) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return;
                    }
                    if self.opts.bookmarks {
                        next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
                        if !self.send_bookmark(last, false).await {
                            return;
                        }
                    } else {
                        next_bookmark = Instant::now() + BOOKMARK_INTERVAL;
                    }
                }
                _ = self.tx.closed() => return,
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Starts a watch and returns the body stream. Selector errors were already
/// reported by the caller; a too-old start version becomes an ERROR event.
pub fn start(
    cluster: Arc<Cluster>,
    info: Arc<ResourceInfo>,
    opts: WatchOptions,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> ApiResult<impl Stream<Item = Result<Bytes, Infallible>>> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let watcher = Watcher {
        cluster,
        info,
        opts,
        tx,
        table_header_sent: false,
    };
    tokio::spawn(watcher.run(shutdown));
    Ok(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok(chunk), rx))
    }))
}
