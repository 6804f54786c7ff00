//! `edgedeck crds` prints CRDs that accept KubeEdge's own example manifests unchanged.

use std::process::Command;

use edgedeck::api::validation::{Finding, validate_against_crd};
use edgedeck::manifests;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize;

fn printed_crds() -> Vec<CustomResourceDefinition> {
    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .arg("crds")
        .output()
        .expect("run edgedeck crds");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| CustomResourceDefinition::deserialize(doc).expect("a CustomResourceDefinition"))
        .collect()
}

fn crd<'a>(crds: &'a [CustomResourceDefinition], name: &str) -> &'a CustomResourceDefinition {
    crds.iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("CRD {name} printed"))
}

#[test]
fn crds_match_the_kubeedge_contract() {
    let crds = printed_crds();
    assert_eq!(crds.len(), 3, "KubeEdge's two and edgedeck's Rollout");

    let ng = crd(&crds, "nodegroups.apps.kubeedge.io");
    assert_eq!(ng.spec.group, "apps.kubeedge.io");
    assert_eq!(ng.spec.scope, "Cluster");
    assert_eq!(ng.spec.names.kind, "NodeGroup");
    assert_eq!(
        ng.spec.names.short_names.as_deref(),
        Some(&["ng".to_owned()][..])
    );

    let eapp = crd(&crds, "edgeapplications.apps.kubeedge.io");
    assert_eq!(eapp.spec.scope, "Namespaced");
    assert_eq!(
        eapp.spec.names.short_names.as_deref(),
        Some(&["eapp".to_owned()][..])
    );

    for c in [ng, eapp] {
        let v = &c.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(v.served && v.storage);
        assert!(
            v.subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "status subresource"
        );
        let columns: Vec<&str> = v
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert!(columns.len() >= 2, "printer columns: {columns:?}");
    }
    let ng_columns: Vec<_> = ng.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(ng_columns, ["Members", "Ready", "Age"]);
    let eapp_columns: Vec<_> = eapp.spec.versions[0]
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(eapp_columns, ["Target Groups", "Available", "Age"]);

    let rollout = crd(&crds, "rollouts.edgedeck.io");
    assert_eq!(rollout.spec.scope, "Namespaced");
    let v = &rollout.spec.versions[0];
    assert_eq!(v.name, "v1alpha1");
    assert!(
        v.subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some(),
        "a Rollout's progress is a status subresource the engine alone writes"
    );
}

#[test]
fn proposal_examples_are_accepted_unchanged() {
    let crds = printed_crds();
    let mut checked = 0;
    for file in [
        "examples/proposal/nodegroups.yaml",
        "examples/proposal/edgeapplication.yaml",
    ] {
        for object in manifests::read_file(file).expect("example parses") {
            let crd = match object.kind() {
                "NodeGroup" => crd(&crds, "nodegroups.apps.kubeedge.io"),
                "EdgeApplication" => crd(&crds, "edgeapplications.apps.kubeedge.io"),
                other => panic!("unexpected kind {other}"),
            };
            let findings = validate_against_crd(crd, &object.object);
            assert_eq!(
                findings,
                Vec::<Finding>::new(),
                "{} {}",
                object.kind(),
                object.name()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 3, "two NodeGroups and one EdgeApplication");
}

#[test]
fn the_schema_catches_what_the_server_would_reject_or_drop() {
    let crds = printed_crds();
    let eapp = crd(&crds, "edgeapplications.apps.kubeedge.io");
    // The proposal's draft spelling (`workloadScopes`, `imageOverrider`) is not the released API:
    // the server would silently drop it, so the checker must say so; and, as
    // under KubeEdge's schema, the real `workloadScope` is then missing.
    let draft = manifests::parse(
        "draft.yaml",
        "apiVersion: apps.kubeedge.io/v1alpha1\nkind: EdgeApplication\nmetadata: {name: a}\n\
         spec:\n  workloadScopes:\n    targetNodeGroups: [{name: hangzhou, overriders: {imageOverrider: []}}]\n",
    )
    .unwrap();
    let findings = validate_against_crd(eapp, &draft[0].object);
    assert_eq!(
        findings,
        vec![
            Finding::Invalid {
                path: "spec.workloadScope".into(),
                problem: "required field is missing".into()
            },
            Finding::Pruned {
                path: "spec.workloadScopes".into()
            }
        ]
    );
}
