//! Generated objects of one application as the console lists them: what
//! render wanted, what the engine's status says, what the live object runs.

use super::{Fleet, ObjectInfo};
use crate::api::{EdgeApplicationStatus, ManifestCondition, ResourceIdentifier};
use crate::engine::object::ObjectKey;
use crate::engine::render::Rendered;
use crate::engine::status::{self, Standing};

/// Kinds of generated objects the live console watches.
const WATCHED_KINDS: [&str; 4] = ["Deployment", "StatefulSet", "DaemonSet", "Service"];

/// A generated object of a kind the console does not watch (ConfigMap,
/// Secret, …) is never seen live, so it would stay "not created yet"
/// forever; for those the engine's recorded status is the better word.
pub(super) fn adopt_recorded_status(
    status: &mut EdgeApplicationStatus,
    recorded: Option<&EdgeApplicationStatus>,
    seen: impl Fn(&ResourceIdentifier) -> bool,
) {
    let Some(recorded) = recorded else { return };
    for entry in &mut status.workload_status {
        let id = &entry.identifier;
        if entry.conditions != Some(ManifestCondition::Processing)
            || WATCHED_KINDS.contains(&id.kind.as_str())
            || seen(id)
        {
            continue;
        }
        if let Some(r) = recorded.workload_status.iter().find(|r| {
            r.identifier.kind == id.kind
                && r.identifier.namespace == id.namespace
                && r.identifier.name == id.name
        }) {
            entry.conditions = r.conditions;
            entry.reason = r.reason.clone();
        }
    }
}

pub(super) fn object_infos(
    rendered: &Rendered,
    status: &EdgeApplicationStatus,
    lookup: &impl Fn(&ObjectKey) -> Option<usize>,
    fleet: &Fleet,
) -> Vec<ObjectInfo> {
    let mut out = Vec::new();
    for desired in &rendered.objects {
        let entry = status.workload_status.iter().find(|s| {
            s.identifier.kind == desired.key.kind
                && s.identifier.name == desired.key.name
                && s.identifier.namespace == desired.key.namespace.clone().unwrap_or_default()
        });
        let live = lookup(&desired.key);
        let live_obj = live.and_then(|i| fleet.workloads.get(i));
        let condition = entry
            .and_then(|e| e.conditions)
            .unwrap_or(ManifestCondition::Processing);
        let reason = entry.and_then(|e| e.reason.clone());
        out.push(ObjectInfo {
            replicas: status::replicas(&desired.object, live_obj)
                .map(|counts| Standing::workload(condition, counts, reason.as_deref())),
            key: Some(desired.key.clone()),
            ordinal: desired.ordinal,
            target: desired.target.clone(),
            condition,
            reason,
            warnings: entry.map(|e| e.warnings.clone()).unwrap_or_default(),
            live,
        });
    }
    for failed in &rendered.errors {
        let live = failed.key.as_ref().and_then(lookup);
        let reason = failed.error.to_string();
        // The object generated before the failure is kept: show what it runs.
        let replicas = live
            .and_then(|i| fleet.workloads.get(i))
            .and_then(|o| status::replicas(o, Some(o)))
            .map(|counts| Standing::workload(ManifestCondition::Failed, counts, Some(&reason)));
        out.push(ObjectInfo {
            replicas,
            key: failed.key.clone(),
            ordinal: failed.ordinal.unwrap_or(0),
            target: failed.target.clone(),
            condition: ManifestCondition::Failed,
            reason: Some(reason),
            warnings: Vec::new(),
            live,
        });
    }
    out
}
