//! Identity of Kubernetes objects handled as raw JSON, and the facts about
//! well-known kinds the engine needs (pod template location, plural, scope).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Enough to find one object in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> Self {
        ObjectKey {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
        }
    }

    /// Reads apiVersion, kind, metadata.namespace and metadata.name; `None` if any required one is missing.
    pub fn of(object: &Value) -> Option<Self> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let kind = object.get("kind")?.as_str()?;
        let meta = object.get("metadata")?;
        let name = meta.get("name")?.as_str()?;
        let namespace = meta.get("namespace").and_then(Value::as_str);
        Some(ObjectKey::new(api_version, kind, namespace, name))
    }

    /// API group ("" for the core group).
    pub fn group(&self) -> &str {
        split_api_version(&self.api_version).0
    }

    pub fn version(&self) -> &str {
        split_api_version(&self.api_version).1
    }

    /// The object regardless of API version: a manifest moving from
    /// `apps/v1beta2` to `apps/v1` still names the same object.
    pub fn identity(&self) -> (&str, &str, Option<&str>, &str) {
        (
            self.group(),
            &self.kind,
            self.namespace.as_deref(),
            &self.name,
        )
    }

    /// Lower-case plural resource name, as in URLs.
    pub fn resource(&self) -> String {
        resource_for_kind(&self.kind)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// `"apps/v1"` → `("apps", "v1")`, `"v1"` → `("", "v1")`.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Kinds whose pods the engine renders once per target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Pod,
}

impl WorkloadKind {
    pub fn of(api_version: &str, kind: &str) -> Option<Self> {
        match (split_api_version(api_version).0, kind) {
            ("apps", "Deployment") => Some(Self::Deployment),
            ("apps", "StatefulSet") => Some(Self::StatefulSet),
            ("apps", "DaemonSet") => Some(Self::DaemonSet),
            ("apps", "ReplicaSet") => Some(Self::ReplicaSet),
            ("", "Pod") => Some(Self::Pod),
            _ => None,
        }
    }

    /// Reads the kind of a raw manifest.
    pub fn of_object(object: &Value) -> Option<Self> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let kind = object.get("kind")?.as_str()?;
        Self::of(api_version, kind)
    }

    /// JSON pointer to the PodSpec inside an object of this kind.
    pub fn pod_spec_pointer(self) -> &'static str {
        match self {
            Self::Pod => "/spec",
            _ => "/spec/template/spec",
        }
    }

    /// Whether `spec.replicas` exists for this kind.
    pub fn has_replicas(self) -> bool {
        matches!(
            self,
            Self::Deployment | Self::StatefulSet | Self::ReplicaSet
        )
    }

    pub fn kind(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::Pod => "Pod",
        }
    }
}

/// Plural resource name of a kind. Exact for built-in kinds; for others the
/// Kubernetes default pluralisation, which discovery may correct.
pub fn resource_for_kind(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match lower.as_str() {
        "endpoints" => lower,
        "ingress" => "ingresses".into(),
        "networkpolicy" => "networkpolicies".into(),
        "priorityclass" | "storageclass" | "runtimeclass" | "ingressclass" => format!("{lower}es"),
        _ if lower.ends_with('s')
            || lower.ends_with("ch")
            || lower.ends_with("sh")
            || lower.ends_with('x') =>
        {
            format!("{lower}es")
        }
        _ if lower.ends_with('y')
            && !lower.ends_with("ay")
            && !lower.ends_with("ey")
            && !lower.ends_with("oy") =>
        {
            format!("{}ies", &lower[..lower.len() - 1])
        }
        _ => format!("{lower}s"),
    }
}

/// Built-in kinds that live outside namespaces. Anything else is assumed
/// namespaced, which is what a manifest in an EdgeApplication almost always is.
pub fn is_cluster_scoped(api_version: &str, kind: &str) -> bool {
    let group = split_api_version(api_version).0;
    matches!(
        (group, kind),
        ("", "Namespace" | "Node" | "PersistentVolume")
            | (
                "rbac.authorization.k8s.io",
                "ClusterRole" | "ClusterRoleBinding"
            )
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | (
                "storage.k8s.io",
                "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment"
            )
            | ("scheduling.k8s.io", "PriorityClass")
            | ("node.k8s.io", "RuntimeClass")
            | ("networking.k8s.io", "IngressClass")
            | ("admissionregistration.k8s.io", _)
            | ("apps.kubeedge.io", "NodeGroup")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plurals_of_built_in_kinds() {
        for (kind, plural) in [
            ("Deployment", "deployments"),
            ("Endpoints", "endpoints"),
            ("Ingress", "ingresses"),
            ("NetworkPolicy", "networkpolicies"),
            ("EdgeApplication", "edgeapplications"),
            ("NodeGroup", "nodegroups"),
            ("ConfigMap", "configmaps"),
            ("StorageClass", "storageclasses"),
            ("Gateway", "gateways"),
        ] {
            assert_eq!(resource_for_kind(kind), plural, "{kind}");
        }
    }

    #[test]
    fn key_of_object_and_display() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web", "namespace": "edge"}});
        let key = ObjectKey::of(&obj).unwrap();
        assert_eq!(key.group(), "apps");
        assert_eq!(key.version(), "v1");
        assert_eq!(key.to_string(), "Deployment edge/web");
        assert!(ObjectKey::of(&json!({"kind": "Deployment"})).is_none());
    }

    #[test]
    fn workload_kinds_need_the_right_group() {
        assert_eq!(
            WorkloadKind::of("apps/v1", "Deployment"),
            Some(WorkloadKind::Deployment)
        );
        assert_eq!(WorkloadKind::of("v1", "Deployment"), None);
        assert_eq!(WorkloadKind::of("v1", "Pod"), Some(WorkloadKind::Pod));
        assert!(!WorkloadKind::DaemonSet.has_replicas());
    }
}
