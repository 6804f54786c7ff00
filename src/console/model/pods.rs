//! Pods as the console keeps them: a slim record per pod (issue #9: at
//! 10,000 nodes the console holds only what its views show), and the
//! status word `kubectl get pods` would print for it.
//!
//! The status follows kubectl's printer, in the order it decides: a pod
//! being deleted is `Terminating` whatever its containers do; a container
//! that waits or terminated names why (CrashLoopBackOff, ImagePullBackOff,
//! Error); an unscheduled pod is `Pending` with the scheduler's message as
//! its reason; otherwise the pod's own reason (Evicted) or phase.

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Pod;

use crate::api::LABEL_BELONGING_TO;

/// How a pod is doing, for colour and symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodHealth {
    Ok,
    /// Pending, Terminating, not all containers ready.
    Warn,
    /// Crash-looping, failed, image cannot be pulled.
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub resource_version: Option<String>,
    pub node: Option<String>,
    /// kubectl's STATUS word.
    pub status: String,
    /// Why: the scheduler's message for a Pending pod, a container's message.
    pub reason: Option<String>,
    pub health: PodHealth,
    pub ready: usize,
    pub total: usize,
    pub restarts: i32,
    pub created: Option<SystemTime>,
    /// Container names in spec order (init containers not included).
    pub containers: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// The group its nodeSelector pins it to (`belonging-to`), if any.
    pub pinned_group: Option<String>,
}

/// Keeps of a watched Pod only what [`PodInfo::from_pod`] reads, so the
/// reflector store stays slim.
pub fn slim_pod(pod: &mut Pod) {
    let meta = &mut pod.metadata;
    meta.managed_fields = None;
    meta.annotations = None;
    meta.finalizers = None;
    meta.owner_references = None;
    if let Some(spec) = pod.spec.as_mut() {
        spec.volumes = None;
        spec.init_containers = None;
        spec.affinity = None;
        spec.tolerations = None;
        for c in &mut spec.containers {
            c.env = None;
            c.env_from = None;
            c.ports = None;
            c.resources = None;
            c.volume_mounts = None;
            c.command = None;
            c.args = None;
            c.liveness_probe = None;
            c.readiness_probe = None;
            c.startup_probe = None;
        }
    }
    if let Some(status) = pod.status.as_mut() {
        status.init_container_statuses = None;
        status.pod_ips = None;
        if let Some(cs) = status.container_statuses.as_mut() {
            for c in cs {
                c.image_id = String::new();
                c.container_id = None;
            }
        }
    }
}

fn time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> SystemTime {
    SystemTime::from(t.0)
}

impl PodInfo {
    pub fn from_pod(pod: &Pod) -> Option<PodInfo> {
        let meta = &pod.metadata;
        let name = meta.name.clone()?;
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let statuses = status
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or_default();
        let containers: Vec<String> = spec
            .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        let total = containers.len().max(statuses.len());
        let ready = statuses.iter().filter(|c| c.ready).count();
        let restarts = statuses.iter().map(|c| c.restart_count).sum();
        let (word, reason, health) = status_word(pod, ready, total);
        Some(PodInfo {
            namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
            name,
            resource_version: meta.resource_version.clone(),
            node: spec.and_then(|s| s.node_name.clone()),
            status: word,
            reason,
            health,
            ready,
            total,
            restarts,
            created: meta.creation_timestamp.as_ref().map(time),
            containers,
            labels: meta.labels.clone().unwrap_or_default(),
            pinned_group: spec
                .and_then(|s| s.node_selector.as_ref())
                .and_then(|sel| sel.get(LABEL_BELONGING_TO).cloned()),
        })
    }

    /// Whether the pod runs under a workload selecting `selector`
    /// (a Deployment's `spec.selector.matchLabels`).
    pub fn matches(&self, selector: &BTreeMap<String, String>) -> bool {
        !selector.is_empty()
            && selector
                .iter()
                .all(|(k, v)| self.labels.get(k).is_some_and(|l| l == v))
    }
}

