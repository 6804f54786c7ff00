//! edgedeck: KubeEdge node group management as an engine behind a terminal console.

pub mod api;
pub mod controllers;
pub mod dry_run;
pub mod engine;
pub mod manifests;
