//! The cluster state behind the edge API: four kube-runtime watchers
//! (Nodes, Services, EndpointSlices, Endpoints) folded into immutable
//! [`Snapshot`]s, each with the proxy's own resourceVersion.
//!
//! # resourceVersion of the proxy
//!
//! Upstream resourceVersions cannot be used: a view changes when a Node's
//! label or a Service's annotation changes, with no EndpointSlice event at
//! all. So the store counts: every change of what is served (a slice or
//! Endpoints object, a node's group, a Service entering or leaving
//! `range-nodegroup`) is a new snapshot with the next number. Changes that
//! alter nothing served (node heartbeats, other Service edits) do not count.
//! A burst of events that is ready at once becomes one snapshot.
//!
//! The counter starts at the process's start time in microseconds, so
//! versions of an earlier run are always older than any of this run: a
//! client that resumes with one gets `410 Expired` and relists, never a
//! wrong diff.
//!
//! The last [`HISTORY`] snapshots are kept (sharing unchanged maps), so a
//! watch resumed from a recent version gets exactly the events since then.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt as _, Stream, StreamExt as _};
use k8s_openapi::api::core::v1::{Endpoints, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt as _, watcher as watch_stream};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::view::{ObjKey, Snapshot, normalize};
use crate::engine::topology::{NodeGroupIndex, is_range_nodegroup, node_group_index};

/// How many past snapshots a watch can resume from.
pub(crate) const HISTORY: usize = 64;
/// At most this many ready events are folded into one snapshot.
const MAX_BATCH: usize = 512;

pub(crate) enum Input {
    // Nodes and Services are large and only a label/annotation is kept.
    Node(Box<Event<Node>>),
    Service(Box<Event<Service>>),
    Slice(Event<EndpointSlice>),
    Endpoints(Event<Endpoints>),
}

/// One watched collection, with kube-runtime's relist protocol
/// (`Init`, `InitApply`…, `InitDone` replaces the contents at once).
struct Collection<K, V> {
    map: Arc<BTreeMap<K, V>>,
    relist: Option<BTreeMap<K, V>>,
    synced: bool,
}

impl<K, V> Default for Collection<K, V> {
    fn default() -> Self {
        Collection {
            map: Arc::default(),
            relist: None,
            synced: false,
        }
    }
}

impl<K: Ord + Clone, V: PartialEq + Clone> Collection<K, V> {
    /// Applies one event; true if the contents (or readiness) changed.
    ///
    /// `project` maps an object to its entry; `None` means the object has
    /// no entry (a node in no group, a Service without the annotation).
    fn apply<O>(
        &mut self,
        event: Event<O>,
        key: impl Fn(&O) -> K,
        project: impl Fn(O) -> Option<V>,
    ) -> bool {
        match event {
            Event::Apply(object) => {
                let key = key(&object);
                match project(object) {
                    Some(value) if self.map.get(&key) == Some(&value) => false,
                    Some(value) => {
                        Arc::make_mut(&mut self.map).insert(key, value);
                        true
                    }
                    None if self.map.contains_key(&key) => {
                        Arc::make_mut(&mut self.map).remove(&key);
                        true
                    }
                    None => false,
                }
            }
            Event::Delete(object) => {
                let key = key(&object);
                if self.map.contains_key(&key) {
                    Arc::make_mut(&mut self.map).remove(&key);
                    true
                } else {
                    false
                }
            }
            Event::Init => {
                self.relist = Some(BTreeMap::new());
                false
            }
            Event::InitApply(object) => {
                let key = key(&object);
                if let Some(value) = project(object) {
                    self.relist.get_or_insert_default().insert(key, value);
                }
                false
            }
            Event::InitDone => {
                let listed = self.relist.take().unwrap_or_default();
                let first = !self.synced;
                self.synced = true;
                if *self.map == listed {
                    first
                } else {
                    self.map = Arc::new(listed);
                    true
                }
            }
        }
    }
}

/// Folds watcher events into snapshots; pure, driven by [`Store`].
pub(crate) struct Aggregator {
    rv: u64,
    groups: Collection<String, String>,
    services: Collection<ObjKey, ()>,
    slices: Collection<ObjKey, Arc<EndpointSlice>>,
    endpoints: Collection<ObjKey, Arc<Endpoints>>,
    range_services: Arc<BTreeSet<ObjKey>>,
    dirty: bool,
}

