//! Revision history of EdgeApplications on the embedded cluster and on a
//! real control plane: the engine records every applied spec as a
//! ControllerRevision (bounded to ten), and `edgedeck rollout history|undo
//! --to-revision` read and restore them.

mod support;

use edgedeck::api::{EdgeApplication, EdgeApplicationSpec, NodeGroup, Rollout, RolloutPhase};
use edgedeck::controllers::{Engine, EngineHandle, EngineOptions};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::eventually;

fn app_spec(image: &str) -> EdgeApplicationSpec {
    serde_json::from_value(json!({
        "workloadTemplate": {"manifests": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}},
                 "spec": {"containers": [{"name": "web", "image": image}]}}}}]},
        "workloadScope": {"targetNodeGroups": [{"name": "chengdu"}]}
    }))
    .expect("spec")
}

/// One group of one node, the application `web` on `nginx:1`, the engine running.
async fn setup(client: &Client) -> (Api<EdgeApplication>, EngineHandle) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-0", "labels": {"location": "chengdu"}}}))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node created");
    let groups: Api<NodeGroup> = Api::all(client.clone());
    let group: NodeGroup = serde_json::from_value(json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "chengdu"}, "spec": {"matchLabels": {"location": "chengdu"}}}))
    .expect("group");
    groups
        .create(&PostParams::default(), &group)
        .await
        .expect("group created");
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    apps.create(
        &PostParams::default(),
        &EdgeApplication::new("web", app_spec("nginx:1")),
    )
    .await
    .expect("app created");
    (
        apps,
        Engine::spawn(client.clone(), EngineOptions::default()),
    )
}

/// The revisions of `web`, by number.
async fn revisions(client: &Client) -> Vec<ControllerRevision> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), "default");
    let mut list = api
        .list(&ListParams::default().labels("edgedeck.io/edge-application=web"))
        .await
        .expect("revisions")
        .items;
    list.sort_by_key(|r| r.revision);
    list
}

async fn numbers_when(client: &Client, want: &[i64]) -> Vec<ControllerRevision> {
    eventually(&format!("revisions {want:?}"), || async {
        let list = revisions(client).await;
        (list.iter().map(|r| r.revision).collect::<Vec<_>>() == want).then_some(list)
    })
    .await
}

fn spec_of(r: &ControllerRevision) -> EdgeApplicationSpec {
    serde_json::from_value(r.data.clone().expect("data").0).expect("a spec")
}

async fn edit(apps: &Api<EdgeApplication>, image: &str) {
    let params = PatchParams {
        field_manager: Some("tester".into()),
        ..PatchParams::default()
    };
    apps.patch(
        "web",
        &params,
        &Patch::Merge(json!({"spec": app_spec(image)})),
    )
    .await
    .expect("app edited");
}

