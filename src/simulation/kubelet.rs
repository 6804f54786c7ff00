//! The kubelet, the pod garbage collector and the node lifecycle
//! controller's pod handling: bound pods on Ready online nodes start (phase
//! Running, podIP, container statuses) and become Ready `ready_after` after
//! they started; pods on NotReady nodes are marked not ready; pods of
//! deleted nodes and terminating pods without finalizers are removed.
//!
//! A container whose image tag is `broken` (`nginx:broken`,
//! `reg.io/app:broken`) crash-loops, so a bad release can be staged in
//! demos and tests: it never becomes ready, its status says `waiting` with
//! reason `CrashLoopBackOff`, `lastState.terminated` exit code 1, and its
//! `restartCount` grows by one every [`CRASH_PERIOD_S`] seconds after the
//! pod started. Its pod stays Running and never Ready. The console's log
//! view relies on exactly this contract.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::nodes::{self, is_ready as node_ready};
use super::object::{self, Cond, CondStyle};
use super::scheduler::node_name;
use super::{Config, Mutation, Offline};

/// The image tag that makes a simulated container crash-loop.
pub const BROKEN_TAG: &str = "broken";
/// Seconds between two restarts of a crash-looping container.
pub const CRASH_PERIOD_S: i64 = 10;

/// Whether a container with this image crash-loops in the simulation.
pub fn is_broken_image(image: &str) -> bool {
    crate::engine::image::ImageRef::parse(image).is_ok_and(|i| i.tag.as_deref() == Some(BROKEN_TAG))
}

fn has_broken_container(pod: &Value) -> bool {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .filter_map(|c| c.get("image").and_then(Value::as_str))
                .any(is_broken_image)
        })
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    object::condition_status(pod, "Ready") == Some("True")
}

/// Ready for at least `min_ready_seconds` (what workload controllers call available).
pub fn is_available(pod: &Value, min_ready_seconds: i64, now_s: i64) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    object::condition(pod, "Ready")
        .and_then(|c| object::seconds_at(c, "/lastTransitionTime"))
        .is_some_and(|t| t.saturating_add(min_ready_seconds) <= now_s)
}

/// When a started, not yet ready pod becomes ready (seconds since the epoch).
pub fn ready_at(pod: &Value, config: &Config) -> Option<i64> {
    if is_ready(pod) || object::str_at(pod, "/status/phase") != Some("Running") {
        return None;
    }
    object::seconds_at(pod, "/status/startTime").map(|t| t.saturating_add(config.ready_after_s()))
}

/// Free host addresses of a CIDR, lowest first (network, gateway `.1` and
/// broadcast excluded).
fn host_range(cidr: (Ipv4Addr, u8)) -> Option<(u32, u32)> {
    let (ip, prefix) = cidr;
    if prefix > 30 {
        return None;
    }
    let size = 1u64 << (32 - u32::from(prefix));
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    let base = u32::from(ip) & mask;
    let last = u64::from(base) + size - 2;
    Some((
        base.saturating_add(2),
        u32::try_from(last).unwrap_or(u32::MAX),
    ))
}

fn allocate_ip(node: &Value, used: &mut BTreeSet<u32>) -> Option<String> {
    let (first, last) = host_range(nodes::pod_cidr(node)?)?;
    let mut candidate = first;
    while candidate <= last {
        if used.insert(candidate) {
            return Some(Ipv4Addr::from(candidate).to_string());
        }
        candidate = candidate.checked_add(1)?;
    }
    None
}

/// `docker.io/library/nginx@sha256:…` style image id for an image reference.
fn image_id(image: &str) -> String {
    let repo = match image.split_once('@') {
        Some((repo, _)) => repo.to_string(),
        None => {
            let slash = image.rfind('/').map_or(0, |i| i + 1);
            match image[slash..].rfind(':') {
                Some(colon) => image[..slash + colon].to_string(),
                None => image.to_string(),
            }
        }
    };
    let first = repo.split('/').next().unwrap_or("");
    let has_registry =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        repo
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    format!("{full}@sha256:{}", object::hex(&[image], 64))
}

