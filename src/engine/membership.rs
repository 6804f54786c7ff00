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
        .filter(|pod| is_bound_to(pod, node_name) && is_live(pod))
        .filter(|pod| pinned_group(pod).is_some_and(|pinned| Some(pinned) != group))
        .collect()
}

fn is_bound_to(pod: &Pod, node_name: &str) -> bool {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name)
}

fn is_live(pod: &Pod) -> bool {
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
struct Claim<'a> {
    name: &'a str,
    /// Named in `spec.nodes`, as opposed to only matching labels.
    explicit: bool,
    created: Option<Timestamp>,
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

fn live_groups(groups: &[NodeGroup]) -> BTreeMap<&str, &NodeGroup> {
    let mut by_name = BTreeMap::new();
    for group in groups
        .iter()
        .filter(|g| g.metadata.deletion_timestamp.is_none())
    {
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
    let claims = claims_on(node_name, node, live);
    // No winner means no claims: the node appears in no group's status.
    let winner = pick_winner(node, &claims)?;
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
        let missing = group
            .spec
            .nodes
            .iter()
            .filter(|n| !nodes_by_name.contains_key(n.as_str()));
        let group_entries = entries.entry(group_name).or_default();
        for name in missing {
            group_entries.insert(name.clone(), missing_node(name));
        }
    }
}

fn claims_on<'a>(
    node_name: &str,
    node: &Node,
    live: &BTreeMap<&'a str, &'a NodeGroup>,
) -> Vec<Claim<'a>> {
    live.iter()
        .filter_map(|(&name, &group)| {
            let explicit = group.spec.nodes.iter().any(|n| n == node_name);
            (explicit || matches_labels(group, node)).then(|| Claim {
                name,
                explicit,
                created: group.metadata.creation_timestamp.as_ref().map(|t| t.0),
            })
        })
        .collect()
}