fn edgedeck(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .arg("rollout")
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .expect("run edgedeck rollout");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

on_both_clusters! {
async fn edits_are_numbered_revisions_kept_to_ten_and_undo_restores_one(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (apps, engine) = setup(&client).await;
    numbers_when(&client, &[1]).await;
    for n in 2..=10 {
        edit(&apps, &format!("nginx:{n}")).await;
        numbers_when(&client, &(1..=n).collect::<Vec<_>>()).await;
    }
    let kept = revisions(&client).await;
    for r in &kept {
        assert_eq!(spec_of(r), app_spec(&format!("nginx:{}", r.revision)), "revision {}", r.revision);
        let owner = &r.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("EdgeApplication", "web"));
        if r.revision > 1 {
            assert_eq!(r.annotations()["edgedeck.io/change-cause"], "tester");
        }
    }
    edit(&apps, "nginx:11").await;
    let kept = numbers_when(&client, &(2..=11).collect::<Vec<_>>()).await;
    assert_eq!(kept.len(), 10, "the eleventh edit pruned the oldest");

    // Passes over an unchanged spec: a metadata change and a new engine
    // (which has to list to learn the newest hash) write no revision.
    let before: Vec<(String, Option<String>)> =
        kept.iter().map(|r| (r.name_any(), r.resource_version())).collect();
    let params = PatchParams::default();
    apps.patch("web", &params, &Patch::Merge(json!({"metadata": {"labels": {"touched": "yes"}}})))
        .await
        .expect("label");
    engine.shutdown().await;
    let engine = Engine::spawn(client.clone(), EngineOptions::default());
    edit(&apps, "nginx:12").await;
    let kept = numbers_when(&client, &(3..=12).collect::<Vec<_>>()).await;
    let after: Vec<(String, Option<String>)> =
        kept.iter().map(|r| (r.name_any(), r.resource_version())).collect();
    assert_eq!(after[..9], before[1..], "kept revisions untouched");
    assert_eq!(spec_of(&kept[9]), app_spec("nginx:12"));

    let kc = cluster.kubeconfig().to_owned();
    let (ok, table, err) = edgedeck(&kc, &["history", "web"]);
    assert!(ok, "{err}");
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["REVISION", "CHANGE-CAUSE", "AGE"], "{table}");
    assert_eq!(rows[1..].iter().map(|r| r[0]).collect::<Vec<_>>(),
        (3..=12).map(|n| n.to_string()).collect::<Vec<_>>(), "{table}");
    assert!(rows[1..].iter().all(|r| r[1] == "tester"), "{table}");

    let (ok, yaml, err) = edgedeck(&kc, &["history", "web", "--revision", "5"]);
    assert!(ok, "{err}");
    let shown: EdgeApplicationSpec = serde_yaml_ng::from_str(&yaml).expect("the spec as YAML");
    assert_eq!(shown, app_spec("nginx:5"));

    let (ok, diff, err) = edgedeck(&kc, &["history", "web", "--diff", "11", "12"]);
    assert!(ok, "{err}");
    let changed: Vec<&str> = diff.lines().filter(|l| {
        (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---") && !l.starts_with("+++")
    }).collect();
    assert!(diff.starts_with("--- revision 11\n+++ revision 12\n"), "{diff}");
    assert_eq!(changed.len(), 2, "{diff}");
    assert!(changed[0].starts_with('-') && changed[0].ends_with("image: nginx:11"), "{diff}");
    assert!(changed[1].starts_with('+') && changed[1].ends_with("image: nginx:12"), "{diff}");

    let (ok, _, err) = edgedeck(&kc, &["history", "web", "--revision", "1"]);
    assert!(!ok && err.contains("no revision 1") && err.contains("3 to 12"), "{err}");
    let (ok, _, err) = edgedeck(&kc, &["history", "nosuch"]);
    assert!(!ok && err.contains("no EdgeApplication nosuch"), "{err}");
    let (ok, _, err) = edgedeck(&kc, &["undo", "web", "--to-revision", "99"]);
    assert!(!ok && err.contains("no revision 99"), "{err}");
    assert_eq!(apps.get("web").await.expect("app").spec, app_spec("nginx:12"), "a failed undo wrote nothing");

    let (ok, out, err) = edgedeck(&kc, &["undo", "web", "--to-revision", "5"]);
    assert!(ok, "{out}{err}");
    assert_eq!(apps.get("web").await.expect("app").spec, app_spec("nginx:5"));
    let kept = numbers_when(&client, &(4..=13).collect::<Vec<_>>()).await;
    assert_eq!(spec_of(&kept[9]), app_spec("nginx:5"));
    assert_eq!(kept[9].annotations()["edgedeck.io/change-cause"], "edgedeck-rollout-undo");
    engine.shutdown().await;
}

async fn undo_with_waves_is_a_staged_rollout_to_that_revision(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (apps, engine) = setup(&client).await;
    numbers_when(&client, &[1]).await;
    edit(&apps, "nginx:2").await;
    numbers_when(&client, &[1, 2]).await;
    let kc = cluster.kubeconfig().to_owned();
    let (ok, out, err) = edgedeck(&kc, &["undo", "web", "--to-revision", "1", "--wave", "chengdu", "--soak", "1"]);
    assert!(ok && out.contains("rollout web created"), "{out}{err}");
    let rollouts: Api<Rollout> = Api::namespaced(client.clone(), "default");
    assert_eq!(rollouts.get("web").await.expect("rollout").spec.target, app_spec("nginx:1"));
    eventually("the undo rollout completed", || async {
        let status = rollouts.get_status("web").await.ok()?.status?;
        (status.phase == RolloutPhase::Completed).then_some(())
    })
    .await;
    assert_eq!(apps.get("web").await.expect("app").spec, app_spec("nginx:1"));
    let kept = eventually("the rollout's writes recorded", || async {
        let list = revisions(&client).await;
        (list.last().map(spec_of) == Some(app_spec("nginx:1"))).then_some(list)
    })
    .await;
    let last = kept.last().expect("a revision");
    assert!(last.revision >= 3);
    assert_eq!(last.annotations()["edgedeck.io/change-cause"], "edgedeck-rollout");
    engine.shutdown().await;
}
}
