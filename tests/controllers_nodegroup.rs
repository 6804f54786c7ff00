//! The NodeGroup controller and leader election against the embedded
//! cluster, through kube::Client and `Engine::spawn`.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use edgedeck::api::{
    FINALIZER_NODEGROUP, LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE, NodeGroup, NodeGroupSpec,
    ReadyStatus, SelectionStatus,
};
use edgedeck::controllers::leader::{LeaseOptions, current_holder};
use edgedeck::controllers::{Engine, EngineEvent, EngineHandle, EngineOptions, Outcome, Source};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{cluster_with_crds, eventually};
use tokio::sync::broadcast;

fn node(name: &str, labels: &[(&str, &str)], ready: bool) -> Node {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    }))
    .expect("valid node")
}

fn by_location(name: &str, location: &str, topology: bool) -> NodeGroup {
    NodeGroup::new(
        name,
        NodeGroupSpec {
            match_labels: Some([("location".to_string(), location.to_string())].into()),
            topology_enabled: topology.then_some(true),
            ..Default::default()
        },
    )
}

fn by_name(name: &str, nodes: &[&str]) -> NodeGroup {
    NodeGroup::new(
        name,
        NodeGroupSpec {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        },
    )
}

fn pinned_pod(name: &str, node: &str, group: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "nodeSelector": {LABEL_BELONGING_TO: group},
            "containers": [{"name": "app", "image": "nginx:1"}],
        },
    }))
    .expect("valid pod")
}

struct Fleet {
    nodes: Api<Node>,
    groups: Api<NodeGroup>,
    pods: Api<Pod>,
}

impl Fleet {
    fn new(client: &Client) -> Self {
        Fleet {
            nodes: Api::all(client.clone()),
            groups: Api::all(client.clone()),
            pods: Api::namespaced(client.clone(), "default"),
        }
    }

    async fn add_nodes(&self, nodes: &[Node]) {
        for n in nodes {
            self.nodes
                .create(&PostParams::default(), n)
                .await
                .expect("node created");
        }
    }

    async fn add_group(&self, group: &NodeGroup) {
        self.groups
            .create(&PostParams::default(), group)
            .await
            .expect("group created");
    }

    async fn label(&self, node: &str, key: &str) -> Option<String> {
        let n = self.nodes.get(node).await.ok()?;
        n.metadata.labels?.get(key).cloned()
    }

    /// Waits until `node`'s `key` label is `want` (None: absent).
    async fn wait_label(&self, node: &str, key: &str, want: Option<&str>) {
        eventually(&format!("{node} {key}={want:?}"), || async {
            (self.label(node, key).await.as_deref() == want).then_some(())
        })
        .await;
    }

    /// Waits until `group`'s status lists exactly `members` as succeeded, `ready` of them Ready.
    async fn wait_members(&self, group: &str, members: &[&str], ready: i32) -> NodeGroup {
        let want: Vec<String> = members.iter().map(|m| m.to_string()).collect();
        eventually(
            &format!("{group} members {want:?}, {ready} ready"),
            || async {
                let g = self.groups.get(group).await.ok()?;
                let status = g.status.clone()?;
                let succeeded: Vec<String> = status
                    .node_statuses
                    .iter()
                    .filter(|s| s.selection_status == SelectionStatus::Succeeded)
                    .map(|s| s.node_name.clone())
                    .collect();
                let counts = (status.members, status.ready_members);
                (succeeded == want && counts == (Some(want.len() as i32), Some(ready))).then_some(g)
            },
        )
        .await
    }

    async fn relabel(&self, node: &str, key: &str, value: &str) {
        let patch = json!({"metadata": {"labels": {key: value}}});
        self.nodes
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("node relabelled");
    }
}

fn engine(client: &Client) -> EngineHandle {
    Engine::spawn(client.clone(), EngineOptions::default())
}

/// The proposal's fleet: two nodes in Hangzhou (one NotReady), three in Beijing.
fn proposal_nodes() -> Vec<Node> {
    vec![
        node("hz-1", &[("location", "hangzhou")], true),
        node("hz-2", &[("location", "hangzhou")], false),
        node("bj-1", &[("location", "beijing")], true),
        node("bj-2", &[("location", "beijing")], true),
        node("bj-3", &[("location", "beijing")], true),
    ]
}

