//! Deployment → pods (no ReplicaSets; see the module docs of
//! `simulation`), rolling update arithmetic as in Kubernetes, and status.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    PodIndex, min_ready_seconds, pod_from_template, sort_for_deletion, spec_replicas, status_update,
};
use crate::simulation::Mutation;
use crate::simulation::kubelet::{is_available, is_ready};
use crate::simulation::object::{self, Cond, CondStyle};

const HASH_LABEL: &str = "pod-template-hash";

/// Reconciles every Deployment against the pods it controls.
pub fn deployments(deployments: &[&Value], pods: &[&Value], now: Timestamp) -> Vec<Mutation> {
    let mut index = PodIndex::new(pods);
    let mut out = Vec::new();
    for d in deployments {
        if object::is_deleting(d) || !d.is_object() {
            continue;
        }
        reconcile(d, &mut index, now, &mut out);
    }
    out
}

fn reconcile(d: &Value, index: &mut PodIndex<'_>, now: Timestamp, out: &mut Vec<Mutation>) {
    let replicas = spec_replicas(d);
    let hash = object::template_hash(d.pointer("/spec/template"));
    let name = object::name(d);
    let ns = object::namespace(d);
    let now_s = now.as_second();
    let min_ready = min_ready_seconds(d);
    let available = |p: &Value| is_available(p, min_ready, now_s);
    let pods = index.owned(d);
    let (mut new, mut old): (Vec<&Value>, Vec<&Value>) = pods
        .iter()
        .partition(|p| object::label(p, HASH_LABEL) == Some(hash.as_str()));
    let mut created: Vec<Value> = Vec::new();
    let mut deleted: Vec<&Value> = Vec::new();

    let paused = d.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    let recreate = d.pointer("/spec/strategy/type").and_then(Value::as_str) == Some("Recreate");
    let surge = object::int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        replicas,
        "25%",
        true,
    );
    let mut unavailable = object::int_or_percent(
        d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        replicas,
        "25%",
        false,
    );
    if recreate {
        unavailable = replicas;
    } else if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    let count = |v: &[&Value]| i64::try_from(v.len()).unwrap_or(i64::MAX);

    if !paused {
        if recreate {
            deleted.append(&mut old);
        }
        let to_create = if old.is_empty() {
            replicas - count(&new)
        } else {
            (replicas - count(&new)).min(replicas + surge - count(&new) - count(&old))
        };
        for _ in 0..to_create.max(0) {
            let pod_name = index.fresh_name(ns, &format!("{name}-{hash}-"), &[ns, name, &hash]);
            created.push(pod_from_template(
                d,
                &pod_name,
                &[(HASH_LABEL, hash.clone())],
            ));
        }
        if count(&new) > replicas {
            sort_for_deletion(&mut new);
            let excess = usize::try_from(count(&new) - replicas).unwrap_or(0);
            deleted.extend(new.drain(..excess));
        }
        if !old.is_empty() {
            // Kubernetes' rolling update: never below minAvailable counting
            // the new pods that are not available yet.
            let min_available = (replicas - unavailable).max(0);
            let new_unavailable = count(
                &new.iter()
                    .copied()
                    .filter(|p| !available(p))
                    .collect::<Vec<_>>(),
            ) + count_values(&created);
            let all = count(&new) + count_values(&created) + count(&old);
            let mut budget = all - min_available - new_unavailable;
            if budget > 0 {
                sort_for_deletion(&mut old);
                let (unhealthy, healthy): (Vec<&Value>, Vec<&Value>) =
                    old.iter().copied().partition(|p| !available(p));
                let cleanup = usize::try_from(budget.min(count(&unhealthy))).unwrap_or(0);
                deleted.extend(unhealthy.iter().take(cleanup).copied());
                budget -= i64::try_from(cleanup).unwrap_or(0);
                let available_now = count(
                    &new.iter()
                        .copied()
                        .filter(|p| available(p))
                        .collect::<Vec<_>>(),
                ) + count(&healthy);
                let scale_down = (available_now - min_available)
                    .min(budget)
                    .min(count(&healthy));
                deleted.extend(
                    healthy
                        .iter()
                        .take(usize::try_from(scale_down).unwrap_or(0))
                        .copied(),
                );
            }
            // A scaling event during a rollout: Kubernetes scales old and
            // new proportionally; here old pods above `replicas + maxSurge` go.
            let mut left: Vec<&Value> = old
                .iter()
                .copied()
                .filter(|p| !deleted.iter().any(|d| std::ptr::eq(*d, *p)))
                .collect();
            let over = count(&new) + count_values(&created) + count(&left) - (replicas + surge);
            if over > 0 {
                sort_for_deletion(&mut left);
                deleted.extend(
                    left.iter()
                        .take(usize::try_from(over).unwrap_or(0))
                        .copied(),
                );
            }
        }
    }

    // Status over the pods as they will be.
    let remaining: Vec<&Value> = pods
        .iter()
        .copied()
        .filter(|p| !deleted.iter().any(|d| std::ptr::eq(*d, *p)))
        .chain(created.iter())
        .collect();
    let total = count(&remaining);
    let updated = count(
        &remaining
            .iter()
            .copied()
            .filter(|p| object::label(p, HASH_LABEL) == Some(hash.as_str()))
            .collect::<Vec<_>>(),
    );
    let ready = count(
        &remaining
            .iter()
            .copied()
            .filter(|p| is_ready(p))
            .collect::<Vec<_>>(),
    );
    let avail = count(
        &remaining
            .iter()
            .copied()
            .filter(|p| available(p))
            .collect::<Vec<_>>(),
    );
    let now_text = object::rfc3339(now);
    let mut conditions = object::conditions_of(d);
    let min_available = (replicas - unavailable).max(0);
    let available_cond = if avail >= min_available {
        Cond {
            type_: "Available",
            status: "True",
            reason: Some("MinimumReplicasAvailable"),
            message: Some("Deployment has minimum availability."),
        }
    } else {
        Cond {
            type_: "Available",
            status: "False",
            reason: Some("MinimumReplicasUnavailable"),
            message: Some("Deployment does not have minimum availability."),
        }
    };
    object::set_condition(
        &mut conditions,
        &available_cond,
        &now_text,
        CondStyle::Workload,
    );
    let complete = updated == replicas && total == replicas && avail == replicas;
    let message = if complete {
        format!("Deployment \"{name}\" has successfully progressed.")
    } else {
        format!("Deployment \"{name}\" is progressing.")
    };
    let progressing = Cond {
        type_: "Progressing",
        status: "True",
        reason: Some(if complete {
            "NewReplicaSetAvailable"
        } else {
            "ReplicaSetUpdated"
        }),
        message: Some(&message),
    };
    object::set_condition(
        &mut conditions,
        &progressing,
        &now_text,
        CondStyle::Workload,
    );

    out.extend(deleted.iter().map(|p| Mutation::delete(p)));
    out.extend(created.into_iter().map(Mutation::Create));
    let fields = [
        ("observedGeneration", json!(object::generation(d))),
        ("replicas", json!(total)),
        ("updatedReplicas", json!(updated)),
        ("readyReplicas", json!(ready)),
        ("availableReplicas", json!(avail)),
        ("unavailableReplicas", json!((replicas - avail).max(0))),
    ];
    out.extend(status_update(
        d,
        &fields,
        &["observedGeneration"],
        Some(conditions),
    ));
}

