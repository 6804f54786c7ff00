//! Pods, Kubernetes Events and node Leases of the demo fleet: one pod of
//! every status the Pods view must tell apart (Running, crash-looping,
//! Pending with the scheduler's reason, Terminating on the NotReady
//! node), events of both APIs, and leases for the nodes that renew them.
//! Hand-built statuses: the simulator's crash loop is not what is tested.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::api::events::v1::Event as NewEvent;
use serde_json::{Value, json};

use super::fixture::now;
use super::model::cluster_events::{self, ClusterEvent};
use super::model::heartbeats::NodeLease;
use super::model::pods::PodInfo;

fn rfc3339(secs_ago: u64) -> String {
    let t = now() - Duration::from_secs(secs_ago);
    k8s_openapi::jiff::Timestamp::try_from(t)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn running(name: &str) -> Value {
    json!({"name": name, "image": "x", "imageID": "", "ready": true, "restartCount": 0,
           "state": {"running": {}}})
}

fn pod(ns: &str, name: &str, app: &str, node: Option<&str>, age: u64, status: Value) -> PodInfo {
    let container = if app == "nginx" { "nginx" } else { "agent" };
    // `<app>-<group>-<hash>-<suffix>`: pinned to its group as the engine renders it.
    let group = name.split('-').nth(1).unwrap_or_default();
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "500",
                     "creationTimestamp": rfc3339(age), "labels": {"app": app}},
        "spec": {"nodeName": node, "containers": [{"name": container, "image": "x"}],
                 "nodeSelector": {"apps.kubeedge.io/belonging-to": group}},
        "status": status,
    }))
    .unwrap_or_default();
    PodInfo::from_pod(&p).unwrap_or_else(|| panic!("fixture pod {name}"))
}

pub fn pods() -> Vec<PodInfo> {
    let ok = |c: &str| json!({"phase": "Running", "containerStatuses": [running(c)]});
    let mut terminating = pod(
        "default",
        "nginx-beijing-5c6d8-x2k9p",
        "nginx",
        Some("node-e"),
        3600,
        json!({"phase": "Running", "containerStatuses": [running("nginx")]}),
    );
    terminating.status = "Terminating".into();
    terminating.health = super::model::pods::PodHealth::Warn;
    let mut all = vec![
        pod(
            "default",
            "nginx-hangzhou-7d9f4-abcde",
            "nginx",
            Some("node-a"),
            7200,
            ok("nginx"),
        ),
        pod(
            "default",
            "nginx-hangzhou-7d9f4-fghij",
            "nginx",
            Some("node-b"),
            7200,
            ok("nginx"),
        ),
        pod(
            "default",
            "nginx-beijing-5c6d8-klmno",
            "nginx",
            Some("node-c"),
            3600,
            ok("nginx"),
        ),
        pod(
            "default",
            "nginx-beijing-5c6d8-pqrst",
            "nginx",
            Some("node-d"),
            3600,
            ok("nginx"),
        ),
        terminating,
        pod(
            "edge",
            "telemetry-beijing-6f7b9-uvwxy",
            "telemetry",
            Some("node-d"),
            600,
            ok("agent"),
        ),
        pod(
            "edge",
            "telemetry-shanghai-8b4c2-zz9q1",
            "telemetry",
            Some("node-f"),
            500,
            json!({"phase": "Running", "containerStatuses": [{
                "name": "agent", "image": "reg.io/telemetry:broken", "imageID": "", "ready": false,
                "restartCount": 7, "state": {"waiting": {"reason": "CrashLoopBackOff",
                "message": "back-off 5m0s restarting failed container=agent"}}}]}),
        ),
        pod(
            "edge",
            "telemetry-shanghai-8b4c2-pend1",
            "telemetry",
            None,
            120,
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable",
                "message": "0/7 nodes are available: 6 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }."}]}),
        ),
    ];
    all.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    all
}

/// `about`: namespace, kind and name of the object.
fn core_event(
    uid: &str,
    (ns, kind, name): (&str, &str, &str),
    warn: bool,
    reason: &str,
    msg: &str,
    ago: u64,
) -> ClusterEvent {
    let e: CoreEvent = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}.{uid}"), "namespace": ns, "uid": uid},
        "involvedObject": {"kind": kind, "name": name, "namespace": if kind == "Node" { "" } else { ns }},
        "type": if warn { "Warning" } else { "Normal" },
        "reason": reason, "message": msg, "lastTimestamp": rfc3339(ago), "count": 1,
        "source": {"component": if kind == "Node" { "node-controller" } else { "kubelet" }},
    }))
    .unwrap_or_default();
    ClusterEvent::from_core(&e)
}

fn new_event(uid: &str, ns: &str, name: &str, reason: &str, note: &str, ago: u64) -> ClusterEvent {
    let at = rfc3339(ago).replace('Z', ".000000Z");
    let e: NewEvent = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}.{uid}"), "namespace": ns, "uid": uid},
        "eventTime": at, "reportingController": "kubelet", "reportingInstance": "node-f",
        "action": "Restart", "regarding": {"kind": "Pod", "name": name, "namespace": ns},
        "type": "Warning", "reason": reason, "note": note,
    }))
    .unwrap_or_default();
    ClusterEvent::from_events_v1(&e)
}

pub fn cluster_events() -> Vec<ClusterEvent> {
    let core = vec![
        core_event(
            "e1",
            ("default", "Node", "node-e"),
            true,
            "NodeNotReady",
            "Node node-e status is now: NodeNotReady",
            400,
        ),
        core_event(
            "e2",
            ("default", "Pod", "nginx-hangzhou-7d9f4-abcde"),
            false,
            "Started",
            "Started container nginx",
            7100,
        ),
        core_event(
            "e3",
            ("edge", "Pod", "telemetry-shanghai-8b4c2-pend1"),
            true,
            "FailedScheduling",
            "0/7 nodes are available: 6 node(s) didn't match Pod's node affinity/selector.",
            100,
        ),
        core_event(
            "e4",
            ("default", "Deployment", "nginx-beijing"),
            false,
            "ScalingReplicaSet",
            "Scaled up replica set nginx-beijing-5c6d8 to 3",
            3600,
        ),
    ];
    let v1 = vec![new_event(
        "e5",
        "edge",
        "telemetry-shanghai-8b4c2-zz9q1",
        "BackOff",
        "Back-off restarting failed container agent",
        20,
    )];
    cluster_events::merge(core, v1)
}

pub fn node_leases() -> Vec<NodeLease> {
    let ago = |s: u64| Some(now() - Duration::from_secs(s));
    ["node-a", "node-b", "node-c", "node-d", "node-f", "node-g"]
        .iter()
        .enumerate()
        .map(|(i, n)| NodeLease {
            node: (*n).into(),
            renewed: ago(2 + i as u64),
        })
        .chain([NodeLease {
            node: "node-e".into(),
            renewed: ago(420),
        }])
        .collect()
}
