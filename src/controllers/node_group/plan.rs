//! Pure decisions of the NodeGroup controller: which nodes a group's
//! reconcile writes, which groups a node event concerns, which other groups
//! need a nudge. Membership itself is always `engine::membership::compute`;
//! nothing here re-decides who belongs where.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use kube::runtime::watcher;
use serde_json::{Map, Value};

use super::labels::{label_patch, labels_of, relevance};
use crate::api::{LABEL_BELONGING_TO, NodeGroup, NodeGroupStatus, SelectionStatus};
use crate::engine::membership::{Membership, compute};

/// What one group's reconcile does to one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeWork {
    pub node: String,
    /// `metadata.labels` merge patch, when the labels must change.
    pub labels: Option<Map<String, Value>>,
    /// The node left the group: evict the pods pinned to a group it is not in.
    pub evict: bool,
    /// The group the node belongs to now, if any.
    pub now_in: Option<String>,
}

/// The writes `group` owes: labels on the nodes it won, removal of its
/// labels from the nodes it lost, and evictions wherever `belonging-to`
/// moves away from a group — plus `pending` nodes whose eviction failed
/// earlier (their label already changed, so it would never bring them back).
/// Evictions spare pods pinned to the group the node is in now.
pub fn plan_share(
    group: &str,
    nodes: &[Node],
    membership: &Membership,
    pending: &BTreeSet<String>,
) -> Vec<NodeWork> {
    let nothing = BTreeMap::new();
    let mut work = Vec::new();
    for node in nodes {
        let Some(name) = node.metadata.name.as_deref() else {
            continue;
        };
        let now_in = membership.node_group.get(name);
        let won = now_in.is_some_and(|g| g == group);
        let current = labels_of(node);
        let labelled = current.get(LABEL_BELONGING_TO);
        let labelled_ours = labelled.is_some_and(|g| g == group);
        // Whoever moves `belonging-to` away from a group evicts the pods
        // pinned to it: the loser when it strips its label, the winner when
        // it overwrites the label first (the loser may then never see it).
        let takes_over = won && labelled.is_some_and(|g| g != group);
        let evict = pending.contains(name) || (!won && labelled_ours) || takes_over;
        let wanted = if won {
            membership.node_labels.get(name).unwrap_or(&nothing)
        } else {
            &nothing
        };
        let labels = label_patch(&current, wanted, group);
        if labels.is_some() || evict {
            work.push(NodeWork {
                node: name.to_owned(),
                labels,
                evict,
                now_in: now_in.cloned(),
            });
        }
    }
    work
}

/// "labelled n", "unlabelled n" or "relabelled n", for the event log.
pub fn describe_label_change(node: &str, patch: &Map<String, Value>) -> String {
    let sets = patch.values().filter(|v| !v.is_null()).count();
    let verb = match (sets, patch.len() - sets) {
        (0, _) => "unlabelled",
        (_, 0) => "labelled",
        _ => "relabelled",
    };
    format!("{verb} node {node}")
}

/// "status updated: 3 members, 2 ready, 1 not selected".
pub fn describe_status(status: &NodeGroupStatus) -> String {
    let failed = status
        .node_statuses
        .iter()
        .filter(|s| s.selection_status == SelectionStatus::Failed)
        .count();
    let mut text = format!(
        "status updated: {} members, {} ready",
        status.members.unwrap_or(0),
        status.ready_members.unwrap_or(0)
    );
    if failed > 0 {
        text.push_str(&format!(", {failed} not selected"));
    }
    text
}

/// The status subresource merge patch. Every field is spelled out: a merge
/// patch leaves absent keys alone, so an emptied `nodeStatuses` must be sent
/// as `[]` or the old list would stay, and a count the served schema does
/// not keep is sent as null (removed).
pub fn status_patch_body(status: &NodeGroupStatus) -> Value {
    serde_json::json!({
        "status": {
            "nodeStatuses": status.node_statuses,
            "members": status.members,
            "readyMembers": status.ready_members,
        }
    })
}

/// A group as membership sees it: identity, age, deletion and spec. The
/// status (one entry per selected node) is left out, because groups are
/// cloned for every computation.
pub fn spec_only(group: &NodeGroup) -> NodeGroup {
    let mut slim = NodeGroup::new(
        group.metadata.name.as_deref().unwrap_or_default(),
        group.spec.clone(),
    );
    slim.metadata.name.clone_from(&group.metadata.name);
    slim.metadata
        .creation_timestamp
        .clone_from(&group.metadata.creation_timestamp);
    slim.metadata
        .deletion_timestamp
        .clone_from(&group.metadata.deletion_timestamp);
    slim
}

