//! The core/v1 Events a kubelet, the scheduler and the node lifecycle
//! controller would have recorded for a step: read off the transitions
//! between the objects before the step and the step's mutations, so the
//! step itself stays free of bookkeeping and a step that changes nothing
//! records nothing.
//!
//! Recorded: `Scheduled` (a pod bound), `FailedScheduling` (a pod turned
//! unschedulable, with the scheduler's message), `Started` (a container
//! became ready), `BackOff` (a crash-looping container restarted),
//! `NodeNotReady` / `NodeReady` (a node's Ready condition changed). Like
//! kube-apiserver's default event TTL, the driver drops them after an hour
//! ([`expired`]).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::object;
use super::{Mutation, World};

/// How long the driver keeps a recorded Event (kube-apiserver's `--event-ttl` default).
pub const TTL_SECONDS: i64 = 3600;

/// The `source.component` of every Event recorded here; the driver expires only those.
pub const COMPONENTS: [&str; 3] = ["kubelet", "default-scheduler", "node-controller"];

struct Record<'a> {
    involved: &'a Value,
    kind: &'static str,
    reason: &'static str,
    message: String,
    component: &'static str,
    host: Option<&'a str>,
    /// Distinguishes two events about one object in one step.
    detail: &'a str,
}

/// The Events for `mutations` applied to `world` at `now`.
pub fn record(world: &World<'_>, mutations: &[Mutation], now: Timestamp) -> Vec<Value> {
    let before: BTreeMap<(&str, &str, &str), &Value> = world
        .pods
        .iter()
        .chain(&world.nodes)
        .map(|o| ((object::kind(o), object::namespace(o), object::name(o)), *o))
        .collect();
    let mut records = Vec::new();
    for mutation in mutations {
        let (Mutation::Create(after) | Mutation::Replace(after)) = mutation else {
            continue;
        };
        let old = before
            .get(&(
                object::kind(after),
                object::namespace(after),
                object::name(after),
            ))
            .copied();
        match object::kind(after) {
            "Pod" => pod_records(old, after, &mut records),
            "Node" => node_records(old, after, &mut records),
            _ => {}
        }
    }
    records.iter().map(|r| event(r, now)).collect()
}

fn pod_records<'a>(old: Option<&'a Value>, pod: &'a Value, out: &mut Vec<Record<'a>>) {
    let node = object::str_at(pod, "/spec/nodeName");
    let ns = object::namespace(pod);
    let name = object::name(pod);
    if let Some(node) = node
        && old
            .and_then(|o| object::str_at(o, "/spec/nodeName"))
            .is_none()
    {
        out.push(Record {
            involved: pod,
            kind: "Normal",
            reason: "Scheduled",
            message: format!("Successfully assigned {ns}/{name} to {node}"),
            component: "default-scheduler",
            host: None,
            detail: "",
        });
    }
    let unschedulable = |p: &Value| {
        object::condition(p, "PodScheduled").and_then(|c| object::str_at(c, "/reason"))
            == Some("Unschedulable")
    };
    if unschedulable(pod) && !old.is_some_and(unschedulable) {
        let message = object::condition(pod, "PodScheduled")
            .and_then(|c| object::str_at(c, "/message"))
            .unwrap_or("no node is available")
            .to_string();
        out.push(Record {
            involved: pod,
            kind: "Warning",
            reason: "FailedScheduling",
            message,
            component: "default-scheduler",
            host: None,
            detail: "",
        });
    }
    let statuses = |p: &'a Value| -> BTreeMap<&'a str, &'a Value> {
        p.pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| Some((object::str_at(s, "/name")?, s)))
            .collect()
    };
    let was = old.map(statuses).unwrap_or_default();
    for (container, now) in statuses(pod) {
        let then = was.get(container);
        let ready = |s: &Value| s.get("ready").and_then(Value::as_bool) == Some(true);
        let restarts = |s: &Value| s.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        if ready(now) && !then.is_some_and(|t| ready(t)) {
            out.push(Record {
                involved: pod,
                kind: "Normal",
                reason: "Started",
                message: format!("Started container {container}"),
                component: "kubelet",
                host: node,
                detail: container,
            });
        }
        let backing_off = object::str_at(now, "/state/waiting/reason") == Some("CrashLoopBackOff");
        if backing_off && restarts(now) > then.map_or(0, |t| restarts(t)) {
            out.push(Record {
                involved: pod,
                kind: "Warning",
                reason: "BackOff",
                message: format!("Back-off restarting failed container {container} in pod {name}"),
                component: "kubelet",
                host: node,
                detail: container,
            });
        }
    }
}

fn node_records<'a>(old: Option<&'a Value>, node: &'a Value, out: &mut Vec<Record<'a>>) {
    let Some(now) = object::condition_status(node, "Ready") else {
        return;
    };
    let then = old.and_then(|o| object::condition_status(o, "Ready"));
    if then.is_none_or(|t| t == now) {
        return;
    }
    let (kind, reason, word) = if now == "True" {
        ("Normal", "NodeReady", "NodeReady")
    } else {
        ("Normal", "NodeNotReady", "NodeNotReady")
    };
    out.push(Record {
        involved: node,
        kind,
        reason,
        message: format!("Node {} status is now: {word}", object::name(node)),
        component: "node-controller",
        host: None,
        detail: "",
    });
}

