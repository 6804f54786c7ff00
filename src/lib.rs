//! edgedeck: KubeEdge node group management as an engine behind a terminal console.

pub mod api;
pub mod certs;
pub mod connect;
pub mod console;
pub mod controllers;
pub mod dry_run;
pub mod edge_api;
pub mod embedded;
pub mod engine;
pub mod headless;
pub mod manifests;
pub mod rollout_cli;
pub mod simulation;
pub mod telemetry;
