//! Hand-written schema fragments where a derived one would not be structural
//! or would drop unknown fields.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::Value;

/// A raw Kubernetes object, kept as written (unknown fields preserved).
pub(super) fn raw_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// The command/args operator: `add` or `remove`, as in KubeEdge's schema.
pub(super) fn add_or_remove(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": ["add", "remove"]
    })
}

/// A list of raw Kubernetes objects.
pub(super) fn raw_objects(g: &mut SchemaGenerator) -> Schema {
    let item = raw_object(g);
    json_schema!({
        "type": "array",
        "items": item
    })
}

/// Makes the derived CRD accept exactly what KubeEdge's accepts where the
/// derivation says otherwise, so every KubeEdge-valid object is valid here
/// and an object written here stays valid under KubeEdge's CRD:
/// - `configMapKeyRef` and `secretKeyRef` require only `key` (k8s-openapi
///   types `name` as required; Kubernetes and KubeEdge have it optional);
/// - `spec.workloadScope` is required, as in KubeEdge's schema;
/// - `listKind` is named.
pub(super) fn match_kubeedge(crd: &mut CustomResourceDefinition) {
    if crd.spec.names.list_kind.is_none() {
        crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    }
    let kind = crd.spec.names.kind.clone();
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        let Ok(mut value) = serde_json::to_value(&*schema) else {
            continue;
        };
        relax_key_refs(&mut value);
        if kind == "EdgeApplication"
            && let Some(spec) = value.pointer_mut("/properties/spec")
        {
            require(spec, "workloadScope");
        }
        if let Ok(relaxed) = serde_json::from_value(value) {
            *schema = relaxed;
        }
    }
}

fn relax_key_refs(node: &mut Value) {
    match node {
        Value::Object(map) => {
            for (name, child) in map.iter_mut() {
                if name == "configMapKeyRef" || name == "secretKeyRef" {
                    child["required"] = Value::from(vec!["key"]);
                }
                relax_key_refs(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(relax_key_refs),
        _ => {}
    }
}

fn require(object_schema: &mut Value, field: &str) {
    let required = object_schema.as_object_mut().map(|m| {
        m.entry("required")
            .or_insert_with(|| Value::Array(Vec::new()))
    });
    if let Some(Value::Array(list)) = required
        && !list.iter().any(|f| f == field)
    {
        list.push(Value::from(field));
    }
}
