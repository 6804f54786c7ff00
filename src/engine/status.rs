//! Observed generated objects → EdgeApplication status.
//!
//! Availability is judged the way `kubectl rollout status` judges it, not by
//! "the object exists": the controller must have observed the current
//! generation, every replica must run the current template and be ready, and
//! old replicas must be gone. So `replicas: 0` is Available only once the
//! workload has actually scaled down. A live object whose `spec.replicas`
//! is not yet the rendered one is not Available either: it is in the state
//! it was asked for before, not the one the application asks for now.
//!
//! Counts never contradict each other: ready replicas are counted up to the
//! desired ones (surplus replicas are old ones on their way out, which the
//! reason names), and a workload that failed to render is counted as the
//! live object it kept still runs. [`group_standing`] is the one rule that
//! decides whether an application stands fully ready in a group (a ✓).

use std::collections::BTreeMap;

use serde_json::Value;

use super::object::{ObjectKey, WorkloadKind};
use super::render::Rendered;
use crate::api::{
    EdgeApplicationStatus, GroupSummary, ManifestCondition, ManifestStatus, ResourceIdentifier,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// Not there yet, and why.
    Processing(String),
}

/// Whether an observed object of any kind is in its desired state.
pub fn availability(object: &Value) -> Availability {
    let kind = WorkloadKind::of_object(object);
    if let Some(reason) = kind.and_then(|k| generation_lag(k, object)) {
        return Availability::Processing(reason);
    }
    let problem = match kind {
        Some(WorkloadKind::Deployment) => deployment_problem(object),
        Some(WorkloadKind::StatefulSet) => statefulset_problem(object),
        Some(WorkloadKind::DaemonSet) => daemonset_problem(object),
        Some(WorkloadKind::ReplicaSet) => replicaset_problem(object),
        Some(WorkloadKind::Pod) => pod_problem(object),
        None => None,
    };
    match problem {
        Some(reason) => Availability::Processing(reason),
        None => Availability::Available,
    }
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

fn status_int(object: &Value, field: &str) -> i64 {
    int(object, &format!("/status/{field}")).unwrap_or(0)
}

/// Kubernetes defaults `spec.replicas` to 1.
fn spec_replicas(object: &Value) -> i64 {
    int(object, "/spec/replicas").unwrap_or(1)
}

fn generation_lag(kind: WorkloadKind, object: &Value) -> Option<String> {
    if kind == WorkloadKind::Pod {
        return None;
    }
    let generation = int(object, "/metadata/generation")?;
    let observed = int(object, "/status/observedGeneration").unwrap_or(0);
    (observed < generation)
        .then(|| format!("generation {generation} not yet observed by its controller"))
}

/// The first unmet condition of a replicated workload, if any.
fn replicas_problem(
    desired: i64,
    current: i64,
    updated: Option<i64>,
    ready: i64,
) -> Option<String> {
    if let Some(updated) = updated
        && updated < desired
    {
        return Some(format!("{updated} of {desired} replicas updated"));
    }
    if current > desired {
        return Some(format!(
            "{} old replicas pending termination",
            current - desired
        ));
    }
    if ready < desired {
        return Some(format!("{ready} of {desired} replicas ready"));
    }
    None
}

fn deployment_problem(d: &Value) -> Option<String> {
    replicas_problem(
        spec_replicas(d),
        status_int(d, "replicas"),
        Some(status_int(d, "updatedReplicas")),
        status_int(d, "readyReplicas"),
    )
}

fn statefulset_problem(s: &Value) -> Option<String> {
    let on_delete = s
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete");
    // With OnDelete, pods are only updated when someone deletes them; waiting for that would never end.
    let updated = (!on_delete).then(|| status_int(s, "updatedReplicas"));
    replicas_problem(
        spec_replicas(s),
        status_int(s, "replicas"),
        updated,
        status_int(s, "readyReplicas"),
    )
}

fn replicaset_problem(r: &Value) -> Option<String> {
    replicas_problem(
        spec_replicas(r),
        status_int(r, "replicas"),
        None,
        status_int(r, "readyReplicas"),
    )
}

fn daemonset_problem(d: &Value) -> Option<String> {
    let desired = status_int(d, "desiredNumberScheduled");
    let updated = status_int(d, "updatedNumberScheduled");
    let ready = status_int(d, "numberReady");
    if updated < desired {
        return Some(format!("{updated} of {desired} daemon pods updated"));
    }
    if ready < desired {
        return Some(format!("{ready} of {desired} daemon pods ready"));
    }
    None
}

fn pod_problem(p: &Value) -> Option<String> {
    let phase = p
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    match phase {
        "Succeeded" => None,
        "Running" if pod_ready(p) => None,
        "Running" => Some("pod is running but not ready".into()),
        other => Some(format!("pod is {other}")),
    }
}

fn pod_ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// Desired and ready replicas of a workload, ready counted up to desired;
/// `None` for objects that are not workloads. `rendered` supplies the
/// desired count (the observed object is not there yet, or lags it).
pub fn replicas(rendered: &Value, observed: Option<&Value>) -> Option<(i64, i64)> {
    WorkloadKind::of_object(rendered)?;
    let (desired, ready) = replica_counts(rendered, observed);
    Some((desired, ready.clamp(0, desired.max(0))))
}

fn replica_counts(rendered: &Value, observed: Option<&Value>) -> (i64, i64) {
    match (WorkloadKind::of_object(rendered), observed) {
        (Some(WorkloadKind::DaemonSet), Some(o)) => (
            status_int(o, "desiredNumberScheduled"),
            status_int(o, "numberReady"),
        ),
        (Some(WorkloadKind::DaemonSet), None) => (0, 0),
        (Some(WorkloadKind::Pod), o) => (1, i64::from(o.is_some_and(pod_ready))),
        (Some(_), o) => (
            spec_replicas(rendered),
            o.map_or(0, |o| status_int(o, "readyReplicas")),
        ),
        (None, _) => (0, 0),
    }
}

fn identifier(ordinal: usize, key: &ObjectKey) -> ResourceIdentifier {
    ResourceIdentifier {
        ordinal: i32::try_from(ordinal).unwrap_or(i32::MAX),
        group: key.group().to_owned(),
        version: key.version().to_owned(),
        kind: key.kind.clone(),
        resource: key.resource(),
        namespace: key.namespace.clone().unwrap_or_default(),
        name: key.name.clone(),
    }
}

/// What the cluster holds for one rendered object.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    Live(&'a Value),
    Absent,
    /// Writing it failed, with the reason the cluster gave.
    Failed(&'a str),
}

/// The application's status from what was rendered and what the cluster holds.
/// `observe` looks up a generated object by the key it was rendered with.
pub fn summarize<'a>(
    rendered: &Rendered,
    observe: impl Fn(&ObjectKey) -> Observation<'a>,
    observed_generation: Option<i64>,
) -> EdgeApplicationStatus {
    let mut entries: Vec<ManifestStatus> = Vec::new();
    let mut groups: BTreeMap<String, GroupSummary> = BTreeMap::new();
    for desired in &rendered.objects {
        let observation = observe(&desired.key);
        let live = match observation {
            Observation::Live(object) => Some(object),
            _ => None,
        };
        let (condition, reason) = match observation {
            Observation::Absent => (
                ManifestCondition::Processing,
                Some("not created yet".to_owned()),
            ),
            Observation::Failed(why) => (ManifestCondition::Failed, Some(why.to_owned())),
            Observation::Live(object) => match unapplied(&desired.object, object) {
                Some(why) => (ManifestCondition::Processing, Some(why)),
                None => match availability(object) {
                    Availability::Available => (ManifestCondition::Available, None),
                    Availability::Processing(why) => (ManifestCondition::Processing, Some(why)),
                },
            },
        };
        if let Some(target) = &desired.target {
            let summary = group_entry(&mut groups, target);
            let (want, ready) = replicas(&desired.object, live).unwrap_or_default();
            summary.desired_replicas += clamp(want);
            summary.ready_replicas += clamp(ready);
            summary.workloads += 1;
            summary.available_workloads += i32::from(condition == ManifestCondition::Available);
        }
        entries.push(ManifestStatus {
            identifier: identifier(desired.ordinal, &desired.key),
            conditions: Some(condition),
            reason,
            warnings: rendered
                .warnings
                .iter()
                .filter(|w| w.key == desired.key)
                .map(|w| w.warning.to_string())
                .collect(),
        });
    }
    for failed in &rendered.errors {
        if let Some(target) = failed.target.as_deref().filter(|t| !t.is_empty()) {
            let summary = group_entry(&mut groups, target);
            summary.workloads += 1;
            // Render failures keep the object generated before: count what it
            // runs rather than a 0/0 that reads as "nothing wanted, all fine".
            if let Some(Observation::Live(object)) = failed.key.as_ref().map(&observe) {
                let (want, ready) = replicas(object, Some(object)).unwrap_or_default();
                summary.desired_replicas += clamp(want);
                summary.ready_replicas += clamp(ready);
            }
        }
        let identifier = match (&failed.key, failed.ordinal) {
            (Some(key), ordinal) => identifier(ordinal.unwrap_or(0), key),
            (None, ordinal) => ResourceIdentifier {
                ordinal: i32::try_from(ordinal.unwrap_or(0)).unwrap_or(i32::MAX),
                ..ResourceIdentifier::default()
            },
        };
        entries.push(ManifestStatus {
            identifier,
            conditions: Some(ManifestCondition::Failed),
            reason: Some(failed.error.to_string()),
            warnings: Vec::new(),
        });
    }
    entries.sort_by(|a, b| a.identifier.cmp(&b.identifier));
    let available = entries
        .iter()
        .filter(|e| e.conditions == Some(ManifestCondition::Available))
        .count();
    EdgeApplicationStatus {
        available: Some(format!("{available}/{}", entries.len())),
        workload_status: entries,
        groups: groups.into_values().collect(),
        observed_generation,
    }
}

