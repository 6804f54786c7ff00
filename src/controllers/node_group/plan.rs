//! Pure decisions of the NodeGroup controller: which nodes a group's
//! reconcile writes, and which groups a watch event concerns. Membership
//! itself is always the engine's ([`MembershipIndex`], equal to
//! `engine::membership::compute`); nothing here re-decides who belongs where.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Node;
use kube::runtime::watcher;
use serde_json::{Map, Value};

use super::labels::label_patch;
use crate::api::{LABEL_BELONGING_TO, NodeGroup, NodeGroupStatus, SelectionStatus};
use crate::engine::membership::index::{Groups, MembershipIndex};

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

/// The writes `group` owes among `nodes` (name and current labels): labels
/// on the nodes it won, removal of its labels from the nodes it lost, and
/// evictions wherever `belonging-to` moves away from a group — plus
/// `pending` nodes whose eviction failed earlier (their label already
/// changed, so it would never bring them back). Evictions spare pods pinned
/// to the group the node is in now.
pub fn plan_share<'n>(
    group: &str,
    nodes: impl IntoIterator<Item = (&'n str, &'n Labels)>,
    membership: &MembershipIndex,
    pending: &BTreeSet<String>,
) -> Vec<NodeWork> {
    let mut work = Vec::new();
    for (name, current) in nodes {
        let now_in = membership.group_of(name);
        let won = now_in == Some(group);
        let labelled = current.get(LABEL_BELONGING_TO);
        let labelled_ours = labelled.is_some_and(|g| g == group);
        // Whoever moves `belonging-to` away from a group evicts the pods
        // pinned to it: the loser when it strips its label, the winner when
        // it overwrites the label first (the loser may then never see it).
        let takes_over = won && labelled.is_some_and(|g| g != group);
        let evict = pending.contains(name) || (!won && labelled_ours) || takes_over;
        let wanted = if won {
            membership.wanted_labels(name)
        } else {
            Labels::new()
        };
        let labels = label_patch(current, &wanted, group);
        if labels.is_some() || evict {
            work.push(NodeWork {
                node: name.to_owned(),
                labels,
                evict,
                now_in: now_in.map(str::to_owned),
            });
        }
    }
    work
}

type Labels = std::collections::BTreeMap<String, String>;

