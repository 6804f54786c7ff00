use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// kube-derive takes one `printcolumn` attribute per column.
#[allow(clippy::duplicated_attributes)]
/// One application, rendered once per target node group (KubeEdge `EdgeApplication`).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "apps.kubeedge.io",
    version = "v1alpha1",
    kind = "EdgeApplication",
    plural = "edgeapplications",
    shortname = "eapp",
    namespaced,
    status = "EdgeApplicationStatus",
    printcolumn(
        name = "Target Groups",
        type_ = "string",
        json_path = ".spec.workloadScope.targetNodeGroups[*].name"
    ),
    printcolumn(name = "Available", type_ = "string", json_path = ".status.available"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct EdgeApplicationSpec {
    #[serde(default)]
    pub workload_template: ResourceTemplate,
    #[serde(default)]
    pub workload_scope: WorkloadScope,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTemplate {
    /// Raw Kubernetes objects; unknown fields are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::schema::raw_objects")]
    pub manifests: Vec<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadScope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_node_groups: Vec<TargetNodeGroup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_node_labels: Vec<TargetNodeLabel>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetNodeGroup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Overriders::is_empty")]
    pub overriders: Overriders,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetNodeLabel {
    /// Optional in KubeEdge's schema too; an empty selector is refused at
    /// render (it would pin the copy to every node).
    #[serde(default)]
    pub label_selector: LabelSelector,
    #[serde(default, skip_serializing_if = "Overriders::is_empty")]
    pub overriders: Overriders,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overriders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_overriders: Vec<ImageOverrider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command_overriders: Vec<CommandArgsOverrider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args_overriders: Vec<CommandArgsOverrider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_overriders: Vec<EnvOverrider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources_overriders: Vec<ResourcesOverrider>,
}

impl Overriders {
    pub fn is_empty(&self) -> bool {
        *self == Overriders::default()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageOverrider {
    /// Only the image at this JSON pointer; without it, every container image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<ImagePredicate>,
    pub component: ImageComponent,
    pub operator: OverriderOperator,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImagePredicate {
    /// JSON pointer (RFC 6901) to an image string, e.g. `/spec/template/spec/containers/0/image`.
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ImageComponent {
    Registry,
    Repository,
    Tag,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverriderOperator {
    Add,
    Remove,
    Replace,
}

impl OverriderOperator {
    /// The word manifests use.
    pub fn as_str(self) -> &'static str {
        match self {
            OverriderOperator::Add => "add",
            OverriderOperator::Remove => "remove",
            OverriderOperator::Replace => "replace",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandArgsOverrider {
    pub container_name: String,
    /// `add` or `remove`: KubeEdge's schema has no `replace` for command and
    /// args, and neither has ours. The type still reads `replace`, which
    /// render refuses with a reason: an object stored under an older schema
    /// must not make every list of EdgeApplications fail to decode.
    #[schemars(schema_with = "super::schema::add_or_remove")]
    pub operator: OverriderOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvOverrider {
    pub container_name: String,
    pub operator: OverriderOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<EnvVar>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourcesOverrider {
    pub container_name: String,
    #[serde(default)]
    pub value: ResourceRequirements,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EdgeApplicationStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_status: Vec<ManifestStatus>,
    /// edgedeck extension: per target group, desired and ready replicas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSummary>,
    /// edgedeck extension: "available/total" generated objects, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<String>,
    /// edgedeck extension: the spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManifestStatus {
    pub identifier: ResourceIdentifier,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<ManifestCondition>,
    /// edgedeck extension: why the object is not Available (or could not be rendered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// edgedeck extension: what rendered other than written (an overrider
    /// naming a container the template does not have, skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(
    Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIdentifier {
    /// Index of the manifest in `spec.workloadTemplate.manifests`.
    #[schemars(range(min = 0))]
    pub ordinal: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ManifestCondition {
    /// Not yet in the desired state.
    Processing,
    /// Applied and in the desired state.
    Available,
    /// edgedeck extension: could not be rendered or applied; see `reason`.
    Failed,
}

/// edgedeck extension: how one target of an application is doing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupSummary {
    /// The NodeGroup name, or `ls-<hash>` for a `targetNodeLabels` entry.
    pub name: String,
    pub desired_replicas: i32,
    pub ready_replicas: i32,
    pub workloads: i32,
    pub available_workloads: i32,
}
