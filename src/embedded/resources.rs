//! The registry of served resources: the fixed built-ins plus one entry per
//! served version of every stored CustomResourceDefinition.
//!
//! The registry is derived state: it is rebuilt from the stored CRDs whenever
//! they change, so a CRD created at runtime is served from the next request on.

use std::sync::Arc;

use serde_json::Value;

use super::store::ResourceKey;

/// The verbs every resource here supports (what `kubectl api-resources` lists).
pub const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// Where a scalable resource keeps its replica counts (JSONPath, `.a.b` form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// One CRD `additionalPrinterColumns` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    pub scale: Option<ScalePaths>,
    /// Only for CRD-backed resources; built-ins have hand-written columns.
    pub printer_columns: Vec<PrinterColumn>,
    /// Backed by a CRD: no strategic merge patch, columns from the CRD.
    pub custom: bool,
}

impl ResourceInfo {
    pub fn key(&self) -> ResourceKey {
        ResourceKey::new(&self.group, &self.plural)
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    all_category: bool,
    status: bool,
    scale: bool,
}

const fn builtin(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short_names,
        all_category: false,
        status: false,
        scale: false,
    }
}

const fn with_status(mut b: Builtin) -> Builtin {
    b.status = true;
    b
}

const fn in_all(mut b: Builtin) -> Builtin {
    b.all_category = true;
    b
}

const fn scalable(mut b: Builtin) -> Builtin {
    b.scale = true;
    b
}

const BUILTINS: &[Builtin] = &[
    with_status(builtin("", "v1", "Namespace", "namespaces", false, &["ns"])),
    with_status(builtin("", "v1", "Node", "nodes", false, &["no"])),
    in_all(with_status(builtin("", "v1", "Pod", "pods", true, &["po"]))),
    in_all(with_status(builtin(
        "",
        "v1",
        "Service",
        "services",
        true,
        &["svc"],
    ))),
    builtin("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    builtin("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    builtin("", "v1", "Secret", "secrets", true, &[]),
    builtin("", "v1", "Event", "events", true, &["ev"]),
    builtin("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    in_all(scalable(with_status(builtin(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
    )))),
    in_all(scalable(with_status(builtin(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
    )))),
    in_all(with_status(builtin(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
    ))),
    in_all(scalable(with_status(builtin(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
    )))),
    // The revision history of EdgeApplications (engine::revision).
    builtin(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        &[],
    ),
    builtin(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
    ),
    builtin("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
    // Stored apart from core Events (kube-apiserver serves one store under
    // both); the console reads both and keeps one per uid.
    builtin("events.k8s.io", "v1", "Event", "events", true, &[]),
    // kube-proxy watches them for the cluster's Service ranges.
    with_status(builtin(
        "networking.k8s.io",
        "v1",
        "ServiceCIDR",
        "servicecidrs",
        false,
        &[],
    )),
    // Stored so deploy manifests apply; the embedded server authorizes by token only.
    builtin(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        true,
        &[],
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
        &[],
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
        &[],
    ),
    builtin(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
    ),
    with_status(builtin(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
    )),
];

fn builtin_infos() -> Vec<ResourceInfo> {
    BUILTINS
        .iter()
        .map(|b| ResourceInfo {
            group: b.group.into(),
            version: b.version.into(),
            kind: b.kind.into(),
            plural: b.plural.into(),
            singular: b.kind.to_lowercase(),
            namespaced: b.namespaced,
            short_names: b.short_names.iter().map(|s| s.to_string()).collect(),
            categories: if b.all_category {
                vec!["all".into()]
            } else {
                vec![]
            },
            status_subresource: b.status,
            scale: b.scale.then(|| ScalePaths {
                spec_replicas: ".spec.replicas".into(),
                status_replicas: ".status.replicas".into(),
                label_selector: Some(".spec.selector".into()),
            }),
            printer_columns: vec![],
            custom: false,
        })
        .collect()
}

/// The group of the CustomResourceDefinition resource itself.
pub fn crd_key() -> ResourceKey {
    ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions")
}

pub fn namespace_key() -> ResourceKey {
    ResourceKey::new("", "namespaces")
}

#[derive(Debug, Default)]
pub struct Registry {
    resources: Vec<Arc<ResourceInfo>>,
}