/// The nodes of the index `group`'s reconcile must look at, with their
/// labels: those it claims or whose managed labels name it, and `pending`.
pub fn share_of(
    group: &str,
    membership: &MembershipIndex,
    pending: &BTreeSet<String>,
) -> Vec<(String, Labels)> {
    let mut names = membership.touching(group);
    names.extend(pending.iter().map(String::as_str));
    names
        .into_iter()
        .filter_map(|n| Some((n.to_owned(), membership.labels(n)?.clone())))
        .collect()
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

/// Feeds one watch stream (nodes or groups) into the membership index and
/// names the groups to reconcile. A relist may hide deletions, so names not
/// listed again are deleted from the index when it is done; the groups a
/// relist concerns are collected and named once, at its end.
#[derive(Debug, Default)]
pub struct Feed {
    relisted: BTreeSet<String>,
    concerned: Groups,
}

impl Feed {
    pub fn on_node(&mut self, event: &watcher::Event<Node>, index: &mut MembershipIndex) -> Groups {
        match event {
            watcher::Event::Apply(node) => index.upsert_node(node),
            watcher::Event::Delete(node) => node
                .metadata
                .name
                .as_deref()
                .map(|n| index.delete_node(n))
                .unwrap_or_default(),
            watcher::Event::Init => self.start(),
            watcher::Event::InitApply(node) => {
                self.relisted.extend(node.metadata.name.clone());
                let concerned = index.upsert_node(node);
                self.concerned.extend(concerned);
                Groups::new()
            }
            watcher::Event::InitDone => {
                let gone: Vec<String> = index
                    .node_names()
                    .filter(|n| !self.relisted.contains(*n))
                    .map(str::to_owned)
                    .collect();
                for name in gone {
                    let concerned = index.delete_node(&name);
                    self.concerned.extend(concerned);
                }
                self.finish()
            }
        }
    }

    /// A changed group is always named itself (its own status may be
    /// outdated, e.g. edited by hand), even when membership did not move.
    pub fn on_group(
        &mut self,
        event: &watcher::Event<NodeGroup>,
        index: &mut MembershipIndex,
    ) -> Groups {
        match event {
            watcher::Event::Apply(group) | watcher::Event::InitApply(group) => {
                let mut concerned = index.upsert_group(group);
                concerned.extend(group.metadata.name.clone());
                if matches!(event, watcher::Event::InitApply(_)) {
                    self.relisted.extend(group.metadata.name.clone());
                }
                concerned
            }
            watcher::Event::Delete(group) => group
                .metadata
                .name
                .as_deref()
                .map(|n| index.delete_group(n))
                .unwrap_or_default(),
            watcher::Event::Init => self.start(),
            watcher::Event::InitDone => {
                let gone: Vec<String> = index
                    .group_names()
                    .filter(|n| !self.relisted.contains(*n))
                    .map(str::to_owned)
                    .collect();
                for name in gone {
                    let concerned = index.delete_group(&name);
                    self.concerned.extend(concerned);
                }
                self.finish()
            }
        }
    }

    fn start(&mut self) -> Groups {
        self.relisted.clear();
        self.concerned.clear();
        Groups::new()
    }

    fn finish(&mut self) -> Groups {
        self.relisted.clear();
        std::mem::take(&mut self.concerned)
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

    fn labels_of(node: &Node) -> Labels {
        node.metadata.labels.clone().unwrap_or_default()
    }

    /// `plan_share` over every node, as the index knows them.
    fn plan(
        group: &str,
        nodes: &[Node],
        groups: &[NodeGroup],
        pending: &BTreeSet<String>,
    ) -> Vec<NodeWork> {
        let index = MembershipIndex::new(nodes, groups);
        let labels: Vec<(String, Labels)> = nodes
            .iter()
            .map(|n| (n.metadata.name.clone().unwrap_or_default(), labels_of(n)))
            .collect();
        plan_share(
            group,
            labels.iter().map(|(n, l)| (n.as_str(), l)),
            &index,
            pending,
        )
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
        let work = plan("hz", &nodes, &groups, &BTreeSet::new());
        assert_eq!(
            work,
            [NodeWork {
                node: "a".into(),
                labels: label_patch(
                    &labels_of(&nodes[0]),
                    &[(B.into(), "hz".into())].into(),
                    "hz"
                ),
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
        let work = plan("hz", &nodes, &[group("hz", "hz", 1)], &BTreeSet::new());
        assert!(!work[0].evict);
    }

    #[test]
    fn settled_members_need_no_work() {
        let nodes = [node("a", &[("location", "hz"), (B, "hz")])];
        assert!(plan("hz", &nodes, &[group("hz", "hz", 1)], &BTreeSet::new()).is_empty());
    }

    #[test]
    fn a_node_that_left_loses_our_labels_and_is_evicted() {
        let nodes = [node("a", &[("location", "bj"), (B, "hz"), (Z, "hz")])];
        let groups = [group("hz", "hz", 1), group("bj", "bj", 2)];
        let work = plan("hz", &nodes, &groups, &BTreeSet::new());
        assert_eq!(work.len(), 1);
        assert_eq!(
            work[0].labels.clone().map(Value::Object),
            Some(json!({B: null, Z: null}))
        );
        assert!(work[0].evict);
        assert_eq!(work[0].now_in.as_deref(), Some("bj"));
        // bj, the new owner, overwrites belonging-to but leaves hz's zone to
        // hz; it evicts too, in case it writes first and hz never sees the node.
        let theirs = plan("bj", &nodes, &groups, &BTreeSet::new());
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
        let work = plan("hz", &nodes, &[hz], &BTreeSet::new());
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
        let pending: BTreeSet<String> = ["a".to_string(), "b".to_string()].into();
        let work = plan("hz", &nodes, &[group("hz", "hz", 1)], &pending);
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
    fn share_of_a_group_is_its_claims_its_labels_and_pending() {
        let nodes = [
            node("member", &[("location", "hz")]),
            node("left", &[("location", "bj"), (Z, "hz")]),
            node("retry", &[("location", "bj")]),
            node("other", &[("location", "bj")]),
        ];
        let index = MembershipIndex::new(&nodes, &[group("hz", "hz", 1)]);
        let pending: BTreeSet<String> = ["retry".to_string(), "deleted".to_string()].into();
        let share: Vec<String> = share_of("hz", &index, &pending)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(share, ["left", "member", "retry"]);
    }

    #[test]
    fn heartbeats_concern_no_group_but_relabels_both() {
        let mut index = MembershipIndex::default();
        let mut feed = Feed::default();
        for g in [group("hz", "hz", 1), group("bj", "bj", 2)] {
            feed.on_group(&watcher::Event::Apply(g), &mut index);
        }
        let a = node("a", &[("location", "hz")]);
        assert_eq!(
            names(feed.on_node(&watcher::Event::Apply(a.clone()), &mut index)),
            ["hz"]
        );
        let mut heartbeat = a.clone();
        heartbeat.metadata.resource_version = Some("2".into());
        assert!(
            feed.on_node(&watcher::Event::Apply(heartbeat), &mut index)
                .is_empty()
        );
        let moved = node("a", &[("location", "bj"), (B, "hz")]);
        assert_eq!(
            names(feed.on_node(&watcher::Event::Apply(moved.clone()), &mut index)),
            ["bj", "hz"]
        );
        assert_eq!(
            names(feed.on_node(&watcher::Event::Delete(moved), &mut index)),
            ["bj", "hz"]
        );
    }

    #[test]
    fn a_changed_group_is_named_even_when_membership_stays() {
        let mut index = MembershipIndex::default();
        let mut feed = Feed::default();
        let hz = group("hz", "hz", 1);
        feed.on_group(&watcher::Event::Apply(hz.clone()), &mut index);
        assert_eq!(
            names(feed.on_group(&watcher::Event::Apply(hz), &mut index)),
            ["hz"]
        );
    }

    #[test]
    fn a_relist_names_its_groups_once_at_the_end_and_forgets_the_unlisted() {
        let mut index = MembershipIndex::default();
        let mut groups = Feed::default();
        let mut nodes = Feed::default();
        for g in [
            group("hz", "hz", 1),
            group("bj", "bj", 2),
            named("x", &["gone"]),
        ] {
            groups.on_group(&watcher::Event::Apply(g), &mut index);
        }
        nodes.on_node(
            &watcher::Event::Apply(node("gone", &[("location", "bj")])),
            &mut index,
        );
        assert!(nodes.on_node(&watcher::Event::Init, &mut index).is_empty());
        let a = node("a", &[("location", "hz")]);
        assert!(
            nodes
                .on_node(&watcher::Event::InitApply(a.clone()), &mut index)
                .is_empty()
        );
        assert_eq!(
            names(nodes.on_node(&watcher::Event::InitDone, &mut index)),
            ["bj", "hz", "x"]
        );
        assert_eq!(index.group_of("gone"), None);
        assert_eq!(index.group_of("a"), Some("hz"));
        // A group relist forgets a group deleted meanwhile; its node moves on.
        groups.on_group(&watcher::Event::Init, &mut index);
        groups.on_group(&watcher::Event::InitApply(group("bj", "bj", 2)), &mut index);
        assert_eq!(
            names(groups.on_group(&watcher::Event::InitDone, &mut index)),
            Vec::<String>::new()
        );
        assert_eq!(index.group_of("a"), None);
        assert_eq!(index.status("hz"), None);
    }
}