impl Aggregator {
    pub(crate) fn new(first_rv: u64) -> Aggregator {
        Aggregator {
            rv: first_rv,
            groups: Collection::default(),
            services: Collection::default(),
            slices: Collection::default(),
            endpoints: Collection::default(),
            range_services: Arc::default(),
            dirty: false,
        }
    }

    /// Applies one event; true if what the edge API serves changed.
    pub(crate) fn apply(&mut self, input: Input) -> bool {
        let changed = match input {
            Input::Node(event) => self.groups.apply(*event, name_of, group_of),
            Input::Service(event) => {
                let changed = self.services.apply(*event, key_of, |s: Service| {
                    is_range_nodegroup(&s).then_some(())
                });
                if changed {
                    self.range_services = Arc::new(self.services.map.keys().cloned().collect());
                }
                changed
            }
            // Normalized on the way in: views of open Services are these very
            // objects, and an update that changes nothing served is no change.
            Input::Slice(event) => self.slices.apply(event, key_of, |mut s: EndpointSlice| {
                normalize(&mut s.metadata);
                Some(Arc::new(s))
            }),
            Input::Endpoints(event) => self.endpoints.apply(event, key_of, |mut e: Endpoints| {
                normalize(&mut e.metadata);
                Some(Arc::new(e))
            }),
        };
        self.dirty |= changed;
        changed
    }

    /// The state now, under the current version.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            rv: self.rv,
            synced: self.groups.synced
                && self.services.synced
                && self.slices.synced
                && self.endpoints.synced,
            groups: Arc::clone(&self.groups.map),
            range_services: Arc::clone(&self.range_services),
            slices: Arc::clone(&self.slices.map),
            endpoints: Arc::clone(&self.endpoints.map),
        }
    }

    /// A snapshot with the next version, if anything changed since the last one.
    pub(crate) fn publish(&mut self) -> Option<Snapshot> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        self.rv += 1;
        Some(self.snapshot())
    }
}

fn key_of<O: Resource>(object: &O) -> ObjKey {
    ObjKey::of(object.meta())
}

fn name_of(node: &Node) -> String {
    node.metadata.name.clone().unwrap_or_default()
}

/// The node's group, by the engine's own rule.
fn group_of(node: Node) -> Option<String> {
    let index: NodeGroupIndex = node_group_index(std::slice::from_ref(&node));
    index.into_values().next()
}

/// Shared handle on the snapshots.
#[derive(Clone)]
pub(crate) struct Store {
    rx: watch::Receiver<Arc<Snapshot>>,
    history: Arc<Mutex<VecDeque<Arc<Snapshot>>>>,
}

impl Store {
    /// Starts the four watchers; they stop when `cancel` fires.
    pub(crate) fn spawn(client: &Client, cancel: CancellationToken) -> Store {
        let inputs = futures::stream::select_all([
            watch_all(Api::<Node>::all(client.clone()), |e| {
                Input::Node(Box::new(e))
            }),
            watch_all(Api::<Service>::all(client.clone()), |e| {
                Input::Service(Box::new(e))
            }),
            watch_all(Api::<EndpointSlice>::all(client.clone()), Input::Slice),
            watch_all(Api::<Endpoints>::all(client.clone()), Input::Endpoints),
        ]);
        Store::spawn_from(inputs, initial_rv(), cancel)
    }

    /// Folds `inputs` into snapshots in a background task.
    pub(crate) fn spawn_from(
        mut inputs: impl Stream<Item = Input> + Send + Unpin + 'static,
        first_rv: u64,
        cancel: CancellationToken,
    ) -> Store {
        let mut aggregator = Aggregator::new(first_rv);
        let (tx, rx) = watch::channel(Arc::new(aggregator.snapshot()));
        let history = Arc::new(Mutex::new(VecDeque::with_capacity(HISTORY)));
        let store = Store {
            rx,
            history: Arc::clone(&history),
        };
        tokio::spawn(async move {
            loop {
                let input = tokio::select! {
                    biased;
                    () = cancel.cancelled() => break,
                    next = inputs.next() => match next {
                        Some(input) => input,
                        None => break,
                    },
                };
                aggregator.apply(input);
                for _ in 0..MAX_BATCH {
                    match inputs.next().now_or_never() {
                        Some(Some(input)) => {
                            aggregator.apply(input);
                        }
                        _ => break,
                    }
                }
                if let Some(snapshot) = aggregator.publish() {
                    let snapshot = Arc::new(snapshot);
                    {
                        let mut history = history.lock().unwrap_or_else(|e| e.into_inner());
                        if history.len() == HISTORY {
                            history.pop_front();
                        }
                        history.push_back(Arc::clone(&snapshot));
                    }
                    tx.send_replace(snapshot);
                }
            }
            tracing::debug!("edge API store stopped");
        });
        store
    }

