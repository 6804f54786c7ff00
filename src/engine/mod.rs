//! The node-group engine: every rule of KubeEdge node group management as
//! plain, synchronous functions over typed values. No I/O, no async: the
//! controllers fetch, call in here, and write what comes back.

pub mod error;
pub mod image;
pub mod membership;
pub mod object;
pub mod overrides;
pub mod ownership;
pub mod prune;
pub mod render;
pub mod revision;
pub mod rollout;
pub mod status;
pub mod status_schema;
pub mod topology;

pub use error::{EngineError, EngineWarning};
pub use object::ObjectKey;
