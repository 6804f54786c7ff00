//! Builders for membership tests: literal nodes and groups, and proptest
//! strategies over a small pool of names and labels (small, so that random
//! nodes and groups collide often: conflicts are what the rules are about).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeStatus as K8sNodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use proptest::prelude::*;

use crate::api::{LABEL_BELONGING_TO, NodeGroup, NodeGroupSpec};

pub(super) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn node(name: &str, pairs: &[(&str, &str)], ready: Option<&str>) -> Node {
    let conditions = ready.map(|status| {
        vec![NodeCondition {
            type_: "Ready".into(),
            status: status.into(),
            ..Default::default()
        }]
    });
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(pairs)),
            ..Default::default()
        },
        status: Some(K8sNodeStatus {
            conditions,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn ts(second: i64) -> Time {
    Time(Timestamp::from_second(second).expect("test timestamp in range"))
}

pub(super) fn group(
    name: &str,
    nodes: &[&str],
    match_labels: Option<&[(&str, &str)]>,
    created: Option<i64>,
) -> NodeGroup {
    let mut g = NodeGroup::new(
        name,
        NodeGroupSpec {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            match_labels: match_labels.map(labels),
            topology_enabled: None,
        },
    );
    g.metadata.creation_timestamp = created.map(ts);
    g
}

pub(super) fn deleting(mut g: NodeGroup) -> NodeGroup {
    g.metadata.deletion_timestamp = Some(ts(5_000));
    g
}

pub(super) const NODE_POOL: [&str; 6] = ["n0", "n1", "n2", "n3", "n4", "n5"];
pub(super) const GROUP_POOL: [&str; 4] = ["g0", "g1", "g2", "g3"];

pub(super) fn arb_label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        prop::sample::select(vec!["zone", "disk"]).prop_map(String::from),
        prop::sample::select(vec!["a", "b"]).prop_map(String::from),
        0..=2,
    )
}

/// A node named `name`: random labels from the pool, maybe a recorded
/// group, maybe a Ready condition.
pub(super) fn arb_node(name: &'static str) -> impl Strategy<Value = Node> {
    (
        arb_label_map(),
        prop::option::of(prop::sample::select(GROUP_POOL.to_vec())),
        prop::option::of(prop::sample::select(vec!["True", "False", "Unknown"])),
    )
        .prop_map(move |(mut lbls, recorded, ready)| {
            if let Some(g) = recorded {
                lbls.insert(LABEL_BELONGING_TO.into(), g.into());
            }
            let pairs: Vec<(&str, &str)> =
                lbls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            node(name, &pairs, ready)
        })
}

/// A group named `name`: named nodes (one may not exist), maybe label
/// selection, topology, creation time, maybe being deleted.
pub(super) fn arb_group(name: &'static str) -> impl Strategy<Value = NodeGroup> {
    let extra_names = prop::sample::select(vec!["n0", "n1", "n2", "n3", "n4", "n5", "ghost"]);
    (
        prop::collection::vec(extra_names, 0..3),
        prop::option::of(arb_label_map()),
        prop::option::of(any::<bool>()),
        prop::option::of(0i64..3),
        any::<bool>(),
    )
        .prop_map(move |(nodes, ml, topo, created, is_deleting)| {
            let mut g = group(name, &nodes, None, created);
            g.spec.match_labels = ml;
            g.spec.topology_enabled = topo;
            if is_deleting { deleting(g) } else { g }
        })
}

/// Distinct nodes from the pool.
pub(super) fn arb_nodes() -> impl Strategy<Value = Vec<Node>> {
    prop::sample::subsequence(NODE_POOL.to_vec(), 0..=NODE_POOL.len())
        .prop_flat_map(|names| names.into_iter().map(arb_node).collect::<Vec<_>>())
}

/// Distinct groups from the pool.
pub(super) fn arb_groups() -> impl Strategy<Value = Vec<NodeGroup>> {
    prop::sample::subsequence(GROUP_POOL.to_vec(), 0..=GROUP_POOL.len())
        .prop_flat_map(|names| names.into_iter().map(arb_group).collect::<Vec<_>>())
}
