//! The KubeEdge proposal's scenario end to end: five nodes, the hangzhou and
//! beijing NodeGroups, nginx-app — the whole engine (`Engine::spawn`) against
//! the embedded cluster with its fleet simulator, and against a real control
//! plane whose scheduler, workload and EndpointSlice controllers do the work
//! on kwok's nodes.

mod support;

use std::collections::BTreeSet;

use edgedeck::api::{EdgeApplication, ManifestCondition, NodeGroup};
use edgedeck::controllers::{Engine, EngineOptions};
use edgedeck::engine::topology;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::{eventually, from_yaml_file};

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

/// Ready pods of one generated Deployment, by the node they run on.
async fn ready_nodes(client: &Client, deployment: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let Ok(list) = pods.list(&ListParams::default().labels("app=nginx")).await else {
        return Vec::new();
    };
    let mut nodes: Vec<String> = list
        .items
        .iter()
        .filter(|p| {
            p.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(&format!("{deployment}-")))
        })
        .filter(|p| ready(p) && p.metadata.deletion_timestamp.is_none())
        .map(node_of)
        .collect();
    nodes.sort();
    nodes
}

async fn members(groups: &Api<NodeGroup>, name: &str) -> Option<i32> {
    groups.get_status(name).await.ok()?.status?.members
}

on_both_clusters! {
async fn proposal_scenario_runs_each_region_locally(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let nodes: Api<Node> = Api::all(client.clone());
    for (name, location) in [
        ("node-a", "hangzhou"),
        ("node-b", "hangzhou"),
        ("node-c", "beijing"),
        ("node-d", "beijing"),
        ("node-e", "beijing"),
    ] {
        let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"location": location}}}))
        .expect("node");
        nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("node created");
    }
    let groups: Api<NodeGroup> = Api::all(client.clone());
    for group in
        edgedeck::manifests::read_file("examples/proposal/nodegroups.yaml").expect("groups")
    {
        groups
            .create(
                &PostParams::default(),
                &group.decode().expect("a NodeGroup"),
            )
            .await
            .expect("group created");
    }
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");

    let engine = Engine::spawn(client.clone(), EngineOptions::default());

    eventually("group membership", || async {
        (members(&groups, "hangzhou").await == Some(2)
            && members(&groups, "beijing").await == Some(3))
        .then_some(())
    })
    .await;
    let hz = eventually("2 ready nginx-hangzhou pods", || async {
        let nodes = ready_nodes(&client, "nginx-hangzhou").await;
        (nodes.len() == 2).then_some(nodes)
    })
    .await;
    let bj = eventually("3 ready nginx-beijing pods", || async {
        let nodes = ready_nodes(&client, "nginx-beijing").await;
        (nodes.len() == 3).then_some(nodes)
    })
    .await;
    let hangzhou_nodes = BTreeSet::from(["node-a".to_owned(), "node-b".to_owned()]);
    assert!(
        hz.iter().all(|n| hangzhou_nodes.contains(n)),
        "hangzhou pods on {hz:?}"
    );
    assert!(
        bj.iter().all(|n| !hangzhou_nodes.contains(n)),
        "beijing pods on {bj:?}"
    );

    let status = eventually("every workload Available", || async {
        let status = apps.get_status("nginx-app").await.ok()?.status?;
        (status.workload_status.len() == 3
            && status
                .workload_status
                .iter()
                .all(|e| e.conditions == Some(ManifestCondition::Available)))
        .then_some(status)
    })
    .await;
    assert_eq!(status.available.as_deref(), Some("3/3"));
    let replicas: Vec<(String, i32, i32)> = status
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.desired_replicas, g.ready_replicas))
        .collect();
    assert_eq!(
        replicas,
        [("beijing".to_owned(), 3, 3), ("hangzhou".to_owned(), 2, 2)]
    );

    // Traffic closure on live data: node-a sees only hangzhou's endpoints of nginx-service.
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let all_nodes = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .items;
    let index = topology::node_group_index(&all_nodes);
    let slice_list = eventually("nginx-service endpoints", || async {
        let list = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=nginx-service"))
            .await
            .ok()?;
        (list.items.iter().map(|s| s.endpoints.len()).sum::<usize>() == 5).then_some(list.items)
    })
    .await;
    let seen: BTreeSet<String> = slice_list
        .iter()
        .flat_map(|s| {
            topology::filter_endpoint_slice(s, "node-a", &index)
                .0
                .endpoints
        })
        .filter_map(|e| e.node_name)
        .collect();
    assert!(
        !seen.is_empty() && seen.is_subset(&hangzhou_nodes),
        "node-a sees {seen:?}"
    );

    // node-b moves to beijing: labels follow, statuses update, hangzhou's pod leaves node-b.
    nodes
        .patch(
            "node-b",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"location": "beijing"}}})),
        )
        .await
        .expect("relabelled");
    eventually("node-b now in beijing", || async {
        let node = nodes.get("node-b").await.ok()?;
        let label = node
            .metadata
            .labels?
            .get("apps.kubeedge.io/belonging-to")
            .cloned();
        (label.as_deref() == Some("beijing")
            && members(&groups, "hangzhou").await == Some(1)
            && members(&groups, "beijing").await == Some(4))
        .then_some(())
    })
    .await;
    eventually("nginx-hangzhou pods only on node-a", || async {
        let nodes = ready_nodes(&client, "nginx-hangzhou").await;
        (nodes == ["node-a", "node-a"]).then_some(())
    })
    .await;
    engine.shutdown().await;
}
}
