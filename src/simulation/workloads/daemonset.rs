//! DaemonSet → one pod per eligible node (node selector, required node
//! affinity, taints with the default daemon tolerations), pinned with
//! `matchFields metadata.name`; rolling update within `maxUnavailable`;
//! status.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{PodIndex, min_ready_seconds, pod_from_template, sort_for_deletion, status_update};
use crate::simulation::Mutation;
use crate::simulation::kubelet::{is_available, is_ready};
use crate::simulation::object;
use crate::simulation::scheduler::{node_name, selector_matches, untolerated_taint};

const REVISION_LABEL: &str = "controller-revision-hash";

/// Tolerations the DaemonSet controller adds to every daemon pod.
fn default_tolerations() -> [Value; 6] {
    [
        json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}),
        json!({"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"}),
        json!({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}),
    ]
}

/// The template's pod spec with the default daemon tolerations merged in.
fn daemon_spec(ds: &Value) -> Value {
    let mut spec = ds
        .pointer("/spec/template/spec")
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut tolerations: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for t in default_tolerations() {
        let same = |x: &Value| x.get("key") == t.get("key") && x.get("effect") == t.get("effect");
        if !tolerations.iter().any(same) {
            tolerations.push(t);
        }
    }
    spec["tolerations"] = Value::Array(tolerations);
    spec
}

/// The node a daemon pod is for: its nodeName, or the node its
/// `matchFields` affinity pins it to.
fn target_node(pod: &Value) -> Option<&str> {
    node_name(pod).or_else(|| {
        pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
            .and_then(Value::as_str)
    })
}

/// Reconciles every DaemonSet against the nodes and the pods it controls.
pub fn daemonsets(
    daemonsets: &[&Value],
    pods: &[&Value],
    nodes: &[&Value],
    now: Timestamp,
) -> Vec<Mutation> {
    let mut index = PodIndex::new(pods);
    let mut sorted_nodes: Vec<&Value> = nodes.to_vec();
    sorted_nodes.sort_by(|a, b| object::name(a).cmp(object::name(b)));
    let mut out = Vec::new();
    for ds in daemonsets {
        if object::is_deleting(ds) || !ds.is_object() {
            continue;
        }
        reconcile(ds, &mut index, &sorted_nodes, now, &mut out);
    }
    out
}

