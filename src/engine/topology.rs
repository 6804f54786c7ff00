//! Traffic closure: which endpoints of a `range-nodegroup` Service a node may see.
//!
//! A viewer node sees an endpoint iff the endpoint runs on the viewer itself
//! or on a node carrying the same `apps.kubeedge.io/belonging-to` value. A
//! viewer in no group therefore sees only endpoints on itself: routing it
//! anywhere else could cross a network boundary it cannot reach.
//!
//! An endpoint without `nodeName` (or with an empty one) cannot be placed in
//! any group, so it is hidden from every node and reported as
//! [`EngineError::EndpointWithoutNodeName`] instead of being silently dropped.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointSubset, Endpoints, Node, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::EngineError;
use crate::api::{
    ANNOTATION_SERVICE_TOPOLOGY, LABEL_BELONGING_TO, SERVICE_TOPOLOGY_RANGE_NODEGROUP,
};

/// node name → NodeGroup name, for nodes that belong to one.
pub type NodeGroupIndex = BTreeMap<String, String>;

/// Reads the `belonging-to` label of every node.
///
/// An empty label value is skipped: no NodeGroup can have an empty name, and
/// indexing it would make all such nodes see each other as one group.
pub fn node_group_index(nodes: &[Node]) -> NodeGroupIndex {
    nodes
        .iter()
        .filter_map(|node| {
            let name = node.metadata.name.as_ref()?;
            let group = node.metadata.labels.as_ref()?.get(LABEL_BELONGING_TO)?;
            (!group.is_empty()).then(|| (name.clone(), group.clone()))
        })
        .collect()
}

/// Whether the Service carries `apps.kubeedge.io/service-topology: range-nodegroup`.
///
/// The value must match exactly, without trimming or case folding:
/// annotation values are compared verbatim everywhere in Kubernetes, and
/// guessing at near-misses would cut off traffic of a Service whose owner
/// never asked for closure.
pub fn is_range_nodegroup(service: &Service) -> bool {
    service
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_SERVICE_TOPOLOGY))
        .is_some_and(|v| v == SERVICE_TOPOLOGY_RANGE_NODEGROUP)
}

/// Whether `viewer` may see an endpoint on `endpoint_node`.
pub fn visible(endpoint_node: &str, viewer: &str, index: &NodeGroupIndex) -> bool {
    if endpoint_node == viewer {
        return true;
    }
    match (index.get(endpoint_node), index.get(viewer)) {
        (Some(endpoint_group), Some(viewer_group)) => endpoint_group == viewer_group,
        _ => false,
    }
}

/// The slice as `viewer` sees it, plus errors for endpoints without nodeName (hidden).
///
/// Only `endpoints` changes; metadata, ports and addressType are kept as
/// they are, so clients see an ordinary slice of the same Service. Error
/// indices are positions in the original `endpoints` list.
pub fn filter_endpoint_slice(
    slice: &EndpointSlice,
    viewer: &str,
    index: &NodeGroupIndex,
) -> (EndpointSlice, Vec<EngineError>) {
    let mut view = Visibility::new(describe("EndpointSlice", &slice.metadata), viewer, index);
    let endpoints = view.keep_visible(&slice.endpoints, 0, |e: &Endpoint| e.node_name.as_deref());
    let filtered = EndpointSlice {
        endpoints,
        ..slice.clone()
    };
    (filtered, view.errors)
}

/// Legacy Endpoints as `viewer` sees them.
///
/// Each subset's `addresses` and `notReadyAddresses` are filtered alike; a
/// subset left with neither is dropped, since Kubernetes never serves a
/// subset without addresses. An emptied list becomes absent, as the API
/// server would write it.
///
/// Error indices count addresses across the whole object, subset after
/// subset, each subset's `addresses` before its `notReadyAddresses`, so an
/// index names exactly one address even when there are several subsets.
pub fn filter_endpoints(
    endpoints: &Endpoints,
    viewer: &str,
    index: &NodeGroupIndex,
) -> (Endpoints, Vec<EngineError>) {
    let mut view = Visibility::new(describe("Endpoints", &endpoints.metadata), viewer, index);
    let mut position = 0;
    let mut subsets = Vec::new();
    for subset in endpoints.subsets.iter().flatten() {
        let ready = subset.addresses.as_deref().unwrap_or_default();
        let not_ready = subset.not_ready_addresses.as_deref().unwrap_or_default();
        let addresses = view.keep_visible(ready, position, address_node);
        let not_ready_addresses =
            view.keep_visible(not_ready, position + ready.len(), address_node);
        position += ready.len() + not_ready.len();
        if addresses.is_empty() && not_ready_addresses.is_empty() {
            continue;
        }
        subsets.push(EndpointSubset {
            addresses: non_empty(addresses),
            not_ready_addresses: non_empty(not_ready_addresses),
            ..subset.clone()
        });
    }
    let filtered = Endpoints {
        subsets: non_empty(subsets),
        ..endpoints.clone()
    };
    (filtered, view.errors)
}

