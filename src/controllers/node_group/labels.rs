//! The labels edgedeck writes on nodes, as pure functions: what to patch,
//! and what of a node the controller needs to keep in memory.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

use crate::api::{LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE};

/// Every label key the NodeGroup controller may write.
pub const MANAGED_KEYS: [&str; 2] = [LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE];

/// The JSON merge patch body for `metadata.labels` that moves a node from
/// `current` labels to carry `wanted`, as far as `group` is concerned;
/// `None` when nothing needs writing.
///
/// `wanted` holds the managed labels the node must carry for `group` (empty
/// when the node is not, or no longer, `group`'s member). A managed key
/// absent from `wanted` is removed only while its value is `group`: a
/// `belonging-to` naming another group is that group's business, and a
/// `topology.kubernetes.io/zone` set by a cloud provider must survive.
/// Keys outside [`MANAGED_KEYS`] are never touched.
pub fn label_patch(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
    group: &str,
) -> Option<Map<String, Value>> {
    let mut patch = Map::new();
    for key in MANAGED_KEYS {
        let now = current.get(key);
        match wanted.get(key) {
            Some(value) if now != Some(value) => {
                patch.insert(key.to_owned(), Value::String(value.clone()));
            }
            Some(_) => {}
            None if now.is_some_and(|v| v == group) => {
                patch.insert(key.to_owned(), Value::Null);
            }
            None => {}
        }
    }
    (!patch.is_empty()).then_some(patch)
}

/// The merge patch body that sets labels: only `metadata.labels` and only
/// the given keys, so concurrent edits of any other field or label survive.
pub fn label_patch_body(labels: Map<String, Value>) -> Value {
    serde_json::json!({ "metadata": { "labels": labels } })
}

/// A JSON patch removing label `key` only while its value is still `group`.
/// A merge patch `null` would be unconditional: when the group that won a
/// node has already overwritten `belonging-to`, the loser's stale removal
/// would wipe the winner's label (and a DaemonSet pinned to the winner would
/// drop its pod until the label came back).
pub fn guarded_removal(key: &str, group: &str) -> Result<json_patch::Patch, serde_json::Error> {
    let path = format!(
        "/metadata/labels/{}",
        key.replace('~', "~0").replace('/', "~1")
    );
    serde_json::from_value(serde_json::json!([
        {"op": "test", "path": path, "value": group},
        {"op": "remove", "path": path},
    ]))
}

