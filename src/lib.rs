//! edgedeck: KubeEdge node group management as an engine behind a terminal console.

pub mod api;
pub mod engine;
