//! Typed decoding of built-in kinds on every write, as kube-apiserver does
//! before anything else. The embedded server keeps objects as JSON, so
//! without this check it would accept what no real cluster accepts, and
//! edgedeck could ship manifests that only work on its own server.

use serde_json::Value;

use super::resources::ResourceInfo;

/// Whether `object` decodes as the built-in kind `info` names
/// ([`crate::api::typed`]); custom resources are checked against their CRD
/// schema elsewhere.
pub fn check(info: &ResourceInfo, object: &Value) -> Result<(), String> {
    if info.custom {
        return Ok(());
    }
    crate::api::typed::check_builtin(&info.group, &info.version, &info.kind, object)
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
