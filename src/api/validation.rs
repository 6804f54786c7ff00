//! Checks an object against a CRD's structural OpenAPI v3 schema the way the
//! API server does: type, required, enum, bounds — and, as a separate finding,
//! every field the server would silently prune because the schema does not
//! know it. "Accepted unchanged" means no violation and nothing pruned.

use std::fmt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The server would reject the object.
    Invalid { path: String, problem: String },
    /// The server would drop this field without a word.
    Pruned { path: String },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Invalid { path, problem } => write!(f, "{path}: {problem}"),
            Finding::Pruned { path } => write!(f, "{path}: unknown field, would be pruned"),
        }
    }
}

/// Metadata is validated by the server's own rules, not the CRD schema.
const SERVER_OWNED: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Validates `object` against the schema of the CRD version named by its apiVersion.
pub fn validate_against_crd(crd: &CustomResourceDefinition, object: &Value) -> Vec<Finding> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = api_version.rsplit('/').next().unwrap_or_default();
    let schema = crd
        .spec
        .versions
        .iter()
        .find(|v| v.name == version)
        .and_then(|v| v.schema.as_ref())
        .and_then(|s| s.open_api_v3_schema.as_ref());
    let Some(schema) = schema else {
        return vec![Finding::Invalid {
            path: "apiVersion".into(),
            problem: format!(
                "version {version:?} is not served by CRD {:?}",
                crd.metadata.name
            ),
        }];
    };
    let mut findings = Vec::new();
    let Some(map) = object.as_object() else {
        findings.push(Finding::Invalid {
            path: String::new(),
            problem: "not an object".into(),
        });
        return findings;
    };
    let properties = schema.properties.as_ref();
    for (key, value) in map {
        if SERVER_OWNED.contains(&key.as_str()) {
            continue;
        }
        match properties.and_then(|p| p.get(key)) {
            Some(child) => check(child, value, key, &mut findings),
            None if schema.x_kubernetes_preserve_unknown_fields == Some(true) => {}
            None => findings.push(Finding::Pruned { path: key.clone() }),
        }
    }
    findings
}

/// Validates `value` at `path` against `schema`, appending what is wrong.
pub fn check(schema: &JSONSchemaProps, value: &Value, path: &str, findings: &mut Vec<Finding>) {
    if value.is_null() {
        if schema.nullable != Some(true) {
            invalid(findings, path, "must not be null");
        }
        return;
    }
    if schema.x_kubernetes_int_or_string == Some(true) {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            invalid(findings, path, "must be an integer or a string");
        }
        return;
    }
    if let Some(expected) = schema.type_.as_deref()
        && !has_type(value, expected)
    {
        invalid(findings, path, &format!("must be of type {expected}"));
        return;
    }
    check_enum(schema, value, path, findings);
    check_bounds(schema, value, path, findings);
    match value {
        Value::Object(map) => check_object(schema, map, path, findings),
        Value::Array(items) => check_array(schema, items, path, findings),
        _ => {}
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

fn check_enum(schema: &JSONSchemaProps, value: &Value, path: &str, findings: &mut Vec<Finding>) {
    if let Some(allowed) = &schema.enum_
        && !allowed.iter().any(|a| a.0 == *value)
    {
        let names: Vec<String> = allowed.iter().map(|a| a.0.to_string()).collect();
        invalid(
            findings,
            path,
            &format!("{value} is not one of {}", names.join(", ")),
        );
    }
}

fn check_bounds(schema: &JSONSchemaProps, value: &Value, path: &str, findings: &mut Vec<Finding>) {
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.minimum
            && n < min
        {
            invalid(findings, path, &format!("must be at least {min}"));
        }
        if let Some(max) = schema.maximum
            && n > max
        {
            invalid(findings, path, &format!("must be at most {max}"));
        }
    }
}

fn check_object(
    schema: &JSONSchemaProps,
    map: &serde_json::Map<String, Value>,
    path: &str,
    findings: &mut Vec<Finding>,
) {
    for required in schema.required.iter().flatten() {
        if !map.contains_key(required) {
            invalid(findings, &join(path, required), "required field is missing");
        }
    }
    let preserve = schema.x_kubernetes_preserve_unknown_fields == Some(true);
    for (key, child) in map {
        let child_path = join(path, key);
        if let Some(child_schema) = schema.properties.as_ref().and_then(|p| p.get(key)) {
            check(child_schema, child, &child_path, findings);
            continue;
        }
        match &schema.additional_properties {
            Some(JSONSchemaPropsOrBool::Schema(s)) => check(s, child, &child_path, findings),
            Some(JSONSchemaPropsOrBool::Bool(true)) => {}
            _ if preserve => {}
            _ => findings.push(Finding::Pruned { path: child_path }),
        }
    }
}

fn check_array(schema: &JSONSchemaProps, items: &[Value], path: &str, findings: &mut Vec<Finding>) {
    let Some(JSONSchemaPropsOrArray::Schema(item_schema)) = &schema.items else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        check(item_schema, item, &format!("{path}[{i}]"), findings);
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn invalid(findings: &mut Vec<Finding>, path: &str, problem: &str) {
    findings.push(Finding::Invalid {
        path: path.to_owned(),
        problem: problem.to_owned(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{EdgeApplication, NodeGroup};
    use kube::CustomResourceExt;
    use serde_json::json;

    #[test]
    fn unknown_spec_field_is_reported_as_pruned() {
        let ng = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
                        "metadata": {"name": "g"}, "spec": {"matchLabels": {"a": "b"}, "typo": 1}});
        assert_eq!(
            validate_against_crd(&NodeGroup::crd(), &ng),
            vec![Finding::Pruned {
                path: "spec.typo".into()
            }]
        );
    }

    #[test]
    fn wrong_types_and_enums_are_invalid() {
        let app = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
            "metadata": {"name": "a"},
            "spec": {"workloadScope": {"targetNodeGroups": [
                {"name": "g", "overriders": {"replicas": "two",
                  "imageOverriders": [{"component": "registry", "operator": "replace", "value": "r.io"}]}}]}}});
        let findings = validate_against_crd(&EdgeApplication::crd(), &app);
        let paths: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert!(paths.iter().any(|p| p.starts_with("spec.workloadScope.targetNodeGroups[0].overriders.replicas: must be of type integer")), "{paths:?}");
        assert!(
            paths
                .iter()
                .any(|p| p.contains("imageOverriders[0].component: \"registry\" is not one of")),
            "{paths:?}"
        );
    }

    #[test]
    fn manifests_keep_unknown_fields() {
        let app = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
            "metadata": {"name": "a"},
            "spec": {"workloadTemplate": {"manifests": [{"apiVersion": "x/v1", "kind": "Anything", "whatever": {"deep": [1]}}]}}});
        assert!(validate_against_crd(&EdgeApplication::crd(), &app).is_empty());
    }

    #[test]
    fn missing_required_field() {
        let app = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
            "metadata": {"name": "a"}, "spec": {"workloadScope": {"targetNodeGroups": [{"overriders": {}}]}}});
        assert_eq!(
            validate_against_crd(&EdgeApplication::crd(), &app),
            vec![Finding::Invalid {
                path: "spec.workloadScope.targetNodeGroups[0].name".into(),
                problem: "required field is missing".into()
            }]
        );
    }
}
