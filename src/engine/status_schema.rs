//! Status that fits the EdgeApplication CRD the cluster actually serves.
//!
//! edgedeck's CRD carries status extensions (`Failed`, `reason`,
//! `warnings`, `groups`, `available`, `observedGeneration`). A cluster
//! migrating from cloudcore may still serve KubeEdge's own CRD, where
//! `conditions` is an enum of `Processing|Available` and nothing else
//! survives pruning: writing `Failed` there is refused (the whole status
//! write fails), and the pruned extensions would make every reconcile see
//! a status that differs from the one it wrote, and write it again.
//!
//! So the controller reads the served schema, and writes — and compares
//! against — only what that schema keeps: a `Failed` entry becomes
//! `Processing` (which is what KubeEdge itself reports for a copy it could
//! not generate), and extensions the schema lacks are left out.

use serde_json::Value;

use crate::api::{EdgeApplicationStatus, ManifestCondition, NodeGroupStatus};

/// Which of edgedeck's status extensions the served schema keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusSchema {
    pub failed_condition: bool,
    pub reason: bool,
    pub warnings: bool,
    pub groups: bool,
    pub available: bool,
    pub observed_generation: bool,
}

impl StatusSchema {
    /// edgedeck's own CRD: everything is kept.
    pub const EDGEDECK: StatusSchema = StatusSchema {
        failed_condition: true,
        reason: true,
        warnings: true,
        groups: true,
        available: true,
        observed_generation: true,
    };

    /// KubeEdge's CRD: `workloadStatus[].{identifier, conditions}` only,
    /// conditions `Processing|Available`.
    pub const KUBEEDGE: StatusSchema = StatusSchema {
        failed_condition: false,
        reason: false,
        warnings: false,
        groups: false,
        available: false,
        observed_generation: false,
    };

    /// Reads the `openAPIV3Schema` of the served EdgeApplication version.
    /// A field is kept when the schema names it or preserves unknown fields
    /// where it would sit; `Failed` is allowed unless `conditions` has an
    /// enum without it.
    pub fn from_openapi(schema: &Value) -> StatusSchema {
        let status = Level::at(Some(schema), "status");
        let entry = Level::at(
            status
                .node
                .and_then(|s| s.pointer("/properties/workloadStatus")),
            "items",
        );
        let failed_condition = entry
            .node
            .and_then(|e| e.pointer("/properties/conditions/enum"))
            .and_then(Value::as_array)
            .is_none_or(|values| values.iter().any(|v| v.as_str() == Some("Failed")));
        StatusSchema {
            failed_condition,
            reason: entry.keeps("reason"),
            warnings: entry.keeps("warnings"),
            groups: status.keeps("groups"),
            available: status.keeps("available"),
            observed_generation: status.keeps("observedGeneration"),
        }
    }

    /// `status` reduced to what this schema keeps, so what is written is
    /// what will be read back.
    pub fn fit(&self, mut status: EdgeApplicationStatus) -> EdgeApplicationStatus {
        for entry in &mut status.workload_status {
            if !self.failed_condition && entry.conditions == Some(ManifestCondition::Failed) {
                entry.conditions = Some(ManifestCondition::Processing);
            }
            if !self.reason {
                entry.reason = None;
            }
            if !self.warnings {
                entry.warnings.clear();
            }
        }
        if !self.groups {
            status.groups.clear();
        }
        if !self.available {
            status.available = None;
        }
        if !self.observed_generation {
            status.observed_generation = None;
        }
        status
    }
}

/// Which of edgedeck's NodeGroup status extensions (`members`,
/// `readyMembers`) the served schema keeps. KubeEdge's keeps neither; a
/// group's status compared with them would never read back as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeGroupStatusSchema {
    pub members: bool,
    pub ready_members: bool,
}

impl NodeGroupStatusSchema {
    pub const EDGEDECK: NodeGroupStatusSchema = NodeGroupStatusSchema {
        members: true,
        ready_members: true,
    };

    pub fn from_openapi(schema: &Value) -> NodeGroupStatusSchema {
        let status = Level::at(Some(schema), "status");
        NodeGroupStatusSchema {
            members: status.keeps("members"),
            ready_members: status.keeps("readyMembers"),
        }
    }

    pub fn fit(&self, status: &mut NodeGroupStatus) {
        if !self.members {
            status.members = None;
        }
        if !self.ready_members {
            status.ready_members = None;
        }
    }
}

/// One object level of a structural schema: its node, if any.
struct Level<'a> {
    node: Option<&'a Value>,
}