/// Where a pod belongs: the generated workload that owns it (found by the
/// names Kubernetes gives pods: `<workload>-<hash>-<suffix>` for a
/// Deployment's, `<workload>-<suffix>` for the others, confirmed by the
/// workload's selector when it has one), its application, and its group
/// (its node's, else the group its nodeSelector pins it to).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodPlace {
    /// Index into [`super::Fleet::workloads`].
    pub workload: Option<usize>,
    pub app: Option<String>,
    pub group: Option<String>,
}

pub fn place(fleet: &super::Fleet, nodes: &[super::NodeInfo]) -> Vec<PodPlace> {
    use std::collections::HashMap;
    let mut workloads: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, w) in fleet.workloads.iter().enumerate() {
        let kind = w.get("kind").and_then(serde_json::Value::as_str);
        if !matches!(kind, Some("Deployment" | "StatefulSet" | "DaemonSet")) {
            continue;
        }
        let meta = &w["metadata"];
        if let Some(name) = meta["name"].as_str() {
            let ns = meta["namespace"].as_str().unwrap_or("default");
            workloads.insert((ns, name), i);
        }
    }
    let group_of: HashMap<&str, &str> = nodes
        .iter()
        .filter_map(|n| Some((n.name.as_str(), n.group.as_deref()?)))
        .collect();
    fleet
        .pods
        .iter()
        .map(|p| {
            let candidates = [
                p.name.rsplitn(3, '-').nth(2),
                p.name.rsplit_once('-').map(|(base, _)| base),
            ];
            let workload = candidates.into_iter().flatten().find_map(|base| {
                let i = *workloads.get(&(p.namespace.as_str(), base))?;
                let selector: BTreeMap<String, String> = fleet.workloads[i]
                    .pointer("/spec/selector/matchLabels")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                (selector.is_empty() || p.matches(&selector)).then_some(i)
            });
            let app = workload
                .and_then(|i| {
                    fleet.workloads[i]
                        .pointer("/metadata/labels")?
                        .get(crate::api::LABEL_EDGEAPPLICATION_NAME)?
                        .as_str()
                })
                .map(str::to_owned);
            let group = p
                .node
                .as_deref()
                .and_then(|n| group_of.get(n))
                .map(|g| (*g).to_owned())
                .or_else(|| p.pinned_group.clone());
            PodPlace {
                workload,
                app,
                group,
            }
        })
        .collect()
}

