//! When each node last said it was alive, since when it has been silent,
//! and which pods are still bound to it.
//!
//! A kubelet renews its Lease in `kube-node-lease` every few seconds and
//! writes the Ready condition's `lastHeartbeatTime` far less often, so the
//! Lease is the better clock; the condition is the fallback for clusters
//! (or simulators) that keep no leases.

use std::collections::HashMap;
use std::time::SystemTime;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;

use super::{Fleet, NodeInfo};
use crate::api::ReadyStatus;

/// The namespace kubelets keep their leases in.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// A node's lease, slim: its name is the node's.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLease {
    pub node: String,
    pub renewed: Option<SystemTime>,
}

impl NodeLease {
    pub fn from_lease(l: &Lease) -> Option<NodeLease> {
        Some(NodeLease {
            node: l.metadata.name.clone()?,
            renewed: l
                .spec
                .as_ref()
                .and_then(|s| s.renew_time.as_ref())
                .map(|t| SystemTime::from(t.0)),
        })
    }
}

/// Where a heartbeat was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeatSource {
    Lease,
    ReadyCondition,
}

/// One node's heartbeat, in [`super::Derived::nodes`] order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeBeat {
    pub last: Option<(SystemTime, BeatSource)>,
    /// NotReady/Unknown: since when (the Ready condition's last transition).
    pub offline_since: Option<SystemTime>,
    /// Pods whose `spec.nodeName` is this node.
    pub pods: usize,
}

fn ready_condition(node: &Node) -> Option<&k8s_openapi::api::core::v1::NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

pub fn compute(fleet: &Fleet, nodes: &[NodeInfo]) -> Vec<NodeBeat> {
    let leases: HashMap<&str, SystemTime> = fleet
        .node_leases
        .iter()
        .filter_map(|l| Some((l.node.as_str(), l.renewed?)))
        .collect();
    let objects: HashMap<&str, &Node> = fleet
        .nodes
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, n)))
        .collect();
    let mut pods: HashMap<&str, usize> = HashMap::new();
    for p in &fleet.pods {
        if let Some(n) = p.node.as_deref() {
            *pods.entry(n).or_default() += 1;
        }
    }
    nodes
        .iter()
        .map(|n| {
            let cond = objects
                .get(n.name.as_str())
                .and_then(|o| ready_condition(o));
            let last = match leases.get(n.name.as_str()) {
                Some(t) => Some((*t, BeatSource::Lease)),
                None => cond
                    .and_then(|c| c.last_heartbeat_time.as_ref())
                    .map(|t| (SystemTime::from(t.0), BeatSource::ReadyCondition)),
            };
            // Without a recorded transition, the last heartbeat is when it went silent.
            let offline_since = (n.ready != ReadyStatus::Ready)
                .then(|| {
                    cond.and_then(|c| c.last_transition_time.as_ref())
                        .map(|t| SystemTime::from(t.0))
                        .or(last.map(|(t, _)| t))
                })
                .flatten();
            NodeBeat {
                last,
                offline_since,
                pods: pods.get(n.name.as_str()).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// Since when a group has been degraded: the earliest moment one of its
/// members went offline, among those still offline.
pub fn degraded_since(beats: &[NodeBeat], members: &[usize]) -> Option<SystemTime> {
    members
        .iter()
        .filter_map(|&i| beats.get(i)?.offline_since)
        .min()
}
