//! Staged rollouts on the embedded cluster and on a real control plane:
//! the simulator's (and kwok's) crash-looping `broken` images, and the
//! Rollout controller driving an EdgeApplication wave by wave.

mod support;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use support::eventually;

async fn create_node(client: &Client, name: &str, group: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"location": group}}}))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node created");
}

fn container_status<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod.pointer("/status/containerStatuses")?
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

on_both_clusters! {
async fn a_broken_image_crash_loops_and_never_becomes_ready(cluster) {
    let client = cluster.client();
    create_node(&client, "node-a", "chengdu").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, image) in [("bad", "reg.io/web:broken"), ("good", "reg.io/web:1")] {
        let pod: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"nodeName": "node-a", "containers": [
                {"name": "web", "image": image}, {"name": "side", "image": "busybox:1"}]}}))
        .expect("pod");
        pods.create(&PostParams::default(), &pod).await.expect("pod created");
    }
    let get = |name: &'static str| {
        let pods = pods.clone();
        async move { serde_json::to_value(pods.get(name).await.ok()?).ok() }
    };
    eventually("the good pod Ready", || async {
        let pod = get("good").await?;
        let ready = pod.pointer("/status/conditions")?.as_array()?.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        ready.then_some(())
    })
    .await;
    let first = eventually("the bad pod crash-looping", || async {
        let pod = get("bad").await?;
        let web = container_status(&pod, "web")?;
        (web.pointer("/state/waiting/reason")? == "CrashLoopBackOff").then(|| pod.clone())
    })
    .await;
    let restarts = |pod: &Value| container_status(pod, "web").and_then(|c| c["restartCount"].as_i64());
    let before = restarts(&first).expect("a restart count");
    assert!(before >= 1, "a crash loop has restarted: {first}");
    let later = eventually("the restart count grows", || async {
        let pod = get("bad").await?;
        (restarts(&pod)? > before).then_some(pod)
    })
    .await;
    assert_eq!(later.pointer("/status/phase"), Some(&json!("Running")));
    let ready = later.pointer("/status/conditions").and_then(Value::as_array).and_then(|cs| {
        cs.iter().find(|c| c["type"] == "Ready").map(|c| c["status"].clone())
    });
    assert_eq!(ready, Some(json!("False")), "never Ready: {later}");
    let side = container_status(&later, "side").expect("sidecar status");
    assert_eq!(side["ready"], true, "the other container runs: {later}");
    assert_eq!(container_status(&later, "web").unwrap()["ready"], false);
}
}