/// How one group is served by one Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTraffic {
    pub group: String,
    /// Distinct endpoints on nodes of this group.
    pub endpoints: usize,
    /// Of those, the ones not known to be unready.
    pub ready_endpoints: usize,
}

/// How a Service's endpoints spread over node groups, for the console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceTraffic {
    /// One per group in `groups`, sorted by name. Whether a group without
    /// ready endpoints is a black hole is [`local_service`]'s question: it
    /// depends on where the Service's application is deployed.
    pub per_group: Vec<GroupTraffic>,
    /// Endpoints on nodes in no group: only their own node can reach them.
    pub ungrouped_endpoints: usize,
    /// Endpoints without nodeName, one error per occurrence.
    pub errors: Vec<EngineError>,
}

/// Counts one Service's endpoints per group.
///
/// `slices` must all belong to one Service (the caller restricts them).
///
/// Endpoints are deduplicated across slices because a dual-stack Service
/// lists every pod twice, once per address family. The identity is the
/// node plus the `targetRef` (its uid, or kind/namespace/name when the uid
/// is empty); without a `targetRef` it is the node plus the first address,
/// which cannot pair the two families of one pod, so such endpoints may be
/// counted twice. A deduplicated endpoint is ready if any copy is: one
/// reachable family is enough to serve traffic.
///
/// Readiness follows Kubernetes: only `ready: false` is unready; an absent
/// condition counts as ready.
///
/// Endpoints without nodeName are reported in `errors` and counted nowhere
/// else. Endpoints on a node whose group is not in `groups` (e.g. a group
/// being deleted whose label is not yet removed) are counted neither for a
/// group nor as ungrouped.
pub fn service_traffic(
    slices: &[EndpointSlice],
    groups: &[String],
    index: &NodeGroupIndex,
) -> ServiceTraffic {
    let (distinct, errors) = distinct_endpoints(slices);
    let mut per_group: BTreeMap<&str, GroupTraffic> = groups
        .iter()
        .map(|g| {
            let traffic = GroupTraffic {
                group: g.clone(),
                ..GroupTraffic::default()
            };
            (g.as_str(), traffic)
        })
        .collect();
    let mut ungrouped_endpoints = 0;
    for (key, ready) in &distinct {
        match index.get(&key.node) {
            None => ungrouped_endpoints += 1,
            Some(group) => {
                if let Some(traffic) = per_group.get_mut(group.as_str()) {
                    traffic.endpoints += 1;
                    traffic.ready_endpoints += usize::from(*ready);
                }
            }
        }
    }
    ServiceTraffic {
        per_group: per_group.into_values().collect(),
        ungrouped_endpoints,
        errors,
    }
}

/// What the clients in one group get from one range-nodegroup Service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalService {
    /// This many ready endpoints in the group serve its clients.
    Served(usize),
    /// The Service's application is deployed here, yet no endpoint here is
    /// ready: traffic closure leaves clients here nothing to reach.
    BlackHole,
    /// The Service's application does not target this group: nothing here
    /// was meant to serve it, and that is no fault.
    NotDeployed,
    /// The group has no nodes: no clients and no endpoints to miss.
    NoNodes,
}

/// How one group is served by one Service. `deployed` says whether the
/// Service's application targets the group (callers that cannot tell pass
/// `true`, so a missing endpoint is never hidden); `members` is the number
/// of nodes in the group. Ready endpoints serve whatever put them there.
pub fn local_service(traffic: &GroupTraffic, deployed: bool, members: usize) -> LocalService {
    if members == 0 {
        LocalService::NoNodes
    } else if traffic.ready_endpoints > 0 {
        LocalService::Served(traffic.ready_endpoints)
    } else if deployed {
        LocalService::BlackHole
    } else {
        LocalService::NotDeployed
    }
}

