//! Overriders applied to one rendered copy of a workload.
//! INTERFACE STUB — to be implemented.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::EngineError;
use super::object::WorkloadKind;
use crate::api::Overriders;

/// Where one rendered copy of a workload is pinned.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A NodeGroup, by name: suffix is the group name.
    Group(String),
    /// A `targetNodeLabels` entry: suffix is `ls-<8 hex>`.
    Labels { selector: LabelSelector, suffix: String },
}

impl Target {
    pub fn labels(selector: LabelSelector) -> Self {
        let suffix = label_selector_suffix(&selector);
        Target::Labels { selector, suffix }
    }

    /// What is appended to generated names: the group name or `ls-<8 hex>`.
    pub fn suffix(&self) -> &str {
        match self {
            Target::Group(name) => name,
            Target::Labels { suffix, .. } => suffix,
        }
    }
}

/// `ls-` + the first 8 hex digits of sha256 over the selector's sorted requirements.
pub fn label_selector_suffix(_selector: &LabelSelector) -> String {
    todo!()
}

/// Returns a copy of `manifest` (a workload of `kind`) with every overrider
/// of `target` applied in the reference order:
/// name → replicas → image → nodeSelector/affinity → command → args → env → resources.
pub fn apply_target(
    _manifest: &Value,
    _kind: WorkloadKind,
    _target: &Target,
    _overriders: &Overriders,
) -> Result<Value, EngineError> {
    todo!()
}
