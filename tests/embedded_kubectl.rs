//! Unmodified kubectl against the embedded cluster, through the kubeconfig it
//! writes.

mod support;

use edgedeck::embedded::{ClusterOptions, start};
use support::kubectl::Kubectl;

const NODEGROUP: &str = "apiVersion: apps.kubeedge.io/v1alpha1
kind: NodeGroup
metadata:
  name: region-a
spec:
  nodes: [edge-1, edge-2]
  matchLabels:
    region: a
";

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovers_applies_gets_and_deletes() {
    let cluster = start(ClusterOptions::default())
        .await
        .expect("cluster starts");
    let k = Kubectl::new(&cluster);

    let crds = k.file("crds.yaml", &edgedeck::api::crds_yaml().expect("crd yaml"));
    let applied = k
        .ok(&["apply", "-f", crds.to_str().expect("utf-8 path")])
        .await;
    assert!(
        applied.contains("nodegroups.apps.kubeedge.io created"),
        "{applied}"
    );

    let resources = k.ok(&["api-resources"]).await;
    for expected in [
        "nodegroups",
        "ng",
        "apps.kubeedge.io/v1alpha1",
        "edgeapplications",
        "eapp",
        "deployments",
        "deploy",
        "apps/v1",
        "pods",
        "po",
        "endpointslices",
        "discovery.k8s.io/v1",
        "leases",
        "crd,crds",
    ] {
        assert!(
            resources.contains(expected),
            "api-resources lacks {expected}:\n{resources}"
        );
    }
    let ng_line = resources
        .lines()
        .find(|l| l.starts_with("nodegroups"))
        .expect("nodegroups line");
    assert!(
        ng_line.contains("false") && ng_line.contains("NodeGroup"),
        "{ng_line}"
    );

    let ng = k.file("ng.yaml", NODEGROUP);
    let created = k
        .ok(&["apply", "-f", ng.to_str().expect("utf-8 path")])
        .await;
    assert!(
        created.contains("nodegroup.apps.kubeedge.io/region-a created"),
        "{created}"
    );
    let changed = k.file(
        "ng2.yaml",
        &NODEGROUP.replace("[edge-1, edge-2]", "[edge-3]"),
    );
    let configured = k
        .ok(&["apply", "-f", changed.to_str().expect("utf-8 path")])
        .await;
    assert!(configured.contains("configured"), "{configured}");
    let unchanged = k
        .ok(&["apply", "-f", changed.to_str().expect("utf-8 path")])
        .await;
    assert!(unchanged.contains("unchanged"), "{unchanged}");

    let yaml = k.ok(&["get", "ng", "region-a", "-o", "yaml"]).await;
    assert!(
        yaml.contains("- edge-3") && !yaml.contains("edge-1"),
        "{yaml}"
    );
    assert!(
        yaml.contains("generation: 2") && yaml.contains("uid:"),
        "{yaml}"
    );

    let table = k.ok(&["get", "nodegroups"]).await;
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, vec!["NAME", "MEMBERS", "READY", "AGE"], "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("region-a")),
        "{table}"
    );

    // (`kubectl create deployment` sends protobuf, which is not decoded yet.)
    let deployment = k.file("deploy.yaml", DEPLOYMENT);
    k.ok(&["apply", "-f", deployment.to_str().expect("utf-8 path")])
        .await;
    let deployments = k.ok(&["get", "deploy"]).await;
    let header: Vec<&str> = deployments
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        vec!["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{deployments}"
    );
    assert!(deployments.contains("0/2"), "{deployments}");
    k.ok(&["scale", "deployment", "web", "--replicas=3"]).await;
    let replicas = k
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"])
        .await;
    assert_eq!(replicas, "3");
    k.ok(&["label", "deployment", "web", "tier=front"]).await;
    let labelled = k
        .ok(&["get", "deploy", "-l", "tier=front", "-o", "name"])
        .await;
    assert_eq!(labelled.trim(), "deployment.apps/web");
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}"#,
    ])
    .await;
    let image = k
        .ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ])
        .await;
    assert_eq!(image, "nginx:2");

    let nodes = k.ok(&["get", "nodes"]).await;
    assert!(nodes.is_empty(), "{nodes}");
    let none = k.run(&["get", "nodes"]).await;
    assert!(
        none.stderr.contains("No resources found"),
        "{}",
        none.stderr
    );

    let deleted = k.ok(&["delete", "ng", "region-a"]).await;
    assert!(deleted.contains("deleted"), "{deleted}");
    let missing = k.run(&["get", "ng", "region-a"]).await;
    assert!(
        !missing.ok && missing.stderr.contains("NotFound"),
        "{}",
        missing.stderr
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_is_refused_with_a_wrong_token() {
    let cluster = start(ClusterOptions::default())
        .await
        .expect("cluster starts");
    let k = Kubectl::new(&cluster);
    let text = std::fs::read_to_string(&k.kubeconfig).expect("read");
    std::fs::write(
        &k.kubeconfig,
        text.replace(cluster.token(), "not-the-token"),
    )
    .expect("write");
    let out = k.run(&["get", "namespaces"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("Unauthorized") || out.stderr.contains("credentials"),
        "{}",
        out.stderr
    );
    cluster.shutdown().await;
}
