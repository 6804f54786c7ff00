//! `edgedeck render`: the offline dry run, through the real binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde::Deserialize;
use serde_json::Value;

fn edgedeck(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start edgedeck");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("edgedeck finishes")
}

fn documents(out: &Output) -> Vec<Value> {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name} rendered"))
}

#[test]
fn proposal_example_renders_per_group() {
    let out = edgedeck(
        &[
            "render",
            "-f",
            "examples/proposal/nodegroups.yaml",
            "-f",
            "examples/proposal/edgeapplication.yaml",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&out);
    assert_eq!(docs.len(), 3, "two Deployments and one Service: {docs:#?}");

    for (group, replicas) in [("hangzhou", 2), ("beijing", 3)] {
        let d = find(&docs, "Deployment", &format!("nginx-{group}"));
        assert_eq!(d["metadata"]["namespace"], "default");
        assert_eq!(
            d["metadata"]["labels"]["apps.kubeedge.io/edgeapplication-name"],
            "nginx-app"
        );
        assert_eq!(d["spec"]["replicas"], replicas);
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            format!("{group}.registry.io/nginx:latest")
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["nodeSelector"]["apps.kubeedge.io/belonging-to"],
            group
        );
    }
    let svc = find(&docs, "Service", "nginx-service");
    assert_eq!(
        svc["metadata"]["annotations"]["apps.kubeedge.io/service-topology"],
        "range-nodegroup"
    );
    assert_eq!(
        svc["metadata"]["labels"]["apps.kubeedge.io/edgeapplication-name"],
        "nginx-app"
    );
}

#[test]
fn with_nodes_it_shows_membership_too() {
    let out = edgedeck(
        &[
            "render",
            "-f",
            "examples/proposal/nodegroups.yaml",
            "-f",
            "examples/proposal/nodes.yaml",
            "-f",
            "-",
        ],
        Some(&std::fs::read_to_string("examples/proposal/edgeapplication.yaml").unwrap()),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = documents(&out);
    let hangzhou = find(&docs, "NodeGroup", "hangzhou");
    let names: Vec<&str> = hangzhou["status"]["nodeStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["nodeName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["node-a", "node-b"]);
    assert_eq!(hangzhou["status"]["members"], 2);
    assert_eq!(
        find(&docs, "Node", "node-c")["metadata"]["labels"]["apps.kubeedge.io/belonging-to"],
        "beijing"
    );
}

#[test]
fn bad_input_is_reported_per_manifest_and_the_rest_still_renders() {
    let input = r#"
apiVersion: apps.kubeedge.io/v1alpha1
kind: EdgeApplication
metadata: {name: shop, namespace: edge}
spec:
  workloadTemplate:
    manifests:
    - apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec: {containers: [{name: web, image: "web:1"}]}
    - apiVersion: v1
      kind: ConfigMap
      metadata: {}
  workloadScope:
    targetNodeGroups:
    - name: north
      overriders: {replicas: -1}
    - name: south
---
apiVersion: v1
kind: Secret
metadata: {name: not-an-input}
"#;
    let out = edgedeck(&["render", "-f", "-"], Some(input));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("EdgeApplication edge/shop: manifest 1: missing or empty metadata.name"),
        "{stderr}"
    );
    assert!(
        stderr.contains("replicas must not be negative (got -1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("v1 Secret not-an-input is not an input of render"),
        "{stderr}"
    );
    let docs = documents(&out);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!(
        find(&docs, "Deployment", "web-south")["metadata"]["namespace"],
        "edge"
    );
}

#[test]
fn unreadable_and_malformed_files_are_clear_errors() {
    let out = edgedeck(&["render", "-f", "does-not-exist.yaml"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.yaml"));

    let out = edgedeck(&["render", "-f", "-"], Some("kind: [unclosed\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<stdin>#1: not valid YAML"));
}