    pub(crate) fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.rx.borrow())
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.rx.clone()
    }

    /// The snapshot of version `rv`, if it is current or still in the history.
    pub(crate) fn at(&self, rv: u64) -> Option<Arc<Snapshot>> {
        let current = self.current();
        if current.rv == rv {
            return Some(current);
        }
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        history.iter().find(|s| s.rv == rv).cloned()
    }

    /// The current snapshot once every collection is listed, or `None` after `timeout`.
    pub(crate) async fn synced(&self, timeout: Duration) -> Option<Arc<Snapshot>> {
        let mut rx = self.rx.clone();
        let wait = async {
            rx.wait_for(|s| s.synced)
                .await
                .ok()
                .map(|snapshot| Arc::clone(&snapshot))
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

fn watch_all<K>(api: Api<K>, wrap: fn(Event<K>) -> Input) -> BoxStream<'static, Input>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    watch_stream(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |result| {
            let item = match result {
                Ok(event) => Some(wrap(event)),
                Err(error) => {
                    tracing::warn!(%error, kind, "edge API watch failed; retrying");
                    None
                }
            };
            std::future::ready(item)
        })
        .boxed()
}

/// Microseconds since the Unix epoch: later than any version of an earlier run.
fn initial_rv() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
        .unwrap_or(1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::{
        ANNOTATION_SERVICE_TOPOLOGY, LABEL_BELONGING_TO, SERVICE_TOPOLOGY_RANGE_NODEGROUP,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    pub(crate) fn node(name: &str, group: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: group.map(|g| BTreeMap::from([(LABEL_BELONGING_TO.into(), g.into())])),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    pub(crate) fn service(namespace: &str, name: &str, closed: bool) -> Service {
        Service {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                annotations: closed.then(|| {
                    BTreeMap::from([(
                        ANNOTATION_SERVICE_TOPOLOGY.into(),
                        SERVICE_TOPOLOGY_RANGE_NODEGROUP.into(),
                    )])
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn synced(agg: &mut Aggregator) {
        agg.apply(Input::Node(Box::new(Event::InitDone)));
        agg.apply(Input::Service(Box::new(Event::InitDone)));
        agg.apply(Input::Slice(Event::InitDone));
        agg.apply(Input::Endpoints(Event::InitDone));
    }

    #[test]
    fn becomes_synced_after_every_collection_is_listed() {
        let mut agg = Aggregator::new(100);
        assert!(!agg.snapshot().synced);
        agg.apply(Input::Node(Box::new(Event::Init)));
        agg.apply(Input::Node(Box::new(Event::InitApply(node(
            "hz-1",
            Some("hangzhou"),
        )))));
        agg.apply(Input::Node(Box::new(Event::InitDone)));
        agg.apply(Input::Service(Box::new(Event::InitDone)));
        agg.apply(Input::Slice(Event::InitDone));
        assert!(!agg.snapshot().synced);
        agg.apply(Input::Endpoints(Event::InitDone));
        let snapshot = agg.publish().expect("changed");
        assert!(snapshot.synced);
        assert_eq!(snapshot.rv, 101);
        assert_eq!(
            snapshot.groups.get("hz-1").map(String::as_str),
            Some("hangzhou")
        );
        assert!(agg.publish().is_none(), "nothing changed since");
    }

    #[test]
    fn only_group_changes_of_nodes_count() {
        let mut agg = Aggregator::new(0);
        synced(&mut agg);
        agg.publish();
        assert!(agg.apply(Input::Node(Box::new(Event::Apply(node(
            "hz-1",
            Some("hangzhou")
        ))))));
        let mut heartbeat = node("hz-1", Some("hangzhou"));
        heartbeat.metadata.resource_version = Some("77".into());
        assert!(!agg.apply(Input::Node(Box::new(Event::Apply(heartbeat)))));
        assert!(agg.apply(Input::Node(Box::new(Event::Apply(node(
            "hz-1",
            Some("beijing")
        ))))));
        assert!(agg.apply(Input::Node(Box::new(Event::Apply(node("hz-1", None))))));
        assert!(!agg.apply(Input::Node(Box::new(Event::Apply(node("hz-1", Some("")))))));
        assert!(!agg.apply(Input::Node(Box::new(Event::Delete(node("hz-1", None))))));
        assert!(agg.snapshot().groups.is_empty());
    }

    #[test]
    fn only_annotation_changes_of_services_count() {
        let mut agg = Aggregator::new(0);
        synced(&mut agg);
        assert!(!agg.apply(Input::Service(Box::new(Event::Apply(service(
            "a", "web", false
        ))))));
        assert!(agg.apply(Input::Service(Box::new(Event::Apply(service(
            "a", "web", true
        ))))));
        assert!(
            agg.snapshot()
                .range_services
                .contains(&ObjKey::new("a", "web"))
        );
        assert!(!agg.apply(Input::Service(Box::new(Event::Apply(service(
            "a", "web", true
        ))))));
        assert!(agg.apply(Input::Service(Box::new(Event::Delete(service(
            "a", "web", true
        ))))));
        assert!(agg.snapshot().range_services.is_empty());
    }

    #[test]
    fn slices_are_normalized_and_version_only_updates_change_nothing() {
        let mut agg = Aggregator::new(0);
        synced(&mut agg);
        let mut upstream = EndpointSlice {
            metadata: ObjectMeta {
                namespace: Some("a".into()),
                name: Some("web-1".into()),
                resource_version: Some("1".into()),
                generation: Some(1),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            ..Default::default()
        };
        assert!(agg.apply(Input::Slice(Event::Apply(upstream.clone()))));
        upstream.metadata.resource_version = Some("2".into());
        upstream.metadata.generation = Some(2);
        assert!(!agg.apply(Input::Slice(Event::Apply(upstream.clone()))));
        let snapshot = agg.snapshot();
        let stored = &snapshot.slices[&ObjKey::new("a", "web-1")];
        assert_eq!(stored.metadata.resource_version, None);
        assert_eq!(stored.metadata.generation, None);
        assert!(agg.apply(Input::Slice(Event::Delete(upstream))));
        assert!(agg.snapshot().slices.is_empty());
    }

    #[test]
    fn relist_replaces_contents_at_once() {
        let mut agg = Aggregator::new(0);
        synced(&mut agg);
        agg.apply(Input::Node(Box::new(Event::Apply(node("old", Some("g"))))));
        agg.publish();
        agg.apply(Input::Node(Box::new(Event::Init)));
        agg.apply(Input::Node(Box::new(Event::InitApply(node(
            "new",
            Some("g"),
        )))));
        assert!(
            agg.snapshot().groups.contains_key("old"),
            "not replaced before InitDone"
        );
        assert!(agg.apply(Input::Node(Box::new(Event::InitDone))));
        let groups = agg.publish().expect("changed").groups;
        assert_eq!(groups.keys().collect::<Vec<_>>(), ["new"]);
        // the same relist again changes nothing
        agg.apply(Input::Node(Box::new(Event::Init)));
        agg.apply(Input::Node(Box::new(Event::InitApply(node(
            "new",
            Some("g"),
        )))));
        assert!(!agg.apply(Input::Node(Box::new(Event::InitDone))));
    }

    #[test]
    fn snapshots_are_immutable() {
        let mut agg = Aggregator::new(0);
        synced(&mut agg);
        let before = agg.publish().expect("first");
        agg.apply(Input::Node(Box::new(Event::Apply(node("n", Some("g"))))));
        let after = agg.publish().expect("second");
        assert!(before.groups.is_empty());
        assert_eq!(after.groups.len(), 1);
        assert!(after.rv > before.rv);
    }

    #[tokio::test]
    async fn store_keeps_a_window_of_history() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let cancel = CancellationToken::new();
        let store = Store::spawn_from(rx, 10, cancel.clone());
        for input in [
            Input::Node(Box::new(Event::InitDone)),
            Input::Service(Box::new(Event::InitDone)),
            Input::Slice(Event::InitDone),
            Input::Endpoints(Event::InitDone),
        ] {
            tx.unbounded_send(input).expect("send");
        }
        let first = store.synced(Duration::from_secs(5)).await.expect("synced");
        let mut rx = store.subscribe();
        for i in 0..(HISTORY + 5) {
            tx.unbounded_send(Input::Node(Box::new(Event::Apply(node(
                &format!("n{i}"),
                Some("g"),
            )))))
            .expect("send");
            let _ = rx.changed().await;
        }
        let current = store.current();
        assert!(current.rv > first.rv);
        assert_eq!(store.at(current.rv).map(|s| s.rv), Some(current.rv));
        assert!(store.at(first.rv).is_none(), "fell out of the window");
        assert!(store.at(current.rv + 1).is_none());
        cancel.cancel();
    }
}