impl<'a> Level<'a> {
    /// The schema of `parent`'s property (or `items`) named `child`.
    fn at(parent: Option<&'a Value>, child: &str) -> Level<'a> {
        let node = parent.and_then(|p| {
            if child == "items" {
                p.get("items")
            } else {
                p.get("properties").and_then(|props| props.get(child))
            }
        });
        Level { node }
    }

    fn keeps(&self, field: &str) -> bool {
        let Some(node) = self.node else {
            return false;
        };
        node.get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || node
                .get("properties")
                .and_then(|props| props.get(field))
                .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{GroupSummary, ManifestStatus, ResourceIdentifier};
    use serde_json::json;

    /// KubeEdge's status schema, from their field names, types and enums.
    fn kubeedge_schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object"},
            "status": {"type": "object", "properties": {
                "workloadStatus": {"type": "array", "items": {"type": "object", "required": ["identifier"], "properties": {
                    "conditions": {"type": "string", "enum": ["Processing", "Available"]},
                    "identifier": {"type": "object", "required": ["ordinal"], "properties": {
                        "ordinal": {"type": "integer", "minimum": 0},
                        "group": {"type": "string"}, "version": {"type": "string"}, "kind": {"type": "string"},
                        "resource": {"type": "string"}, "namespace": {"type": "string"}, "name": {"type": "string"}}}}}}}}}})
    }

    fn ours() -> Value {
        let crd = crate::api::crds()
            .into_iter()
            .find(|c| c.spec.names.kind == "EdgeApplication")
            .expect("EdgeApplication CRD");
        serde_json::to_value(&crd.spec.versions[0].schema).expect("schema")["openAPIV3Schema"]
            .clone()
    }

    fn status() -> EdgeApplicationStatus {
        EdgeApplicationStatus {
            workload_status: vec![ManifestStatus {
                identifier: ResourceIdentifier {
                    ordinal: 0,
                    kind: "Deployment".into(),
                    name: "web-bj".into(),
                    ..ResourceIdentifier::default()
                },
                conditions: Some(ManifestCondition::Failed),
                reason: Some("bad image".into()),
                warnings: vec!["skipped".into()],
            }],
            groups: vec![GroupSummary::default()],
            available: Some("0/1".into()),
            observed_generation: Some(3),
        }
    }

    #[test]
    fn our_own_crd_keeps_every_extension() {
        assert_eq!(StatusSchema::from_openapi(&ours()), StatusSchema::EDGEDECK);
        assert_eq!(StatusSchema::EDGEDECK.fit(status()), status());
    }

    #[test]
    fn kubeedges_crd_gets_only_its_own_fields_and_no_failed() {
        let schema = StatusSchema::from_openapi(&kubeedge_schema());
        assert_eq!(schema, StatusSchema::KUBEEDGE);
        let fitted = schema.fit(status());
        assert_eq!(
            serde_json::to_value(&fitted).unwrap(),
            json!({"workloadStatus": [{"identifier": {"ordinal": 0, "kind": "Deployment", "name": "web-bj"},
                                       "conditions": "Processing"}]})
        );
    }

    #[test]
    fn node_group_counts_are_kept_only_where_the_schema_has_them() {
        let ours = crate::api::crds()
            .into_iter()
            .find(|c| c.spec.names.kind == "NodeGroup")
            .expect("NodeGroup CRD");
        let ours =
            serde_json::to_value(&ours.spec.versions[0].schema).expect("schema")["openAPIV3Schema"]
                .clone();
        assert_eq!(
            NodeGroupStatusSchema::from_openapi(&ours),
            NodeGroupStatusSchema::EDGEDECK
        );
        let kubeedge = json!({"type": "object", "properties": {"status": {"type": "object", "properties": {
            "nodeStatuses": {"type": "array", "items": {"type": "object"}}}}}});
        let read = NodeGroupStatusSchema::from_openapi(&kubeedge);
        let mut status = NodeGroupStatus {
            node_statuses: vec![],
            members: Some(3),
            ready_members: Some(2),
        };
        read.fit(&mut status);
        assert_eq!((status.members, status.ready_members), (None, None));
    }

    #[test]
    fn unknown_fields_preserved_anywhere_keep_the_extensions_there() {
        let mut schema = kubeedge_schema();
        schema["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] = json!(true);
        let read = StatusSchema::from_openapi(&schema);
        assert!(read.groups && read.available && read.observed_generation);
        assert!(!read.reason && !read.failed_condition);
        assert_eq!(
            StatusSchema::from_openapi(&json!({"type": "object"})),
            StatusSchema {
                failed_condition: true,
                ..StatusSchema::KUBEEDGE
            },
            "no status schema at all: nothing is kept, but nothing forbids Failed either"
        );
    }
}