fn count_values(v: &[Value]) -> i64 {
    i64::try_from(v.len()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::workloads::testing::{apply_all, find, make_ready, pods_of};

    const T: &str = "2025-06-15T12:00:00Z";

    fn now(s: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + s).unwrap_or_default()
    }

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": "d-uid", "generation": 4},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    /// Runs the controller (plus an instant kubelet) until nothing changes.
    fn settle(objects: &mut Vec<Value>, ready: bool) {
        for _ in 0..20 {
            let d = find(objects, "Deployment", "web").clone();
            let muts = deployments(&[&d], &pods_of(objects), now(0));
            if muts.is_empty() {
                return;
            }
            apply_all(objects, &muts);
            if ready {
                make_ready(objects, "n1", T);
            }
        }
        panic!("deployment did not settle");
    }

    #[test]
    fn scale_up_names_labels_owners_and_status() {
        let mut objects = vec![deploy(3, "nginx:1.27")];
        let d = objects[0].clone();
        let muts = deployments(&[&d], &[], now(0));
        let creates: Vec<&Value> = muts
            .iter()
            .filter_map(|m| match m {
                Mutation::Create(v) => Some(v),
                _ => None,
            })
            .collect();
        assert_eq!(creates.len(), 3);
        let hash = object::template_hash(d.pointer("/spec/template"));
        for pod in &creates {
            let name = object::name(pod);
            assert!(name.starts_with(&format!("web-{hash}-")), "{name}");
            assert_eq!(name.len(), format!("web-{hash}-").len() + 5);
            assert_eq!(object::label(pod, "app"), Some("web"));
            assert_eq!(object::label(pod, HASH_LABEL), Some(hash.as_str()));
            assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "d-uid");
            assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
        }
        apply_all(&mut objects, &muts);
        let status = &find(&objects, "Deployment", "web")["status"];
        assert_eq!(status["observedGeneration"], 4);
        assert_eq!(status["replicas"], 3);
        assert_eq!(status["updatedReplicas"], 3);
        assert!(status.get("readyReplicas").is_none());
        assert_eq!(status["unavailableReplicas"], 3);
        make_ready(&mut objects, "n1", T);
        settle(&mut objects, true);
        let d = find(&objects, "Deployment", "web");
        assert_eq!(d["status"]["readyReplicas"], 3);
        assert_eq!(d["status"]["availableReplicas"], 3);
        assert!(d["status"].get("unavailableReplicas").is_none());
        assert_eq!(object::condition_status(d, "Available"), Some("True"));
        let progressing = object::condition(d, "Progressing")
            .cloned()
            .unwrap_or_default();
        assert_eq!(progressing["reason"], "NewReplicaSetAvailable");
        // Idempotent once settled.
        let pods = pods_of(&objects);
        assert!(deployments(&[d], &pods, now(100)).is_empty());
    }

    #[test]
    fn scale_down_removes_unready_first() {
        let mut objects = vec![deploy(3, "nginx:1.27")];
        settle(&mut objects, true);
        // One pod is not ready: it goes first.
        let victim = object::name(pods_of(&objects)[1]).to_string();
        for o in objects.iter_mut().filter(|o| object::name(o) == victim) {
            o["status"]["conditions"][0]["status"] = json!("False");
        }
        objects[0]["spec"]["replicas"] = json!(2);
        let d = objects[0].clone();
        let muts = deployments(&[&d], &pods_of(&objects), now(0));
        let deletes: Vec<String> = muts
            .iter()
            .filter_map(|m| match m {
                Mutation::Delete(r) => Some(r.name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(deletes, [victim]);
        apply_all(&mut objects, &muts);
        assert_eq!(pods_of(&objects).len(), 2);
        assert_eq!(find(&objects, "Deployment", "web")["status"]["replicas"], 2);
    }

    #[test]
    fn template_change_rolls_one_at_a_time() {
        let mut objects = vec![deploy(3, "nginx:1.27")];
        settle(&mut objects, true);
        let old_hash = object::template_hash(objects[0].pointer("/spec/template"));
        objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        objects[0]["metadata"]["generation"] = json!(5);
        let new_hash = object::template_hash(objects[0].pointer("/spec/template"));
        assert_ne!(old_hash, new_hash);
        // Without readiness of new pods, exactly one surge pod appears.
        let d = objects[0].clone();
        let muts = deployments(&[&d], &pods_of(&objects), now(0));
        apply_all(&mut objects, &muts);
        let d = objects[0].clone();
        assert!(deployments(&[&d], &pods_of(&objects), now(0)).is_empty());
        assert_eq!(pods_of(&objects).len(), 4);
        assert_eq!(d["status"]["updatedReplicas"], 1);
        assert_eq!(d["status"]["replicas"], 4);
        assert_eq!(d["status"]["observedGeneration"], 5);
        // With readiness, it completes: only new pods remain.
        make_ready(&mut objects, "n1", T);
        settle(&mut objects, true);
        let pods = pods_of(&objects);
        assert_eq!(pods.len(), 3);
        assert!(
            pods.iter()
                .all(|p| object::label(p, HASH_LABEL) == Some(new_hash.as_str()))
        );
        assert_eq!(
            find(&objects, "Deployment", "web")["status"]["updatedReplicas"],
            3
        );
    }

    #[test]
    fn scaling_down_during_a_rollout_stays_within_surge() {
        let mut objects = vec![deploy(5, "nginx:1.27")];
        settle(&mut objects, true);
        objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        let d = objects[0].clone();
        let muts = deployments(&[&d], &pods_of(&objects), now(0));
        apply_all(&mut objects, &muts);
        assert_eq!(
            pods_of(&objects).len(),
            6,
            "2 surge pods, 1 old pod gone (maxUnavailable 1)"
        );
        objects[0]["spec"]["replicas"] = json!(3);
        let d = objects[0].clone();
        let muts = deployments(&[&d], &pods_of(&objects), now(0));
        apply_all(&mut objects, &muts);
        assert_eq!(pods_of(&objects).len(), 4);
    }

    #[test]
    fn recreate_replaces_all_at_once() {
        let mut objects = vec![deploy(2, "a:1")];
        objects[0]["spec"]["strategy"] = json!({"type": "Recreate"});
        settle(&mut objects, true);
        objects[0]["spec"]["template"]["spec"]["containers"][0]["image"] = json!("a:2");
        let d = objects[0].clone();
        let muts = deployments(&[&d], &pods_of(&objects), now(0));
        assert_eq!(
            muts.iter()
                .filter(|m| matches!(m, Mutation::Delete(_)))
                .count(),
            2
        );
        assert_eq!(
            muts.iter()
                .filter(|m| matches!(m, Mutation::Create(_)))
                .count(),
            2
        );
    }

    #[test]
    fn scale_to_zero_and_paused() {
        let mut objects = vec![deploy(2, "a:1")];
        settle(&mut objects, true);
        objects[0]["spec"]["replicas"] = json!(0);
        settle(&mut objects, true);
        assert!(pods_of(&objects).is_empty());
        let d = find(&objects, "Deployment", "web");
        assert!(d["status"].get("replicas").is_none());
        assert_eq!(object::condition_status(d, "Available"), Some("True"));
        let mut paused = deploy(2, "a:1");
        paused["spec"]["paused"] = json!(true);
        let muts = deployments(&[&paused], &[], now(0));
        assert!(muts.iter().all(|m| matches!(m, Mutation::Replace(_))));
    }
}
