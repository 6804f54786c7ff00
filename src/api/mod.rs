//! KubeEdge-compatible API types (`apps.kubeedge.io/v1alpha1`) and the
//! well-known names the engine writes onto other objects.
//!
//! JSON field names follow KubeEdge exactly so existing manifests decode
//! unchanged. Fields KubeEdge lacks (marked "edgedeck extension") only ever
//! appear in `status`, which users do not author.

mod edge_application;
mod names;
mod node_group;
mod rollout;
mod schema;
pub mod typed;
pub mod validation;

pub use edge_application::*;
pub use names::*;
pub use node_group::*;
pub use rollout::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD, in the order they should be applied: KubeEdge's two, then
/// edgedeck's own Rollout.
pub fn crds() -> Vec<CustomResourceDefinition> {
    // The Rollout embeds an EdgeApplication spec, so it gets the same
    // relaxations: a target KubeEdge accepts must be accepted here.
    let mut crds = vec![NodeGroup::crd(), EdgeApplication::crd(), Rollout::crd()];
    for crd in &mut crds {
        schema::match_kubeedge(crd);
    }
    crds
}

/// Every CRD as one multi-document YAML stream (what `edgedeck crds` prints).
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}