/// Identity of one endpoint across the slices of a Service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct EndpointKey {
    node: String,
    target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Uid(String),
    Object {
        kind: String,
        namespace: String,
        name: String,
    },
    Address(String),
    /// Neither targetRef nor address (invalid, but possible in raw data):
    /// nothing to pair it with, so it stays unique.
    Position {
        slice: usize,
        index: usize,
    },
}

/// Endpoint key → ready, plus errors for endpoints without nodeName.
fn distinct_endpoints(slices: &[EndpointSlice]) -> (BTreeMap<EndpointKey, bool>, Vec<EngineError>) {
    let mut distinct: BTreeMap<EndpointKey, bool> = BTreeMap::new();
    let mut errors = Vec::new();
    for (slice_position, slice) in slices.iter().enumerate() {
        for (index, endpoint) in slice.endpoints.iter().enumerate() {
            let Some(node) = present(endpoint.node_name.as_deref()) else {
                errors.push(EngineError::EndpointWithoutNodeName {
                    object: describe("EndpointSlice", &slice.metadata),
                    index,
                });
                continue;
            };
            let key = EndpointKey {
                node: node.to_owned(),
                target: target_of(endpoint, slice_position, index),
            };
            *distinct.entry(key).or_insert(false) |= is_ready(endpoint);
        }
    }
    (distinct, errors)
}

fn target_of(endpoint: &Endpoint, slice: usize, index: usize) -> Target {
    if let Some(target) = &endpoint.target_ref {
        if let Some(uid) = present(target.uid.as_deref()) {
            return Target::Uid(uid.to_owned());
        }
        if let Some(name) = present(target.name.as_deref()) {
            return Target::Object {
                kind: target.kind.clone().unwrap_or_default(),
                namespace: target.namespace.clone().unwrap_or_default(),
                name: name.to_owned(),
            };
        }
    }
    match endpoint.addresses.first() {
        Some(address) => Target::Address(address.clone()),
        None => Target::Position { slice, index },
    }
}

fn is_ready(endpoint: &Endpoint) -> bool {
    endpoint.conditions.as_ref().and_then(|c| c.ready) != Some(false)
}

/// Filters items by node for one viewer, collecting errors as it goes.
struct Visibility<'a> {
    object: String,
    viewer: &'a str,
    index: &'a NodeGroupIndex,
    errors: Vec<EngineError>,
}

impl<'a> Visibility<'a> {
    fn new(object: String, viewer: &'a str, index: &'a NodeGroupIndex) -> Self {
        Visibility {
            object,
            viewer,
            index,
            errors: Vec::new(),
        }
    }

    /// Visible items of `items`; `first_index` is the error index of `items[0]`.
    fn keep_visible<T: Clone>(
        &mut self,
        items: &[T],
        first_index: usize,
        node_of: impl Fn(&T) -> Option<&str>,
    ) -> Vec<T> {
        let mut kept = Vec::new();
        for (offset, item) in items.iter().enumerate() {
            match present(node_of(item)) {
                Some(node) if visible(node, self.viewer, self.index) => kept.push(item.clone()),
                Some(_) => {}
                None => self.errors.push(EngineError::EndpointWithoutNodeName {
                    object: self.object.clone(),
                    index: first_index + offset,
                }),
            }
        }
        kept
    }
}

fn address_node(address: &EndpointAddress) -> Option<&str> {
    address.node_name.as_deref()
}

