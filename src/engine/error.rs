//! Every way input can be wrong, as values. Each message names the object
//! and the field so it can be shown as a status reason unchanged.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineError {
    #[error("manifest {ordinal}: not an object")]
    ManifestNotObject { ordinal: usize },

    #[error("manifest {ordinal}: missing or empty {field}")]
    ManifestMissingField { ordinal: usize, field: &'static str },

    #[error("{object}: {overrider} overrider does not apply to kind {kind}")]
    OverriderNotApplicable {
        object: String,
        overrider: &'static str,
        kind: String,
    },

    #[error("{object}: image predicate path {path:?}: {problem}")]
    BadImagePredicate {
        object: String,
        path: String,
        problem: String,
    },

    #[error("{object}: invalid image {image:?} at {path}: {problem}")]
    InvalidImage {
        object: String,
        path: String,
        image: String,
        problem: String,
    },

    #[error("{object}: image overrider: {problem}")]
    BadImageOverrider { object: String, problem: String },

    #[error("{object}: {field}: {problem}")]
    InvalidField {
        object: String,
        field: String,
        problem: String,
    },

    #[error("{target}: replicas must not be negative (got {value})")]
    NegativeReplicas { target: String, value: i64 },

    #[error("target {target} is listed more than once in workloadScope")]
    DuplicateTarget { target: String },

    #[error("{target}: invalid label selector: {problem}")]
    InvalidSelector { target: String, problem: String },

    #[error(
        "generated {kind} name {name:?} is {len} characters, over the Kubernetes limit of {max}"
    )]
    NameTooLong {
        kind: String,
        name: String,
        len: usize,
        max: usize,
    },

    #[error("{object}: endpoint {index} has no nodeName; hidden from every node")]
    EndpointWithoutNodeName { object: String, index: usize },
}

/// Input that renders, but not entirely as written: shown beside the status
/// (and by `edgedeck render` on stderr) instead of failing the target.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EngineWarning {
    #[error(
        "{object}: {overrider} names container {container:?}, which spec.containers does not have; skipped, as KubeEdge does"
    )]
    UnknownContainer {
        object: String,
        /// The overrider list and index, e.g. `envOverriders[1]`.
        overrider: String,
        container: String,
    },
}
