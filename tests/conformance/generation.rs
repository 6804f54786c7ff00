//! `metadata.generation` (what the engine compares with a workload's
//! `observedGeneration` to call it available) and the status subresource.

use kube::Client;
use serde_json::{Value, json};

use super::{APPS, Body, DEPLOYMENTS, Pair, assert_same, deployment, edge_app, expect};

/// Waits until the Deployment's controller has observed its generation
/// (kube-controller-manager on one side, the fleet simulator on the other),
/// then returns the generation.
async fn settled_generation(c: &Client, name: &str) -> i64 {
    let path = format!("{DEPLOYMENTS}/{name}");
    crate::support::eventually(&format!("deployment {name} observed"), || async {
        let d = super::call(c, "GET", &path, Body::None).await.body;
        let generation = d.pointer("/metadata/generation")?.as_i64()?;
        let observed = d.pointer("/status/observedGeneration")?.as_i64()?;
        (observed == generation).then_some(generation)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_generation_counts_spec_and_annotation_changes() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let path = format!("{DEPLOYMENTS}/web");
            expect(&c, 201, "POST", DEPLOYMENTS, Body::Json(deployment("web"))).await;
            let mut steps = Vec::new();
            let mut last = settled_generation(&c, "web").await;
            for (what, patch) in [
                ("label", json!({"metadata": {"labels": {"tier": "edge"}}})),
                ("annotation", json!({"metadata": {"annotations": {"note": "x"}}})),
                ("image", json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.26"}]}}}})),
                ("replicas", json!({"spec": {"replicas": 2}})),
            ] {
                // A merge patch replaces the containers list: the whole container is given.
                expect(&c, 200, "PATCH", &path, Body::Merge(patch)).await;
                let now = settled_generation(&c, "web").await;
                steps.push(json!({what: now - last}));
                last = now;
            }
            let status_write = json!({"spec": {"replicas": 9}, "status": {"replicas": 42}});
            let written = expect(&c, 200, "PATCH", &format!("{path}/status"), Body::Merge(status_write)).await;
            steps.push(json!({"status": written["metadata"]["generation"].as_i64().unwrap_or(0) - last}));
            json!({"generation bumps": steps, "spec.replicas after a status write": written["spec"]["replicas"]})
        })
        .await;
    assert_same("Deployment generation", &seen);
    assert_eq!(
        seen.0["generation bumps"],
        json!([{"label": 0}, {"annotation": 1}, {"image": 1}, {"replicas": 1}, {"status": 0}])
    );
    assert_eq!(seen.0["spec.replicas after a status write"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_application_generation_counts_spec_changes_only() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let path = format!("{APPS}/app");
            let mut app = edge_app("app");
            // Status in a create is dropped where there is a status subresource.
            app["status"] = json!({"available": "9/9"});
            let created = expect(&c, 201, "POST", APPS, Body::Json(app)).await;
            let mut seen = vec![json!({"create": [created["metadata"]["generation"], created.get("status")]})];
            for (what, sub, patch) in [
                ("label", "", json!({"metadata": {"labels": {"tier": "edge"}}})),
                ("annotation", "", json!({"metadata": {"annotations": {"note": "x"}}})),
                ("spec", "", json!({"spec": {"workloadScope": {"targetNodeGroups": [{"name": "beijing"}]}}})),
                ("status via /status, spec ignored", "/status",
                    json!({"spec": {"workloadScope": {"targetNodeGroups": []}}, "status": {"available": "1/2"}})),
                ("status via the object, ignored", "", json!({"status": {"available": "2/2"}})),
            ] {
                let o = expect(&c, 200, "PATCH", &format!("{path}{sub}"), Body::Merge(patch)).await;
                seen.push(json!({what: [o["metadata"]["generation"], o["spec"]["workloadScope"], o["status"]]}));
            }
            let mut replaced = expect(&c, 200, "GET", &path, Body::None).await;
            replaced["status"] = json!({"available": "5/5"});
            replaced["spec"]["workloadScope"]["targetNodeGroups"] = json!([{"name": "shanghai"}]);
            let o = expect(&c, 200, "PUT", &path, Body::Json(replaced)).await;
            seen.push(json!({"PUT of spec and status": [o["metadata"]["generation"], o["spec"]["workloadScope"], o["status"]]}));
            Value::Array(seen)
        })
        .await;
    assert_same("EdgeApplication generation and status subresource", &seen);
    let generations: Vec<&Value> = seen
        .0
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            &step
                .as_object()
                .expect("step")
                .values()
                .next()
                .expect("value")[0]
        })
        .collect();
    assert_eq!(
        generations,
        [1, 1, 1, 2, 2, 2, 3]
            .map(|g| json!(g))
            .iter()
            .collect::<Vec<_>>()
    );
}

/// A difference kept: the embedded server gives every object a generation
/// (1, bumped when anything outside metadata and status changes), where
/// kube-apiserver gives one only to kinds whose strategy sets it. edgedeck
/// reads the generation of workloads and its own resources only, which agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_some_kinds_carry_a_generation_on_a_real_server() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let ns = "/api/v1/namespaces/default";
            let objects = [
                ("ConfigMap", format!("{ns}/configmaps"), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "g"}})),
                ("Secret", format!("{ns}/secrets"), json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "g"}})),
                ("Service", format!("{ns}/services"), json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "g"}, "spec": {"ports": [{"port": 80}]}})),
                ("ServiceAccount", format!("{ns}/serviceaccounts"), json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "g"}})),
                ("Namespace", "/api/v1/namespaces".into(), json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "g"}})),
                ("Lease", "/apis/coordination.k8s.io/v1/namespaces/default/leases".into(), json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "g"}})),
                ("EndpointSlice", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices".into(), json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "g"}, "addressType": "IPv4", "endpoints": []})),
                ("Deployment", DEPLOYMENTS.into(), deployment("g")),
                ("EdgeApplication", APPS.into(), edge_app("g")),
            ];
            let mut out = json!({});
            for (kind, path, body) in objects {
                let created = expect(&c, 201, "POST", &path, Body::Json(body)).await;
                out[kind] = created["metadata"].get("generation").cloned().unwrap_or(Value::Null);
            }
            out
        })
        .await;
    let everywhere = json!({"ConfigMap": 1, "Secret": 1, "Service": 1, "ServiceAccount": 1,
        "Namespace": 1, "Lease": 1, "EndpointSlice": 1, "Deployment": 1, "EdgeApplication": 1});
    assert_eq!(seen.0, everywhere, "embedded");
    let by_strategy = json!({"ConfigMap": null, "Secret": null, "Service": null, "ServiceAccount": null,
        "Namespace": null, "Lease": null, "EndpointSlice": 1, "Deployment": 1, "EdgeApplication": 1});
    assert_eq!(seen.1, by_strategy, "real");
}
