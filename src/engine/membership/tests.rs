use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

use super::fixtures::*;
use super::*;

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
