//! Moving from KubeEdge's controller to edgedeck's engine, on the embedded
//! cluster and on a real control plane (where pruning and enum validation
//! of CRD schemas are kube-apiserver's own):
//! - with KubeEdge's own EdgeApplication CRD still installed, status is
//!   written in the shape that CRD keeps, and written once, not on every pass;
//! - so is a NodeGroup's under KubeEdge's NodeGroup CRD;
//! - the objects KubeEdge generated are adopted, not duplicated or refused,
//!   and the ones it generated for a target that is gone are pruned.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use edgedeck::api::{EdgeApplication, ManifestCondition, NodeGroup, SelectionStatus};
use edgedeck::controllers::{EngineEvent, Outcome, edge_application, node_group};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Node};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::{eventually, from_yaml_file};
use tokio::sync::broadcast;

const LAST_APPLIED: &str = "apps.kubeedge.io/last-applied-template";

/// Installs one of KubeEdge's CRDs (tests/kubeedge/) in place of ours, and
/// waits until `K` is listable through it.
async fn install_kubeedge_crd<K>(client: &Client, file: &str)
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let crd: CustomResourceDefinition = from_yaml_file(file);
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("KubeEdge's CRD created");
    let client = client.clone();
    eventually(&format!("{file} served"), || {
        let objects: Api<K> = Api::all(client.clone());
        async move { objects.list(&Default::default()).await.ok().map(|_| ()) }
    })
    .await;
}

/// Waits until two seconds pass without the engine writing anything; a
/// status that never reads back as written would be rewritten forever.
async fn settle(events: &mut broadcast::Receiver<EngineEvent>) {
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut wrote = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let Outcome::Reconciled { changes } = event.outcome {
                wrote.extend(changes);
            }
        }
        if wrote.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine never settles, still writing: {wrote:?}"
        );
    }
}

/// The proposal's application with beijing's image overrider broken, so
/// one entry of its status is a failure, and an env overrider for a
/// container hangzhou's template lacks, so one is a warning.
fn app_with_a_failing_group() -> EdgeApplication {
    let mut app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    app.spec.workload_scope.target_node_groups[1]
        .overriders
        .image_overriders[0]
        .value = "not a registry!".into();
    app.spec.workload_scope.target_node_groups[0]
        .overriders
        .env_overriders = vec![edgedeck::api::EnvOverrider {
        container_name: "sidecar".into(),
        operator: edgedeck::api::OverriderOperator::Add,
        value: vec![],
    }];
    app
}

/// Waits for a Warning Event on the application with this reason whose
/// message names `text`.
async fn event_on_app(client: &Client, reason: &str, text: &str) {
    let recorded: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually(&format!("a {reason} Event naming {text}"), || async {
        let list = recorded.list(&ListParams::default()).await.ok()?;
        list.items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.involved_object.name.as_deref() == Some("nginx-app")
                    && e.message.as_deref().unwrap_or_default().contains(text)
            })
            .then_some(())
    })
    .await;
}

on_both_clusters! {
async fn status_fits_kubeedges_own_crd_and_is_written_once(cluster) {
    let client = cluster.client();
    install_kubeedge_crd::<EdgeApplication>(&client, "tests/kubeedge/edgeapplication-crd.yaml")
        .await;
    let (stop, mut events) = support::run_controller(&client, edge_application::run);
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    apps.create(&PostParams::default(), &app_with_a_failing_group())
        .await
        .expect("app created under KubeEdge's CRD");

    let status = eventually("status written under KubeEdge's CRD", || async {
        apps.get_status("nginx-app")
            .await
            .ok()?
            .status
            .filter(|s| s.workload_status.len() == 3)
    })
    .await;
    let by_name: BTreeMap<&str, Option<ManifestCondition>> = status
        .workload_status
        .iter()
        .map(|e| (e.identifier.name.as_str(), e.conditions))
        .collect();
    assert_eq!(
        by_name.get("nginx-beijing"),
        Some(&Some(ManifestCondition::Processing)),
        "a failed copy is Processing, the only word KubeEdge's enum has for it: {status:#?}"
    );
    assert!(by_name.contains_key("nginx-hangzhou") && by_name.contains_key("nginx-service"));
    assert!(
        status.workload_status.iter().all(|e| e.reason.is_none()),
        "KubeEdge's schema keeps no reason, so none is written"
    );
    // What the schema cannot keep still reaches whoever looks: as Events.
    event_on_app(&client, "GenerateFailed", "nginx-beijing").await;
    event_on_app(&client, "OverriderSkipped", "names container \"sidecar\"").await;
    settle(&mut events).await;

    let generated: Api<Deployment> = Api::namespaced(client.clone(), "default");
    assert!(
        generated.get_opt("nginx-hangzhou").await.expect("get").is_some(),
        "the healthy group is generated"
    );
    stop.cancel();
}

async fn a_node_group_status_fits_kubeedges_own_crd_and_is_written_once(cluster) {
    let client = cluster.client();
    install_kubeedge_crd::<NodeGroup>(&client, "tests/kubeedge/nodegroup-crd.yaml").await;
    let (stop, mut events) = support::run_controller(&client, node_group::run);
    let nodes: Api<Node> = Api::all(client.clone());
    for name in ["hz-1", "hz-2"] {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"location": "hangzhou"}}}))
        .expect("node");
        nodes.create(&PostParams::default(), &node).await.expect("node created");
    }
    let groups: Api<NodeGroup> = Api::all(client.clone());
    let group: NodeGroup = serde_json::from_value(json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "hangzhou"}, "spec": {"matchLabels": {"location": "hangzhou"}}}))
    .expect("group");
    groups.create(&PostParams::default(), &group).await.expect("group created");
    let status = eventually("both members in the status", || async {
        groups.get_status("hangzhou").await.ok()?.status.filter(|s| {
            s.node_statuses.len() == 2
                && s.node_statuses.iter().all(|n| n.selection_status == SelectionStatus::Succeeded)
        })
    })
    .await;
    assert_eq!(
        (status.members, status.ready_members),
        (None, None),
        "KubeEdge's schema keeps no counts"
    );
    settle(&mut events).await;
    // A change that is not the status reconciles the group, which must find
    // its status as it wrote it and write nothing (the API server would take
    // the same status again without complaint, on every pass).
    groups
        .patch(
            "hangzhou",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"team": "edge"}}})),
        )
        .await
        .expect("labelled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut writes = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Outcome::Reconciled { changes } = event.outcome {
            writes.extend(changes);
        }
    }
    assert_eq!(writes, Vec::<String>::new(), "the status was written again");
    stop.cancel();
}

