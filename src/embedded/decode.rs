//! Typed decoding of built-in kinds, as kube-apiserver does before anything
//! else: a field of the wrong type (`replicas: abc`) is a 400 there, never a
//! stored object. The embedded server keeps objects as JSON, so without this
//! check it would accept what no real cluster accepts, and edgedeck could
//! ship manifests that only work on its own server.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::resources::ResourceInfo;

fn decodes<T: DeserializeOwned>(info: &ResourceInfo, object: &Value) -> Result<(), String> {
    // serde_path_to_error names the field, like the Go decoder does.
    serde_path_to_error::deserialize::<_, T>(object)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: {path}: {inner}",
                kind = info.kind,
                version = info.version,
                path = e.path(),
                inner = e.inner(),
            )
        })
}

/// Whether `object` decodes as the built-in kind `info` names; kinds not
/// listed here (custom resources among them) are checked elsewhere or not at all.
pub fn check(info: &ResourceInfo, object: &Value) -> Result<(), String> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, discovery::v1 as discovery};
    if info.custom {
        return Ok(());
    }
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", "deployments") => decodes::<apps::Deployment>(info, object),
        ("apps", "statefulsets") => decodes::<apps::StatefulSet>(info, object),
        ("apps", "daemonsets") => decodes::<apps::DaemonSet>(info, object),
        ("apps", "replicasets") => decodes::<apps::ReplicaSet>(info, object),
        ("", "pods") => decodes::<core::Pod>(info, object),
        ("", "services") => decodes::<core::Service>(info, object),
        ("", "configmaps") => decodes::<core::ConfigMap>(info, object),
        ("", "secrets") => decodes::<core::Secret>(info, object),
        ("", "nodes") => decodes::<core::Node>(info, object),
        ("", "namespaces") => decodes::<core::Namespace>(info, object),
        ("", "endpoints") => decodes::<core::Endpoints>(info, object),
        ("discovery.k8s.io", "endpointslices") => decodes::<discovery::EndpointSlice>(info, object),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployments() -> ResourceInfo {
        let registry = super::super::resources::Registry::build(&[]);
        (*registry
            .find("apps", "v1", "deployments")
            .expect("deployments are served"))
        .clone()
    }

    #[test]
    fn a_wrongly_typed_field_is_refused_naming_the_field() {
        let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": "abc"}});
        let why = check(&deployments(), &bad).expect_err("refused");
        assert!(why.contains("spec.replicas"), "{why}");
        assert!(why.contains("cannot be handled as a Deployment"), "{why}");
    }

    #[test]
    fn a_well_typed_object_with_unknown_fields_decodes() {
        let good = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 2, "someday": true}});
        assert_eq!(check(&deployments(), &good), Ok(()));
    }
}