/// Why a live workload is not yet in the rendered state, if its explicit
/// `spec.replicas` differs (the engine has not applied it yet). A manifest
/// without `spec.replicas` leaves it to whoever scales the workload.
fn unapplied(rendered: &Value, live: &Value) -> Option<String> {
    let want = int(rendered, "/spec/replicas")?;
    let have = spec_replicas(live);
    (want != have).then(|| format!("{have} replicas live, {want} desired: not applied yet"))
}

/// Whether something deserves a ✓.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verdict {
    /// Every workload is Available for its current generation and ready = desired.
    Available,
    /// On its way (or stuck): anything that is neither Available nor Failed.
    #[default]
    Progressing,
    /// A workload could not be rendered or written; counts are what still runs.
    Failed,
}

/// Ready of desired replicas (ready ≤ desired) with the verdict on them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    pub ready: i64,
    pub desired: i64,
    pub verdict: Verdict,
    /// Why it failed: the first failure's reason.
    pub reason: Option<String>,
}

impl Standing {
    /// One generated workload, from its condition and replica counts.
    pub fn workload(
        condition: ManifestCondition,
        (desired, ready): (i64, i64),
        reason: Option<&str>,
    ) -> Standing {
        let verdict = match condition {
            ManifestCondition::Failed => Verdict::Failed,
            ManifestCondition::Available if ready == desired => Verdict::Available,
            _ => Verdict::Progressing,
        };
        Standing {
            ready: ready.min(desired),
            desired,
            verdict,
            reason: (verdict == Verdict::Failed)
                .then(|| reason.map(str::to_owned))
                .flatten(),
        }
    }

