//! The NodeGroup controller and leader election through kube::Client and
//! `Engine::spawn`, on the embedded cluster and on a real control plane.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use edgedeck::api::{
    FINALIZER_NODEGROUP, LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE, NodeGroup, NodeGroupSpec,
    ReadyStatus, SelectionStatus,
};
use edgedeck::controllers::leader::{LeaseOptions, current_holder};
use edgedeck::controllers::{Engine, EngineEvent, EngineHandle, EngineOptions, Outcome, Source};
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::cluster::TestCluster;
use support::eventually;
use support::real::ControlPlane;
use tokio::sync::broadcast;

fn node(name: &str, labels: &[(&str, &str)], ready: bool) -> Node {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    // A fresh heartbeat: kube-controller-manager's node lifecycle controller
    // judges a node by it, and a node that never beat looks abandoned.
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{
            "type": "Ready",
            "status": if ready { "True" } else { "False" },
            "reason": if ready { "KubeletReady" } else { "KubeletNotReady" },
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }]},
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

    /// Waits until `group`'s status reports `node` with readiness `want`.
    async fn wait_readiness(&self, group: &str, node: &str, want: ReadyStatus) {
        eventually(&format!("{group} reports {node} {want:?}"), || async {
            let g = self.groups.get(group).await.ok()?;
            g.status?
                .node_statuses
                .iter()
                .any(|s| s.node_name == node && s.ready_status == want)
                .then_some(())
        })
        .await;
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

/// The proposal's fleet but for its NotReady node (see [`add_not_ready_node`]):
/// one ready node in Hangzhou, three in Beijing.
fn proposal_ready_nodes() -> Vec<Node> {
    vec![
        node("hz-1", &[("location", "hangzhou")], true),
        node("bj-1", &[("location", "beijing")], true),
        node("bj-2", &[("location", "beijing")], true),
        node("bj-3", &[("location", "beijing")], true),
    ]
}

/// Adds `node` as a node that is not ready, as far as each cluster can
/// model one, and returns the readiness its group's status must show.
///
/// Both clusters run a kubelet for every node (the fleet simulator, kwok)
/// that posts Ready=True over whatever status a test writes. On the real
/// cluster an admission policy keeps kwok off the node, so the Ready=False
/// it is created with stays, and the test renews the node's Lease: a live
/// kubelet reporting NotReady. The simulator cannot model that; the one
/// not-ready state it has is a kubelet gone silent, which it marks Unknown
/// after its grace period, as the node lifecycle controller would.
async fn add_not_ready_node(cluster: &TestCluster, fleet: &Fleet, node: Node) -> ReadyStatus {
    let name = node.metadata.name.clone().expect("named node");
    match cluster.control_plane() {
        Some(plane) => {
            keep_kwok_off(plane, &name).await;
            fleet.add_nodes(&[node]).await;
            tokio::spawn(renew_node_lease(cluster.client(), name));
            ReadyStatus::NotReady
        }
        None => {
            fleet.add_nodes(&[node]).await;
            cluster
                .embedded_cluster()
                .expect("embedded when not real")
                .set_offline(&[name], true)
                .expect("the fleet simulator runs");
            ReadyStatus::Unknown
        }
    }
}

/// Denies kwok every write to Node `held` with a ValidatingAdmissionPolicy,
/// and waits until the API server enforces it. kwok runs with
/// --manage-all-nodes, which has no per-node opt-out, and its node stage
/// rewrites any Ready other than True at once; admission is the one place
/// that can tell it no without touching the shared test support.
async fn keep_kwok_off(plane: &ControlPlane, held: &str) {
    let admin = plane.client();
    let name = format!("edgedeck-test-keep-kwok-off-{held}");
    let message = format!("the test holds node {held}; kwok must leave it alone");
    // CREATE is not for kwok (it never creates nodes) but for the probe
    // below, which has no node to update yet.
    let policy: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["nodes", "nodes/status"],
                "resourceNames": [held],
            }]},
            "matchConditions": [{"name": "kwok", "expression": "request.userInfo.username == 'kwok'"}],
            "validations": [{"expression": "false", "message": message}],
        },
    }))
    .expect("policy");
    let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }))
    .expect("binding");
    Api::<ValidatingAdmissionPolicy>::all(admin.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("policy created");
    Api::<ValidatingAdmissionPolicyBinding>::all(admin)
        .create(&PostParams::default(), &binding)
        .await
        .expect("binding created");

    // The API server loads policies asynchronously: probe as kwok until denied.
    let kubeconfig = plane.kubeconfig_for(
        &format!("{name}.kubeconfig"),
        "kwok",
        Some("system:masters"),
    );
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("client config");
    let as_kwok: Api<Node> = Api::all(Client::try_from(config).expect("client"));
    let probe = node(held, &[], true);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    eventually(&format!("kwok kept off {held}"), || async {
        match as_kwok.create(&dry_run, &probe).await {
            Err(kube::Error::Api(status)) if status.message.contains(&message) => Some(()),
            _ => None,
        }
    })
    .await;
}

