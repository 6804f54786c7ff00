//! The workload controllers: Deployment, StatefulSet and DaemonSet → pods,
//! and their status. Each takes the workloads and the current pods and
//! returns pod creations/deletions plus a status Replace when the status
//! changes. The returned status already accounts for the pod changes of the
//! same call; readiness moves on through the kubelet in later rounds.

mod daemonset;
mod deployment;
mod statefulset;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::Mutation;
use super::kubelet;
use super::object;
use super::scheduler::{is_active, node_name};

pub use daemonset::daemonsets;
pub use deployment::deployments;
pub use statefulset::statefulsets;

/// `spec.minReadySeconds` (0 if absent).
pub fn min_ready_seconds(workload: &Value) -> i64 {
    workload
        .pointer("/spec/minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(0)
}

/// `spec.replicas`, defaulting to 1 as the API server does.
pub fn spec_replicas(workload: &Value) -> i64 {
    workload
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0)
}

type OwnerKey<'p> = (&'p str, &'p str, &'p str);

/// Pods by the `(namespace, kind, name)` of their controller.
struct PodIndex<'p> {
    by_owner: BTreeMap<OwnerKey<'p>, Vec<&'p Value>>,
    /// Every pod name in use, per namespace (new names must avoid them all).
    names: BTreeSet<(String, String)>,
}

impl<'p> PodIndex<'p> {
    fn new(pods: &[&'p Value]) -> PodIndex<'p> {
        let mut by_owner: BTreeMap<OwnerKey<'p>, Vec<&'p Value>> = BTreeMap::new();
        let mut names = BTreeSet::new();
        for pod in pods {
            names.insert((
                object::namespace(pod).to_string(),
                object::name(pod).to_string(),
            ));
            if let Some((kind, name, _)) = object::controller_of(pod) {
                by_owner
                    .entry((object::namespace(pod), kind, name))
                    .or_default()
                    .push(*pod);
            }
        }
        PodIndex { by_owner, names }
    }

    /// Active pods controlled by `owner` (uid-checked when both sides have one).
    fn owned(&self, owner: &Value) -> Vec<&'p Value> {
        self.by_owner
            .get(&(
                object::namespace(owner),
                object::kind(owner),
                object::name(owner),
            ))
            .map(|pods| {
                pods.iter()
                    .copied()
                    .filter(|p| object::is_controlled_by(p, owner) && is_active(p))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Claims `name` in `namespace`; false if it is taken.
    fn claim(&mut self, namespace: &str, name: &str) -> bool {
        self.names.insert((namespace.to_string(), name.to_string()))
    }

    /// The first free name `<prefix><5 chars>` derived from `seed`.
    fn fresh_name(&mut self, namespace: &str, prefix: &str, seed: &[&str]) -> String {
        for i in 0u32.. {
            let i = i.to_string();
            let mut parts = seed.to_vec();
            parts.push(&i);
            let name = format!("{prefix}{}", object::safe_suffix(&parts, 5));
            if self.claim(namespace, &name) {
                return name;
            }
        }
        String::new()
    }
}

/// A pod from `owner`'s `spec.template`, with extra labels.
fn pod_from_template(owner: &Value, name: &str, extra_labels: &[(&str, String)]) -> Value {
    let template = owner.pointer("/spec/template");
    let mut labels: Map<String, Value> = template
        .and_then(|t| t.pointer("/metadata/labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in extra_labels {
        labels.insert((*k).to_string(), json!(v));
    }
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    metadata.insert("namespace".into(), json!(object::namespace(owner)));
    metadata.insert("labels".into(), Value::Object(labels));
    if let Some(annotations) = template
        .and_then(|t| t.pointer("/metadata/annotations"))
        .filter(|a| a.is_object())
    {
        metadata.insert("annotations".into(), annotations.clone());
    }
    metadata.insert(
        "ownerReferences".into(),
        json!([object::owner_reference(owner)]),
    );
    let mut spec: Map<String, Value> = template
        .and_then(|t| t.get("spec"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("schedulerName", json!("default-scheduler")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("terminationGracePeriodSeconds", json!(30)),
    ] {
        spec.entry(k).or_insert(v);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {"phase": "Pending"},
    })
}

/// Sort key: pods that should go first when scaling down sort first
/// (unbound, then not running, then not ready, then most recently started,
/// then the last name).
fn deletion_rank(pod: &Value) -> impl Ord {
    let phase = match object::str_at(pod, "/status/phase") {
        Some("Pending") | None => 0,
        Some("Running") => 2,
        _ => 1,
    };
    (
        node_name(pod).is_some(),
        phase,
        kubelet::is_ready(pod),
        Reverse(object::seconds_at(pod, "/status/startTime").unwrap_or(i64::MAX)),
        Reverse(object::name(pod).to_string()),
    )
}

fn sort_for_deletion(pods: &mut [&Value]) {
    pods.sort_by_cached_key(|p| deletion_rank(p));
}

/// Puts `fields` (zero counts omitted, like the API's omitempty) and
/// `conditions` into the workload's status; a Replace if that changes it.
fn status_update(
    workload: &Value,
    fields: &[(&str, Value)],
    keep_zero: &[&str],
    conditions: Option<Vec<Value>>,
) -> Option<Mutation> {
    let mut next = workload.clone();
    let status = object::map_mut(&mut next, "status")?;
    for (k, v) in fields {
        let zero = v.as_i64() == Some(0) && !keep_zero.contains(k);
        if zero || v.is_null() {
            status.remove(*k);
        } else {
            status.insert((*k).to_string(), v.clone());
        }
    }
    if let Some(conditions) = conditions {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    (next != *workload).then_some(Mutation::Replace(next))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers shared by the workload tests: a tiny world that applies
    //! mutations and plays a perfect kubelet.

    use serde_json::{Value, json};

    use crate::simulation::{Mutation, apply, object};

    pub fn pods_of(objects: &[Value]) -> Vec<&Value> {
        objects
            .iter()
            .filter(|o| object::kind(o) == "Pod")
            .collect()
    }

    pub fn find<'v>(objects: &'v [Value], kind: &str, name: &str) -> &'v Value {
        static NULL: Value = Value::Null;
        objects
            .iter()
            .find(|o| object::kind(o) == kind && object::name(o) == name)
            .unwrap_or(&NULL)
    }

    pub fn apply_all(objects: &mut Vec<Value>, muts: &[Mutation]) {
        apply(objects, muts);
    }

    /// Marks every pod bound to `node` and Ready (since `t`).
    pub fn make_ready(objects: &mut [Value], node: &str, t: &str) {
        for o in objects.iter_mut().filter(|o| object::kind(o) == "Pod") {
            o["spec"]["nodeName"] = json!(node);
            o["status"] = json!({"phase": "Running", "startTime": t,
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": t}]});
        }
    }
}
