//! Bugs the chaos soak (`cargo run --example soak`) found, each pinned on
//! both clusters.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use support::eventually_gone;

on_both_clusters! {
/// An EdgeApplication deleted while the engine was still applying its
/// objects left them behind on the embedded cluster (soak seed 1 and 2:
/// "outlived its EdgeApplication soak-app-6"): the owner's cascade ran
/// before they existed. kube-controller-manager's garbage collector
/// deletes an object whose owners are all gone; so must the embedded one.
async fn a_dependent_created_after_its_owner_was_deleted_is_collected(cluster) {
    let configmaps: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    let owner: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("cm");
    let owner = configmaps.create(&PostParams::default(), &owner).await.expect("owner");
    let uid = owner.metadata.uid.clone().expect("uid");
    configmaps.delete("owner", &DeleteParams::default()).await.expect("deleted");
    eventually_gone(&configmaps, "owner").await;

    let late: ConfigMap = serde_json::from_value(json!({"metadata": {
        "name": "late",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid, "controller": true}],
    }}))
    .expect("cm");
    configmaps.create(&PostParams::default(), &late).await.expect("accepted, as kube-apiserver does");
    eventually_gone(&configmaps, "late").await;

    // An object whose owner exists stays.
    let owner: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "owner2"}})).expect("cm");
    let owner = configmaps.create(&PostParams::default(), &owner).await.expect("owner");
    let kept: ConfigMap = serde_json::from_value(json!({"metadata": {
        "name": "kept",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2", "uid": owner.metadata.uid, "controller": true}],
    }}))
    .expect("cm");
    configmaps.create(&PostParams::default(), &kept).await.expect("created");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(configmaps.get_opt("kept").await.expect("get").is_some());
}
}
