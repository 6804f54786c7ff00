//! Sorting a seed into the order it is applied, and shaping each object for
//! a cluster that is not the embedded one. Pure: no I/O.

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use super::{KWOK_ANNOTATION, KWOK_LABEL, LoadError, Nodes};
use crate::simulation::object;

/// The objects sorted into the order they are applied, ready to send.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) crds: Vec<Value>,
    pub(super) namespaces: Vec<Value>,
    pub(super) rest: Vec<Value>,
    /// API groups the objects use ("" is core): all discovery needs to ask about.
    pub(super) groups: Vec<String>,
    pub(super) skipped_nodes: usize,
    pub(super) group_selectors: BTreeSet<String>,
}

impl Plan {
    pub(super) fn new(objects: Vec<Value>, nodes: Nodes) -> Result<Plan, LoadError> {
        let mut plan = Plan {
            crds: Vec::new(),
            namespaces: Vec::new(),
            rest: Vec::new(),
            groups: Vec::new(),
            skipped_nodes: 0,
            group_selectors: BTreeSet::new(),
        };
        let mut groups = BTreeSet::new();
        for (index, mut object) in objects.into_iter().enumerate() {
            let invalid = |why: &str| LoadError::Invalid {
                index,
                why: why.to_owned(),
            };
            if object::kind(&object).is_empty() || object::name(&object).is_empty() {
                return Err(invalid("it lacks kind or metadata.name"));
            }
            let group = group_of(object::api_version(&object))
                .ok_or_else(|| invalid("its apiVersion is not `version` or `group/version`"))?;
            groups.insert(group.to_owned());
            if let Some(map) = object.as_object_mut() {
                map.remove("status");
            }
            match object::kind(&object) {
                "CustomResourceDefinition" => {
                    // Its own group is asked about when waiting for it to be served.
                    if let Some(group) = object.pointer("/spec/group").and_then(Value::as_str) {
                        groups.insert(group.to_owned());
                    }
                    plan.crds.push(object);
                }
                "Namespace" => plan.namespaces.push(object),
                "Node" if nodes == Nodes::Skip => plan.skipped_nodes += 1,
                "Node" => plan.rest.push(mark_for_kwok(object)),
                kind => {
                    if kind == "NodeGroup" {
                        plan.group_selectors.extend(selectors(&object));
                    }
                    plan.rest.push(object);
                }
            }
        }
        plan.groups = groups.into_iter().collect();
        Ok(plan)
    }

    pub(super) fn crd_definitions(&self) -> Result<Vec<CustomResourceDefinition>, LoadError> {
        self.crds
            .iter()
            .enumerate()
            .map(|(index, crd)| {
                serde_json::from_value(crd.clone()).map_err(|e| LoadError::Invalid {
                    index,
                    why: format!("not a CustomResourceDefinition: {e}"),
                })
            })
            .collect()
    }
}

fn mark_for_kwok(mut node: Value) -> Value {
    if let Some(metadata) = node.get_mut("metadata") {
        for (field, (key, value)) in [("annotations", KWOK_ANNOTATION), ("labels", KWOK_LABEL)] {
            if let Some(map) = object::map_mut(metadata, field) {
                map.insert(key.into(), json!(value));
            }
        }
    }
    node
}

fn group_of(api_version: &str) -> Option<&str> {
    match api_version.split_once('/') {
        None if !api_version.is_empty() => Some(""),
        Some((group, version))
            if !group.is_empty() && !version.is_empty() && !version.contains('/') =>
        {
            Some(group)
        }
        _ => None,
    }
}

fn selectors(group: &Value) -> Vec<String> {
    object::string_map(group.pointer("/spec/matchLabels"))
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::seed::{DEMO_NAMESPACE, Seed};

    fn demo(nodes: Nodes) -> Plan {
        let mut objects: Vec<Value> = crate::api::crds()
            .iter()
            .map(|crd| serde_json::to_value(crd).expect("crd"))
            .collect();
        objects.extend(Seed::Demo.objects());
        Plan::new(objects, nodes).expect("plan")
    }

    fn kinds(objects: &[Value]) -> BTreeSet<&str> {
        objects.iter().map(object::kind).collect()
    }

    #[test]
    fn crds_and_namespaces_are_set_apart_from_the_rest() {
        let plan = demo(Nodes::Kwok);
        assert_eq!(
            kinds(&plan.crds),
            BTreeSet::from(["CustomResourceDefinition"])
        );
        assert_eq!(
            plan.crd_definitions().expect("typed").len(),
            crate::api::crds().len(),
            "every CRD edgedeck has, the Rollout too"
        );
        let namespaces: Vec<&str> = plan.namespaces.iter().map(object::name).collect();
        assert_eq!(namespaces, ["default", "kube-system", DEMO_NAMESPACE]);
        let rest = kinds(&plan.rest);
        assert!(!rest.contains("CustomResourceDefinition") && !rest.contains("Namespace"));
        assert!(rest.contains("NodeGroup") && rest.contains("EdgeApplication"));
    }

    #[test]
    fn discovery_asks_only_about_the_groups_in_use() {
        let plan = demo(Nodes::Skip);
        assert_eq!(
            plan.groups,
            // edgedeck.io: no object of the seed uses the Rollout CRD, but
            // loading waits until discovery lists every CRD it creates.
            [
                "",
                "apiextensions.k8s.io",
                "apps",
                "apps.kubeedge.io",
                "edgedeck.io"
            ]
        );
    }

    #[test]
    fn nodes_are_left_out_unless_asked_and_then_marked_for_kwok() {
        let skipped = demo(Nodes::Skip);
        assert!(!kinds(&skipped.rest).contains("Node"));
        assert_eq!(skipped.skipped_nodes, 26);
        let kwok = demo(Nodes::Kwok);
        assert_eq!(kwok.skipped_nodes, 0);
        let nodes: Vec<&Value> = kwok
            .rest
            .iter()
            .filter(|o| object::kind(o) == "Node")
            .collect();
        assert_eq!(nodes.len(), 26);
        for node in nodes {
            let annotation = node.pointer("/metadata/annotations/kwok.x-k8s.io~1node");
            assert_eq!(annotation, Some(&json!("fake")), "{node}");
            assert_eq!(object::label(node, "type"), Some("kwok"));
            assert!(
                object::label(node, "kubernetes.io/hostname").is_some(),
                "labels kept"
            );
        }
    }

    #[test]
    fn status_is_never_sent() {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
                          "status": {"conditions": []}});
        let plan = Plan::new(vec![node], Nodes::Kwok).expect("plan");
        assert_eq!(plan.rest[0].get("status"), None);
    }

    #[test]
    fn the_report_knows_the_labels_groups_select_by() {
        let plan = demo(Nodes::Skip);
        assert!(plan.group_selectors.contains("location=hangzhou"));
        assert_eq!(plan.group_selectors.len(), 5);
    }

    #[test]
    fn an_object_without_kind_name_or_a_valid_api_version_is_refused_by_position() {
        for bad in [
            json!({"apiVersion": "v1", "metadata": {"name": "x"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
            json!({"apiVersion": "a/b/c", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        ] {
            let ok = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}});
            match Plan::new(vec![ok, bad.clone()], Nodes::Skip) {
                Err(LoadError::Invalid { index: 1, .. }) => {}
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
