use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use proptest::prelude::*;

use super::super::fixtures::*;
use super::*;
use crate::api::{NodeGroup, SelectionStatus};
use crate::engine::membership::{compute, reason_belongs_to};

#[test]
fn a_heartbeat_concerns_no_group() {
    let mut index = MembershipIndex::new(
        &[node("n1", &[("zone", "a")], Some("True"))],
        &[group("g", &[], Some(&[("zone", "a")]), Some(1))],
    );
    let mut beat = node("n1", &[("zone", "a")], Some("True"));
    beat.metadata.resource_version = Some("7".into());
    assert!(index.upsert_node(&beat).is_empty());
    let not_ready = node("n1", &[("zone", "a")], Some("False"));
    assert_eq!(index.upsert_node(&not_ready), Groups::from(["g".into()]));
}

#[test]
fn a_group_being_deleted_hands_its_nodes_to_the_next_claimant() {
    let old = group("old", &[], Some(&[("zone", "a")]), Some(1));
    let new = group("new", &[], Some(&[("zone", "a")]), Some(2));
    let mut index =
        MembershipIndex::new(&[node("n1", &[("zone", "a")], None)], &[old.clone(), new]);
    assert_eq!(index.group_of("n1"), Some("old"));
    let affected = index.upsert_group(&deleting(old));
    assert_eq!(affected, Groups::from(["new".into(), "old".into()]));
    assert_eq!(index.group_of("n1"), Some("new"));
    assert_eq!(index.status("old"), None);
}

#[test]
fn a_node_created_after_the_group_naming_it_replaces_the_missing_entry() {
    let mut index = MembershipIndex::new(&[], &[group("g", &["n1"], None, Some(1))]);
    let missing = index.status("g").map(|s| s.node_statuses);
    assert_eq!(missing, Some(vec![missing_node("n1")]));
    assert_eq!(
        index.upsert_node(&node("n1", &[], Some("True"))),
        Groups::from(["g".into()])
    );
    let entries = index
        .status("g")
        .map(|s| s.node_statuses)
        .unwrap_or_default();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].selection_status, SelectionStatus::Succeeded);
}

#[test]
fn the_loser_learns_the_winner_when_a_node_is_relabelled() {
    let mut index = MembershipIndex::new(
        &[node("n1", &[("zone", "a")], None)],
        &[
            group("a", &[], Some(&[("zone", "a")]), Some(1)),
            group("named", &["n1"], None, Some(2)),
            group("b", &[], Some(&[("zone", "b")]), Some(3)),
        ],
    );
    assert_eq!(index.group_of("n1"), Some("named"));
    let affected = index.upsert_node(&node("n1", &[("zone", "b")], None));
    assert_eq!(
        affected,
        Groups::from(["a".into(), "b".into(), "named".into()])
    );
    let b = index
        .status("b")
        .map(|s| s.node_statuses)
        .unwrap_or_default();
    assert_eq!(b[0].selection_status_reason, reason_belongs_to("named"));
}

#[test]
fn touching_covers_claimed_and_still_labelled_nodes() {
    let index = MembershipIndex::new(
        &[
            node("member", &[("zone", "a")], None),
            node("left", &[("zone", "b"), (LABEL_BELONGING_TO, "g")], None),
            node("other", &[("zone", "b")], None),
        ],
        &[group("g", &[], Some(&[("zone", "a")]), Some(1))],
    );
    assert_eq!(
        index.touching("g").into_iter().collect::<Vec<_>>(),
        ["left", "member"]
    );
}

// --- properties ---------------------------------------------------------