async fn objects_kubeedge_generated_are_adopted_or_pruned_never_duplicated(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    let app = apps
        .create(&PostParams::default(), &app)
        .await
        .expect("app created");
    let uid = app.metadata.uid.clone().expect("uid");
    let owner = json!([{"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
                        "name": "nginx-app", "uid": uid, "controller": true, "blockOwnerDeletion": true}]);

    // What KubeEdge's controller left behind: no edgedeck label, its
    // annotation; hangzhou's under its owner, beijing's orphaned (restored
    // from a backup), shanghai's for a group the spec no longer targets.
    let kubeedge_made = |group: &str, owners: &Value| -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("nginx-{group}"), "namespace": "default",
                         "ownerReferences": owners, "annotations": {LAST_APPLIED: "{}"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx"}},
                                  "spec": {"nodeSelector": {"apps.kubeedge.io/belonging-to": group},
                                           "containers": [{"name": "nginx", "image": "nginx:latest"}]}}}}))
        .expect("deployment")
    };
    let mut uids = BTreeMap::new();
    for (group, owners) in [("hangzhou", owner.clone()), ("beijing", json!([])), ("shanghai", owner)] {
        let made = deployments
            .create(&PostParams::default(), &kubeedge_made(group, &owners))
            .await
            .expect("KubeEdge's deployment");
        uids.insert(group, made.metadata.uid.expect("uid"));
    }
    let entries: Vec<Value> = ["hangzhou", "beijing", "shanghai"]
        .iter()
        .map(|g| json!({"identifier": {"ordinal": 0, "group": "apps", "version": "v1", "kind": "Deployment",
                                       "namespace": "default", "name": format!("nginx-{g}")},
                        "conditions": "Processing"}))
        .collect();
    let kubeedge_status = json!({"status": {"workloadStatus": entries}});
    apps.patch_status("nginx-app", &PatchParams::default(), &Patch::Merge(&kubeedge_status))
        .await
        .expect("KubeEdge's status");

    let (stop, _events) = support::run_controller(&client, edge_application::run);
    for (group, replicas) in [("hangzhou", 2), ("beijing", 3)] {
        let name = format!("nginx-{group}");
        let adopted = eventually(&format!("{name} adopted"), || async {
            let d = deployments.get_opt(&name).await.ok()??;
            let labelled = d.metadata.labels.as_ref()?.get("apps.kubeedge.io/edgeapplication-name")
                == Some(&"nginx-app".to_owned());
            (labelled && d.spec.as_ref()?.replicas == Some(replicas)).then_some(d)
        })
        .await;
        assert_eq!(
            adopted.metadata.uid.as_ref(),
            uids.get(group),
            "{name} is KubeEdge's object updated in place, not a new one"
        );
        let controller = adopted
            .metadata
            .owner_references
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.controller == Some(true))
            .expect("a controller reference");
        assert_eq!(controller.uid, uid);
    }
    support::eventually_gone(&deployments, "nginx-shanghai").await;
    let status = eventually("status of what renders now", || async {
        apps.get_status("nginx-app")
            .await
            .ok()?
            .status
            .filter(|s| s.workload_status.len() == 3 && s.observed_generation.is_some())
    })
    .await;
    assert!(
        status
            .workload_status
            .iter()
            .all(|e| e.conditions != Some(ManifestCondition::Failed)),
        "nothing refused as foreign: {status:#?}"
    );
    let all = deployments.list(&ListParams::default()).await.expect("list");
    let names: Vec<_> = all.items.iter().filter_map(|d| d.metadata.name.as_deref()).collect();
    assert_eq!(names.len(), 2, "one copy per group, no duplicate: {names:?}");
    stop.cancel();
}
}
