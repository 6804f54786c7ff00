//! Which node belongs to which NodeGroup, and what each group's status says.
//!
//! # Selection
//!
//! A group selects a node when the node's labels contain every pair of
//! `spec.matchLabels`, or when the node's name is listed in `spec.nodes`.
//! An absent *or empty* `matchLabels` selects nothing (DESIGN §2, "Where we
//! deliberately differ"): a label selector built from `{}` matches every
//! node, which would silently swallow the whole fleet into one group.
//!
//! # One group per node
//!
//! When several groups select the same node, exactly one wins; the others
//! list the node as `Failed` with the reason
//! `node already belongs to nodegroup "<winner>"`. The winner is chosen by,
//! in order:
//!
//! 1. the group already recorded on the node (label
//!    `apps.kubeedge.io/belonging-to`), if it still exists, is not being
//!    deleted and still selects the node — so creating a new group never
//!    steals nodes from a settled one, and pods pinned there keep running;
//! 2. a group naming the node in `spec.nodes` over one only matching labels,
//!    because an explicit name is the stronger statement of intent;
//! 3. the older `creationTimestamp` (a group without one sorts last: it has
//!    not been persisted yet, so it is the newest);
//! 4. the lexicographically smaller name, so the result never depends on
//!    the order the groups were listed in.
//!
//! # Groups being deleted
//!
//! A group with `metadata.deletionTimestamp` wins no members: its nodes are
//! free for other groups at once, and the controller strips its labels
//! before releasing the finalizer. Such a group is also left out of
//! [`Membership::statuses`]: nobody reads the status of an object on its way
//! out, and writing it would only race the deletion.
//!
//! # Input assumptions
//!
//! Node and group names are unique, as the API server guarantees for
//! cluster-scoped objects; should a name repeat anyway, the first object
//! with it is used. Objects without `metadata.name` are ignored: they
//! cannot be addressed, labelled or patched.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;

use crate::api::{
    LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE, NodeGroup, NodeGroupStatus, NodeStatus, ReadyStatus,
    SelectionStatus,
};

/// Reason on a named node that is not in the cluster (KubeEdge wording).
pub const REASON_NODE_DOES_NOT_EXIST: &str = "node does not exist";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Membership {
    /// Per NodeGroup name (every group passed in that is not being deleted):
    /// its complete status.
    pub statuses: BTreeMap<String, NodeGroupStatus>,
    /// Per existing node name (every node passed in): the labels edgedeck
    /// manages that the node must carry; empty when it is in no group.
    pub node_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Per node name: the group it belongs to (absent when none).
    pub node_group: BTreeMap<String, String>,
}

/// Reason on a node that another group won.
pub fn reason_belongs_to(winner: &str) -> String {
    format!("node already belongs to nodegroup {winner:?}")
}

/// Per live group name: node name → that node's entry in the group's status.
/// Keyed by node name so entries come out sorted and a node named twice, or
/// both named and label-matched, is listed once.
type Entries<'g> = BTreeMap<&'g str, BTreeMap<String, NodeStatus>>;

/// Resolves membership of every node in every group.
pub fn compute(nodes: &[Node], groups: &[NodeGroup]) -> Membership {
    let nodes_by_name = index_nodes(nodes);
    let live = live_groups(groups);
    let mut entries: Entries = live.keys().map(|name| (*name, BTreeMap::new())).collect();
    let mut membership = Membership::default();

    for (&node_name, &node) in &nodes_by_name {
        let winner = assign(node_name, node, &live, &mut entries);
        let labels = winner
            .and_then(|w| live.get(w).map(|group| managed_labels(w, group)))
            .unwrap_or_default();
        membership.node_labels.insert(node_name.to_owned(), labels);
        if let Some(w) = winner {
            membership
                .node_group
                .insert(node_name.to_owned(), w.to_owned());
        }
    }
    add_missing_nodes(&live, &nodes_by_name, &mut entries);

    membership.statuses = entries
        .into_iter()
        .map(|(name, node_statuses)| (name.to_owned(), status_of(node_statuses)))
        .collect();
    membership
}

