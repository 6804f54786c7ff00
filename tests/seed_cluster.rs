//! `edgedeck seed`: the demo fleet loaded onto a cluster that has never seen
//! edgedeck (no CRDs), on the embedded cluster and on a real control plane,
//! and loaded again without changing anything.

mod support;

use std::collections::BTreeMap;
use std::process::Output;

use edgedeck::api::{EdgeApplication, NodeGroup};
use edgedeck::simulation::load::{self, KWOK_ANNOTATION, LoadOptions, Nodes};
use edgedeck::simulation::seed::{DEMO_NAMESPACE, Seed};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde_json::Value;
use support::cluster::TestCluster;

const REGIONS: [&str; 5] = ["beijing", "chengdu", "hangzhou", "shanghai", "shenzhen"];
const DEMO_APPS: [&str; 2] = ["nginx-app", "video-analytics"];

fn demo() -> Vec<Value> {
    edgedeck::console::live::embedded::initial_objects(Seed::Demo).expect("demo objects")
}

fn demo_node_names() -> Vec<String> {
    let mut names: Vec<String> = Seed::Demo
        .objects()
        .iter()
        .filter(|o| o["kind"] == "Node")
        .map(|o| o["metadata"]["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

/// name → resourceVersion of every object `api` lists.
async fn versions<K>(api: &Api<K>) -> BTreeMap<String, String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|o| (o.name_any(), o.resource_version().unwrap_or_default()))
        .collect()
}

async fn assert_demo_fleet(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in [
        "nodegroups.apps.kubeedge.io",
        "edgeapplications.apps.kubeedge.io",
    ] {
        crds.get(name).await.expect(name);
    }
    let groups = versions(&Api::<NodeGroup>::all(client.clone())).await;
    assert_eq!(groups.keys().collect::<Vec<_>>(), REGIONS);
    let apps = versions(&Api::<EdgeApplication>::namespaced(
        client.clone(),
        DEMO_NAMESPACE,
    ))
    .await;
    assert_eq!(apps.keys().collect::<Vec<_>>(), DEMO_APPS);
    let nodes: Api<Node> = Api::all(client.clone());
    for name in demo_node_names() {
        let node = nodes.get(&name).await.expect(&name);
        let (key, value) = KWOK_ANNOTATION;
        assert_eq!(
            node.annotations().get(key).map(String::as_str),
            Some(value),
            "{name}"
        );
        assert_eq!(node.labels().get("type").map(String::as_str), Some("kwok"));
    }
}

on_both_clusters! {
    async fn the_demo_fleet_loads_onto_a_bare_cluster_and_reloading_changes_nothing(cluster) {
        let client = cluster.client();
        let options = LoadOptions { nodes: Nodes::Kwok, ..LoadOptions::default() };

        let first = load::load(&client, demo(), &options).await.expect("first load");
        assert_eq!(first.applied["CustomResourceDefinition"], edgedeck::api::crds().len(), "{first:?}");
        assert_eq!(first.applied["NodeGroup"], REGIONS.len());
        assert_eq!(first.applied["EdgeApplication"], DEMO_APPS.len());
        assert_eq!(first.applied["Node"], demo_node_names().len());
        assert_eq!(first.applied["Namespace"], 1, "only {DEMO_NAMESPACE} is new");
        assert_eq!(first.existing_namespaces, ["default", "kube-system"]);
        assert_demo_fleet(&client).await;

        let groups = Api::<NodeGroup>::all(client.clone());
        let apps = Api::<EdgeApplication>::namespaced(client.clone(), DEMO_NAMESPACE);
        let (groups_before, apps_before) = (versions(&groups).await, versions(&apps).await);
        let second = load::load(&client, demo(), &options).await.expect("second load");
        assert_eq!(second.existing_namespaces, ["default", "kube-system", DEMO_NAMESPACE]);
        assert_eq!(versions(&groups).await, groups_before, "NodeGroups rewritten");
        assert_eq!(versions(&apps).await, apps_before, "EdgeApplications rewritten");
    }
}

async fn edgedeck(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(args)
        .output()
        .await
        .expect("edgedeck runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_command_loads_the_demo_and_says_what_it_did() {
    let cluster = TestCluster::embedded().await;
    let kubeconfig = cluster.kubeconfig().to_str().expect("utf-8 path");

    let out = edgedeck(&["seed", "demo", "--kubeconfig", kubeconfig, "--with-nodes"]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let crds = format!("{} CustomResourceDefinition", edgedeck::api::crds().len());
    for part in [
        crds.as_str(),
        "2 EdgeApplication",
        "26 Node,",
        "5 NodeGroup",
        "left alone: default, kube-system",
    ] {
        assert!(stdout.contains(part), "{part:?} missing from:\n{stdout}");
    }
    assert_demo_fleet(&cluster.client()).await;

    // Without --with-nodes nothing is left to apply but the groups and apps,
    // and the summary says how existing nodes become members.
    let out = edgedeck(&["seed", "demo", "--kubeconfig", kubeconfig]).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("skipped 26 Node"), "{stdout}");
    assert!(
        stdout.contains("select nodes by label (location=beijing, location=chengdu,"),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_unreachable_server_or_a_missing_kubeconfig_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let kubeconfig = dir.path().join("closed.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: closed\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: closed\n  context:\n    cluster: closed\n    user: u\ncurrent-context: closed\n"
        ),
    )
    .expect("kubeconfig");
    let missing = dir.path().join("missing.kubeconfig");

    for (path, expected) in [
        (&kubeconfig, format!("127.0.0.1:{port}")),
        (&missing, "missing.kubeconfig".to_owned()),
    ] {
        let path = path.to_str().expect("utf-8 path");
        let out = edgedeck(&["seed", "demo", "--kubeconfig", path]).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
        assert!(
            stderr.starts_with("error: ") && stderr.contains(&expected),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
