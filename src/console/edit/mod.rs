//! Editing: every change is an [`EditKind`] applied to an EdgeApplication
//! value, producing a NEW value. The App turns (base, candidate) into an
//! [`Effect::Patch`] with a resourceVersion precondition; on 409 the same
//! edit is re-applied to the object the server now holds.

pub mod diff;
pub mod form;
pub mod nodegroup;
pub mod validate;
pub mod yaml_editor;

use serde_json::{Map, Value};

use crate::api::{EdgeApplication, EdgeApplicationSpec, Overriders, TargetNodeGroup};
use crate::console::action::Effect;
use crate::engine::ObjectKey;

/// One user change to an EdgeApplication.
#[derive(Debug, Clone, PartialEq)]
pub enum EditKind {
    /// Replace one target group's overriders.
    Overriders {
        group: String,
        overriders: Overriders,
    },
    /// Replace the whole spec (the YAML editor).
    Spec(Box<EdgeApplicationSpec>),
    AddTarget(String),
    RemoveTarget(String),
    /// Change one group's replicas by `delta` (never below 0).
    Scale {
        group: String,
        delta: i32,
    },
    /// Several edits in order, written as one (keys pressed while an
    /// earlier write of the same application was in flight).
    Steps(Vec<EditKind>),
}

impl EditKind {
    pub fn describe(&self) -> String {
        match self {
            EditKind::Overriders { group, .. } => format!("overrides of {group}"),
            EditKind::Spec(_) => "spec (YAML)".into(),
            EditKind::AddTarget(g) => format!("add target {g}"),
            EditKind::RemoveTarget(g) => format!("remove target {g}"),
            EditKind::Scale { group, delta } => format!("scale {group} by {delta:+}"),
            EditKind::Steps(steps) => {
                let scales: Option<Vec<(&String, i32)>> = steps
                    .iter()
                    .map(|s| match s {
                        EditKind::Scale { group, delta } => Some((group, *delta)),
                        _ => None,
                    })
                    .collect();
                match scales.as_deref() {
                    Some([(group, _), rest @ ..]) if rest.iter().all(|(g, _)| g == group) => {
                        let sum: i32 = scales.iter().flatten().map(|(_, d)| d).sum();
                        format!("scale {group} by {sum:+} ({} presses)", steps.len())
                    }
                    _ => steps
                        .iter()
                        .map(EditKind::describe)
                        .collect::<Vec<_>>()
                        .join("; "),
                }
            }
        }
    }

    /// `self`, then `next`, as one edit.
    pub fn then(self, next: EditKind) -> EditKind {
        match self {
            EditKind::Steps(mut steps) => {
                steps.push(next);
                EditKind::Steps(steps)
            }
            first => EditKind::Steps(vec![first, next]),
        }
    }
}

/// Replicas a group gets today: its overrider, else the first workload manifest's, else 1.
pub fn effective_replicas(app: &EdgeApplication, group: &str) -> i64 {
    let over = app
        .spec
        .workload_scope
        .target_node_groups
        .iter()
        .find(|t| t.name == group)
        .and_then(|t| t.overriders.replicas);
    match over {
        Some(r) => i64::from(r),
        None => app
            .spec
            .workload_template
            .manifests
            .iter()
            .find_map(|m| m.pointer("/spec/replicas").and_then(Value::as_i64))
            .unwrap_or(1),
    }
}

/// Applies an edit, returning the new application (the input is untouched).
pub fn apply_edit(app: &EdgeApplication, edit: &EditKind) -> Result<EdgeApplication, String> {
    let mut next = app.clone();
    let targets = &mut next.spec.workload_scope.target_node_groups;
    match edit {
        EditKind::Overriders { group, overriders } => {
            let t = targets
                .iter_mut()
                .find(|t| t.name == *group)
                .ok_or_else(|| format!("{group} is not a target of this application"))?;
            t.overriders = overriders.clone();
        }
        EditKind::Spec(spec) => next.spec = (**spec).clone(),
        EditKind::AddTarget(group) => {
            if targets.iter().any(|t| t.name == *group) {
                return Err(format!("{group} is already a target"));
            }
            targets.push(TargetNodeGroup {
                name: group.clone(),
                overriders: Overriders::default(),
            });
        }
        EditKind::RemoveTarget(group) => {
            let before = targets.len();
            targets.retain(|t| t.name != *group);
            if targets.len() == before {
                return Err(format!("{group} is not a target of this application"));
            }
        }
        EditKind::Scale { group, delta } => {
            let current = effective_replicas(app, group);
            let wanted = (current + i64::from(*delta)).max(0);
            let t = targets
                .iter_mut()
                .find(|t| t.name == *group)
                .ok_or_else(|| format!("{group} is not a target of this application"))?;
            t.overriders.replicas = Some(i32::try_from(wanted).unwrap_or(i32::MAX));
        }
        EditKind::Steps(steps) => {
            // Each step sees the one before, as if written one at a time:
            // the floor at 0 replicas applies per press, not to the sum.
            return steps
                .iter()
                .try_fold(app.clone(), |next, step| apply_edit(&next, step));
        }
    }
    Ok(next)
}

/// RFC 7386 merge patch turning `old` into `new`.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut out = Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) if ov == nv => {}
                    Some(ov) => {
                        out.insert(k.clone(), merge_patch(ov, nv));
                    }
                    None => {
                        out.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(out)
        }
        _ => new.clone(),
    }
}

/// The write for `base` → `candidate`: a merge patch of the spec carrying
/// `metadata.resourceVersion` (409 if the object changed meanwhile).
pub fn patch_effect(base: &EdgeApplication, candidate: &EdgeApplication) -> Result<Effect, String> {
    let name = base
        .metadata
        .name
        .clone()
        .ok_or("the application has no name")?;
    let resource_version = base
        .metadata
        .resource_version
        .clone()
        .ok_or("the application has no resourceVersion; refusing an unconditional write")?;
    let old = serde_json::to_value(&base.spec).map_err(|e| e.to_string())?;
    let new = serde_json::to_value(&candidate.spec).map_err(|e| e.to_string())?;
    let mut patch = Map::new();
    patch.insert(
        "metadata".into(),
        serde_json::json!({"resourceVersion": resource_version}),
    );
    patch.insert("spec".into(), merge_patch(&old, &new));
    Ok(Effect::Patch {
        key: ObjectKey::new(
            crate::api::API_VERSION,
            "EdgeApplication",
            Some(base.metadata.namespace.as_deref().unwrap_or("default")),
            name,
        ),
        patch: Value::Object(patch),
        resource_version,
    })
}

/// A write waiting for its outcome, kept to handle 409.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    pub base: EdgeApplication,
    pub edit: EditKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_roundtrips() {
        let old = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        let new = json!({"a": 1, "b": {"c": 5}, "e": [1, 2], "f": true});
        let p = merge_patch(&old, &new);
        assert_eq!(p, json!({"b": {"c": 5, "d": null}, "e": [1, 2], "f": true}));
        let mut applied = old.clone();
        json_patch::merge(&mut applied, &p);
        assert_eq!(applied, new);
    }
}