/// Ready/NotReady/Unknown from the node's Ready condition.
pub fn readiness(node: &Node) -> ReadyStatus {
    let condition = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    match condition.map(|c| c.status.as_str()) {
        Some("True") => ReadyStatus::Ready,
        Some("False") => ReadyStatus::NotReady,
        _ => ReadyStatus::Unknown,
    }
}

/// Pods bound to `node_name` whose nodeSelector pins them to a group other than `group`.
///
/// Pods already terminating or finished are skipped: evicting them again
/// achieves nothing. Pods with no `belonging-to` selector were never pinned
/// to a group, so group changes are none of their business.
pub fn pods_to_evict<'a>(node_name: &str, group: Option<&str>, pods: &'a [Pod]) -> Vec<&'a Pod> {
    pods.iter()
        .filter(|pod| is_bound_to(pod, node_name) && is_running(pod))
        .filter(|pod| pinned_group(pod).is_some_and(|pinned| Some(pinned) != group))
        .collect()
}

fn is_bound_to(pod: &Pod, node_name: &str) -> bool {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name)
}

fn is_running(pod: &Pod) -> bool {
    let finished = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    pod.metadata.deletion_timestamp.is_none() && !finished
}

fn pinned_group(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_selector
        .as_ref()?
        .get(LABEL_BELONGING_TO)
        .map(String::as_str)
}

/// One group's claim on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claim<'a> {
    name: &'a str,
    /// Named in `spec.nodes`, as opposed to only matching labels.
    explicit: bool,
    created: Option<Timestamp>,
}

/// A node's labels (none when it has no labels map).
type Labels = BTreeMap<String, String>;

fn node_labels(node: &Node) -> Option<&Labels> {
    node.metadata.labels.as_ref()
}

fn index_nodes(nodes: &[Node]) -> BTreeMap<&str, &Node> {
    let mut by_name = BTreeMap::new();
    for node in nodes {
        if let Some(name) = node.metadata.name.as_deref() {
            by_name.entry(name).or_insert(node);
        }
    }
    by_name
}

/// Whether a group takes part in membership at all: one being deleted wins
/// and lists nothing.
fn is_live(group: &NodeGroup) -> bool {
    group.metadata.deletion_timestamp.is_none()
}

fn live_groups(groups: &[NodeGroup]) -> BTreeMap<&str, &NodeGroup> {
    let mut by_name = BTreeMap::new();
    for group in groups.iter().filter(|g| is_live(g)) {
        if let Some(name) = group.metadata.name.as_deref() {
            by_name.entry(name).or_insert(group);
        }
    }
    by_name
}

/// Records the node in every group that selects it; returns the winner.
fn assign<'g>(
    node_name: &str,
    node: &Node,
    live: &BTreeMap<&'g str, &'g NodeGroup>,
    entries: &mut Entries<'g>,
) -> Option<&'g str> {
    let labels = node_labels(node);
    let claims: Vec<Claim<'g>> = live
        .iter()
        .filter_map(|(&name, &group)| claim(name, group, node_name, labels))
        .collect();
    // No winner means no claims: the node appears in no group's status.
    let winner = pick_winner(labels, &claims)?;
    let ready = readiness(node);
    for claim in &claims {
        let status = selection(node_name, ready, claim.name, winner);
        entries
            .entry(claim.name)
            .or_default()
            .insert(node_name.to_owned(), status);
    }
    Some(winner)
}

fn add_missing_nodes<'g>(
    live: &BTreeMap<&'g str, &'g NodeGroup>,
    nodes_by_name: &BTreeMap<&str, &Node>,
    entries: &mut Entries<'g>,
) {
    for (&group_name, &group) in live {
        let group_entries = entries.entry(group_name).or_default();
        for name in missing_named(group, |n| nodes_by_name.contains_key(n)) {
            group_entries.insert(name.to_owned(), missing_node(name));
        }
    }
}