/// A node reduced to what membership needs: name, labels and the Ready
/// condition. The node cache holds every node of the cluster, so dropping
/// images, addresses, annotations and managed fields keeps a 10,000-node
/// fleet's cache small.
pub fn slim(node: &mut Node) {
    let meta = std::mem::take(&mut node.metadata);
    node.metadata = ObjectMeta {
        name: meta.name,
        uid: meta.uid,
        resource_version: meta.resource_version,
        labels: meta.labels,
        deletion_timestamp: meta.deletion_timestamp,
        ..ObjectMeta::default()
    };
    node.spec = None;
    let ready = node
        .status
        .take()
        .and_then(|s| s.conditions)
        .and_then(|cs| cs.into_iter().find(|c| c.type_ == "Ready"));
    node.status = ready.map(|c| NodeStatus {
        conditions: Some(vec![c]),
        ..NodeStatus::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::membership::readiness;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec};
    use serde_json::json;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn patch(current: &[(&str, &str)], wanted: &[(&str, &str)], group: &str) -> Option<Value> {
        label_patch(&map(current), &map(wanted), group).map(Value::Object)
    }

    const B: &str = LABEL_BELONGING_TO;
    const Z: &str = LABEL_TOPOLOGY_ZONE;

    #[test]
    fn adds_missing_labels() {
        assert_eq!(
            patch(&[("location", "hz")], &[(B, "hz"), (Z, "hz")], "hz"),
            Some(json!({B: "hz", Z: "hz"}))
        );
    }

    #[test]
    fn nothing_to_write_when_labels_already_match() {
        assert_eq!(patch(&[(B, "hz"), ("x", "y")], &[(B, "hz")], "hz"), None);
        assert_eq!(patch(&[], &[], "hz"), None);
    }

    #[test]
    fn overwrites_a_belonging_to_naming_another_group_when_we_won() {
        assert_eq!(
            patch(&[(B, "old")], &[(B, "hz")], "hz"),
            Some(json!({B: "hz"}))
        );
    }

    #[test]
    fn removes_our_labels_when_the_node_leaves() {
        assert_eq!(
            patch(&[(B, "hz"), (Z, "hz"), ("location", "bj")], &[], "hz"),
            Some(json!({B: null, Z: null}))
        );
    }

    #[test]
    fn keeps_a_cloud_providers_zone() {
        assert_eq!(
            patch(&[(B, "hz"), (Z, "us-east-1a")], &[], "hz"),
            Some(json!({B: null}))
        );
        assert_eq!(
            patch(&[(B, "hz"), (Z, "us-east-1a")], &[(B, "hz")], "hz"),
            None
        );
    }

    #[test]
    fn topology_turned_off_removes_only_our_zone() {
        assert_eq!(
            patch(&[(B, "hz"), (Z, "hz")], &[(B, "hz")], "hz"),
            Some(json!({Z: null}))
        );
    }

    #[test]
    fn topology_on_overwrites_any_zone() {
        assert_eq!(
            patch(
                &[(B, "hz"), (Z, "us-east-1a")],
                &[(B, "hz"), (Z, "hz")],
                "hz"
            ),
            Some(json!({Z: "hz"}))
        );
    }

    #[test]
    fn never_touches_another_groups_labels() {
        assert_eq!(patch(&[(B, "bj"), (Z, "bj")], &[], "hz"), None);
    }

    #[test]
    fn body_contains_only_the_labels() {
        let body =
            label_patch_body(label_patch(&map(&[]), &map(&[(B, "g")]), "g").unwrap_or_default());
        assert_eq!(body, json!({"metadata": {"labels": {B: "g"}}}));
    }

    #[test]
    fn removal_is_guarded_by_the_groups_value() {
        let ops = guarded_removal(B, "hz").map(|p| serde_json::to_value(p).unwrap_or_default());
        let path = "/metadata/labels/apps.kubeedge.io~1belonging-to";
        assert_eq!(
            ops.ok(),
            Some(json!([
                {"op": "test", "path": path, "value": "hz"},
                {"op": "remove", "path": path},
            ]))
        );
    }

    #[test]
    fn removal_path_escapes_tildes() {
        let ops =
            guarded_removal("a~b/c", "g").map(|p| serde_json::to_value(p).unwrap_or_default());
        assert_eq!(
            ops.ok().map(|v| v[0]["path"].clone()),
            Some(json!("/metadata/labels/a~0b~1c"))
        );
    }

    fn ready(status: &str) -> NodeCondition {
        NodeCondition {
            type_: "Ready".into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn full_node() -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("n".into()),
                labels: Some(map(&[("a", "b")])),
                annotations: Some(map(&[("big", "yes")])),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                pod_cidr: Some("10.0.0.0/24".into()),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(vec![
                    NodeCondition {
                        type_: "MemoryPressure".into(),
                        status: "False".into(),
                        ..Default::default()
                    },
                    ready("True"),
                ]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn slim_keeps_what_membership_reads() {
        let mut node = full_node();
        slim(&mut node);
        assert_eq!(node.metadata.name.as_deref(), Some("n"));
        assert_eq!(node.metadata.labels, Some(map(&[("a", "b")])));
        assert_eq!(node.metadata.annotations, None);
        assert_eq!(node.spec, None);
        assert_eq!(readiness(&node), crate::api::ReadyStatus::Ready);
    }
}
