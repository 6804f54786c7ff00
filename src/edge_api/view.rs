//! What one node sees: filtered views of EndpointSlices and Endpoints, the
//! differences between two views, and how they are written on the wire.
//!
//! Everything here is pure; `store` keeps the snapshots and `server` streams.
//!
//! # Views
//!
//! An object whose Service (`kubernetes.io/service-name` for a slice, the
//! object's own name for Endpoints, in the same namespace) is annotated
//! `range-nodegroup` is filtered with [`filter_endpoint_slice`] /
//! [`filter_endpoints`] for the viewer; any other object is served as it is.
//! A slice left with no visible endpoint stays, with an empty `endpoints`
//! list (and Endpoints with no subset): that is what kube-proxy expects of a
//! Service without local backends, and it keeps the Service's ports known.
//!
//! Every view carries the proxy's `resourceVersion` and neither
//! `managedFields` nor `generation`: those describe the upstream object, not
//! the view, and dropping them means a change invisible to a node (an
//! endpoint of another group turning ready) sends that node nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{ListableResource, Metadata};
use serde::Serialize;
use serde_json::{Value, json};

use super::selector::{FieldSelector, LabelSelector};
use crate::api::LABEL_SERVICE_NAME;
use crate::engine::topology::{NodeGroupIndex, filter_endpoint_slice, filter_endpoints};

/// namespace/name of an object (namespace empty for cluster-scoped ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjKey {
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub(crate) fn new(namespace: &str, name: &str) -> ObjKey {
        ObjKey {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    pub(crate) fn of(meta: &ObjectMeta) -> ObjKey {
        ObjKey::new(
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }
}

/// The cluster state the edge API serves from, at one proxy resourceVersion.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    /// The proxy's resourceVersion of this state (see `store`).
    pub rv: u64,
    /// All four collections have been listed at least once.
    pub synced: bool,
    /// node → group, from [`crate::engine::topology::node_group_index`].
    pub groups: Arc<NodeGroupIndex>,
    /// Services annotated `range-nodegroup`.
    pub range_services: Arc<BTreeSet<ObjKey>>,
    pub slices: Arc<BTreeMap<ObjKey, Arc<EndpointSlice>>>,
    pub endpoints: Arc<BTreeMap<ObjKey, Arc<Endpoints>>>,
}

/// A kind served from the stores, filtered per node.
pub(crate) trait EdgeObject:
    ListableResource + Metadata<Ty = ObjectMeta> + Clone + PartialEq + Serialize + Send + Sync + 'static
{
    /// `resource.group`, as in API server messages.
    const QUALIFIED: &'static str;

    /// The Service this object belongs to, in its own namespace.
    fn service_name(&self) -> Option<&str>;

    /// The object as `viewer` sees it under traffic closure.
    fn closed_view(&self, viewer: &str, index: &NodeGroupIndex) -> Self;

    fn objects(snapshot: &Snapshot) -> &BTreeMap<ObjKey, Arc<Self>>;
}

impl EdgeObject for EndpointSlice {
    const QUALIFIED: &'static str = "endpointslices.discovery.k8s.io";

    fn service_name(&self) -> Option<&str> {
        self.metadata
            .labels
            .as_ref()?
            .get(LABEL_SERVICE_NAME)
            .map(String::as_str)
    }

    fn closed_view(&self, viewer: &str, index: &NodeGroupIndex) -> Self {
        // Endpoints without nodeName are hidden; the console reports them
        // (engine::topology::service_traffic), so they are only traced here.
        let (view, errors) = filter_endpoint_slice(self, viewer, index);
        for error in errors {
            tracing::trace!(%error, viewer, "hidden from the edge view");
        }
        view
    }

    fn objects(snapshot: &Snapshot) -> &BTreeMap<ObjKey, Arc<Self>> {
        &snapshot.slices
    }
}

impl EdgeObject for Endpoints {
    const QUALIFIED: &'static str = "endpoints";

    fn service_name(&self) -> Option<&str> {
        self.metadata.name.as_deref()
    }

    fn closed_view(&self, viewer: &str, index: &NodeGroupIndex) -> Self {
        let (view, errors) = filter_endpoints(self, viewer, index);
        for error in errors {
            tracing::trace!(%error, viewer, "hidden from the edge view");
        }
        view
    }

    fn objects(snapshot: &Snapshot) -> &BTreeMap<ObjKey, Arc<Self>> {
        &snapshot.endpoints
    }
}

/// Which objects a request is about: path namespace/name plus selectors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Scope {
    fn contains(&self, key: &ObjKey, meta: &ObjectMeta) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|ns| *ns == key.namespace)
            && self.name.as_ref().is_none_or(|name| *name == key.name)
            && self.labels.matches(meta.labels.as_ref())
            && self.fields.matches(meta)
    }
}