fn reconcile(
    ds: &Value,
    index: &mut PodIndex<'_>,
    nodes: &[&Value],
    now: Timestamp,
    out: &mut Vec<Mutation>,
) {
    let name = object::name(ds);
    let ns = object::namespace(ds);
    let hash = object::template_hash(ds.pointer("/spec/template"));
    let spec = daemon_spec(ds);
    let eligible: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| selector_matches(&spec, n) && untolerated_taint(&spec, n).is_none())
        .map(|n| object::name(n))
        .collect();
    let desired = i64::try_from(eligible.len()).unwrap_or(0);
    let min_ready = min_ready_seconds(ds);
    let now_s = now.as_second();
    let available = |p: &Value| is_available(p, min_ready, now_s);

    let mut by_node: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    let mut deleted: Vec<&Value> = Vec::new();
    for pod in index.owned(ds) {
        match target_node(pod) {
            Some(node) if eligible.contains(&node) => by_node.entry(node).or_default().push(pod),
            _ => deleted.push(pod),
        }
    }
    for pods in by_node.values_mut() {
        if pods.len() > 1 {
            sort_for_deletion(pods);
            let extra = pods.len() - 1;
            deleted.extend(pods.drain(..extra));
        }
    }
    let mut created = Vec::new();
    for node in &eligible {
        if by_node.contains_key(node) {
            continue;
        }
        let pod_name = index.fresh_name(ns, &format!("{name}-"), &[ns, name, node, &hash]);
        let mut pod = pod_from_template(
            ds,
            &pod_name,
            &[
                (REVISION_LABEL, hash.clone()),
                (
                    "pod-template-generation",
                    object::generation(ds).to_string(),
                ),
            ],
        );
        pod["spec"]["tolerations"] = spec
            .get("tolerations")
            .cloned()
            .unwrap_or_else(|| json!([]));
        let pin = json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]);
        if let Some(affinity) = object::map_mut(&mut pod["spec"], "affinity").and_then(|a| {
            let entry = a.entry("nodeAffinity").or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            entry.as_object_mut()
        }) {
            affinity.insert(
                "requiredDuringSchedulingIgnoredDuringExecution".into(),
                json!({"nodeSelectorTerms": pin}),
            );
        }
        created.push(pod);
    }

    // Rolling update within maxUnavailable (unavailable old pods go at once).
    let on_delete = ds
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete");
    if !on_delete {
        let max_unavailable = object::int_or_percent(
            ds.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable"),
            desired,
            "1",
            true,
        )
        .max(1);
        let kept: Vec<&Value> = by_node.values().flatten().copied().collect();
        let mut unavailable =
            desired - i64::try_from(kept.iter().filter(|p| available(p)).count()).unwrap_or(0);
        let mut old: Vec<&Value> = kept
            .iter()
            .copied()
            .filter(|p| object::label(p, REVISION_LABEL) != Some(hash.as_str()))
            .collect();
        sort_for_deletion(&mut old);
        for pod in old {
            if !available(pod) {
                deleted.push(pod);
            } else if unavailable < max_unavailable {
                deleted.push(pod);
                unavailable += 1;
            }
        }
    }

    let remaining: Vec<&Value> = by_node
        .values()
        .flatten()
        .copied()
        .filter(|p| !deleted.iter().any(|d| std::ptr::eq(*d, *p)))
        .chain(created.iter())
        .collect();
    let count = |f: &dyn Fn(&Value) -> bool| -> i64 {
        i64::try_from(remaining.iter().filter(|p| f(p)).count()).unwrap_or(0)
    };
    let avail = count(&|p| available(p));
    let fields = [
        ("observedGeneration", json!(object::generation(ds))),
        ("desiredNumberScheduled", json!(desired)),
        ("currentNumberScheduled", json!(count(&|_| true))),
        ("numberMisscheduled", json!(0)),
        ("numberReady", json!(count(&|p| is_ready(p)))),
        (
            "updatedNumberScheduled",
            json!(count(
                &|p| object::label(p, REVISION_LABEL) == Some(hash.as_str())
            )),
        ),
        ("numberAvailable", json!(avail)),
        ("numberUnavailable", json!((desired - avail).max(0))),
    ];
    out.extend(deleted.iter().map(|p| Mutation::delete(p)));
    out.extend(created.into_iter().map(Mutation::Create));
    let always = [
        "observedGeneration",
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberMisscheduled",
        "numberReady",
    ];
    out.extend(status_update(ds, &fields, &always, None));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::workloads::testing::{apply_all, find, pods_of};

    fn now() -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap_or_default()
    }

    fn node(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    }

    fn ds() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "metrics", "namespace": "kube-system", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "metrics"}},
                "template": {"metadata": {"labels": {"app": "metrics"}},
                    "spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                        "containers": [{"name": "m", "image": "node-exporter:v1"}]}}}})
    }

    fn run(objects: &mut Vec<Value>) -> Vec<Mutation> {
        let d = find(objects, "DaemonSet", "metrics").clone();
        let nodes: Vec<&Value> = objects
            .iter()
            .filter(|o| object::kind(o) == "Node")
            .collect();
        let muts = daemonsets(&[&d], &pods_of(objects), &nodes, now());
        apply_all(objects, &muts);
        muts
    }

    /// Binds each daemon pod to its target and makes it ready.
    fn kubelet(objects: &mut [Value]) {
        for o in objects.iter_mut().filter(|o| object::kind(o) == "Pod") {
            let target = target_node(o).unwrap_or("").to_string();
            o["spec"]["nodeName"] = json!(target);
            o["status"] = json!({"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]});
        }
    }

    #[test]
    fn one_pod_per_eligible_node() {
        let mut cp = node("cp", json!({"kubernetes.io/os": "linux"}));
        cp["spec"] = json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]});
        let mut objects = vec![
            ds(),
            node("a", json!({"kubernetes.io/os": "linux"})),
            node("b", json!({"kubernetes.io/os": "linux"})),
            node("w", json!({"kubernetes.io/os": "windows"})),
            cp,
        ];
        let muts = run(&mut objects);
        assert_eq!(
            muts.iter()
                .filter(|m| matches!(m, Mutation::Create(_)))
                .count(),
            2
        );
        let mut targets: Vec<String> = pods_of(&objects)
            .iter()
            .map(|p| target_node(p).unwrap_or("").to_string())
            .collect();
        targets.sort();
        assert_eq!(targets, ["a", "b"]);
        let pod = pods_of(&objects)[0];
        assert!(object::name(pod).starts_with("metrics-"));
        let tolerations = pod["spec"]["tolerations"].as_array().map(Vec::len);
        assert_eq!(tolerations, Some(6));
        let status = &find(&objects, "DaemonSet", "metrics")["status"];
        assert_eq!(status["desiredNumberScheduled"], 2);
        assert_eq!(status["currentNumberScheduled"], 2);
        assert_eq!(status["numberReady"], 0);
        assert_eq!(status["numberUnavailable"], 2);
        kubelet(&mut objects);
        run(&mut objects);
        assert!(run(&mut objects).is_empty());
        let status = &find(&objects, "DaemonSet", "metrics")["status"];
        assert_eq!(status["numberReady"], 2);
        assert_eq!(status["numberAvailable"], 2);
        assert_eq!(status["updatedNumberScheduled"], 2);
        assert!(status.get("numberUnavailable").is_none());

        // Tolerating the control plane adds a pod there; a node losing its label loses its pod.
        objects[0]["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]);
        objects[2]["metadata"]["labels"]["kubernetes.io/os"] = json!("windows");
        for _ in 0..10 {
            run(&mut objects);
            kubelet(&mut objects);
        }
        let mut targets: Vec<String> = pods_of(&objects)
            .iter()
            .map(|p| target_node(p).unwrap_or("").to_string())
            .collect();
        targets.sort();
        assert_eq!(targets, ["a", "cp"]);
        let status = &find(&objects, "DaemonSet", "metrics")["status"];
        assert_eq!(status["updatedNumberScheduled"], 2);
        assert_eq!(status["desiredNumberScheduled"], 2);
    }

    #[test]
    fn rolling_update_respects_max_unavailable() {
        let mut objects = vec![
            ds(),
            node("a", json!({"kubernetes.io/os": "linux"})),
            node("b", json!({"kubernetes.io/os": "linux"})),
            node("c", json!({"kubernetes.io/os": "linux"})),
        ];
        run(&mut objects);
        kubelet(&mut objects);
        run(&mut objects);
        objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] =
            json!("node-exporter:v2");
        let muts = run(&mut objects);
        assert_eq!(
            muts.iter()
                .filter(|m| matches!(m, Mutation::Delete(_)))
                .count(),
            1
        );
    }
}
