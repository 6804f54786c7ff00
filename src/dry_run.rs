//! `edgedeck render`: what the engine would write, computed offline from files.
//!
//! Inputs are NodeGroups, EdgeApplications and, optionally, Nodes. The
//! generated objects are exactly what the EdgeApplication controller applies,
//! except ownerReferences, which need the uid the API server assigns. When
//! Nodes are given, the Nodes (with the labels the NodeGroup controller would
//! set) and the NodeGroups (with their computed status) are printed too.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Node;
use serde::Serialize;

use crate::api::{API_VERSION, EdgeApplication, NodeGroup};
use crate::engine::{membership, render};
use crate::manifests::{Loaded, ManifestError};

#[derive(Debug, Default)]
pub struct DryRun {
    /// The rendered objects as a multi-document YAML stream.
    pub yaml: String,
    /// Suspicious but renderable input (a target group nobody defined, an empty group).
    pub warnings: Vec<String>,
    /// Input that could not be decoded or rendered; the rest is still rendered.
    pub errors: Vec<String>,
}

#[derive(Default)]
struct Inputs {
    groups: Vec<NodeGroup>,
    nodes: Vec<Node>,
    apps: Vec<(String, EdgeApplication)>,
}

/// Renders everything in `loaded`.
pub fn dry_run(loaded: &[Loaded]) -> DryRun {
    let mut out = DryRun::default();
    if loaded.is_empty() {
        // Like `kubectl apply` on an empty file: printing nothing and
        // succeeding would look like an application that renders nothing.
        out.errors
            .push("no objects in the input: nothing was rendered".into());
        return out;
    }
    let inputs = classify(loaded, &mut out.errors);
    let membership =
        (!inputs.nodes.is_empty()).then(|| membership::compute(&inputs.nodes, &inputs.groups));
    let defined: BTreeSet<&str> = inputs
        .groups
        .iter()
        .filter_map(|g| g.metadata.name.as_deref())
        .collect();

    for (source, app) in &inputs.apps {
        let app_id = format!(
            "EdgeApplication {}/{}",
            app.metadata.namespace.as_deref().unwrap_or("default"),
            app.metadata.name.as_deref().unwrap_or_default()
        );
        for target in &app.spec.workload_scope.target_node_groups {
            if !inputs.groups.is_empty() && !defined.contains(target.name.as_str()) {
                out.warnings.push(format!(
                    "{source}: {app_id} targets nodegroup {:?}, which the input does not define",
                    target.name
                ));
            }
        }
        let rendered = render::render(app);
        for failure in &rendered.errors {
            out.errors
                .push(format!("{source}: {app_id}: {}", failure.error));
        }
        for skipped in &rendered.warnings {
            out.warnings
                .push(format!("{source}: {app_id}: {}", skipped.warning));
        }
        if rendered.objects.is_empty() && rendered.errors.is_empty() {
            out.warnings.push(format!(
                "{source}: {app_id} renders nothing: {}",
                nothing_rendered_because(app)
            ));
        }
        for object in &rendered.objects {
            push_yaml(&mut out, &object.object);
        }
    }

    if let Some(membership) = membership {
        for group in &inputs.groups {
            let name = group.metadata.name.as_deref().unwrap_or_default();
            let mut group = group.clone();
            group.status = membership.statuses.get(name).cloned();
            if group.status.as_ref().and_then(|s| s.members) == Some(0) {
                out.warnings
                    .push(format!("NodeGroup {name} selects no node"));
            }
            push_yaml(&mut out, &group);
        }
        for node in &inputs.nodes {
            let mut node = node.clone();
            let name = node.metadata.name.clone().unwrap_or_default();
            let labels = node.metadata.labels.get_or_insert_with(Default::default);
            labels.remove(crate::api::LABEL_BELONGING_TO);
            labels.extend(
                membership
                    .node_labels
                    .get(&name)
                    .cloned()
                    .unwrap_or_default(),
            );
            push_yaml(&mut out, &node);
        }
    }
    out
}

fn nothing_rendered_because(app: &EdgeApplication) -> &'static str {
    if app.spec.workload_template.manifests.is_empty() {
        "spec.workloadTemplate.manifests is empty"
    } else {
        "only workloads, and spec.workloadScope targets no group or labels"
    }
}

fn push_yaml(out: &mut DryRun, value: &impl Serialize) {
    match serde_yaml_ng::to_string(value) {
        Ok(text) => {
            out.yaml.push_str("---\n");
            out.yaml.push_str(&text);
        }
        Err(e) => out.errors.push(format!("cannot print object as YAML: {e}")),
    }
}

fn classify(loaded: &[Loaded], errors: &mut Vec<String>) -> Inputs {
    let mut inputs = Inputs::default();
    for item in loaded {
        let result: Result<(), ManifestError> = match (item.api_version(), item.kind()) {
            (API_VERSION, "NodeGroup") => item.decode().map(|g| inputs.groups.push(g)),
            ("v1", "Node") => item.decode().map(|n| inputs.nodes.push(n)),
            (API_VERSION, "EdgeApplication") => item.decode().map(|mut app: EdgeApplication| {
                // Like kubectl apply without -n: the default namespace.
                app.metadata
                    .namespace
                    .get_or_insert_with(|| "default".to_owned());
                inputs.apps.push((item.source.to_string(), app));
            }),
            (api_version, kind) => {
                errors.push(format!(
                    "{}: {api_version} {kind} {} is not an input of render (expected {API_VERSION} NodeGroup or EdgeApplication, or v1 Node)",
                    item.source,
                    item.name()
                ));
                Ok(())
            }
        };
        if let Err(e) = result {
            errors.push(e.to_string());
        }
    }
    inputs
}