    /// Several standings as one (every application in a group): a ✓ only if
    /// each is one, failed if any failed.
    pub fn combine(&self, other: &Standing) -> Standing {
        let verdict = match (self.verdict, other.verdict) {
            (Verdict::Failed, _) | (_, Verdict::Failed) => Verdict::Failed,
            (Verdict::Available, Verdict::Available) => Verdict::Available,
            _ => Verdict::Progressing,
        };
        Standing {
            ready: self.ready + other.ready,
            desired: self.desired + other.desired,
            verdict,
            reason: self.reason.clone().or_else(|| other.reason.clone()),
        }
    }
}

/// How an application stands in one target group, from its status and what
/// was rendered for it; `None` if nothing was rendered or summarised there.
/// A ✓ ([`Verdict::Available`]) needs every workload there Available (which
/// [`summarize`] grants only for the observed current generation with
/// updated = ready = desired) and ready = desired in the summary; a render
/// or write failure there makes it [`Verdict::Failed`] whatever still runs.
pub fn group_standing(
    status: &EdgeApplicationStatus,
    rendered: &Rendered,
    group: &str,
) -> Option<Standing> {
    let summary = status.groups.iter().find(|g| g.name == group)?;
    let render_failure = rendered
        .errors
        .iter()
        .find(|e| e.target.as_deref() == Some(group))
        .map(|e| e.error.to_string());
    let write_failure = || {
        status.workload_status.iter().find_map(|e| {
            let id = &e.identifier;
            let here = rendered.objects.iter().any(|o| {
                o.target.as_deref() == Some(group)
                    && o.key.kind == id.kind
                    && o.key.name == id.name
                    && o.key.namespace.as_deref().unwrap_or_default() == id.namespace
            });
            (here && e.conditions == Some(ManifestCondition::Failed))
                .then(|| e.reason.clone().unwrap_or_else(|| "failed".into()))
        })
    };
    let reason = render_failure.or_else(write_failure);
    let (desired, ready) = (
        i64::from(summary.desired_replicas),
        i64::from(summary.ready_replicas),
    );
    let verdict = if reason.is_some() {
        Verdict::Failed
    } else if summary.workloads > 0
        && summary.available_workloads == summary.workloads
        && ready == desired
    {
        Verdict::Available
    } else {
        Verdict::Progressing
    };
    Some(Standing {
        ready: ready.min(desired),
        desired,
        verdict,
        reason,
    })
}

fn group_entry<'m>(
    groups: &'m mut BTreeMap<String, GroupSummary>,
    target: &str,
) -> &'m mut GroupSummary {
    groups
        .entry(target.to_owned())
        .or_insert_with(|| GroupSummary {
            name: target.to_owned(),
            ..GroupSummary::default()
        })
}

fn clamp(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests;
