//! The EdgeApplication controller on the embedded cluster and on a real control plane, through kube::Client.

mod support;

use edgedeck::api::{EdgeApplication, ManifestCondition};
use edgedeck::controllers::{EngineEvent, Outcome, edge_application};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{eventually, eventually_within, from_yaml_file};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// Runs the EdgeApplication controller alone until the returned token is cancelled.
fn run_controller(client: &Client) -> CancellationToken {
    run_controller_with_events(client).0
}

/// The same, with the engine's event stream (every write it makes is reported there).
fn run_controller_with_events(
    client: &Client,
) -> (CancellationToken, broadcast::Receiver<EngineEvent>) {
    support::run_controller(client, edge_application::run)
}

async fn replicas(api: &Api<Deployment>, name: &str) -> Option<i32> {
    api.get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|d| d.spec.and_then(|s| s.replicas))
}

on_both_clusters! {
async fn proposal_app_is_generated_edited_pruned_and_garbage_collected(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let stop = run_controller(&client);
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let services: Api<Service> = Api::namespaced(client.clone(), "default");

    let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");

    for (group, want) in [("hangzhou", 2), ("beijing", 3)] {
        let name = format!("nginx-{group}");
        let d = eventually(&format!("{name} generated"), || async {
            deployments.get_opt(&name).await.ok().flatten()
        })
        .await;
        let spec = d.spec.expect("spec");
        assert_eq!(spec.replicas, Some(want));
        let pod = spec.template.spec.expect("pod spec");
        assert_eq!(
            pod.containers[0].image.as_deref(),
            Some(format!("{group}.registry.io/nginx:latest").as_str())
        );
        assert_eq!(
            pod.node_selector
                .unwrap_or_default()
                .get("apps.kubeedge.io/belonging-to")
                .map(String::as_str),
            Some(group)
        );
        let owner = &d.metadata.owner_references.expect("owned")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("EdgeApplication", "nginx-app", Some(true))
        );
    }
    let svc = eventually("service generated", || async {
        services.get_opt("nginx-service").await.ok().flatten()
    })
    .await;
    assert_eq!(
        svc.metadata
            .annotations
            .unwrap_or_default()
            .get("apps.kubeedge.io/service-topology")
            .map(String::as_str),
        Some("range-nodegroup")
    );
    let status = eventually("status with three entries", || async {
        apps.get_status("nginx-app")
            .await
            .ok()?
            .status
            .filter(|s| s.workload_status.len() == 3)
    })
    .await;
    assert!(
        status
            .workload_status
            .iter()
            .all(|e| e.identifier.version == "v1")
    );

    // beijing 3 → 5
    let scale = json!({"spec": {"workloadScope": {"targetNodeGroups": [
        {"name": "hangzhou", "overriders": {"replicas": 2, "imageOverriders": [{"component": "Registry", "operator": "replace", "value": "hangzhou.registry.io"}]}},
        {"name": "beijing", "overriders": {"replicas": 5, "imageOverriders": [{"component": "Registry", "operator": "replace", "value": "beijing.registry.io"}]}}]}}});
    apps.patch("nginx-app", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .expect("patched");
    eventually("nginx-beijing scaled to 5", || async {
        (replicas(&deployments, "nginx-beijing").await == Some(5)).then_some(())
    })
    .await;

    // Drift on a generated object is reverted.
    deployments
        .patch(
            "nginx-beijing",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 9}})),
        )
        .await
        .expect("drifted");
    eventually("drift reverted", || async {
        (replicas(&deployments, "nginx-beijing").await == Some(5)).then_some(())
    })
    .await;

    // Removing hangzhou from the scope deletes nginx-hangzhou, and only it.
    let only_beijing = json!({"spec": {"workloadScope": {"targetNodeGroups": [{"name": "beijing", "overriders": {"replicas": 5}}]}}});
    apps.patch(
        "nginx-app",
        &PatchParams::default(),
        &Patch::Merge(&only_beijing),
    )
    .await
    .expect("patched");
    support::eventually_gone(&deployments, "nginx-hangzhou").await;
    assert!(
        deployments
            .get_opt("nginx-beijing")
            .await
            .expect("get")
            .is_some()
    );
    let status = eventually("status without hangzhou", || async {
        apps.get_status("nginx-app")
            .await
            .ok()?
            .status
            .filter(|s| s.workload_status.len() == 2)
    })
    .await;
    assert!(
        status
            .workload_status
            .iter()
            .all(|e| e.identifier.name != "nginx-hangzhou")
    );

    // Deleting the application removes everything it generated.
    apps.delete("nginx-app", &DeleteParams::default())
        .await
        .expect("deleted");
    // The real garbage collector learns of a CRD created after it started on
    // its discovery resync (every 30 s); only then does it act on owners of
    // that kind.
    let gc_patience = support::PATIENCE + std::time::Duration::from_secs(40);
    eventually_within(gc_patience, "generated objects garbage-collected", || async {
        let d = deployments.get_opt("nginx-beijing").await.ok()?;
        let s = services.get_opt("nginx-service").await.ok()?;
        (d.is_none() && s.is_none()).then_some(())
    })
    .await;
    stop.cancel();
}