fn event(r: &Record<'_>, now: Timestamp) -> Value {
    let kind = object::kind(r.involved);
    let name = object::name(r.involved);
    // Nodes are cluster-scoped; their events live in `default`, as kubectl shows them.
    let namespace = match object::namespace(r.involved) {
        "" => "default",
        ns => ns,
    };
    let at = object::rfc3339(now);
    let suffix = object::hex(
        &[
            kind,
            namespace,
            name,
            r.reason,
            r.detail,
            &now.as_nanosecond().to_string(),
        ],
        16,
    );
    let mut source = json!({ "component": r.component });
    if let Some(host) = r.host {
        source["host"] = json!(host);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": format!("{name}.{suffix}"), "namespace": namespace },
        "involvedObject": {
            "apiVersion": object::api_version(r.involved),
            "kind": kind,
            "name": name,
            "namespace": object::namespace(r.involved),
            "uid": object::uid(r.involved),
        },
        "reason": r.reason,
        "message": r.message,
        "type": r.kind,
        "source": source,
        "reportingComponent": r.component,
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
    })
}

/// Whether an Event in the store is one of ours and older than [`TTL_SECONDS`].
pub fn expired(event: &Value, now: Timestamp) -> bool {
    let ours = object::str_at(event, "/source/component").is_some_and(|c| COMPONENTS.contains(&c));
    let last = object::seconds_at(event, "/lastTimestamp");
    ours && last.is_some_and(|t| now.as_second() - t > TTL_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    fn pod(node: Option<&str>, ready: bool, restarts: i64, waiting: Option<&str>) -> Value {
        let mut status =
            json!({"name": "app", "ready": ready, "restartCount": restarts, "state": {}});
        if let Some(reason) = waiting {
            status["state"] = json!({"waiting": {"reason": reason}});
        }
        let mut p = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "apps", "uid": "u1"},
            "spec": {}, "status": {"containerStatuses": [status]}});
        if let Some(n) = node {
            p["spec"]["nodeName"] = json!(n);
        }
        p
    }

    fn reasons(events: &[Value]) -> Vec<&str> {
        events
            .iter()
            .map(|e| e["reason"].as_str().unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_bound_pod_that_turns_ready_is_scheduled_then_started() {
        let pending = pod(None, false, 0, None);
        let world = World::from_objects([&pending]);
        let bound = pod(Some("edge-1"), false, 0, None);
        let events = record(&world, &[Mutation::Replace(bound.clone())], at(0));
        assert_eq!(reasons(&events), ["Scheduled"]);
        assert_eq!(
            events[0]["message"],
            "Successfully assigned apps/web-1 to edge-1"
        );
        assert_eq!(events[0]["involvedObject"]["uid"], "u1");
        assert_eq!(events[0]["metadata"]["namespace"], "apps");

        let world = World::from_objects([&bound]);
        let ready = pod(Some("edge-1"), true, 0, None);
        let events = record(&world, &[Mutation::Replace(ready.clone())], at(3));
        assert_eq!(reasons(&events), ["Started"]);
        assert_eq!(events[0]["source"]["host"], "edge-1");

        // Nothing changed: nothing recorded.
        let world = World::from_objects([&ready]);
        assert!(record(&world, &[Mutation::Replace(ready.clone())], at(4)).is_empty());
    }

    #[test]
    fn a_crash_loop_is_a_warning_per_restart() {
        let first = pod(Some("edge-1"), false, 1, Some("CrashLoopBackOff"));
        let world = World::from_objects([&first]);
        let again = pod(Some("edge-1"), false, 2, Some("CrashLoopBackOff"));
        let events = record(&world, &[Mutation::Replace(again.clone())], at(10));
        assert_eq!(reasons(&events), ["BackOff"]);
        assert_eq!(events[0]["type"], "Warning");
        let world = World::from_objects([&again]);
        assert!(record(&world, &[Mutation::Replace(again.clone())], at(11)).is_empty());
    }

    #[test]
    fn an_unschedulable_pod_says_why_once() {
        let mut stuck = pod(None, false, 0, None);
        stuck["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]);
        let world = World::default();
        let events = record(&world, &[Mutation::Create(stuck.clone())], at(0));
        assert_eq!(reasons(&events), ["FailedScheduling"]);
        assert!(
            events[0]["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("0/3 nodes")
        );
        let world = World::from_objects([&stuck]);
        assert!(record(&world, &[Mutation::Replace(stuck.clone())], at(1)).is_empty());
    }

    #[test]
    fn a_node_going_unknown_and_back_is_recorded_in_default() {
        let node = |status: &str| {
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "edge-1", "uid": "n1"},
                "status": {"conditions": [{"type": "Ready", "status": status}]}})
        };
        let up = node("True");
        let down = node("Unknown");
        let events = record(
            &World::from_objects([&up]),
            &[Mutation::Replace(down.clone())],
            at(0),
        );
        assert_eq!(reasons(&events), ["NodeNotReady"]);
        assert_eq!(events[0]["metadata"]["namespace"], "default");
        assert_eq!(events[0]["involvedObject"]["namespace"], "");
        let events = record(
            &World::from_objects([&down]),
            &[Mutation::Replace(up)],
            at(60),
        );
        assert_eq!(reasons(&events), ["NodeReady"]);
    }

    #[test]
    fn only_our_events_expire_and_only_after_the_ttl() {
        let world = World::default();
        let stuck = {
            let mut p = pod(None, false, 0, None);
            p["status"]["conditions"] =
                json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]);
            p
        };
        let ours = record(&world, &[Mutation::Create(stuck)], at(0)).remove(0);
        assert!(!expired(&ours, at(TTL_SECONDS)));
        assert!(expired(&ours, at(TTL_SECONDS + 1)));
        let mut theirs = ours.clone();
        theirs["source"] = json!({"component": "my-operator"});
        assert!(!expired(&theirs, at(10 * TTL_SECONDS)));
    }
}
