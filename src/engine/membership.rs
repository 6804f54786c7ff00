//! Which node belongs to which NodeGroup, and what each group's status says.
//! INTERFACE STUB — to be implemented.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::api::{NodeGroup, NodeGroupStatus, ReadyStatus};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Membership {
    /// Per NodeGroup name (every group passed in): its complete status.
    pub statuses: BTreeMap<String, NodeGroupStatus>,
    /// Per existing node name (every node passed in): the labels edgedeck
    /// manages that the node must carry; empty when it is in no group.
    pub node_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Per node name: the group it belongs to (absent when none).
    pub node_group: BTreeMap<String, String>,
}

/// Resolves membership of every node in every group.
pub fn compute(_nodes: &[Node], _groups: &[NodeGroup]) -> Membership {
    todo!()
}

/// Ready/NotReady/Unknown from the node's Ready condition.
pub fn readiness(_node: &Node) -> ReadyStatus {
    todo!()
}

/// Pods bound to `node_name` whose nodeSelector pins them to a group other than `group`.
pub fn pods_to_evict<'a>(_node_name: &str, _group: Option<&str>, _pods: &'a [Pod]) -> Vec<&'a Pod> {
    todo!()
}