#[derive(Debug, Clone)]
enum Event {
    UpsertNode(Box<Node>),
    DeleteNode(&'static str),
    UpsertGroup(Box<NodeGroup>),
    DeleteGroup(&'static str),
}

fn arb_event() -> impl Strategy<Value = Event> {
    let node_name = prop::sample::select(NODE_POOL.to_vec());
    let group_name = prop::sample::select(GROUP_POOL.to_vec());
    prop_oneof![
        3 => node_name.clone().prop_flat_map(arb_node).prop_map(|n| Event::UpsertNode(Box::new(n))),
        1 => node_name.prop_map(Event::DeleteNode),
        3 => group_name.clone().prop_flat_map(arb_group).prop_map(|g| Event::UpsertGroup(Box::new(g))),
        1 => group_name.prop_map(Event::DeleteGroup),
    ]
}

/// The objects the events leave in the cluster.
#[derive(Default)]
struct Cluster {
    nodes: BTreeMap<&'static str, Node>,
    groups: BTreeMap<&'static str, NodeGroup>,
}

impl Cluster {
    fn apply(&mut self, event: &Event, index: &mut MembershipIndex) -> Groups {
        let static_name = |name: Option<&String>, pool: &[&'static str]| {
            pool.iter()
                .copied()
                .find(|p| Some(*p) == name.map(String::as_str))
        };
        match event {
            Event::UpsertNode(n) => {
                if let Some(name) = static_name(n.metadata.name.as_ref(), &NODE_POOL) {
                    self.nodes.insert(name, (**n).clone());
                }
                index.upsert_node(n)
            }
            Event::DeleteNode(name) => {
                self.nodes.remove(name);
                index.delete_node(name)
            }
            Event::UpsertGroup(g) => {
                if let Some(name) = static_name(g.metadata.name.as_ref(), &GROUP_POOL) {
                    self.groups.insert(name, (**g).clone());
                }
                index.upsert_group(g)
            }
            Event::DeleteGroup(name) => {
                self.groups.remove(name);
                index.delete_group(name)
            }
        }
    }

    fn compute(&self) -> Membership {
        let nodes: Vec<Node> = self.nodes.values().cloned().collect();
        let groups: Vec<NodeGroup> = self.groups.values().cloned().collect();
        compute(&nodes, &groups)
    }
}

/// Groups with label writes to make on a node: its winner when the node
/// lacks what it wants, and any other group a managed label still names.
fn owing(m: &Membership, node: &Node, cluster: &Cluster) -> Groups {
    let name = node.metadata.name.clone().unwrap_or_default();
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let wanted = m.node_labels.get(&name).cloned().unwrap_or_default();
    let winner = m.node_group.get(&name);
    let mut owing = Groups::new();
    if let Some(w) = winner
        && wanted.iter().any(|(k, v)| labels.get(k) != Some(v))
    {
        owing.insert(w.clone());
    }
    for key in [LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE] {
        if let Some(g) = labels.get(key)
            && wanted.get(key) != Some(g)
        {
            owing.insert(g.clone());
        }
    }
    owing.retain(|g| cluster.groups.contains_key(g.as_str()));
    owing
}

/// Groups a controller must reconcile after `event` moved the cluster from
/// `before` to `after`: those whose status changed, the old and new winner
/// of every node whose wanted labels changed (both write labels), and the
/// groups that owe label writes on the node the event changed and did not
/// before (`previous`: that node before the event).
fn owed(
    before: &Membership,
    after: &Membership,
    (event, previous): (&Event, Option<&Node>),
    cluster: &Cluster,
) -> Groups {
    let mut owed = Groups::new();
    for (group, status) in &after.statuses {
        if before.statuses.get(group) != Some(status) {
            owed.insert(group.clone());
        }
    }
    let nodes: BTreeSet<&String> = before
        .node_labels
        .keys()
        .chain(after.node_labels.keys())
        .collect();
    for node in nodes {
        if before.node_labels.get(node) != after.node_labels.get(node) {
            owed.extend(before.node_group.get(node).cloned());
            owed.extend(after.node_group.get(node).cloned());
        }
    }
    if let Event::UpsertNode(node) = event {
        let owed_before = previous
            .map(|p| owing(before, p, cluster))
            .unwrap_or_default();
        owed.extend(
            owing(after, node, cluster)
                .difference(&owed_before)
                .cloned(),
        );
    }
    owed.retain(|g| cluster.groups.contains_key(g.as_str()));
    owed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_index_equals_compute_after_any_events(
        (nodes, groups) in (arb_nodes(), arb_groups()),
        events in prop::collection::vec(arb_event(), 0..40),
    ) {
        let mut index = MembershipIndex::new(&nodes, &groups);
        let mut cluster = Cluster::default();
        for n in &nodes {
            cluster.apply(&Event::UpsertNode(Box::new(n.clone())), &mut MembershipIndex::default());
        }
        for g in &groups {
            cluster.apply(&Event::UpsertGroup(Box::new(g.clone())), &mut MembershipIndex::default());
        }
        let mut before = cluster.compute();
        prop_assert_eq!(&index.membership(), &before);
        for event in &events {
            let previous = match event {
                Event::UpsertNode(n) => n
                    .metadata
                    .name
                    .as_deref()
                    .and_then(|name| cluster.nodes.get(name))
                    .cloned(),
                _ => None,
            };
            let affected = cluster.apply(event, &mut index);
            let after = cluster.compute();
            prop_assert_eq!(&index.membership(), &after, "after {:?}", event);
            let owed = owed(&before, &after, (event, previous.as_ref()), &cluster);
            let missed: Vec<&String> = owed.difference(&affected).collect();
            prop_assert!(missed.is_empty(), "{:?} not reported after {:?}", missed, event);
            before = after;
        }
    }

    #[test]
    fn touching_covers_every_node_a_reconcile_writes(
        (nodes, groups) in (arb_nodes(), arb_groups()),
    ) {
        let index = MembershipIndex::new(&nodes, &groups);
        let m = compute(&nodes, &groups);
        for g in index.group_names() {
            let touching = index.touching(g);
            for n in &nodes {
                let name = n.metadata.name.as_deref().unwrap_or_default();
                let labels = n.metadata.labels.clone().unwrap_or_default();
                let carries = [LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE]
                    .iter()
                    .any(|k| labels.get(*k).is_some_and(|v| v == g));
                let wins = m.node_group.get(name).is_some_and(|w| w == g);
                if carries || wins {
                    prop_assert!(touching.contains(name), "{} not touching {}", name, g);
                }
            }
        }
    }
}