/// The objects in `scope` as `viewer` sees them. Objects of open Services
/// are the store's own `Arc`s, shared by every watcher; only closed ones
/// are copies.
pub(crate) type View<T> = BTreeMap<ObjKey, Arc<T>>;

pub(crate) fn view<T: EdgeObject>(snapshot: &Snapshot, viewer: &str, scope: &Scope) -> View<T> {
    let objects = T::objects(snapshot);
    let candidates: Box<dyn Iterator<Item = (&ObjKey, &Arc<T>)>> = match &scope.namespace {
        Some(namespace) => {
            let start = ObjKey::new(namespace, "");
            Box::new(
                objects
                    .range(start..)
                    .take_while(move |(key, _)| key.namespace == *namespace),
            )
        }
        None => Box::new(objects.iter()),
    };
    candidates
        .filter(|(key, object)| scope.contains(key, object.metadata()))
        .map(|(key, object)| (key.clone(), view_of(object, key, viewer, snapshot)))
        .collect()
}

/// Whether every input of `T`'s views is the same in both snapshots, so
/// no view of `T` can differ (snapshots share unchanged maps).
pub(crate) fn same_inputs<T: EdgeObject>(a: &Snapshot, b: &Snapshot) -> bool {
    Arc::ptr_eq(&a.groups, &b.groups)
        && Arc::ptr_eq(&a.range_services, &b.range_services)
        && std::ptr::eq(T::objects(a), T::objects(b))
}

/// One object as `viewer` sees it (module docs).
pub(crate) fn view_of<T: EdgeObject>(
    object: &Arc<T>,
    key: &ObjKey,
    viewer: &str,
    snapshot: &Snapshot,
) -> Arc<T> {
    let closed = object.service_name().is_some_and(|service| {
        snapshot
            .range_services
            .contains(&ObjKey::new(&key.namespace, service))
    });
    if closed {
        Arc::new(object.closed_view(viewer, &snapshot.groups))
    } else {
        Arc::clone(object)
    }
}

/// What the store keeps of an upstream object's metadata: no
/// resourceVersion, managedFields or generation (module docs).
pub(crate) fn normalize(meta: &mut ObjectMeta) {
    meta.resource_version = None;
    meta.managed_fields = None;
    meta.generation = None;
}

/// A watch event, before it gets its resourceVersion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change<V> {
    Added(V),
    Modified(V),
    /// Carries the last state the watcher was sent, as Kubernetes does.
    Deleted(V),
}

impl<V> Change<V> {
    pub(crate) fn event_type(&self) -> &'static str {
        match self {
            Change::Added(_) => "ADDED",
            Change::Modified(_) => "MODIFIED",
            Change::Deleted(_) => "DELETED",
        }
    }

    pub(crate) fn object(&self) -> &V {
        match self {
            Change::Added(v) | Change::Modified(v) | Change::Deleted(v) => v,
        }
    }
}