async fn broken_manifests_and_foreign_objects_are_reported_and_the_rest_applied(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let stop = run_controller(&client);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");

    // Someone else's Deployment already has the name the engine would generate for `north`.
    let foreign: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-north"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "other"}},
                 "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": [{"name": "c", "image": "other:1"}]}}}}))
    .expect("deployment");
    deployments
        .create(&PostParams::default(), &foreign)
        .await
        .expect("foreign created");

    let app: EdgeApplication = serde_json::from_value(json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "workloadTemplate": {"manifests": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config"}, "data": {"mode": "edge"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
                {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
            ]},
            "workloadScope": {"targetNodeGroups": [
                {"name": "north"},
                {"name": "south", "overriders": {"imageOverriders": [
                    {"predicate": {"path": "/spec/template/spec/containers/7/image"}, "component": "Tag", "operator": "replace", "value": "2"}]}},
                {"name": "east"}
            ]}
        }
    }))
    .expect("app");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");

    eventually("good objects applied", || async {
        let cm = configmaps.get_opt("web-config").await.ok()??;
        let east = deployments.get_opt("web-east").await.ok()??;
        Some((cm, east))
    })
    .await;
    let status = eventually("status with failures", || async {
        apps.get_status("web")
            .await
            .ok()?
            .status
            .filter(|s| s.workload_status.len() >= 5)
    })
    .await;
    let failed: Vec<(String, String)> = status
        .workload_status
        .iter()
        .filter(|e| e.conditions == Some(ManifestCondition::Failed))
        .map(|e| {
            (
                e.identifier.name.clone(),
                e.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    let has = |name: &str, text: &str| failed.iter().any(|(n, r)| n == name && r.contains(text));
    assert!(
        has(
            "web-north",
            "is not EdgeApplication web's: it has no controller and was not generated by KubeEdge"
        ),
        "{failed:#?}"
    );
    assert!(
        has("web-south", "/spec/template/spec/containers/7/image"),
        "{failed:#?}"
    );
    assert!(
        has("", "manifest 2: missing or empty metadata.name"),
        "{failed:#?}"
    );
    assert!(has("w", "not served by the cluster"), "{failed:#?}");

    let untouched = deployments
        .get("web-north")
        .await
        .expect("foreign still there");
    assert_eq!(
        untouched.metadata.owner_references, None,
        "foreign object not taken over"
    );
    assert_eq!(
        untouched
            .spec
            .and_then(|s| s.template.spec)
            .map(|p| p.containers[0].image.clone()),
        Some(Some("other:1".to_owned()))
    );
    stop.cancel();
}

async fn a_settled_application_is_not_rewritten_when_its_children_change_harmlessly(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (stop, mut events) = run_controller_with_events(&client);
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");
    eventually("status written", || async {
        apps.get_status("nginx-app")
            .await
            .ok()?
            .status
            .filter(|s| s.workload_status.len() == 3)
    })
    .await;
    // Settled: two seconds without the engine writing anything. A real
    // Deployment controller reports its rollout (replicas, conditions) over
    // a second or so; each report is a real change the status follows.
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let mut wrote = false;
        while let Ok(event) = events.try_recv() {
            wrote |=
                matches!(event.outcome, Outcome::Reconciled { ref changes } if !changes.is_empty());
        }
        if !wrote {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine never settles"
        );
    }

    // A change the engine does not own (a label) triggers a reconcile of the
    // owner. Not an annotation: kube-apiserver bumps a Deployment's generation
    // on annotation changes, and the rollout that follows is a real change.
    deployments
        .patch(
            "nginx-beijing",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"team": "edge"}}})),
        )
        .await
        .expect("annotated");
    // …which must neither re-apply the Deployment nor rewrite the unchanged status.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mut writes = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Outcome::Reconciled { changes } = event.outcome {
            writes.extend(changes);
        }
    }
    assert_eq!(
        writes,
        Vec::<String>::new(),
        "the engine wrote although nothing it owns changed"
    );
    let annotated = deployments.get("nginx-beijing").await.expect("deployment");
    assert_eq!(
        annotated
            .metadata
            .labels
            .unwrap_or_default()
            .get("team")
            .map(String::as_str),
        Some("edge"),
        "someone else's label survives the engine"
    );
    stop.cancel();
}
}
