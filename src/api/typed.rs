//! Typed decoding of built-in kinds, as kube-apiserver does before anything
//! else: a field of the wrong type (`replicas: abc`) is a 400 there, never a
//! stored object. The embedded server refuses such writes with it, and the
//! console's YAML editor checks every manifest with it before a save, so
//! neither accepts what no real cluster accepts.

use serde::de::DeserializeOwned;
use serde_json::Value;

fn decodes<T: DeserializeOwned>(kind: &str, version: &str, object: &Value) -> Result<(), String> {
    // serde_path_to_error names the field, like the Go decoder does.
    serde_path_to_error::deserialize::<_, T>(object)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {path}: {inner}",
                path = e.path(),
                inner = e.inner(),
            )
        })
}

/// Whether `object` decodes as the built-in `kind` of API `group`/`version`;
/// kinds not listed here (custom resources among them) pass.
pub fn check_builtin(group: &str, version: &str, kind: &str, object: &Value) -> Result<(), String> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, discovery::v1 as discovery};
    let k = kind;
    match (group, kind) {
        ("apps", "Deployment") => decodes::<apps::Deployment>(k, version, object),
        ("apps", "StatefulSet") => decodes::<apps::StatefulSet>(k, version, object),
        ("apps", "DaemonSet") => decodes::<apps::DaemonSet>(k, version, object),
        ("apps", "ReplicaSet") => decodes::<apps::ReplicaSet>(k, version, object),
        ("", "Pod") => decodes::<core::Pod>(k, version, object),
        ("", "Service") => decodes::<core::Service>(k, version, object),
        ("", "ConfigMap") => decodes::<core::ConfigMap>(k, version, object),
        ("", "Secret") => decodes::<core::Secret>(k, version, object),
        ("", "Node") => decodes::<core::Node>(k, version, object),
        ("", "Namespace") => decodes::<core::Namespace>(k, version, object),
        ("", "Endpoints") => decodes::<core::Endpoints>(k, version, object),
        ("discovery.k8s.io", "EndpointSlice") => {
            decodes::<discovery::EndpointSlice>(k, version, object)
        }
        _ => Ok(()),
    }
}

/// [`check_builtin`] for an object that names its own `apiVersion` and `kind`.
pub fn check_object(object: &Value) -> Result<(), String> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    check_builtin(group, version, kind, object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_wrongly_typed_field_is_refused_naming_the_field() {
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": "abc"}});
        let why = check_object(&bad).expect_err("refused");
        assert!(why.contains("spec.replicas"), "{why}");
        assert!(why.contains("cannot be handled as a Deployment"), "{why}");
    }

    #[test]
    fn a_well_typed_object_with_unknown_fields_decodes_and_custom_kinds_pass() {
        let good = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 2, "someday": true}});
        assert_eq!(check_object(&good), Ok(()));
        let custom = json!({"apiVersion": "example.io/v1", "kind": "Widget", "spec": 3});
        assert_eq!(check_object(&custom), Ok(()));
    }
}