/// The events that turn a watcher's `previous` view into `next`, in key order.
pub(crate) fn diff<K: Ord, V: PartialEq + Clone>(
    previous: &BTreeMap<K, V>,
    next: &BTreeMap<K, V>,
) -> Vec<Change<V>> {
    let mut changes = Vec::new();
    let mut old = previous.iter().peekable();
    let mut new = next.iter().peekable();
    loop {
        match (old.peek(), new.peek()) {
            (None, None) => break,
            (Some((_, before)), None) => {
                changes.push(Change::Deleted((*before).clone()));
                old.next();
            }
            (None, Some((_, after))) => {
                changes.push(Change::Added((*after).clone()));
                new.next();
            }
            (Some((old_key, before)), Some((new_key, after))) => match old_key.cmp(new_key) {
                std::cmp::Ordering::Less => {
                    changes.push(Change::Deleted((*before).clone()));
                    old.next();
                }
                std::cmp::Ordering::Greater => {
                    changes.push(Change::Added((*after).clone()));
                    new.next();
                }
                std::cmp::Ordering::Equal => {
                    if before != after {
                        changes.push(Change::Modified((*after).clone()));
                    }
                    old.next();
                    new.next();
                }
            },
        }
    }
    changes
}

/// Gives a batch of events its resourceVersions.
///
/// The last event carries `at`, the version of the view the batch leads
/// to; the others carry `before`, the version the watcher was at. A client
/// that loses the connection in the middle of a batch resumes from
/// `before` and is sent the rest again, instead of skipping it.
pub(crate) fn stamp<T: EdgeObject>(
    changes: Vec<Change<Arc<T>>>,
    before: u64,
    at: u64,
) -> Vec<Change<T>> {
    let last = changes.len().saturating_sub(1);
    changes
        .into_iter()
        .enumerate()
        .map(|(i, change)| {
            let rv = if i == last { at } else { before };
            match change {
                Change::Added(v) => Change::Added(stamped(v, rv)),
                Change::Modified(v) => Change::Modified(stamped(v, rv)),
                Change::Deleted(v) => Change::Deleted(stamped(v, rv)),
            }
        })
        .collect()
}

/// A view object with the proxy's resourceVersion.
pub(crate) fn stamped<T: EdgeObject>(object: Arc<T>, rv: u64) -> T {
    let mut object = Arc::unwrap_or_clone(object);
    object.metadata_mut().resource_version = Some(rv.to_string());
    object
}

/// `EndpointSliceList` / `EndpointsList` of a view at `rv`.
pub(crate) fn list_json<T: EdgeObject>(view: View<T>, rv: u64) -> serde_json::Result<Value> {
    let items = view
        .into_values()
        .map(|object| serde_json::to_value(stamped(object, rv)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "apiVersion": T::API_VERSION,
        "kind": T::LIST_KIND,
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    }))
}

/// One line of a watch stream.
pub(crate) fn event_line(event_type: &str, object: &impl Serialize) -> serde_json::Result<Bytes> {
    #[derive(Serialize)]
    struct Event<'a, O> {
        #[serde(rename = "type")]
        event_type: &'a str,
        object: &'a O,
    }
    let mut line = serde_json::to_vec(&Event { event_type, object })?;
    line.push(b'\n');
    Ok(Bytes::from(line))
}