/// kubectl's STATUS, why, and how bad it is.
fn status_word(pod: &Pod, ready: usize, total: usize) -> (String, Option<String>, PodHealth) {
    if pod.metadata.deletion_timestamp.is_some() {
        return ("Terminating".into(), None, PodHealth::Warn);
    }
    let status = pod.status.as_ref();
    let phase = status
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    for c in status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
    {
        let Some(state) = &c.state else { continue };
        if let Some(w) = &state.waiting
            && let Some(r) = w.reason.as_deref().filter(|r| !r.is_empty())
        {
            let health = match r {
                "ContainerCreating" | "PodInitializing" => PodHealth::Warn,
                _ => PodHealth::Error,
            };
            return (r.to_owned(), w.message.clone(), health);
        }
        if let Some(t) = &state.terminated {
            let r = t.reason.clone().unwrap_or_else(|| {
                if t.exit_code == 0 {
                    "Completed".into()
                } else {
                    format!("ExitCode:{}", t.exit_code)
                }
            });
            let health = if t.exit_code == 0 {
                PodHealth::Ok
            } else {
                PodHealth::Error
            };
            return (r, t.message.clone(), health);
        }
    }
    if let Some(reason) = status.and_then(|s| s.reason.clone()) {
        return (
            reason,
            status.and_then(|s| s.message.clone()),
            PodHealth::Error,
        );
    }
    match phase.as_str() {
        "Pending" => {
            let unscheduled = status
                .and_then(|s| s.conditions.as_deref())
                .unwrap_or_default()
                .iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False");
            let reason = unscheduled.map(|c| {
                c.message
                    .clone()
                    .or_else(|| c.reason.clone())
                    .unwrap_or_else(|| "not scheduled".into())
            });
            ("Pending".into(), reason, PodHealth::Warn)
        }
        "Failed" => (phase, None, PodHealth::Error),
        "Running" if ready < total => (phase, None, PodHealth::Warn),
        _ => (phase, None, PodHealth::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    fn base() -> serde_json::Value {
        json!({
            "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "7",
                         "labels": {"app": "nginx", "pod-template-hash": "abc"}},
            "spec": {"nodeName": "node-a", "containers": [{"name": "web", "image": "nginx:1"}],
                     "nodeSelector": {"apps.kubeedge.io/belonging-to": "beijing"}},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "web", "image": "nginx:1", "imageID": "x", "ready": true, "restartCount": 0,
                 "state": {"running": {}}}]}
        })
    }

    #[test]
    fn a_running_pod_reads_like_kubectl() {
        let p = PodInfo::from_pod(&pod(base())).expect("info");
        assert_eq!(
            (p.status.as_str(), p.ready, p.total, p.health),
            ("Running", 1, 1, PodHealth::Ok)
        );
        assert_eq!(p.node.as_deref(), Some("node-a"));
        assert_eq!(p.pinned_group.as_deref(), Some("beijing"));
    }

    #[test]
    fn a_crash_looping_container_names_crash_loop_back_off_and_counts_restarts() {
        let mut v = base();
        v["status"]["containerStatuses"][0] = json!({
            "name": "web", "image": "nginx:broken", "imageID": "", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}});
        let p = PodInfo::from_pod(&pod(v)).expect("info");
        assert_eq!(p.status, "CrashLoopBackOff");
        assert_eq!(p.restarts, 4);
        assert_eq!((p.ready, p.health), (0, PodHealth::Error));
    }

    #[test]
    fn a_pending_pod_carries_the_schedulers_reason() {
        let mut v = base();
        v["spec"]["nodeName"] = json!(null);
        v["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]});
        let p = PodInfo::from_pod(&pod(v)).expect("info");
        assert_eq!(p.status, "Pending");
        assert!(
            p.reason.as_deref().unwrap_or("").contains("0/3 nodes"),
            "{p:?}"
        );
        assert_eq!(p.node, None);
    }

    #[test]
    fn a_pod_being_deleted_is_terminating_whatever_its_containers_do() {
        let mut v = base();
        v["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let p = PodInfo::from_pod(&pod(v)).expect("info");
        assert_eq!(p.status, "Terminating");
    }

    #[test]
    fn slimming_keeps_what_the_console_reads() {
        let mut v = base();
        v["metadata"]["managedFields"] = json!([{"manager": "x"}]);
        v["metadata"]["annotations"] = json!({"big": "x".repeat(1000)});
        v["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "b"}]);
        let mut p = pod(v);
        let before = PodInfo::from_pod(&p);
        slim_pod(&mut p);
        assert_eq!(PodInfo::from_pod(&p), before);
        assert!(p.metadata.managed_fields.is_none() && p.metadata.annotations.is_none());
        assert!(
            p.spec
                .as_ref()
                .and_then(|s| s.containers[0].env.as_ref())
                .is_none()
        );
    }

    #[test]
    fn a_selector_matches_only_pods_with_every_label() {
        let p = PodInfo::from_pod(&pod(base())).expect("info");
        let sel = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(p.matches(&sel(&[("app", "nginx")])));
        assert!(!p.matches(&sel(&[("app", "nginx"), ("tier", "web")])));
        assert!(!p.matches(&sel(&[])));
    }
}