impl Registry {
    /// Built-ins plus every served version of the given CRD objects.
    pub fn build(crds: &[Arc<Value>]) -> Registry {
        let mut resources: Vec<Arc<ResourceInfo>> =
            builtin_infos().into_iter().map(Arc::new).collect();
        let mut custom: Vec<ResourceInfo> =
            crds.iter().flat_map(|crd| crd_resources(crd)).collect();
        custom.sort_by(|a, b| {
            (&a.group, &a.version, &a.plural).cmp(&(&b.group, &b.version, &b.plural))
        });
        for info in custom {
            // A CRD may not shadow a built-in resource.
            if !resources
                .iter()
                .any(|r| r.group == info.group && r.plural == info.plural)
            {
                resources.push(Arc::new(info));
            }
        }
        Registry { resources }
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a Arc<ResourceInfo>> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }

    /// Groups (excluding core) with their versions, in registration order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for r in self.resources.iter().filter(|r| !r.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone());
                    }
                }
                None => groups.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        groups
    }

    /// The version kubectl should prefer: the CRD storage version, else the first.
    pub fn preferred_version(&self, group: &str) -> Option<String> {
        self.groups()
            .into_iter()
            .find(|(g, _)| g == group)
            .and_then(|(_, versions)| versions.first().cloned())
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn strings_at(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One ResourceInfo per served version; a malformed CRD simply serves nothing.
fn crd_resources(crd: &Value) -> Vec<ResourceInfo> {
    let (Some(group), Some(plural), Some(kind)) = (
        str_at(crd, "/spec/group"),
        str_at(crd, "/spec/names/plural"),
        str_at(crd, "/spec/names/kind"),
    ) else {
        return vec![];
    };
    if crd
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return vec![];
    }
    let singular = str_at(crd, "/spec/names/singular")
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let namespaced = str_at(crd, "/spec/scope") != Some("Cluster");
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Storage version first so it becomes the preferred version in discovery.
    let mut ordered: Vec<&Value> = versions
        .iter()
        .filter(|v| v["storage"] == Value::Bool(true))
        .collect();
    ordered.extend(
        versions
            .iter()
            .filter(|v| v["storage"] != Value::Bool(true)),
    );
    ordered
        .into_iter()
        .filter(|v| v["served"] != Value::Bool(false))
        .filter_map(|v| {
            let version = v["name"].as_str()?;
            let scale = v.pointer("/subresources/scale").map(|s| ScalePaths {
                spec_replicas: s["specReplicasPath"]
                    .as_str()
                    .unwrap_or(".spec.replicas")
                    .into(),
                status_replicas: s["statusReplicasPath"]
                    .as_str()
                    .unwrap_or(".status.replicas")
                    .into(),
                label_selector: s["labelSelectorPath"].as_str().map(str::to_string),
            });
            Some(ResourceInfo {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: singular.clone(),
                namespaced,
                short_names: strings_at(crd, "/spec/names/shortNames"),
                categories: strings_at(crd, "/spec/names/categories"),
                status_subresource: v.pointer("/subresources/status").is_some(),
                scale,
                printer_columns: printer_columns(v),
                custom: true,
            })
        })
        .collect()
}

fn printer_columns(version: &Value) -> Vec<PrinterColumn> {
    version["additionalPrinterColumns"]
        .as_array()
        .map(|cols| {
            cols.iter()
                .filter_map(|c| {
                    Some(PrinterColumn {
                        name: c["name"].as_str()?.into(),
                        type_: c["type"].as_str().unwrap_or("string").into(),
                        format: c["format"].as_str().unwrap_or("").into(),
                        description: c["description"].as_str().unwrap_or("").into(),
                        priority: c["priority"].as_i64().unwrap_or(0),
                        json_path: c["jsonPath"].as_str()?.into(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crds_of_the_project_are_served_with_their_names() {
        let crds: Vec<Arc<Value>> = crate::api::crds()
            .into_iter()
            .map(|c| Arc::new(serde_json::to_value(c).expect("crd serialises")))
            .collect();
        let registry = Registry::build(&crds);
        let ng = registry
            .find("apps.kubeedge.io", "v1alpha1", "nodegroups")
            .expect("nodegroups served");
        assert!(!ng.namespaced);
        assert_eq!(ng.short_names, vec!["ng"]);
        assert!(ng.status_subresource);
        assert_eq!(ng.printer_columns.len(), 3);
        assert!(registry.find("apps", "v1", "deployments").is_some());
        assert_eq!(
            registry.preferred_version("apps.kubeedge.io").as_deref(),
            Some("v1alpha1")
        );
    }
}