/// A BOOKMARK object: only kind, apiVersion and metadata.resourceVersion,
/// plus `k8s.io/initial-events-end` at the end of `sendInitialEvents`.
pub(crate) fn bookmark<T: EdgeObject>(rv: u64, initial_events_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"apiVersion": T::API_VERSION, "kind": T::KIND, "metadata": metadata})
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointAddress, EndpointSubset};
    use k8s_openapi::api::discovery::v1::Endpoint;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    fn slice(namespace: &str, name: &str, service: &str, nodes: &[&str]) -> EndpointSlice {
        EndpointSlice {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                labels: Some(BTreeMap::from([(
                    LABEL_SERVICE_NAME.into(),
                    service.into(),
                )])),
                resource_version: Some("999".into()),
                generation: Some(3),
                managed_fields: Some(vec![ManagedFieldsEntry::default()]),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            endpoints: nodes
                .iter()
                .enumerate()
                .map(|(i, node)| Endpoint {
                    addresses: vec![format!("10.0.0.{i}")],
                    node_name: Some((*node).into()),
                    ..Default::default()
                })
                .collect(),
            ports: None,
        }
    }

    fn legacy(namespace: &str, name: &str, nodes: &[&str]) -> Endpoints {
        Endpoints {
            metadata: ObjectMeta {
                namespace: Some(namespace.into()),
                name: Some(name.into()),
                ..Default::default()
            },
            subsets: Some(vec![EndpointSubset {
                addresses: Some(
                    nodes
                        .iter()
                        .map(|n| EndpointAddress {
                            ip: format!("10.1.0.{}", n.len()),
                            node_name: Some((*n).into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }]),
        }
    }

    fn snapshot(slices: Vec<EndpointSlice>, closed: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            rv: 7,
            synced: true,
            groups: Arc::new(
                [
                    ("hz-1", "hangzhou"),
                    ("hz-2", "hangzhou"),
                    ("bj-1", "beijing"),
                ]
                .iter()
                .map(|(n, g)| (n.to_string(), g.to_string()))
                .collect(),
            ),
            range_services: Arc::new(closed.iter().map(|(ns, n)| ObjKey::new(ns, n)).collect()),
            slices: Arc::new(
                slices
                    .into_iter()
                    .map(|mut s| {
                        normalize(&mut s.metadata);
                        (ObjKey::of(&s.metadata), Arc::new(s))
                    })
                    .collect(),
            ),
            endpoints: Arc::new(BTreeMap::new()),
        }
    }

    fn nodes_of(slice: &EndpointSlice) -> Vec<&str> {
        slice
            .endpoints
            .iter()
            .filter_map(|e| e.node_name.as_deref())
            .collect()
    }

    #[test]
    fn filters_only_slices_of_annotated_services() {
        let snap = snapshot(
            vec![
                slice("edge", "web-a", "web", &["hz-1", "bj-1", "hz-2"]),
                slice("edge", "api-a", "api", &["hz-1", "bj-1"]),
                slice("other", "web-a", "web", &["bj-1"]),
            ],
            &[("edge", "web")],
        );
        let seen: View<EndpointSlice> = view(&snap, "hz-1", &Scope::default());
        assert_eq!(
            nodes_of(&seen[&ObjKey::new("edge", "web-a")]),
            ["hz-1", "hz-2"]
        );
        assert_eq!(
            nodes_of(&seen[&ObjKey::new("edge", "api-a")]),
            ["hz-1", "bj-1"]
        );
        // same Service name in another namespace is another Service
        assert_eq!(nodes_of(&seen[&ObjKey::new("other", "web-a")]), ["bj-1"]);
    }

    #[test]
    fn keeps_slices_without_visible_endpoints() {
        let snap = snapshot(
            vec![slice("edge", "web-a", "web", &["bj-1"])],
            &[("edge", "web")],
        );
        let seen: View<EndpointSlice> = view(&snap, "hz-1", &Scope::default());
        assert_eq!(seen.len(), 1);
        assert!(seen[&ObjKey::new("edge", "web-a")].endpoints.is_empty());
        let lone: View<EndpointSlice> = view(&snap, "lone", &Scope::default());
        assert!(lone[&ObjKey::new("edge", "web-a")].endpoints.is_empty());
    }

    #[test]
    fn open_objects_are_shared_and_closed_ones_copied() {
        let snap = snapshot(
            vec![
                slice("edge", "web-a", "web", &["hz-1"]),
                slice("edge", "api-a", "api", &["hz-1"]),
            ],
            &[("edge", "web")],
        );
        let seen: View<EndpointSlice> = view(&snap, "hz-1", &Scope::default());
        let stored = |name: &str| &snap.slices[&ObjKey::new("edge", name)];
        assert!(Arc::ptr_eq(
            &seen[&ObjKey::new("edge", "api-a")],
            stored("api-a")
        ));
        assert!(!Arc::ptr_eq(
            &seen[&ObjKey::new("edge", "web-a")],
            stored("web-a")
        ));
    }

    #[test]
    fn normalize_drops_upstream_versioning() {
        let mut s = slice("edge", "web-a", "web", &["hz-1"]);
        normalize(&mut s.metadata);
        assert_eq!(s.metadata.resource_version, None);
        assert_eq!(s.metadata.generation, None);
        assert_eq!(s.metadata.managed_fields, None);
        assert_eq!(s.metadata.labels.as_ref().map(|l| l.len()), Some(1));
    }

    #[test]
    fn scope_selects_by_namespace_name_and_selectors() {
        let snap = snapshot(
            vec![
                slice("a", "web-1", "web", &["hz-1"]),
                slice("a", "api-1", "api", &["hz-1"]),
                slice("b", "web-1", "web", &["hz-1"]),
                slice("c", "web-1", "web", &["hz-1"]),
            ],
            &[],
        );
        let keys = |scope: Scope| -> Vec<ObjKey> {
            view::<EndpointSlice>(&snap, "hz-1", &scope)
                .into_keys()
                .collect()
        };
        assert_eq!(
            keys(Scope {
                namespace: Some("b".into()),
                ..Default::default()
            }),
            [ObjKey::new("b", "web-1")]
        );
        assert_eq!(
            keys(Scope {
                namespace: Some("a".into()),
                name: Some("api-1".into()),
                ..Default::default()
            }),
            [ObjKey::new("a", "api-1")]
        );
        assert_eq!(
            keys(Scope {
                labels: LabelSelector::parse("kubernetes.io/service-name=api").expect("valid"),
                ..Default::default()
            }),
            [ObjKey::new("a", "api-1")]
        );
        assert_eq!(
            keys(Scope {
                fields: FieldSelector::parse("metadata.namespace!=a").expect("valid"),
                ..Default::default()
            }),
            [ObjKey::new("b", "web-1"), ObjKey::new("c", "web-1")]
        );
        assert!(
            keys(Scope {
                namespace: Some("zz".into()),
                ..Default::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn endpoints_share_the_service_name() {
        let mut snap = snapshot(vec![], &[("edge", "web")]);
        snap.endpoints = Arc::new(BTreeMap::from([
            (
                ObjKey::new("edge", "web"),
                Arc::new(legacy("edge", "web", &["hz-1", "bj-1"])),
            ),
            (
                ObjKey::new("edge", "api"),
                Arc::new(legacy("edge", "api", &["hz-1", "bj-1"])),
            ),
        ]));
        let seen: View<Endpoints> = view(&snap, "bj-1", &Scope::default());
        let count = |key: &str| {
            seen[&ObjKey::new("edge", key)]
                .subsets
                .iter()
                .flatten()
                .flat_map(|s| s.addresses.iter().flatten())
                .count()
        };
        assert_eq!(count("web"), 1);
        assert_eq!(count("api"), 2);
    }

    #[test]
    fn group_change_shows_up_as_modified() {
        let mut snap = snapshot(
            vec![
                slice("edge", "web-a", "web", &["hz-1", "bj-1"]),
                slice("edge", "api-a", "api", &["hz-1", "bj-1"]),
            ],
            &[("edge", "web")],
        );
        let before: View<EndpointSlice> = view(&snap, "hz-1", &Scope::default());
        // bj-1 moves to hangzhou
        let mut groups = (*snap.groups).clone();
        groups.insert("bj-1".into(), "hangzhou".into());
        snap.groups = Arc::new(groups);
        let after: View<EndpointSlice> = view(&snap, "hz-1", &Scope::default());
        let changes = diff(&before, &after);
        assert_eq!(changes.len(), 1, "only the closed Service's slice changes");
        match &changes[0] {
            Change::Modified(s) => assert_eq!(nodes_of(s), ["hz-1", "bj-1"]),
            other => panic!("expected MODIFIED, got {other:?}"),
        }
        // annotation removed: everything visible, nothing else changes
        snap.range_services = Arc::new(BTreeSet::new());
        let open: View<EndpointSlice> = view(&snap, "hz-1", &Scope::default());
        assert!(diff(&after, &open).is_empty());
    }

    #[test]
    fn diff_reports_added_modified_deleted_in_key_order() {
        let previous = BTreeMap::from([(1, "a"), (2, "b"), (4, "d")]);
        // diff is generic: plain values here, Arc'd objects in watches
        let next = BTreeMap::from([(0, "z"), (2, "B"), (3, "c"), (4, "d")]);
        assert_eq!(
            diff(&previous, &next),
            vec![
                Change::Added("z"),
                Change::Deleted("a"),
                Change::Modified("B"),
                Change::Added("c"),
            ]
        );
        assert!(diff(&next, &next).is_empty());
        assert_eq!(
            diff(&BTreeMap::new(), &previous),
            vec![Change::Added("a"), Change::Added("b"), Change::Added("d")]
        );
        assert_eq!(
            diff(&previous, &BTreeMap::new()),
            vec![
                Change::Deleted("a"),
                Change::Deleted("b"),
                Change::Deleted("d")
            ]
        );
    }

    #[test]
    fn stamp_gives_the_last_event_the_new_version() {
        let changes = vec![
            Change::Added(Arc::new(slice("a", "x", "s", &[]))),
            Change::Deleted(Arc::new(slice("a", "y", "s", &[]))),
            Change::Modified(Arc::new(slice("a", "z", "s", &[]))),
        ];
        let versions: Vec<_> = stamp(changes, 4, 9)
            .iter()
            .map(|c| c.object().metadata.resource_version.clone())
            .collect();
        assert_eq!(
            versions,
            [Some("4".into()), Some("4".into()), Some("9".into())]
        );
        assert!(stamp::<EndpointSlice>(vec![], 1, 2).is_empty());
    }

    #[test]
    fn list_and_events_are_kubernetes_shaped() {
        let snap = snapshot(vec![slice("a", "x", "s", &["hz-1"])], &[]);
        let list = list_json(view::<EndpointSlice>(&snap, "hz-1", &Scope::default()), 12)
            .expect("serializes");
        assert_eq!(list["kind"], "EndpointSliceList");
        assert_eq!(list["apiVersion"], "discovery.k8s.io/v1");
        assert_eq!(list["metadata"]["resourceVersion"], "12");
        assert_eq!(list["items"][0]["kind"], "EndpointSlice");
        assert_eq!(list["items"][0]["metadata"]["resourceVersion"], "12");

        let line = event_line("ADDED", &list["items"][0]).expect("serializes");
        assert!(line.ends_with(b"\n"));
        let event: Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(event["type"], "ADDED");
        assert_eq!(event["object"]["metadata"]["name"], "x");

        let mark = bookmark::<Endpoints>(5, true);
        assert_eq!(mark["kind"], "Endpoints");
        assert_eq!(mark["metadata"]["resourceVersion"], "5");
        assert_eq!(
            mark["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
        assert!(
            bookmark::<Endpoints>(5, false)["metadata"]
                .get("annotations")
                .is_none()
        );
    }

    #[test]
    fn unlabelled_node_label_is_not_a_group() {
        // the index comes from topology::node_group_index; a node whose label
        // is removed is simply absent and sees only itself
        let mut snap = snapshot(
            vec![slice("e", "w", "web", &["hz-1", "hz-2"])],
            &[("e", "web")],
        );
        let mut groups = (*snap.groups).clone();
        groups.remove("hz-1");
        snap.groups = Arc::new(groups);
        let seen: View<EndpointSlice> = view(&snap, "hz-1", &Scope::default());
        assert_eq!(nodes_of(&seen[&ObjKey::new("e", "w")]), ["hz-1"]);
    }
}