/// An empty name places nothing anywhere; treat it as missing.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// "Kind namespace/name", as in every other engine error message.
fn describe(kind: &str, meta: &ObjectMeta) -> String {
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointPort, ObjectReference};
    use k8s_openapi::api::discovery::v1::{EndpointConditions, EndpointPort as SlicePort};
    use proptest::prelude::*;

    fn index(pairs: &[(&str, &str)]) -> NodeGroupIndex {
        pairs
            .iter()
            .map(|(n, g)| (n.to_string(), g.to_string()))
            .collect()
    }

    /// hz-1, hz-2 in hangzhou; bj-1 in beijing; lone in no group.
    fn fleet() -> NodeGroupIndex {
        index(&[
            ("hz-1", "hangzhou"),
            ("hz-2", "hangzhou"),
            ("bj-1", "beijing"),
        ])
    }

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("edge".into()),
            ..Default::default()
        }
    }

    fn endpoint(node: Option<&str>, address: &str, ready: Option<bool>) -> Endpoint {
        Endpoint {
            addresses: vec![address.into()],
            node_name: node.map(String::from),
            conditions: Some(EndpointConditions {
                ready,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn slice(name: &str, endpoints: Vec<Endpoint>) -> EndpointSlice {
        EndpointSlice {
            metadata: meta(name),
            address_type: "IPv4".into(),
            endpoints,
            ports: Some(vec![SlicePort {
                port: Some(80),
                ..Default::default()
            }]),
        }
    }

    fn addresses(slice: &EndpointSlice) -> Vec<&str> {
        slice
            .endpoints
            .iter()
            .flat_map(|e| e.addresses.iter().map(String::as_str))
            .collect()
    }

    fn labelled_node(name: &str, group: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: group
                    .map(|g| BTreeMap::from([(LABEL_BELONGING_TO.to_string(), g.to_string())])),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn node_group_index_reads_the_belonging_to_label() {
        let nodes = vec![
            labelled_node("hz-1", Some("hangzhou")),
            labelled_node("lone", None),
            labelled_node("blank", Some("")),
            Node::default(),
        ];
        assert_eq!(node_group_index(&nodes), index(&[("hz-1", "hangzhou")]));
    }

    #[test]
    fn range_nodegroup_annotation_must_match_exactly() {
        let service = |value: Option<&str>| Service {
            metadata: ObjectMeta {
                annotations: value.map(|v| {
                    BTreeMap::from([(ANNOTATION_SERVICE_TOPOLOGY.to_string(), v.to_string())])
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(is_range_nodegroup(&service(Some("range-nodegroup"))));
        assert!(!is_range_nodegroup(&service(Some(" range-nodegroup "))));
        assert!(!is_range_nodegroup(&service(Some("Range-NodeGroup"))));
        assert!(!is_range_nodegroup(&service(Some("all"))));
        assert!(!is_range_nodegroup(&service(None)));
    }

    #[test]
    fn visibility_follows_groups() {
        let idx = fleet();
        assert!(visible("hz-2", "hz-1", &idx));
        assert!(visible("hz-1", "hz-1", &idx));
        assert!(!visible("bj-1", "hz-1", &idx));
        assert!(
            !visible("lone", "hz-1", &idx),
            "an ungrouped endpoint is not in the viewer's group"
        );
    }

    #[test]
    fn viewer_in_no_group_sees_only_itself() {
        let idx = fleet();
        assert!(visible("lone", "lone", &idx));
        assert!(!visible("hz-1", "lone", &idx));
        assert!(
            !visible("other-lone", "lone", &idx),
            "two ungrouped nodes are not one group"
        );
    }

    #[test]
    fn slice_keeps_only_same_group_endpoints_and_everything_else() {
        let original = slice(
            "web-abc",
            vec![
                endpoint(Some("hz-1"), "10.0.0.1", Some(true)),
                endpoint(Some("bj-1"), "10.0.1.1", Some(true)),
                endpoint(Some("hz-2"), "10.0.0.2", Some(false)),
                endpoint(Some("lone"), "10.0.2.1", None),
            ],
        );
        let (view, errors) = filter_endpoint_slice(&original, "hz-2", &fleet());
        assert!(errors.is_empty());
        assert_eq!(addresses(&view), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(view.metadata, original.metadata);
        assert_eq!(view.ports, original.ports);
        assert_eq!(view.address_type, original.address_type);
    }

    #[test]
    fn slice_for_ungrouped_viewer_holds_only_its_own_endpoints() {
        let original = slice(
            "web-abc",
            vec![
                endpoint(Some("hz-1"), "10.0.0.1", None),
                endpoint(Some("lone"), "10.0.2.1", None),
            ],
        );
        let (view, _) = filter_endpoint_slice(&original, "lone", &fleet());
        assert_eq!(addresses(&view), ["10.0.2.1"]);
    }

    #[test]
    fn slice_endpoint_without_node_name_is_hidden_and_reported() {
        let original = slice(
            "web-abc",
            vec![
                endpoint(Some("hz-1"), "10.0.0.1", None),
                endpoint(None, "10.9.9.9", None),
                endpoint(Some(""), "10.9.9.8", None),
            ],
        );
        let (view, errors) = filter_endpoint_slice(&original, "hz-1", &fleet());
        assert_eq!(addresses(&view), ["10.0.0.1"]);
        assert_eq!(
            errors,
            [1, 2].map(|index| EngineError::EndpointWithoutNodeName {
                object: "EndpointSlice edge/web-abc".into(),
                index,
            })
        );
        assert_eq!(
            errors[0].to_string(),
            "EndpointSlice edge/web-abc: endpoint 1 has no nodeName; hidden from every node"
        );
    }

    fn address(node: Option<&str>, ip: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.into(),
            node_name: node.map(String::from),
            ..Default::default()
        }
    }

    fn subset(ready: Vec<EndpointAddress>, not_ready: Vec<EndpointAddress>) -> EndpointSubset {
        EndpointSubset {
            addresses: non_empty(ready),
            not_ready_addresses: non_empty(not_ready),
            ports: Some(vec![EndpointPort {
                port: 80,
                ..Default::default()
            }]),
        }
    }

    fn legacy(subsets: Vec<EndpointSubset>) -> Endpoints {
        Endpoints {
            metadata: meta("web"),
            subsets: Some(subsets),
        }
    }

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        list.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn endpoints_filter_ready_and_not_ready_addresses() {
        let original = legacy(vec![subset(
            vec![
                address(Some("hz-1"), "10.0.0.1"),
                address(Some("bj-1"), "10.0.1.1"),
            ],
            vec![
                address(Some("hz-2"), "10.0.0.2"),
                address(Some("bj-1"), "10.0.1.2"),
            ],
        )]);
        let (view, errors) = filter_endpoints(&original, "hz-1", &fleet());
        assert!(errors.is_empty());
        let subsets = view.subsets.unwrap_or_default();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.2"]);
        assert_eq!(
            subsets[0].ports,
            original.subsets.as_ref().and_then(|s| s[0].ports.clone())
        );
        assert_eq!(view.metadata, original.metadata);
    }

    #[test]
    fn endpoints_keep_a_subset_with_only_not_ready_addresses() {
        let original = legacy(vec![subset(
            vec![address(Some("bj-1"), "10.0.1.1")],
            vec![address(Some("hz-2"), "10.0.0.2")],
        )]);
        let (view, _) = filter_endpoints(&original, "hz-1", &fleet());
        let subsets = view.subsets.unwrap_or_default();
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].addresses, None);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.2"]);
    }

    #[test]
    fn endpoints_drop_subsets_left_without_addresses() {
        let original = legacy(vec![
            subset(vec![address(Some("bj-1"), "10.0.1.1")], vec![]),
            subset(vec![address(Some("hz-1"), "10.0.0.1")], vec![]),
        ]);
        let (view, _) = filter_endpoints(&original, "hz-2", &fleet());
        let subsets = view.subsets.unwrap_or_default();
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1"]);

        let (nothing, _) = filter_endpoints(&original, "lone", &fleet());
        assert_eq!(nothing.subsets, None);
    }

    #[test]
    fn endpoints_report_addresses_without_node_name_by_running_index() {
        let original = legacy(vec![
            subset(
                vec![address(Some("hz-1"), "10.0.0.1")],
                vec![address(None, "10.9.9.1")],
            ),
            subset(vec![address(None, "10.9.9.2")], vec![]),
        ]);
        let (view, errors) = filter_endpoints(&original, "hz-1", &fleet());
        assert_eq!(view.subsets.map(|s| s.len()), Some(1));
        assert_eq!(
            errors,
            [1, 2].map(|index| EngineError::EndpointWithoutNodeName {
                object: "Endpoints edge/web".into(),
                index,
            })
        );
    }

    fn pod_ref(uid: &str, name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("edge".into()),
            name: Some(name.into()),
            uid: Some(uid.into()),
            ..Default::default()
        }
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|g| g.to_string()).collect()
    }

    fn traffic(group: &str, endpoints: usize, ready_endpoints: usize) -> GroupTraffic {
        GroupTraffic {
            group: group.into(),
            endpoints,
            ready_endpoints,
        }
    }

    #[test]
    fn service_traffic_counts_per_group() {
        let slices = vec![slice(
            "web-abc",
            vec![
                endpoint(Some("hz-1"), "10.0.0.1", Some(true)),
                endpoint(Some("hz-2"), "10.0.0.2", None),
                endpoint(Some("bj-1"), "10.0.1.1", Some(false)),
                endpoint(Some("lone"), "10.0.2.1", Some(true)),
            ],
        )];
        let result = service_traffic(
            &slices,
            &groups(&["shanghai", "hangzhou", "beijing"]),
            &fleet(),
        );
        assert_eq!(
            result,
            ServiceTraffic {
                per_group: vec![
                    traffic("beijing", 1, 0),
                    traffic("hangzhou", 2, 2),
                    traffic("shanghai", 0, 0)
                ],
                ungrouped_endpoints: 1,
                errors: vec![],
            }
        );
    }

    #[test]
    fn service_traffic_dedupes_dual_stack_endpoints_by_target_ref() {
        let mut v4 = endpoint(Some("hz-1"), "10.0.0.1", Some(false));
        v4.target_ref = Some(pod_ref("uid-1", "web-1"));
        let mut v6 = endpoint(Some("hz-1"), "fd00::1", Some(true));
        v6.target_ref = Some(pod_ref("uid-1", "web-1"));
        let mut other = endpoint(Some("hz-1"), "10.0.0.2", Some(false));
        other.target_ref = Some(pod_ref("", "web-2"));
        let mut other_v6 = endpoint(Some("hz-1"), "fd00::2", Some(false));
        other_v6.target_ref = Some(pod_ref("", "web-2"));
        let slices = vec![
            slice("web-v4", vec![v4, other]),
            slice("web-v6", vec![v6, other_v6]),
        ];
        let result = service_traffic(&slices, &groups(&["hangzhou"]), &fleet());
        assert_eq!(result.per_group, [traffic("hangzhou", 2, 1)]);
    }

    #[test]
    fn service_traffic_without_target_ref_dedupes_by_first_address() {
        let slices = vec![
            slice("a", vec![endpoint(Some("bj-1"), "10.0.1.1", Some(true))]),
            slice("b", vec![endpoint(Some("bj-1"), "10.0.1.1", Some(true))]),
            slice("c", vec![endpoint(Some("bj-1"), "10.0.1.2", Some(true))]),
        ];
        let result = service_traffic(&slices, &groups(&["beijing"]), &fleet());
        assert_eq!(result.per_group, [traffic("beijing", 2, 2)]);
    }

    #[test]
    fn service_traffic_treats_unknown_readiness_as_ready() {
        let mut bare = endpoint(Some("bj-1"), "10.0.1.1", None);
        bare.conditions = None;
        let result = service_traffic(&[slice("a", vec![bare])], &groups(&["beijing"]), &fleet());
        assert_eq!(result.per_group, [traffic("beijing", 1, 1)]);
    }

    #[test]
    fn service_traffic_reports_endpoints_without_node_name() {
        let slices = vec![slice(
            "web-abc",
            vec![
                endpoint(Some("hz-1"), "10.0.0.1", None),
                endpoint(None, "10.9.9.9", None),
            ],
        )];
        let result = service_traffic(&slices, &groups(&["hangzhou"]), &fleet());
        assert_eq!(result.per_group, [traffic("hangzhou", 1, 1)]);
        assert_eq!(result.ungrouped_endpoints, 0);
        assert_eq!(
            result.errors,
            [EngineError::EndpointWithoutNodeName {
                object: "EndpointSlice edge/web-abc".into(),
                index: 1,
            }]
        );
    }

    #[test]
    fn service_traffic_lists_each_group_once() {
        let result = service_traffic(&[], &groups(&["b", "a", "b"]), &NodeGroupIndex::new());
        assert_eq!(result.per_group, [traffic("a", 0, 0), traffic("b", 0, 0)]);
    }

    #[test]
    fn a_black_hole_needs_nodes_and_the_app_deployed_there() {
        let none = traffic("beijing", 0, 0);
        let unready = traffic("beijing", 2, 0);
        assert_eq!(local_service(&none, true, 3), LocalService::BlackHole);
        assert_eq!(local_service(&unready, true, 3), LocalService::BlackHole);
        assert_eq!(local_service(&none, false, 3), LocalService::NotDeployed);
        assert_eq!(local_service(&unready, false, 3), LocalService::NotDeployed);
        assert_eq!(local_service(&none, true, 0), LocalService::NoNodes);
        let ready = traffic("beijing", 2, 1);
        assert_eq!(local_service(&ready, true, 3), LocalService::Served(1));
        assert_eq!(local_service(&ready, false, 3), LocalService::Served(1));
    }

    // --- properties ---------------------------------------------------------

    const NODES: [&str; 6] = ["n0", "n1", "n2", "n3", "n4", "n5"];

    fn arb_index() -> impl Strategy<Value = NodeGroupIndex> {
        prop::collection::btree_map(
            prop::sample::select(NODES.to_vec()).prop_map(String::from),
            prop::sample::select(vec!["g0", "g1", "g2"]).prop_map(String::from),
            0..=NODES.len(),
        )
    }

    fn arb_node_name() -> impl Strategy<Value = Option<String>> {
        let names: Vec<&str> = NODES.iter().copied().chain(["", "outsider"]).collect();
        prop::option::of(prop::sample::select(names).prop_map(String::from))
    }

    fn arb_slice() -> impl Strategy<Value = EndpointSlice> {
        let one = (arb_node_name(), 0u8..8, prop::option::of(any::<bool>()));
        prop::collection::vec(one, 0..8).prop_map(|eps| {
            let endpoints = eps
                .into_iter()
                .map(|(node, ip, ready)| endpoint(node.as_deref(), &format!("10.0.0.{ip}"), ready))
                .collect();
            slice("s", endpoints)
        })
    }

    fn arb_address() -> impl Strategy<Value = EndpointAddress> {
        (arb_node_name(), 0u8..8)
            .prop_map(|(node, ip)| address(node.as_deref(), &format!("10.0.0.{ip}")))
    }

    fn arb_endpoints() -> impl Strategy<Value = Endpoints> {
        let one = (
            prop::collection::vec(arb_address(), 0..4),
            prop::collection::vec(arb_address(), 0..4),
        );
        prop::collection::vec(one, 0..4)
            .prop_map(|subsets| legacy(subsets.into_iter().map(|(r, n)| subset(r, n)).collect()))
    }

    fn arb_viewer() -> impl Strategy<Value = String> {
        prop::sample::select(
            NODES
                .iter()
                .copied()
                .chain(["outsider"])
                .collect::<Vec<_>>(),
        )
        .prop_map(String::from)
    }

    /// The closure rule restated independently of `visible`.
    fn allowed(node: Option<&str>, viewer: &str, idx: &NodeGroupIndex) -> bool {
        match node {
            None | Some("") => false,
            Some(n) if n == viewer => true,
            Some(n) => idx.contains_key(viewer) && idx.get(n) == idx.get(viewer),
        }
    }

    proptest! {
        #[test]
        fn slice_view_never_leaks_and_is_idempotent(s in arb_slice(), idx in arb_index(), viewer in arb_viewer()) {
            let (view, errors) = filter_endpoint_slice(&s, &viewer, &idx);
            for e in &view.endpoints {
                prop_assert!(allowed(e.node_name.as_deref(), &viewer, &idx), "{viewer} sees {:?}", e.node_name);
            }
            let expected = s.endpoints.iter().filter(|e| allowed(e.node_name.as_deref(), &viewer, &idx)).count();
            prop_assert_eq!(view.endpoints.len(), expected);
            let hidden = s.endpoints.iter().filter(|e| present(e.node_name.as_deref()).is_none()).count();
            prop_assert_eq!(errors.len(), hidden);

            let (again, again_errors) = filter_endpoint_slice(&view, &viewer, &idx);
            prop_assert_eq!(&again, &view);
            prop_assert!(again_errors.is_empty());
        }

        #[test]
        fn endpoints_view_never_leaks_and_is_idempotent(ep in arb_endpoints(), idx in arb_index(), viewer in arb_viewer()) {
            let (view, _) = filter_endpoints(&ep, &viewer, &idx);
            for subset in view.subsets.iter().flatten() {
                let all = subset.addresses.iter().flatten().chain(subset.not_ready_addresses.iter().flatten());
                let mut count = 0;
                for a in all {
                    prop_assert!(allowed(a.node_name.as_deref(), &viewer, &idx), "{viewer} sees {:?}", a.node_name);
                    count += 1;
                }
                prop_assert!(count > 0, "empty subset kept");
            }
            let (again, again_errors) = filter_endpoints(&view, &viewer, &idx);
            prop_assert_eq!(&again, &view);
            prop_assert!(again_errors.is_empty());
        }
    }
}
