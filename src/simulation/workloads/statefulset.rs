//! StatefulSet → pods `<name>-<ordinal>`: OrderedReady or Parallel
//! management, rolling update from the highest ordinal (respecting
//! `partition`), OnDelete, and status with revisions.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{PodIndex, min_ready_seconds, pod_from_template, spec_replicas, status_update};
use crate::simulation::Mutation;
use crate::simulation::kubelet::{is_available, is_ready};
use crate::simulation::object;

const REVISION_LABEL: &str = "controller-revision-hash";

/// Reconciles every StatefulSet against the pods it controls.
pub fn statefulsets(statefulsets: &[&Value], pods: &[&Value], now: Timestamp) -> Vec<Mutation> {
    let mut index = PodIndex::new(pods);
    let mut out = Vec::new();
    for s in statefulsets {
        if object::is_deleting(s) || !s.is_object() {
            continue;
        }
        reconcile(s, &mut index, now, &mut out);
    }
    out
}

fn reconcile(s: &Value, index: &mut PodIndex<'_>, now: Timestamp, out: &mut Vec<Mutation>) {
    let name = object::name(s);
    let ns = object::namespace(s);
    let replicas = spec_replicas(s);
    let revision = format!(
        "{name}-{}",
        object::template_hash(s.pointer("/spec/template"))
    );
    let parallel = s
        .pointer("/spec/podManagementPolicy")
        .and_then(Value::as_str)
        == Some("Parallel");
    let on_delete = s
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete");
    let partition = s
        .pointer("/spec/updateStrategy/rollingUpdate/partition")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let min_ready = min_ready_seconds(s);
    let now_s = now.as_second();

    let mut by_ordinal: BTreeMap<i64, &Value> = BTreeMap::new();
    let mut deleted: Vec<&Value> = Vec::new();
    for pod in index.owned(s) {
        let ordinal = object::name(pod)
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|n| {
                n.parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0 && v.to_string() == n)
            });
        match ordinal {
            Some(n) if n < replicas => {
                by_ordinal.insert(n, pod);
            }
            _ => deleted.push(pod),
        }
    }
    let mut created: Vec<Value> = Vec::new();
    let mut waiting = false;
    for ordinal in 0..replicas {
        match by_ordinal.get(&ordinal) {
            Some(pod) => {
                if !is_ready(pod) && !parallel {
                    waiting = true;
                    break;
                }
            }
            None => {
                let pod_name = format!("{name}-{ordinal}");
                if !index.claim(ns, &pod_name) {
                    // Taken by a pod that is not ours: wait for it to go.
                    waiting = true;
                    break;
                }
                let mut pod = pod_from_template(
                    s,
                    &pod_name,
                    &[
                        (REVISION_LABEL, revision.clone()),
                        ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
                        ("apps.kubernetes.io/pod-index", ordinal.to_string()),
                    ],
                );
                if let Some(spec) = object::map_mut(&mut pod, "spec") {
                    spec.insert("hostname".into(), json!(pod_name));
                    if let Some(service) = s.pointer("/spec/serviceName").and_then(Value::as_str) {
                        spec.insert("subdomain".into(), json!(service));
                    }
                }
                created.push(pod);
                if !parallel {
                    waiting = true;
                    break;
                }
            }
        }
    }
    // Rolling update: one pod at a time, highest ordinal first, only when
    // everything else is in place and ready.
    if !waiting && created.is_empty() && deleted.is_empty() && !on_delete {
        let all_ready = by_ordinal.values().all(|p| is_ready(p));
        if all_ready
            && let Some((_, pod)) = by_ordinal.iter().rev().find(|(ordinal, pod)| {
                **ordinal >= partition
                    && object::label(pod, REVISION_LABEL) != Some(revision.as_str())
            })
        {
            deleted.push(pod);
        }
    }

    let remaining: Vec<&Value> = by_ordinal
        .values()
        .copied()
        .filter(|p| !deleted.iter().any(|d| std::ptr::eq(*d, *p)))
        .chain(created.iter())
        .collect();
    let count = |f: &dyn Fn(&Value) -> bool| -> i64 {
        i64::try_from(remaining.iter().filter(|p| f(p)).count()).unwrap_or(0)
    };
    let total = count(&|_| true);
    let updated = count(&|p| object::label(p, REVISION_LABEL) == Some(revision.as_str()));
    let current_revision = match object::str_at(s, "/status/currentRevision") {
        Some(current) if updated < replicas || total != replicas => current.to_string(),
        _ => revision.clone(),
    };
    let current = count(&|p| object::label(p, REVISION_LABEL) == Some(current_revision.as_str()));

    let fields = [
        ("observedGeneration", json!(object::generation(s))),
        ("replicas", json!(total)),
        ("readyReplicas", json!(count(&|p| is_ready(p)))),
        ("currentReplicas", json!(current)),
        ("updatedReplicas", json!(updated)),
        (
            "availableReplicas",
            json!(count(&|p| is_available(p, min_ready, now_s))),
        ),
        ("currentRevision", json!(current_revision)),
        ("updateRevision", json!(revision)),
        ("collisionCount", json!(0)),
    ];
    out.extend(deleted.iter().map(|p| Mutation::delete(p)));
    out.extend(created.into_iter().map(Mutation::Create));
    out.extend(status_update(
        s,
        &fields,
        &["observedGeneration", "replicas", "collisionCount"],
        None,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::workloads::testing::{apply_all, find, make_ready, pods_of};

    const T: &str = "2025-06-15T12:00:00Z";

    fn now() -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap_or_default()
    }

    fn sts(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "default", "uid": "s-uid", "generation": 2},
            "spec": {"replicas": replicas, "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": image}]}}}})
    }

    fn run(objects: &mut Vec<Value>) -> Vec<Mutation> {
        let s = find(objects, "StatefulSet", "db").clone();
        let muts = statefulsets(&[&s], &pods_of(objects), now());
        apply_all(objects, &muts);
        muts
    }

    fn pod_names(objects: &[Value]) -> Vec<String> {
        let mut names: Vec<String> = pods_of(objects)
            .iter()
            .map(|p| object::name(p).to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn ordered_creation_waits_for_readiness() {
        let mut objects = vec![sts(3, "pg:16")];
        run(&mut objects);
        assert_eq!(pod_names(&objects), ["db-0"]);
        let pod = find(&objects, "Pod", "db-0");
        assert_eq!(pod["spec"]["hostname"], "db-0");
        assert_eq!(pod["spec"]["subdomain"], "db");
        assert_eq!(
            object::label(pod, "apps.kubernetes.io/pod-index"),
            Some("0")
        );
        // Not ready: nothing more (status only settles).
        run(&mut objects);
        assert!(run(&mut objects).is_empty());
        assert_eq!(pod_names(&objects), ["db-0"]);
        for _ in 0..3 {
            make_ready(&mut objects, "n", T);
            run(&mut objects);
        }
        make_ready(&mut objects, "n", T);
        run(&mut objects);
        assert_eq!(pod_names(&objects), ["db-0", "db-1", "db-2"]);
        let s = find(&objects, "StatefulSet", "db");
        assert_eq!(s["status"]["readyReplicas"], 3);
        assert_eq!(
            s["status"]["currentRevision"],
            s["status"]["updateRevision"]
        );
    }

    #[test]
    fn parallel_scale_down_and_rolling_update() {
        let mut objects = vec![sts(3, "pg:16")];
        objects[0]["spec"]["podManagementPolicy"] = json!("Parallel");
        run(&mut objects);
        assert_eq!(pod_names(&objects).len(), 3);
        make_ready(&mut objects, "n", T);
        run(&mut objects);
        objects[0]["spec"]["replicas"] = json!(2);
        run(&mut objects);
        assert_eq!(pod_names(&objects), ["db-0", "db-1"]);
        // Update: the highest ordinal goes first.
        objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("pg:17");
        let muts = run(&mut objects);
        let deleted: Vec<String> = muts
            .iter()
            .filter_map(|m| match m {
                Mutation::Delete(r) => Some(r.name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, ["db-1"]);
        let s = find(&objects, "StatefulSet", "db");
        assert_ne!(
            s["status"]["currentRevision"],
            s["status"]["updateRevision"]
        );
        for _ in 0..6 {
            run(&mut objects);
            make_ready(&mut objects, "n", T);
        }
        run(&mut objects);
        let s = find(&objects, "StatefulSet", "db");
        assert_eq!(s["status"]["updatedReplicas"], 2);
        assert_eq!(
            s["status"]["currentRevision"],
            s["status"]["updateRevision"]
        );
        let images: Vec<&Value> = pods_of(&objects)
            .iter()
            .map(|p| &p["spec"]["containers"][0]["image"])
            .collect();
        assert!(images.iter().all(|i| *i == "pg:17"));
    }
}