#[tokio::test]
async fn members_are_labelled_and_counted_and_follow_relabelling() {
    let (_cluster, client) = cluster_with_crds().await;
    let fleet = Fleet::new(&client);
    fleet.add_nodes(&proposal_nodes()).await;
    fleet
        .add_group(&by_location("hangzhou", "hangzhou", false))
        .await;
    fleet
        .add_group(&by_location("beijing", "beijing", true))
        .await;
    let engine = engine(&client);

    let hz = fleet.wait_members("hangzhou", &["hz-1", "hz-2"], 1).await;
    fleet
        .wait_members("beijing", &["bj-1", "bj-2", "bj-3"], 3)
        .await;
    assert_eq!(
        hz.metadata.finalizers,
        Some(vec![FINALIZER_NODEGROUP.to_string()])
    );
    let hz2 = hz
        .status
        .unwrap_or_default()
        .node_statuses
        .into_iter()
        .find(|s| s.node_name == "hz-2");
    assert_eq!(hz2.map(|s| s.ready_status), Some(ReadyStatus::NotReady));
    for n in ["hz-1", "hz-2"] {
        fleet
            .wait_label(n, LABEL_BELONGING_TO, Some("hangzhou"))
            .await;
        // hangzhou has no topology: the zone label is not ours to set.
        assert_eq!(fleet.label(n, LABEL_TOPOLOGY_ZONE).await, None);
    }
    for n in ["bj-1", "bj-2", "bj-3"] {
        fleet
            .wait_label(n, LABEL_BELONGING_TO, Some("beijing"))
            .await;
        fleet
            .wait_label(n, LABEL_TOPOLOGY_ZONE, Some("beijing"))
            .await;
    }

    // bj-3 moves to Hangzhou: its labels move, both statuses follow, and
    // the pod pinned to Beijing on it is evicted.
    fleet
        .pods
        .create(
            &PostParams::default(),
            &pinned_pod("bj-app", "bj-3", "beijing"),
        )
        .await
        .expect("pod");
    fleet.relabel("bj-3", "location", "hangzhou").await;
    fleet
        .wait_label("bj-3", LABEL_BELONGING_TO, Some("hangzhou"))
        .await;
    fleet.wait_label("bj-3", LABEL_TOPOLOGY_ZONE, None).await;
    fleet
        .wait_members("hangzhou", &["bj-3", "hz-1", "hz-2"], 2)
        .await;
    fleet.wait_members("beijing", &["bj-1", "bj-2"], 2).await;
    eventually("pod pinned to beijing evicted from bj-3", || async {
        let pod = fleet.pods.get_opt("bj-app").await.ok()?;
        pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some())
            .then_some(())
    })
    .await;

    engine.shutdown().await;
}

#[tokio::test]
async fn a_node_named_by_two_groups_fails_in_the_second() {
    let (_cluster, client) = cluster_with_crds().await;
    let fleet = Fleet::new(&client);
    fleet.add_nodes(&[node("edge-1", &[], true)]).await;
    let engine = engine(&client);
    let mut events = engine.subscribe();
    // "first" is older, or as old and first by name: it wins edge-1.
    fleet.add_group(&by_name("first", &["edge-1"])).await;
    fleet
        .add_group(&by_name("second", &["edge-1", "ghost"]))
        .await;

    fleet.wait_members("first", &["edge-1"], 1).await;
    let second = fleet.wait_members("second", &[], 0).await;
    let statuses = second.status.unwrap_or_default().node_statuses;
    let reasons: Vec<(&str, SelectionStatus, &str)> = statuses
        .iter()
        .map(|s| {
            (
                s.node_name.as_str(),
                s.selection_status,
                s.selection_status_reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "edge-1",
                SelectionStatus::Failed,
                "node already belongs to nodegroup \"first\""
            ),
            ("ghost", SelectionStatus::Failed, "node does not exist"),
        ]
    );
    fleet
        .wait_label("edge-1", LABEL_BELONGING_TO, Some("first"))
        .await;
    assert!(
        saw(&mut events, |e| e.source == Source::NodeGroup
            && e.object == "second")
        .await
    );

    // Deleting the winner hands the node to the other group.
    fleet
        .groups
        .delete("first", &DeleteParams::default())
        .await
        .expect("deleted");
    fleet
        .wait_label("edge-1", LABEL_BELONGING_TO, Some("second"))
        .await;
    fleet.wait_members("second", &["edge-1"], 1).await;
    engine.shutdown().await;
}

