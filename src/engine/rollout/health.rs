//! Whether one target group of a wave is healthy: the one rule a wave's
//! promotion rests on.
//!
//! A group is healthy when the EdgeApplication controller has rendered the
//! application's current generation, every workload generated for the group
//! is Available by `engine::status`'s rule (current generation observed,
//! every replica updated, ready and available, no old ones left), no pod of
//! those workloads is crash-looping or failing to pull its image, and no
//! `range-nodegroup` Service of the application is a black hole in the
//! group (`engine::topology::local_service`). The soak time is the
//! caller's: this judges one instant.

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::Value;

use crate::api::{EdgeApplication, LABEL_BELONGING_TO, LABEL_SERVICE_NAME, ManifestCondition};
use crate::engine::object::WorkloadKind;
use crate::engine::render::Rendered;
use crate::engine::topology::{self, LocalService};

/// Container waiting reasons that mean the new version does not run.
const BROKEN_WAITING: [&str; 4] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
];

/// What the cluster shows about an application, read by the controller.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    pub app: &'a EdgeApplication,
    /// Pods of the application's namespace (others are ignored).
    pub pods: &'a [Value],
    pub nodes: &'a [Node],
    /// EndpointSlices of the application's namespace.
    pub slices: &'a [EndpointSlice],
}

/// `Ok` if `group` is healthy now, else why not (one line).
pub fn group_health(cluster: &Cluster, rendered: &Rendered, group: &str) -> Result<(), String> {
    let app = cluster.app;
    let generation = app.metadata.generation.unwrap_or_default();
    let observed = app.status.as_ref().and_then(|s| s.observed_generation);
    if observed.is_none_or(|o| o < generation) {
        return Err(format!(
            "waiting for the engine to render generation {generation} of the application"
        ));
    }
    if let Some(e) = rendered
        .errors
        .iter()
        .find(|e| e.target.as_deref() == Some(group))
    {
        return Err(e.error.to_string());
    }
    let workloads: Vec<_> = rendered
        .objects
        .iter()
        .filter(|o| o.target.as_deref() == Some(group))
        .filter(|o| WorkloadKind::of_object(&o.object).is_some())
        .collect();
    if workloads.is_empty() {
        return Err("no workload is generated for this group".into());
    }
    let entries = app
        .status
        .as_ref()
        .map_or(&[][..], |s| s.workload_status.as_slice());
    for workload in &workloads {
        let key = &workload.key;
        let entry = entries.iter().find(|e| {
            e.identifier.kind == key.kind
                && e.identifier.name == key.name
                && e.identifier.namespace == key.namespace.clone().unwrap_or_default()
        });
        let name = format!("{} {}", key.kind, key.name);
        match entry {
            Some(e) if e.conditions == Some(ManifestCondition::Available) => {}
            Some(e) => {
                let why = e
                    .reason
                    .clone()
                    .unwrap_or_else(|| "not available yet".into());
                return Err(format!("{name}: {why}"));
            }
            None => return Err(format!("{name}: not reported in the status yet")),
        }
        if let Some(problem) = broken_pod(cluster.pods, &key.name) {
            return Err(problem);
        }
    }
    black_hole(cluster, rendered, group)
}

/// The first pod of the workload `owner` whose container cannot run.
fn broken_pod(pods: &[Value], owner: &str) -> Option<String> {
    let prefix = format!("{owner}-");
    pods.iter()
        .filter(|pod| {
            pod.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| {
                    refs.iter()
                        .filter_map(|r| r.get("name")?.as_str())
                        .any(|n| n == owner || n.starts_with(&prefix))
                })
        })
        .find_map(|pod| {
            let statuses = pod.pointer("/status/containerStatuses")?.as_array()?;
            statuses.iter().find_map(|c| {
                let reason = c.pointer("/state/waiting/reason")?.as_str()?;
                BROKEN_WAITING.contains(&reason).then(|| {
                    let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str);
                    let container = c.get("name").and_then(Value::as_str);
                    let restarts = c.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
                    format!(
                        "pod {}: container {} {reason} ({restarts} restarts)",
                        pod_name.unwrap_or("?"),
                        container.unwrap_or("?")
                    )
                })
            })
        })
}

fn black_hole(cluster: &Cluster, rendered: &Rendered, group: &str) -> Result<(), String> {
    let index = topology::node_group_index(cluster.nodes);
    let members = cluster
        .nodes
        .iter()
        .filter(|n| {
            n.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_BELONGING_TO))
                .is_some_and(|g| g == group)
        })
        .count();
    let groups = [group.to_owned()];
    let services = rendered
        .objects
        .iter()
        .filter(|o| o.target.is_none() && o.key.kind == "Service");
    for service in services {
        let parsed =
            serde_json::from_value::<k8s_openapi::api::core::v1::Service>(service.object.clone());
        let Ok(parsed) = parsed else {
            continue;
        };
        if !topology::is_range_nodegroup(&parsed) {
            continue;
        }
        let slices: Vec<EndpointSlice> = cluster
            .slices
            .iter()
            .filter(|s| {
                s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_SERVICE_NAME))
                    .is_some_and(|n| *n == service.key.name)
            })
            .cloned()
            .collect();
        let traffic = topology::service_traffic(&slices, &groups, &index);
        let here = traffic.per_group.first().cloned().unwrap_or_default();
        if topology::local_service(&here, true, members) == LocalService::BlackHole {
            return Err(format!(
                "Service {} has no ready endpoint in {group}: clients there reach nothing",
                service.key.name
            ));
        }
    }
    Ok(())
}