fn matches_labels(group: &NodeGroup, node: &Node) -> bool {
    let Some(wanted) = group.spec.match_labels.as_ref().filter(|m| !m.is_empty()) else {
        return false;
    };
    let labels = node.metadata.labels.as_ref();
    wanted
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

fn pick_winner<'a>(node: &Node, claims: &[Claim<'a>]) -> Option<&'a str> {
    let recorded = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_BELONGING_TO));
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
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        NodeCondition, NodeStatus as K8sNodeStatus, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use proptest::prelude::*;

    use crate::api::NodeGroupSpec;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn node(name: &str, pairs: &[(&str, &str)], ready: Option<&str>) -> Node {
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

    fn ts(second: i64) -> Time {
        Time(Timestamp::from_second(second).expect("test timestamp in range"))
    }

    fn group(
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

    fn deleting(mut g: NodeGroup) -> NodeGroup {
        g.metadata.deletion_timestamp = Some(ts(5_000));
        g
    }

    fn status_of_node<'m>(m: &'m Membership, group: &str, node: &str) -> &'m NodeStatus {
        m.statuses[group]
            .node_statuses
            .iter()
            .find(|s| s.node_name == node)
            .unwrap_or_else(|| panic!("{node} not listed in {group}"))
    }

    fn succeeded(m: &Membership, group: &str) -> Vec<String> {
        m.statuses[group]
            .node_statuses
            .iter()
            .filter(|s| s.selection_status == SelectionStatus::Succeeded)
            .map(|s| s.node_name.clone())
            .collect()
    }

    #[test]
    fn proposal_scenario_splits_hangzhou_and_beijing() {
        let nodes = vec![
            node("hz-1", &[("location", "hangzhou")], Some("True")),
            node("hz-2", &[("location", "hangzhou")], Some("False")),
            node("bj-1", &[("location", "beijing")], Some("True")),
            node("bj-2", &[("location", "beijing")], Some("True")),
            node("bj-3", &[("location", "beijing")], None),
        ];
        let groups = vec![
            group("hangzhou", &[], Some(&[("location", "hangzhou")]), Some(1)),
            group("beijing", &[], Some(&[("location", "beijing")]), Some(2)),
        ];
        let m = compute(&nodes, &groups);

        assert_eq!(succeeded(&m, "hangzhou"), ["hz-1", "hz-2"]);
        assert_eq!(succeeded(&m, "beijing"), ["bj-1", "bj-2", "bj-3"]);
        let hz = &m.statuses["hangzhou"];
        assert_eq!((hz.members, hz.ready_members), (Some(2), Some(1)));
        let bj = &m.statuses["beijing"];
        assert_eq!((bj.members, bj.ready_members), (Some(3), Some(2)));
        assert_eq!(
            status_of_node(&m, "beijing", "bj-3").ready_status,
            ReadyStatus::Unknown
        );
        assert_eq!(m.node_group["hz-2"], "hangzhou");
        assert_eq!(
            m.node_labels["bj-1"],
            labels(&[(LABEL_BELONGING_TO, "beijing")])
        );
    }

    #[test]
    fn recorded_group_wins_over_explicit_older_claims() {
        let nodes = vec![node(
            "n1",
            &[("zone", "a"), (LABEL_BELONGING_TO, "young")],
            None,
        )];
        let groups = vec![
            group("old", &["n1"], None, Some(1)),
            group("young", &[], Some(&[("zone", "a")]), Some(9)),
        ];
        let m = compute(&nodes, &groups);
        assert_eq!(m.node_group["n1"], "young");
        let lost = status_of_node(&m, "old", "n1");
        assert_eq!(lost.selection_status, SelectionStatus::Failed);
        assert_eq!(
            lost.selection_status_reason,
            r#"node already belongs to nodegroup "young""#
        );
    }

    #[test]
    fn recorded_group_that_no_longer_selects_the_node_loses_it() {
        let nodes = vec![node(
            "n1",
            &[("zone", "b"), (LABEL_BELONGING_TO, "a-group")],
            None,
        )];
        let groups = vec![
            group("a-group", &[], Some(&[("zone", "a")]), Some(1)),
            group("b-group", &[], Some(&[("zone", "b")]), Some(2)),
        ];
        let m = compute(&nodes, &groups);
        assert_eq!(m.node_group["n1"], "b-group");
        assert!(m.statuses["a-group"].node_statuses.is_empty());
    }

    #[test]
    fn recorded_group_that_is_gone_or_deleting_does_not_count() {
        let nodes = vec![node(
            "n1",
            &[("zone", "a"), (LABEL_BELONGING_TO, "old")],
            None,
        )];
        let gone = compute(
            &nodes,
            &[group("new", &[], Some(&[("zone", "a")]), Some(2))],
        );
        assert_eq!(gone.node_group["n1"], "new");

        let groups = vec![
            deleting(group("old", &["n1"], None, Some(1))),
            group("new", &[], Some(&[("zone", "a")]), Some(2)),
        ];
        let m = compute(&nodes, &groups);
        assert_eq!(m.node_group["n1"], "new");
        assert_eq!(m.node_labels["n1"], labels(&[(LABEL_BELONGING_TO, "new")]));
    }

    #[test]
    fn explicit_name_beats_older_label_match() {
        let nodes = vec![node("n1", &[("zone", "a")], None)];
        let groups = vec![
            group("by-label", &[], Some(&[("zone", "a")]), Some(1)),
            group("by-name", &["n1"], None, Some(9)),
        ];
        let m = compute(&nodes, &groups);
        assert_eq!(m.node_group["n1"], "by-name");
        assert_eq!(
            status_of_node(&m, "by-label", "n1").selection_status_reason,
            reason_belongs_to("by-name")
        );
    }

    #[test]
    fn older_group_wins_between_equal_claims() {
        let nodes = vec![node("n1", &[], None)];
        let groups = vec![
            group("a", &["n1"], None, Some(9)),
            group("z", &["n1"], None, Some(1)),
        ];
        assert_eq!(compute(&nodes, &groups).node_group["n1"], "z");
    }

    #[test]
    fn smaller_name_breaks_a_timestamp_tie() {
        let nodes = vec![node("n1", &[("k", "v")], None)];
        let groups = vec![
            group("b", &[], Some(&[("k", "v")]), Some(3)),
            group("a", &[], Some(&[("k", "v")]), Some(3)),
        ];
        let m = compute(&nodes, &groups);
        assert_eq!(m.node_group["n1"], "a");
        assert_eq!(
            status_of_node(&m, "b", "n1").selection_status,
            SelectionStatus::Failed
        );
    }

    #[test]
    fn group_without_creation_timestamp_counts_as_newest() {
        let nodes = vec![node("n1", &[], None)];
        let groups = vec![
            group("a", &["n1"], None, None),
            group("b", &["n1"], None, Some(100)),
        ];
        assert_eq!(compute(&nodes, &groups).node_group["n1"], "b");
    }

    #[test]
    fn deleting_group_wins_nothing_and_has_no_status() {
        let nodes = vec![
            node("n1", &[("k", "v")], None),
            node("n2", &[("k", "v")], None),
        ];
        let groups = vec![
            deleting(group("going", &["n1", "n2"], Some(&[("k", "v")]), Some(1))),
            group("staying", &["n2"], None, Some(2)),
        ];
        let m = compute(&nodes, &groups);
        assert!(!m.statuses.contains_key("going"));
        assert_eq!(m.node_group.get("n1"), None);
        assert!(m.node_labels["n1"].is_empty());
        assert_eq!(m.node_group["n2"], "staying");
    }

    #[test]
    fn empty_or_absent_match_labels_select_nothing() {
        let nodes = vec![node("n1", &[("k", "v")], None)];
        let groups = vec![
            group("empty", &[], Some(&[]), Some(1)),
            group("absent", &[], None, Some(1)),
        ];
        let m = compute(&nodes, &groups);
        assert!(m.node_group.is_empty());
        assert!(m.statuses["empty"].node_statuses.is_empty());
        assert!(m.statuses["absent"].node_statuses.is_empty());
        assert_eq!(m.statuses["empty"].members, Some(0));
    }

    #[test]
    fn match_labels_need_every_pair() {
        let nodes = vec![
            node("n1", &[("a", "1")], None),
            node("n2", &[("a", "1"), ("b", "2")], None),
        ];
        let m = compute(
            &nodes,
            &[group("g", &[], Some(&[("a", "1"), ("b", "2")]), Some(1))],
        );
        assert_eq!(succeeded(&m, "g"), ["n2"]);
    }

    #[test]
    fn nonexistent_named_node_fails_with_unknown_readiness() {
        let m = compute(&[], &[group("g", &["ghost"], None, Some(1))]);
        let ghost = status_of_node(&m, "g", "ghost");
        assert_eq!(ghost.selection_status, SelectionStatus::Failed);
        assert_eq!(ghost.selection_status_reason, "node does not exist");
        assert_eq!(ghost.ready_status, ReadyStatus::Unknown);
        assert_eq!(m.statuses["g"].members, Some(0));
    }

    #[test]
    fn node_named_twice_and_label_matched_is_listed_once_sorted() {
        let nodes = vec![
            node("b", &[("k", "v")], Some("True")),
            node("a", &[], Some("True")),
        ];
        let m = compute(
            &nodes,
            &[group(
                "g",
                &["b", "b", "zz", "a"],
                Some(&[("k", "v")]),
                Some(1),
            )],
        );
        let names: Vec<_> = m.statuses["g"]
            .node_statuses
            .iter()
            .map(|s| s.node_name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "zz"]);
        assert_eq!(m.statuses["g"].members, Some(2));
        assert_eq!(m.statuses["g"].ready_members, Some(2));
    }

    #[test]
    fn every_live_group_gets_a_status_even_when_empty() {
        let m = compute(&[], &[group("lonely", &[], None, Some(1))]);
        assert_eq!(
            m.statuses["lonely"],
            NodeGroupStatus {
                node_statuses: vec![],
                members: Some(0),
                ready_members: Some(0),
            }
        );
    }

    #[test]
    fn topology_enabled_adds_zone_label() {
        let nodes = vec![
            node("n1", &[], None),
            node("n2", &[], None),
            node("n3", &[], None),
        ];
        let mut zoned = group("zoned", &["n1"], None, Some(1));
        zoned.spec.topology_enabled = Some(true);
        let mut off = group("off", &["n2"], None, Some(1));
        off.spec.topology_enabled = Some(false);
        let m = compute(&nodes, &[zoned, off]);
        assert_eq!(
            m.node_labels["n1"],
            labels(&[
                (LABEL_BELONGING_TO, "zoned"),
                (LABEL_TOPOLOGY_ZONE, "zoned")
            ])
        );
        assert_eq!(m.node_labels["n2"], labels(&[(LABEL_BELONGING_TO, "off")]));
        assert!(m.node_labels["n3"].is_empty());
    }

    #[test]
    fn readiness_reads_the_ready_condition() {
        assert_eq!(readiness(&node("n", &[], Some("True"))), ReadyStatus::Ready);
        assert_eq!(
            readiness(&node("n", &[], Some("False"))),
            ReadyStatus::NotReady
        );
        assert_eq!(
            readiness(&node("n", &[], Some("Unknown"))),
            ReadyStatus::Unknown
        );
        assert_eq!(readiness(&node("n", &[], None)), ReadyStatus::Unknown);
        assert_eq!(readiness(&Node::default()), ReadyStatus::Unknown);
        let mut other = node("n", &[], Some("True"));
        if let Some(c) = other.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c[0].type_ = "MemoryPressure".into();
        }
        assert_eq!(readiness(&other), ReadyStatus::Unknown);
    }

    fn pod(name: &str, node_name: &str, pinned: Option<&str>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some(node_name.into()),
                node_selector: pinned.map(|g| labels(&[(LABEL_BELONGING_TO, g)])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn names(pods: &[&Pod]) -> Vec<String> {
        pods.iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    }

    #[test]
    fn evicts_pods_pinned_to_another_group() {
        let pods = vec![
            pod("other", "n1", Some("beijing")),
            pod("mine", "n1", Some("hangzhou")),
            pod("free", "n1", None),
            pod("elsewhere", "n2", Some("beijing")),
        ];
        assert_eq!(
            names(&pods_to_evict("n1", Some("hangzhou"), &pods)),
            ["other"]
        );
    }

    #[test]
    fn node_in_no_group_evicts_every_pinned_pod() {
        let pods = vec![pod("a", "n1", Some("beijing")), pod("b", "n1", None)];
        assert_eq!(names(&pods_to_evict("n1", None, &pods)), ["a"]);
    }

    #[test]
    fn unpinned_pods_with_other_selectors_are_never_evicted() {
        let mut p = pod("p", "n1", None);
        if let Some(spec) = p.spec.as_mut() {
            spec.node_selector = Some(labels(&[("disk", "ssd")]));
        }
        assert!(pods_to_evict("n1", None, &[p]).is_empty());
    }

    #[test]
    fn terminating_and_finished_pods_are_left_alone() {
        let mut terminating = pod("t", "n1", Some("x"));
        terminating.metadata.deletion_timestamp = Some(ts(1));
        let finished: Vec<Pod> = ["Succeeded", "Failed"]
            .iter()
            .map(|phase| {
                let mut p = pod(phase, "n1", Some("x"));
                p.status = Some(PodStatus {
                    phase: Some(phase.to_string()),
                    ..Default::default()
                });
                p
            })
            .collect();
        let mut running = pod("r", "n1", Some("x"));
        running.status = Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        });
        let mut pods = finished;
        pods.push(terminating);
        pods.push(running);
        assert_eq!(names(&pods_to_evict("n1", Some("y"), &pods)), ["r"]);
    }

    // --- properties ---------------------------------------------------------

    const NODE_POOL: [&str; 6] = ["n0", "n1", "n2", "n3", "n4", "n5"];
    const GROUP_POOL: [&str; 4] = ["g0", "g1", "g2", "g3"];

    fn arb_label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(
            prop::sample::select(vec!["zone", "disk"]).prop_map(String::from),
            prop::sample::select(vec!["a", "b"]).prop_map(String::from),
            0..=2,
        )
    }

    fn arb_nodes() -> impl Strategy<Value = Vec<Node>> {
        let one = (
            arb_label_map(),
            prop::option::of(prop::sample::select(GROUP_POOL.to_vec())),
            prop::option::of(prop::sample::select(vec!["True", "False", "Unknown"])),
        );
        prop::collection::btree_map(
            prop::sample::select(NODE_POOL.to_vec()),
            one,
            0..=NODE_POOL.len(),
        )
        .prop_map(|m| {
            m.into_iter()
                .map(|(name, (mut lbls, recorded, ready))| {
                    if let Some(g) = recorded {
                        lbls.insert(LABEL_BELONGING_TO.into(), g.into());
                    }
                    let pairs: Vec<(&str, &str)> =
                        lbls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    node(name, &pairs, ready)
                })
                .collect()
        })
    }

    fn arb_groups() -> impl Strategy<Value = Vec<NodeGroup>> {
        let extra_names = prop::sample::select(vec!["n0", "n1", "n2", "n3", "n4", "n5", "ghost"]);
        let one = (
            prop::collection::vec(extra_names, 0..3),
            prop::option::of(arb_label_map()),
            prop::option::of(any::<bool>()),
            prop::option::of(0i64..3),
            any::<bool>(),
        );
        prop::collection::btree_map(
            prop::sample::select(GROUP_POOL.to_vec()),
            one,
            0..=GROUP_POOL.len(),
        )
        .prop_map(|m| {
            m.into_iter()
                .map(|(name, (nodes, ml, topo, created, is_deleting))| {
                    let mut g = group(name, &nodes, None, created);
                    g.spec.match_labels = ml;
                    g.spec.topology_enabled = topo;
                    if is_deleting { deleting(g) } else { g }
                })
                .collect()
        })
    }

    fn check_consistent(
        nodes: &[Node],
        groups: &[NodeGroup],
        m: &Membership,
    ) -> Result<(), TestCaseError> {
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (g, status) in &m.statuses {
            for s in status
                .node_statuses
                .iter()
                .filter(|s| s.selection_status == SelectionStatus::Succeeded)
            {
                prop_assert!(
                    owner.insert(&s.node_name, g).is_none(),
                    "{} succeeded twice",
                    s.node_name
                );
            }
            let sorted = status
                .node_statuses
                .windows(2)
                .all(|w| w[0].node_name < w[1].node_name);
            prop_assert!(sorted, "{g} statuses not sorted and unique");
        }
        let from_statuses: BTreeMap<String, String> = owner
            .iter()
            .map(|(n, g)| (n.to_string(), g.to_string()))
            .collect();
        prop_assert_eq!(&from_statuses, &m.node_group);
        for n in nodes {
            let name = n.metadata.name.clone().unwrap_or_default();
            let managed = &m.node_labels[&name];
            prop_assert_eq!(managed.get(LABEL_BELONGING_TO), m.node_group.get(&name));
            prop_assert_eq!(managed.is_empty(), !m.node_group.contains_key(&name));
        }
        for g in groups {
            let name = g.metadata.name.clone().unwrap_or_default();
            let deleting = g.metadata.deletion_timestamp.is_some();
            prop_assert_eq!(m.statuses.contains_key(&name), !deleting);
            prop_assert!(!deleting || !m.node_group.values().any(|w| *w == name));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn membership_is_consistent_and_order_independent(
            (nodes, shuffled_nodes) in arb_nodes().prop_flat_map(|n| (Just(n.clone()), Just(n).prop_shuffle())),
            (groups, shuffled_groups) in arb_groups().prop_flat_map(|g| (Just(g.clone()), Just(g).prop_shuffle())),
        ) {
            let m = compute(&nodes, &groups);
            check_consistent(&nodes, &groups, &m)?;
            prop_assert_eq!(&m, &compute(&nodes, &groups));
            prop_assert_eq!(&m, &compute(&shuffled_nodes, &shuffled_groups));
        }
    }
}