/// Live groups other than `except` whose stored status differs from what
/// membership now says: a change to one group (a deletion, a spec edit)
/// can change another's status without touching any node.
pub fn stale_groups(
    except: &str,
    membership: &Membership,
    groups: &[Arc<NodeGroup>],
) -> Vec<String> {
    groups
        .iter()
        .filter_map(|g| {
            let name = g.metadata.name.as_deref()?;
            let wanted = membership.statuses.get(name)?;
            (name != except && g.status.as_ref() != Some(wanted)).then(|| name.to_owned())
        })
        .collect()
}

/// The groups a change of `node` concerns: those that claim it (by name or
/// labels), the one its `belonging-to` label names, and those whose stored
/// status lists it (they must drop or update the entry).
pub fn groups_for_node(node: &Node, groups: &[Arc<NodeGroup>]) -> BTreeSet<String> {
    let Some(name) = node.metadata.name.as_deref() else {
        return BTreeSet::new();
    };
    let specs: Vec<NodeGroup> = groups.iter().map(|g| spec_only(g)).collect();
    let membership = compute(std::slice::from_ref(node), &specs);
    let claimants = membership
        .statuses
        .iter()
        .filter(|(_, s)| lists(s, name))
        .map(|(g, _)| g.clone());
    let labelled = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_BELONGING_TO));
    let known = groups.iter().filter_map(|g| {
        let group_name = g.metadata.name.as_ref()?;
        let listed = g.status.as_ref().is_some_and(|s| lists(s, name));
        (listed || Some(group_name) == labelled).then(|| group_name.clone())
    });
    claimants.chain(known).collect()
}

fn lists(status: &NodeGroupStatus, node: &str) -> bool {
    status.node_statuses.iter().any(|s| s.node_name == node)
}

/// Turns node watch events into the names of groups to reconcile, skipping
/// updates that change nothing membership reads (heartbeats).
#[derive(Debug, Default)]
pub struct NodeTriggers {
    /// Node name → [`relevance`] fingerprint of the last version seen.
    seen: HashMap<String, u64>,
    /// Fingerprints collected during a relist, swapped in when it is done.
    relisting: HashMap<String, u64>,
}