/// The names in `spec.nodes` that `exists` does not know.
fn missing_named(group: &NodeGroup, exists: impl Fn(&str) -> bool) -> impl Iterator<Item = &str> {
    group
        .spec
        .nodes
        .iter()
        .map(String::as_str)
        .filter(move |n| !exists(n))
}

/// The claim live group `name` makes on a node, if it selects it (by name
/// or by labels). Liveness is the caller's: it decides which groups to ask.
fn claim<'g>(
    name: &'g str,
    group: &NodeGroup,
    node_name: &str,
    labels: Option<&Labels>,
) -> Option<Claim<'g>> {
    let explicit = group.spec.nodes.iter().any(|n| n == node_name);
    (explicit || matches_labels(group, labels)).then(|| Claim {
        name,
        explicit,
        created: group.metadata.creation_timestamp.as_ref().map(|t| t.0),
    })
}

/// The pairs a group's label selection requires; None when it selects
/// nothing by labels (absent or empty `matchLabels`).
fn required_labels(group: &NodeGroup) -> Option<&Labels> {
    group.spec.match_labels.as_ref().filter(|m| !m.is_empty())
}

fn matches_labels(group: &NodeGroup, labels: Option<&Labels>) -> bool {
    let Some(wanted) = required_labels(group) else {
        return false;
    };
    wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// The winner among the claims on a node with `labels`.
fn pick_winner<'a>(labels: Option<&Labels>, claims: &[Claim<'a>]) -> Option<&'a str> {
    let recorded = labels.and_then(|l| l.get(LABEL_BELONGING_TO));
    if let Some(claim) = claims
        .iter()
        .find(|c| Some(c.name) == recorded.map(String::as_str))
    {
        return Some(claim.name);
    }
    claims.iter().min_by_key(|c| precedence(c)).map(|c| c.name)
}

/// Smaller wins: explicit first, then older, then by name.
fn precedence<'c>(claim: &'c Claim<'_>) -> (bool, bool, Option<Timestamp>, &'c str) {
    (
        !claim.explicit,
        claim.created.is_none(),
        claim.created,
        claim.name,
    )
}

/// The entry for `node_name` in the status of `group`, which claims it.
fn selection(node_name: &str, ready: ReadyStatus, group: &str, winner: &str) -> NodeStatus {
    let (selection_status, selection_status_reason) = if group == winner {
        (SelectionStatus::Succeeded, String::new())
    } else {
        (SelectionStatus::Failed, reason_belongs_to(winner))
    };
    NodeStatus {
        node_name: node_name.to_owned(),
        ready_status: ready,
        selection_status,
        selection_status_reason,
    }
}

fn missing_node(name: &str) -> NodeStatus {
    NodeStatus {
        node_name: name.to_owned(),
        ready_status: ReadyStatus::Unknown,
        selection_status: SelectionStatus::Failed,
        selection_status_reason: REASON_NODE_DOES_NOT_EXIST.to_owned(),
    }
}

fn managed_labels(group_name: &str, group: &NodeGroup) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([(LABEL_BELONGING_TO.to_owned(), group_name.to_owned())]);
    if group.spec.topology_enabled == Some(true) {
        labels.insert(LABEL_TOPOLOGY_ZONE.to_owned(), group_name.to_owned());
    }
    labels
}

fn status_of(node_statuses: BTreeMap<String, NodeStatus>) -> NodeGroupStatus {
    let node_statuses: Vec<NodeStatus> = node_statuses.into_values().collect();
    let succeeded = node_statuses
        .iter()
        .filter(|s| s.selection_status == SelectionStatus::Succeeded);
    let members = succeeded.clone().count();
    let ready_members = succeeded
        .filter(|s| s.ready_status == ReadyStatus::Ready)
        .count();
    NodeGroupStatus {
        node_statuses,
        members: Some(saturating_i32(members)),
        ready_members: Some(saturating_i32(ready_members)),
    }
}

fn saturating_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod fixtures;
pub mod index;
#[cfg(test)]
mod tests;