/// Renews `node`'s Lease in kube-node-lease as its kubelet would, until the
/// test's runtime ends. Without it (kwok, kept off, holds no Lease for the
/// node) the node lifecycle controller would turn Ready=False into Unknown
/// once its grace period (50 s) passed without a heartbeat.
async fn renew_node_lease(client: Client, node: String) {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    loop {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": node},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now},
        }))
        .expect("lease");
        let params = PatchParams::apply("edgedeck-test-kubelet").force();
        // A failed renewal is retried on the next round, like a kubelet's.
        let _ = leases.patch(&node, &params, &Patch::Apply(&lease)).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
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

/// Waits (bounded) until the engine has said nothing for a second.
async fn quiet(events: &mut broadcast::Receiver<EngineEvent>) {
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    loop {
        match tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
            Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return,
            Ok(_) => assert!(
                tokio::time::Instant::now() < deadline,
                "the engine never falls quiet"
            ),
        }
    }
}

fn elected(client: &Client, identity: &str, namespace: &str) -> EngineHandle {
    elected_subscribed(client, identity, namespace).0
}

/// [`elected`], with events from the very start: some are reported once,
/// possibly before a `subscribe` after the spawn would return.
fn elected_subscribed(
    client: &Client,
    identity: &str,
    namespace: &str,
) -> (EngineHandle, broadcast::Receiver<EngineEvent>) {
    let options = EngineOptions {
        leader_elect: true,
        lease: lease_options(identity, namespace),
        ..EngineOptions::default()
    };
    Engine::spawn_subscribed(client.clone(), options)
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

on_both_clusters! {
async fn members_are_labelled_and_counted_and_follow_relabelling(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let fleet = Fleet::new(&client);
    fleet.add_nodes(&proposal_ready_nodes()).await;
    let hz2_readiness = add_not_ready_node(
        &cluster,
        &fleet,
        node("hz-2", &[("location", "hangzhou")], false),
    )
    .await;
    fleet
        .add_group(&by_location("hangzhou", "hangzhou", false))
        .await;
    fleet
        .add_group(&by_location("beijing", "beijing", true))
        .await;
    let engine = engine(&client);

    // The simulator reaches Unknown only after its grace period: wait for
    // the readiness itself, not just for the counts.
    fleet.wait_readiness("hangzhou", "hz-2", hz2_readiness).await;
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
    assert_eq!(hz2.map(|s| s.ready_status), Some(hz2_readiness));
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

async fn a_node_named_by_two_groups_fails_in_the_second(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
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

async fn deleting_a_group_strips_its_labels_before_it_goes(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
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

async fn a_cloud_zone_survives_membership(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
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

async fn an_unchanged_status_is_not_rewritten(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let fleet = Fleet::new(&client);
    fleet
        .add_nodes(&[node("a", &[("location", "x")], true)])
        .await;
    fleet.add_group(&by_location("x", "x", false)).await;
    let engine = engine(&client);
    fleet.wait_members("x", &["a"], 1).await;
    fleet.wait_label("a", LABEL_BELONGING_TO, Some("x")).await;
    let mut events = engine.subscribe();
    // The echoes of the engine's own writes reconcile x too, with nothing
    // to write; one of those, emitted after the touch, must not pass for the
    // touch's own reconcile (which could then rewrite the status unseen).
    quiet(&mut events).await;

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

async fn one_engine_leads_and_hands_over_on_shutdown(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
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

async fn a_missing_lease_namespace_is_reported(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    // The failure is reported once: subscribed any later, the test could miss it.
    let (engine, mut events) = elected_subscribed(&client, "alpha", "no-such-namespace");
    let failed = |e: &EngineEvent| {
        e.source == Source::Leader
            && matches!(&e.outcome, Outcome::Failed { reason } if reason.contains("\"no-such-namespace\" for the leader lease does not exist"))
    };
    assert!(saw(&mut events, failed).await, "no failure reported");
    engine.shutdown().await;
}

async fn a_stolen_lease_stops_the_leader_until_it_is_free_again(cluster) {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;

    let cluster = cluster.with_crds().await;
    let client = cluster.client();
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
}