impl NodeTriggers {
    pub fn on_event(
        &mut self,
        event: &watcher::Event<Node>,
        groups: &[Arc<NodeGroup>],
    ) -> BTreeSet<String> {
        match event {
            watcher::Event::Apply(node) => {
                let Some(name) = node.metadata.name.clone() else {
                    return BTreeSet::new();
                };
                let fingerprint = relevance(node);
                if self.seen.insert(name, fingerprint) == Some(fingerprint) {
                    BTreeSet::new()
                } else {
                    groups_for_node(node, groups)
                }
            }
            watcher::Event::Delete(node) => {
                if let Some(name) = node.metadata.name.as_deref() {
                    self.seen.remove(name);
                }
                groups_for_node(node, groups)
            }
            watcher::Event::Init => {
                self.relisting.clear();
                BTreeSet::new()
            }
            watcher::Event::InitApply(node) => {
                if let Some(name) = node.metadata.name.clone() {
                    self.relisting.insert(name, relevance(node));
                }
                BTreeSet::new()
            }
            // A (re)list may hide any number of changes and deletions: every
            // group gets one reconcile instead of one per listed node.
            watcher::Event::InitDone => {
                self.seen = std::mem::take(&mut self.relisting);
                groups
                    .iter()
                    .filter_map(|g| g.metadata.name.clone())
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{LABEL_TOPOLOGY_ZONE, NodeGroupSpec, NodeStatus, ReadyStatus};
    use k8s_openapi::api::core::v1::{NodeCondition, NodeStatus as K8sNodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;
    use serde_json::json;

    const B: &str = LABEL_BELONGING_TO;
    const Z: &str = LABEL_TOPOLOGY_ZONE;

    fn node(name: &str, labels: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            status: Some(K8sNodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn group(name: &str, location: &str, created: i64) -> NodeGroup {
        let mut g = NodeGroup::new(
            name,
            NodeGroupSpec {
                match_labels: Some([("location".to_string(), location.to_string())].into()),
                ..Default::default()
            },
        );
        g.metadata.creation_timestamp = Timestamp::from_second(created).ok().map(Time);
        g
    }

    fn named(name: &str, nodes: &[&str]) -> NodeGroup {
        NodeGroup::new(
            name,
            NodeGroupSpec {
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
                ..Default::default()
            },
        )
    }

    fn arcs(groups: &[NodeGroup]) -> Vec<Arc<NodeGroup>> {
        groups.iter().cloned().map(Arc::new).collect()
    }

    fn names(set: BTreeSet<String>) -> Vec<String> {
        set.into_iter().collect()
    }

    #[test]
    fn winner_labels_its_members_and_nothing_else() {
        let nodes = [
            node("a", &[("location", "hz")]),
            node("b", &[("location", "bj")]),
        ];
        let groups = [group("hz", "hz", 1), group("bj", "bj", 2)];
        let m = compute(&nodes, &groups);
        let work = plan_share("hz", &nodes, &m, &BTreeSet::new());
        assert_eq!(
            work,
            [NodeWork {
                node: "a".into(),
                labels: label_patch(&labels_of(&nodes[0]), &m.node_labels["a"], "hz"),
                evict: false,
                now_in: Some("hz".into()),
            }]
        );
        assert_eq!(
            work[0].labels.clone().map(Value::Object),
            Some(json!({B: "hz"}))
        );
    }

    #[test]
    fn a_node_new_to_every_group_is_labelled_without_evictions() {
        let nodes = [node("a", &[("location", "hz")])];
        let m = compute(&nodes, &[group("hz", "hz", 1)]);
        let work = plan_share("hz", &nodes, &m, &BTreeSet::new());
        assert!(!work[0].evict);
    }

    #[test]
    fn settled_members_need_no_work() {
        let nodes = [node("a", &[("location", "hz"), (B, "hz")])];
        let m = compute(&nodes, &[group("hz", "hz", 1)]);
        assert!(plan_share("hz", &nodes, &m, &BTreeSet::new()).is_empty());
    }

    #[test]
    fn a_node_that_left_loses_our_labels_and_is_evicted() {
        let nodes = [node("a", &[("location", "bj"), (B, "hz"), (Z, "hz")])];
        let groups = [group("hz", "hz", 1), group("bj", "bj", 2)];
        let m = compute(&nodes, &groups);
        let work = plan_share("hz", &nodes, &m, &BTreeSet::new());
        assert_eq!(work.len(), 1);
        assert_eq!(
            work[0].labels.clone().map(Value::Object),
            Some(json!({B: null, Z: null}))
        );
        assert!(work[0].evict);
        assert_eq!(work[0].now_in.as_deref(), Some("bj"));
        // bj, the new owner, overwrites belonging-to but leaves hz's zone to
        // hz; it evicts too, in case it writes first and hz never sees the node.
        let theirs = plan_share("bj", &nodes, &m, &BTreeSet::new());
        assert_eq!(
            theirs[0].labels.clone().map(Value::Object),
            Some(json!({B: "bj"}))
        );
        assert!(theirs[0].evict);
        assert_eq!(theirs[0].now_in.as_deref(), Some("bj"));
    }

    #[test]
    fn a_deleted_group_releases_every_labelled_node() {
        let nodes = [node("a", &[("location", "hz"), (B, "hz")])];
        let mut hz = group("hz", "hz", 1);
        hz.metadata.deletion_timestamp = Timestamp::from_second(9).ok().map(Time);
        let m = compute(&nodes, &[hz]);
        let work = plan_share("hz", &nodes, &m, &BTreeSet::new());
        assert_eq!(
            work[0].labels.clone().map(Value::Object),
            Some(json!({B: null}))
        );
        assert!(work[0].evict);
        assert_eq!(work[0].now_in, None);
    }

    #[test]
    fn pending_evictions_are_retried_without_labels() {
        let nodes = [
            node("a", &[("location", "bj")]),
            node("b", &[("location", "hz"), (B, "hz")]),
        ];
        let m = compute(&nodes, &[group("hz", "hz", 1)]);
        let pending: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let work = plan_share("hz", &nodes, &m, &pending);
        // Both are retried; on "b", a member again, only pods pinned to
        // other groups go.
        let retry = |node: &str, now_in: Option<&str>| NodeWork {
            node: node.into(),
            labels: None,
            evict: true,
            now_in: now_in.map(String::from),
        };
        assert_eq!(work, [retry("a", None), retry("b", Some("hz"))]);
    }

    #[test]
    fn change_descriptions() {
        let set: Map<String, Value> = [(B.to_string(), json!("g"))].into_iter().collect();
        let unset: Map<String, Value> = [(B.to_string(), Value::Null)].into_iter().collect();
        let both: Map<String, Value> = [(B.to_string(), json!("g")), (Z.to_string(), Value::Null)]
            .into_iter()
            .collect();
        assert_eq!(describe_label_change("n", &set), "labelled node n");
        assert_eq!(describe_label_change("n", &unset), "unlabelled node n");
        assert_eq!(describe_label_change("n", &both), "relabelled node n");
    }

    fn entry(node: &str, selection: SelectionStatus) -> NodeStatus {
        NodeStatus {
            node_name: node.into(),
            ready_status: ReadyStatus::Ready,
            selection_status: selection,
            selection_status_reason: String::new(),
        }
    }

    #[test]
    fn status_patch_spells_out_empty_lists() {
        let empty = NodeGroupStatus {
            node_statuses: vec![],
            members: Some(0),
            ready_members: Some(0),
        };
        assert_eq!(
            status_patch_body(&empty),
            json!({"status": {"nodeStatuses": [], "members": 0, "readyMembers": 0}})
        );
        let one = NodeGroupStatus {
            node_statuses: vec![
                entry("a", SelectionStatus::Succeeded),
                entry("b", SelectionStatus::Failed),
            ],
            members: Some(1),
            ready_members: Some(1),
        };
        assert_eq!(
            status_patch_body(&one)["status"]["nodeStatuses"][0]["nodeName"],
            json!("a")
        );
        assert_eq!(
            describe_status(&one),
            "status updated: 1 members, 1 ready, 1 not selected"
        );
        assert_eq!(
            describe_status(&empty),
            "status updated: 0 members, 0 ready"
        );
    }

    #[test]
    fn only_other_groups_with_outdated_status_are_nudged() {
        let nodes = [node("a", &[("location", "hz")])];
        let mut groups = vec![
            group("hz", "hz", 1),
            group("bj", "bj", 2),
            group("sh", "sh", 3),
        ];
        let m = compute(&nodes, &groups);
        groups[1].status = m.statuses.get("bj").cloned();
        assert_eq!(stale_groups("hz", &m, &arcs(&groups)), ["sh"]);
    }

    #[test]
    fn node_events_reach_claimants_owner_and_listing_groups() {
        let mut listing = group("old", "nowhere", 1);
        listing.status = Some(NodeGroupStatus {
            node_statuses: vec![entry("a", SelectionStatus::Failed)],
            ..Default::default()
        });
        let groups = arcs(&[
            group("hz", "hz", 2),
            named("explicit", &["a"]),
            group("owner", "elsewhere", 3),
            listing,
            group("unrelated", "bj", 4),
        ]);
        let a = node("a", &[("location", "hz"), (B, "owner")]);
        assert_eq!(
            names(groups_for_node(&a, &groups)),
            ["explicit", "hz", "old", "owner"]
        );
    }

    #[test]
    fn heartbeats_trigger_nothing_but_relabels_do() {
        let groups = arcs(&[group("hz", "hz", 1), group("bj", "bj", 2)]);
        let mut triggers = NodeTriggers::default();
        let a = node("a", &[("location", "hz")]);
        assert_eq!(
            names(triggers.on_event(&watcher::Event::Apply(a.clone()), &groups)),
            ["hz"]
        );
        let mut heartbeat = a.clone();
        heartbeat.metadata.resource_version = Some("2".into());
        assert!(
            triggers
                .on_event(&watcher::Event::Apply(heartbeat), &groups)
                .is_empty()
        );
        let moved = node("a", &[("location", "bj"), (B, "hz")]);
        assert_eq!(
            names(triggers.on_event(&watcher::Event::Apply(moved.clone()), &groups)),
            ["bj", "hz"]
        );
        assert_eq!(
            names(triggers.on_event(&watcher::Event::Delete(moved), &groups)),
            ["bj", "hz"]
        );
    }

    #[test]
    fn a_relist_reconciles_every_group_once() {
        let groups = arcs(&[group("hz", "hz", 1), group("bj", "bj", 2)]);
        let mut triggers = NodeTriggers::default();
        let a = node("a", &[("location", "hz")]);
        assert!(triggers.on_event(&watcher::Event::Init, &groups).is_empty());
        assert!(
            triggers
                .on_event(&watcher::Event::InitApply(a.clone()), &groups)
                .is_empty()
        );
        assert_eq!(
            names(triggers.on_event(&watcher::Event::InitDone, &groups)),
            ["bj", "hz"]
        );
        // The relisted version is remembered: the same node again is a no-op.
        assert!(
            triggers
                .on_event(&watcher::Event::Apply(a), &groups)
                .is_empty()
        );
    }

    #[test]
    fn spec_only_keeps_what_membership_reads() {
        let mut g = group("hz", "hz", 1);
        g.status = Some(NodeGroupStatus {
            members: Some(3),
            ..Default::default()
        });
        g.metadata.finalizers = Some(vec!["f".into()]);
        let slim = spec_only(&g);
        assert_eq!(slim.status, None);
        assert_eq!(slim.metadata.name, g.metadata.name);
        assert_eq!(
            slim.metadata.creation_timestamp,
            g.metadata.creation_timestamp
        );
        assert_eq!(slim.spec, g.spec);
    }
}