#[tokio::test]
async fn deleting_a_group_strips_its_labels_before_it_goes() {
    let (_cluster, client) = cluster_with_crds().await;
    let fleet = Fleet::new(&client);
    fleet
        .add_nodes(&[
            node("a", &[("location", "x")], true),
            node(
                "b",
                &[("location", "x"), (LABEL_TOPOLOGY_ZONE, "us-east-1a")],
                true,
            ),
            node("c", &[("location", "y")], true),
        ])
        .await;
    fleet.add_group(&by_location("x", "x", true)).await;
    fleet.add_group(&by_location("y", "y", false)).await;
    let engine = engine(&client);
    fleet.wait_members("x", &["a", "b"], 2).await;
    fleet.wait_label("a", LABEL_TOPOLOGY_ZONE, Some("x")).await;
    fleet.wait_label("b", LABEL_TOPOLOGY_ZONE, Some("x")).await;
    fleet.wait_label("c", LABEL_BELONGING_TO, Some("y")).await;
    fleet
        .pods
        .create(&PostParams::default(), &pinned_pod("x-app", "a", "x"))
        .await
        .expect("pod");

    fleet
        .groups
        .delete("x", &DeleteParams::default())
        .await
        .expect("deleted");
    eventually("group x gone", || async {
        fleet
            .groups
            .get_opt("x")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    for n in ["a", "b"] {
        assert_eq!(
            fleet.label(n, LABEL_BELONGING_TO).await,
            None,
            "{n} still labelled"
        );
        assert_eq!(
            fleet.label(n, LABEL_TOPOLOGY_ZONE).await,
            None,
            "{n} keeps our zone"
        );
    }
    let pod = fleet.pods.get_opt("x-app").await.expect("pod read");
    assert!(
        pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some()),
        "pinned pod not evicted"
    );
    // Another group's member is untouched.
    assert_eq!(
        fleet.label("c", LABEL_BELONGING_TO).await.as_deref(),
        Some("y")
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_cloud_zone_survives_membership() {
    let (_cluster, client) = cluster_with_crds().await;
    let fleet = Fleet::new(&client);
    fleet
        .add_nodes(&[node(
            "a",
            &[("location", "x"), (LABEL_TOPOLOGY_ZONE, "us-east-1a")],
            true,
        )])
        .await;
    fleet.add_group(&by_location("x", "x", false)).await;
    let engine = engine(&client);
    fleet.wait_members("x", &["a"], 1).await;
    fleet.wait_label("a", LABEL_BELONGING_TO, Some("x")).await;
    fleet.relabel("a", "location", "elsewhere").await;
    fleet.wait_label("a", LABEL_BELONGING_TO, None).await;
    assert_eq!(
        fleet.label("a", LABEL_TOPOLOGY_ZONE).await.as_deref(),
        Some("us-east-1a")
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn an_unchanged_status_is_not_rewritten() {
    let (_cluster, client) = cluster_with_crds().await;
    let fleet = Fleet::new(&client);
    fleet
        .add_nodes(&[node("a", &[("location", "x")], true)])
        .await;
    fleet.add_group(&by_location("x", "x", false)).await;
    let engine = engine(&client);
    fleet.wait_members("x", &["a"], 1).await;
    fleet.wait_label("a", LABEL_BELONGING_TO, Some("x")).await;
    let mut events = engine.subscribe();

    // Touching the group causes a reconcile that has nothing to write.
    let patch = json!({"metadata": {"annotations": {"touched": "yes"}}});
    let touched = fleet
        .groups
        .patch("x", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patched");
    let in_sync =
        |e: &EngineEvent| e.object == "x" && e.outcome == Outcome::Reconciled { changes: vec![] };
    assert!(saw(&mut events, in_sync).await, "no empty reconcile of x");
    let now = fleet.groups.get("x").await.expect("group");
    assert_eq!(
        now.metadata.resource_version, touched.metadata.resource_version,
        "status rewritten"
    );
    engine.shutdown().await;
}

/// Waits (bounded) for an engine event matching `wanted`.
async fn saw(
    events: &mut broadcast::Receiver<EngineEvent>,
    wanted: impl Fn(&EngineEvent) -> bool,
) -> bool {
    let search = async {
        loop {
            match events.recv().await {
                Ok(e) if wanted(&e) => return true,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return false,
            }
        }
    };
    tokio::time::timeout(support::PATIENCE, search)
        .await
        .unwrap_or(false)
}

fn elected(client: &Client, identity: &str, namespace: &str) -> EngineHandle {
    let options = EngineOptions {
        leader_elect: true,
        lease: lease_options(identity, namespace),
        ..EngineOptions::default()
    };
    Engine::spawn(client.clone(), options)
}

fn lease_options(identity: &str, namespace: &str) -> LeaseOptions {
    LeaseOptions {
        namespace: namespace.into(),
        name: "edgedeck-engine".into(),
        identity: identity.into(),
        duration: Duration::from_secs(3),
        renew_every: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn one_engine_leads_and_hands_over_on_shutdown() {
    let (_cluster, client) = cluster_with_crds().await;
    let fleet = Fleet::new(&client);
    fleet
        .add_nodes(&[node("a", &[("location", "x")], true)])
        .await;
    fleet.add_group(&by_location("x", "x", false)).await;
    let opts = lease_options("", "kube-system");
    let mut engines = vec![("alpha", elected(&client, "alpha", "kube-system"))];
    engines.push(("beta", elected(&client, "beta", "kube-system")));

    let first = eventually("a leader", || async {
        current_holder(&client, &opts).await.ok().flatten()
    })
    .await;
    assert!(
        first == "alpha" || first == "beta",
        "unexpected holder {first}"
    );
    // The leader does the work.
    fleet.wait_label("a", LABEL_BELONGING_TO, Some("x")).await;

    let position = engines
        .iter()
        .position(|(id, _)| *id == first)
        .expect("leader is one of ours");
    let (_, leader) = engines.remove(position);
    let (standby_id, standby) = engines.remove(0);
    let mut standby_events = standby.subscribe();
    leader.shutdown().await;

    let we_lead = |e: &EngineEvent| matches!(&e.outcome, Outcome::Leadership { we_lead: true, .. });
    assert!(
        saw(&mut standby_events, we_lead).await,
        "standby never took over"
    );
    assert_eq!(
        current_holder(&client, &opts)
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some(standby_id)
    );
    // The new leader works too: a new member gets labelled.
    fleet
        .add_nodes(&[node("b", &[("location", "x")], true)])
        .await;
    fleet.wait_label("b", LABEL_BELONGING_TO, Some("x")).await;
    standby.shutdown().await;
    assert_eq!(
        current_holder(&client, &opts).await.ok().flatten(),
        None,
        "lease not released"
    );
}

#[tokio::test]
async fn a_missing_lease_namespace_is_reported() {
    let (_cluster, client) = cluster_with_crds().await;
    let engine = elected(&client, "alpha", "no-such-namespace");
    let mut events = engine.subscribe();
    let failed = |e: &EngineEvent| {
        e.source == Source::Leader
            && matches!(&e.outcome, Outcome::Failed { reason } if reason.contains("\"no-such-namespace\" for the leader lease does not exist"))
    };
    assert!(saw(&mut events, failed).await, "no failure reported");
    engine.shutdown().await;
}

#[tokio::test]
async fn a_stolen_lease_stops_the_leader_until_it_is_free_again() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;

    let (_cluster, client) = cluster_with_crds().await;
    let fleet = Fleet::new(&client);
    fleet.add_group(&by_location("x", "x", false)).await;
    let engine = elected(&client, "alpha", "kube-system");
    let mut events = engine.subscribe();
    let opts = lease_options("", "kube-system");
    eventually("alpha leads", || async {
        (current_holder(&client, &opts)
            .await
            .ok()
            .flatten()
            .as_deref()
            == Some("alpha"))
        .then_some(())
    })
    .await;

    // Another party takes the lease over for a long time.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let mut lease = leases.get("edgedeck-engine").await.expect("lease");
    let spec = lease.spec.get_or_insert_with(Default::default);
    spec.holder_identity = Some("intruder".into());
    spec.lease_duration_seconds = Some(3600);
    spec.renew_time = Some(MicroTime(Timestamp::now()));
    let stolen = leases
        .replace("edgedeck-engine", &PostParams::default(), &lease)
        .await
        .expect("lease stolen");
    let lost = |e: &EngineEvent| {
        e.outcome
            == Outcome::Leadership {
                holder: Some("intruder".into()),
                we_lead: false,
            }
    };
    assert!(
        saw(&mut events, lost).await,
        "alpha did not notice losing the lease"
    );

    // Freed again: alpha takes it back and works.
    let mut freed = stolen;
    if let Some(spec) = freed.spec.as_mut() {
        spec.holder_identity = None;
    }
    leases
        .replace("edgedeck-engine", &PostParams::default(), &freed)
        .await
        .expect("lease freed");
    let regained =
        |e: &EngineEvent| matches!(&e.outcome, Outcome::Leadership { we_lead: true, .. });
    assert!(
        saw(&mut events, regained).await,
        "alpha did not take the lease back"
    );
    fleet
        .add_nodes(&[node("a", &[("location", "x")], true)])
        .await;
    fleet.wait_label("a", LABEL_BELONGING_TO, Some("x")).await;
    engine.shutdown().await;
}