/// Kubernetes' QoS class from container requests and limits.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let res = |c: &Value, kind: &str, r: &str| -> Option<String> {
        c.pointer(&format!("/resources/{kind}/{r}")).map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
    };
    let any = containers.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|k| ["cpu", "memory"].iter().any(|r| res(c, k, r).is_some()))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = !containers.is_empty()
        && containers.iter().all(|c| {
            ["cpu", "memory"].iter().all(|r| {
                let limit = res(c, "limits", r);
                limit.is_some() && res(c, "requests", r).is_none_or(|req| Some(req) == limit)
            })
        });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn container_names(pod: &Value) -> Vec<String> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The status of a started pod on a healthy node.
fn running_status(
    pod: &Value,
    node: &Value,
    ip: &str,
    start: &str,
    ready: bool,
    now: &str,
) -> Value {
    let mut status: Map<String, Value> = pod
        .get("status")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut conditions = object::conditions_of(pod);
    let names = container_names(pod);
    let pod_ready = ready && !has_broken_container(pod);
    let ready_s = if pod_ready { "True" } else { "False" };
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let (reason, message) = if pod_ready {
        (None, None)
    } else {
        (Some("ContainersNotReady"), Some(unready.as_str()))
    };
    for (type_, status, reason, message) in [
        ("PodReadyToStartContainers", "True", None, None),
        ("Initialized", "True", None, None),
        ("Ready", ready_s, reason, message),
        ("ContainersReady", ready_s, reason, message),
        ("PodScheduled", "True", None, None),
    ] {
        let cond = Cond {
            type_,
            status,
            reason,
            message,
        };
        object::set_condition(&mut conditions, &cond, now, CondStyle::Pod);
    }
    let host_ip = nodes::internal_ip(node).unwrap_or("");
    let pod_key = format!("{}/{}", object::namespace(pod), object::name(pod));
    let statuses: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                    if is_broken_image(image) {
                        return crash_looping(&pod_key, name, image, start, now);
                    }
                    json!({
                        "containerID": format!("containerd://{}", object::hex(&[&pod_key, name, start], 64)),
                        "image": image,
                        "imageID": image_id(image),
                        "lastState": {},
                        "name": name,
                        "ready": ready,
                        "restartCount": 0,
                        "started": true,
                        "state": {"running": {"startedAt": start}},
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    status.insert("phase".into(), json!("Running"));
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("hostIP".into(), json!(host_ip));
    status.insert("hostIPs".into(), json!([{"ip": host_ip}]));
    status.insert("podIP".into(), json!(ip));
    status.insert("podIPs".into(), json!([{"ip": ip}]));
    status.insert("startTime".into(), json!(start));
    status.insert(
        "qosClass".into(),
        json!(qos_class(pod.get("spec").unwrap_or(&Value::Null))),
    );
    status.insert("containerStatuses".into(), Value::Array(statuses));
    Value::Object(status)
}

/// A container that exits with 1 every [`CRASH_PERIOD_S`] seconds since
/// `start`, as the kubelet reports one in back-off.
fn crash_looping(pod_key: &str, name: &str, image: &str, start: &str, now: &str) -> Value {
    let seconds = |t: &str| object::parse_time(Some(&json!(t))).map(|t| t.as_second());
    let (start_s, now_s) = (seconds(start).unwrap_or(0), seconds(now).unwrap_or(0));
    let restarts = 1 + (now_s - start_s).max(0) / CRASH_PERIOD_S;
    let last_run = start_s + (restarts - 1) * CRASH_PERIOD_S;
    let at = |s: i64| Timestamp::from_second(s).map_or_else(|_| start.to_owned(), object::rfc3339);
    json!({
        "containerID": format!("containerd://{}", object::hex(&[pod_key, name, &restarts.to_string()], 64)),
        "image": image,
        "imageID": image_id(image),
        "lastState": {"terminated": {
            "exitCode": 1,
            "reason": "Error",
            "startedAt": at(last_run),
            "finishedAt": at(last_run + 1),
        }},
        "name": name,
        "ready": false,
        "restartCount": restarts,
        "started": false,
        "state": {"waiting": {
            "reason": "CrashLoopBackOff",
            "message": format!("back-off {CRASH_PERIOD_S}s restarting failed container={name} pod={pod_key}"),
        }},
    })
}

/// Ready=False (and ContainersReady unchanged), as the node lifecycle
/// controller writes when a node stops reporting.
fn mark_not_ready(pod: &Value, now: &str) -> Value {
    let mut next = pod.clone();
    let mut conditions = object::conditions_of(pod);
    let cond = Cond {
        type_: "Ready",
        status: "False",
        reason: None,
        message: None,
    };
    object::set_condition(&mut conditions, &cond, now, CondStyle::Pod);
    if let Some(status) = object::map_mut(&mut next, "status") {
        status.insert("conditions".into(), Value::Array(conditions));
        if let Some(cs) = status
            .get_mut("containerStatuses")
            .and_then(Value::as_array_mut)
        {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                c.insert("ready".into(), json!(false));
            }
        }
    }
    next
}

/// Fast path: a running pod with an IP on a healthy node whose readiness is
/// already what time says it should be.
fn settled(pod: &Value, node: &Value, offline: bool, now_s: i64, config: &Config) -> bool {
    if offline || !node_ready(node) || has_broken_container(pod) {
        return false;
    }
    let running = object::str_at(pod, "/status/phase") == Some("Running")
        && object::str_at(pod, "/status/podIP").is_some_and(|ip| !ip.is_empty())
        && object::str_at(pod, "/status/hostIP") == nodes::internal_ip(node);
    let Some(start) = object::seconds_at(pod, "/status/startTime") else {
        return false;
    };
    let due = start.saturating_add(config.ready_after_s()) <= now_s;
    running
        && object::condition_status(pod, "ContainersReady")
            == Some(if due { "True" } else { "False" })
        && object::condition_status(pod, "Ready") == Some(if due { "True" } else { "False" })
}

/// One pass of every kubelet plus pod GC over `pods`.
pub fn sync(
    pods: &[&Value],
    nodes: &[&Value],
    offline: &Offline,
    now: Timestamp,
    config: &Config,
) -> Vec<Mutation> {
    let by_name: BTreeMap<&str, &Value> = nodes.iter().map(|n| (object::name(n), *n)).collect();
    let now_s = now.as_second();
    let now_text = object::rfc3339(now);
    // Addresses in use per node.
    let mut used: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for pod in pods {
        if let (Some(node), Some(ip)) = (
            node_name(pod),
            object::str_at(pod, "/status/podIP").and_then(|ip| ip.parse::<Ipv4Addr>().ok()),
        ) {
            used.entry(node).or_default().insert(u32::from(ip));
        }
    }
    let mut out = Vec::new();
    for pod in pods {
        if object::is_deleting(pod) {
            if !object::has_finalizers(pod) {
                out.push(Mutation::delete(pod));
            }
            continue;
        }
        let Some(node_name) = node_name(pod) else {
            continue;
        };
        let Some(node) = by_name.get(node_name) else {
            out.push(Mutation::delete(pod));
            continue;
        };
        if matches!(
            object::str_at(pod, "/status/phase"),
            Some("Succeeded" | "Failed")
        ) {
            continue;
        }
        if settled(pod, node, offline.contains(node_name), now_s, config) {
            continue;
        }
        let started = object::str_at(pod, "/status/startTime").map(str::to_string);
        let ip = object::str_at(pod, "/status/podIP").map(str::to_string);
        let next = if !node_ready(node) {
            if is_ready(pod) || object::condition_status(pod, "Ready").is_some_and(|s| s != "False")
            {
                Some(mark_not_ready(pod, &now_text))
            } else {
                None
            }
        } else if offline.contains(node_name) {
            // Nobody hears from the kubelet, but nobody knows yet either.
            None
        } else {
            let ip = match ip.filter(|ip| !ip.is_empty()) {
                Some(ip) => Some(ip),
                None => allocate_ip(node, used.entry(node_name).or_default()),
            };
            ip.map(|ip| {
                let start = started.unwrap_or_else(|| now_text.clone());
                let start_s = object::parse_time(Some(&json!(start)))
                    .map(|t| t.as_second())
                    .unwrap_or(now_s);
                let ready = start_s.saturating_add(config.ready_after_s()) <= now_s;
                let mut next = (*pod).clone();
                if let Some(map) = next.as_object_mut() {
                    map.insert(
                        "status".into(),
                        running_status(pod, node, &ip, &start, ready, &now_text),
                    );
                }
                next
            })
        };
        if let Some(next) = next
            && next != **pod
        {
            out.push(Mutation::Replace(next));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + s).unwrap_or_default()
    }

    fn node(ready: bool) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "spec": {"podCIDR": "10.128.3.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.16.0.13"}],
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"Unknown"}}]}})
    }

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx:1.27"}]},
            "status": {"phase": "Pending"}})
    }

    #[test]
    fn a_broken_tag_crash_loops_and_never_becomes_ready() {
        let n = node(true);
        let config = Config::default();
        let off = Offline::new();
        let mut p = pod("bad");
        p["spec"]["containers"] = json!([
            {"name": "web", "image": "reg.io/nginx:broken"},
            {"name": "side", "image": "busybox:1"}]);
        let started = one(sync(&[&p], &[&n], &off, t(0), &config));
        let web = &started["status"]["containerStatuses"][0];
        assert_eq!(web["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(web["restartCount"], 1);
        assert_eq!(web["ready"], false);
        assert_eq!(web["lastState"]["terminated"]["exitCode"], 1);
        let later = one(sync(&[&started], &[&n], &off, t(35), &config));
        assert_eq!(later["status"]["phase"], "Running");
        assert_eq!(later["status"]["containerStatuses"][0]["restartCount"], 4);
        assert_eq!(
            later["status"]["containerStatuses"][1]["ready"], true,
            "the sidecar runs"
        );
        assert!(!is_ready(&later), "never Ready");
        assert_eq!(
            object::condition_status(&later, "ContainersReady"),
            Some("False")
        );
        // Within one crash period nothing changes: no write per pass.
        assert!(sync(&[&later], &[&n], &off, t(36), &config).is_empty());
        assert!(is_broken_image("nginx:broken"));
        assert!(!is_broken_image("broken:1"), "the tag, not the name");
        assert!(!is_broken_image(
            "nginx@sha256:0123456789abcdef0123456789abcdef"
        ));
    }

    fn one(muts: Vec<Mutation>) -> Value {
        match muts.as_slice() {
            [Mutation::Replace(v)] => v.clone(),
            other => panic!("expected one replace, got {other:?}"),
        }
    }

    #[test]
    fn pods_start_then_become_ready() {
        let n = node(true);
        let config = Config::default();
        let off = Offline::new();
        let running = one(sync(&[&pod("a")], &[&n], &off, t(0), &config));
        assert_eq!(running["status"]["phase"], "Running");
        assert_eq!(running["status"]["podIP"], "10.128.3.2");
        assert_eq!(running["status"]["hostIP"], "172.16.0.13");
        assert_eq!(running["status"]["qosClass"], "BestEffort");
        assert_eq!(object::condition_status(&running, "Ready"), Some("False"));
        assert_eq!(
            running["status"]["containerStatuses"][0]["imageID"]
                .as_str()
                .map(|s| s.starts_with("docker.io/library/nginx@sha256:")),
            Some(true)
        );
        assert_eq!(ready_at(&running, &config), Some(t(3).as_second()));
        assert!(sync(&[&running], &[&n], &off, t(2), &config).is_empty());
        let ready = one(sync(&[&running], &[&n], &off, t(3), &config));
        assert!(is_ready(&ready));
        assert_eq!(ready["status"]["containerStatuses"][0]["ready"], true);
        assert!(sync(&[&ready], &[&n], &off, t(100), &config).is_empty());
        assert!(is_available(&ready, 0, t(3).as_second()));
        assert!(!is_available(&ready, 10, t(5).as_second()));
        assert!(is_available(&ready, 10, t(13).as_second()));
        // A second pod gets the next address.
        let second = one(sync(&[&ready, &pod("b")], &[&n], &off, t(4), &config));
        assert_eq!(second["status"]["podIP"], "10.128.3.3");
    }

    #[test]
    fn not_ready_node_makes_pods_unready_and_back() {
        let config = Config::default();
        let off = Offline::new();
        let n = node(true);
        let running = one(sync(&[&pod("a")], &[&n], &off, t(0), &config));
        let ready = one(sync(&[&running], &[&n], &off, t(5), &config));
        let down = node(false);
        let unready = one(sync(&[&ready], &[&down], &off, t(60), &config));
        assert_eq!(object::condition_status(&unready, "Ready"), Some("False"));
        assert_eq!(unready["status"]["phase"], "Running");
        assert!(sync(&[&unready], &[&down], &off, t(70), &config).is_empty());
        let back = one(sync(&[&unready], &[&n], &off, t(80), &config));
        assert!(is_ready(&back));
    }

    #[test]
    fn offline_but_not_yet_detected_changes_nothing() {
        let mut off = Offline::new();
        off.take_offline(["n1"], t(0));
        assert!(sync(&[&pod("a")], &[&node(true)], &off, t(1), &Config::default()).is_empty());
    }

    #[test]
    fn orphans_and_terminating_pods_are_deleted() {
        let mut gone = pod("a");
        gone["spec"]["nodeName"] = json!("missing");
        let mut terminating = pod("b");
        terminating["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        let mut held = pod("c");
        held["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        held["metadata"]["finalizers"] = json!(["x"]);
        let out = sync(
            &[&gone, &terminating, &held],
            &[&node(true)],
            &Offline::new(),
            t(0),
            &Config::default(),
        );
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|m| matches!(m, Mutation::Delete(_))));
    }

    #[test]
    fn qos_and_image_ids() {
        assert_eq!(
            qos_class(
                &json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]})
            ),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]})),
            "Burstable"
        );
        assert!(
            image_id("registry.example.com:5000/vision/app:2.1")
                .starts_with("registry.example.com:5000/vision/app@sha256:")
        );
        assert!(
            image_id("prom/node-exporter:v1").starts_with("docker.io/prom/node-exporter@sha256:")
        );
        assert!(image_id("x@sha256:abc").starts_with("docker.io/library/x@sha256:"));
    }

    #[test]
    fn cidr_ranges() {
        assert_eq!(
            host_range((Ipv4Addr::new(10, 0, 0, 0), 24)),
            Some((
                u32::from(Ipv4Addr::new(10, 0, 0, 2)),
                u32::from(Ipv4Addr::new(10, 0, 0, 254))
            ))
        );
        assert_eq!(host_range((Ipv4Addr::new(10, 0, 0, 0), 31)), None);
        let tiny = json!({"spec": {"podCIDR": "10.0.0.0/30"}});
        let mut used = BTreeSet::new();
        assert_eq!(allocate_ip(&tiny, &mut used).as_deref(), Some("10.0.0.2"));
        assert_eq!(allocate_ip(&tiny, &mut used), None);
    }
}
