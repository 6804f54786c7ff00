//! The NodeGroup finalizer as pure decisions and JSON patches.
//!
//! kube-runtime's `finalizer` helper does the same dance but writes without
//! a field manager; every edgedeck write carries `edgedeck`, so the patches
//! are built here. Like the helper, each patch starts with a `test`
//! operation, so a concurrent edit of the finalizer list makes the write
//! fail (and the reconcile retry) instead of clobbering someone else's entry.

use json_patch::Patch;
use serde_json::json;

use crate::api::{FINALIZER_NODEGROUP, NodeGroup};

/// What a reconcile must do with a group, judged from its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Live and not yet protected: add the finalizer, then apply.
    AddFinalizerThenApply,
    /// Live and protected: apply membership.
    Apply,
    /// Being deleted while we still hold it: strip labels, then release.
    Cleanup,
    /// Being deleted and already released: nothing is ours any more.
    Done,
}

pub fn step(group: &NodeGroup) -> Step {
    let ours = position(group).is_some();
    match (group.metadata.deletion_timestamp.is_some(), ours) {
        (false, false) => Step::AddFinalizerThenApply,
        (false, true) => Step::Apply,
        (true, true) => Step::Cleanup,
        (true, false) => Step::Done,
    }
}

fn position(group: &NodeGroup) -> Option<usize> {
    group
        .metadata
        .finalizers
        .as_ref()?
        .iter()
        .position(|f| f == FINALIZER_NODEGROUP)
}

/// Appends our finalizer. With a list present, the test pins that exact
/// list; with none, it pins the resourceVersion, because RFC 6902 cannot
/// test for an absent member and `add` on a member that appeared meanwhile
/// would replace it.
pub fn add_patch(group: &NodeGroup) -> Result<Patch, serde_json::Error> {
    let ops = match &group.metadata.finalizers {
        Some(list) => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": list},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER_NODEGROUP},
        ]),
        None => json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": group.metadata.resource_version},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER_NODEGROUP]},
        ]),
    };
    serde_json::from_value(ops)
}

/// Removes our finalizer by index, testing the index still holds it.
/// `None` when the group does not carry it.
pub fn remove_patch(group: &NodeGroup) -> Option<Result<Patch, serde_json::Error>> {
    let path = format!("/metadata/finalizers/{}", position(group)?);
    Some(serde_json::from_value(json!([
        {"op": "test", "path": path, "value": FINALIZER_NODEGROUP},
        {"op": "remove", "path": path},
    ])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::NodeGroupSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn group(finalizers: Option<&[&str]>, deleting: bool) -> NodeGroup {
        let mut g = NodeGroup::new("g", NodeGroupSpec::default());
        g.metadata.resource_version = Some("7".into());
        g.metadata.finalizers = finalizers.map(|f| f.iter().map(|s| s.to_string()).collect());
        g.metadata.deletion_timestamp = deleting.then_some(Time(Timestamp::UNIX_EPOCH));
        g
    }

    fn as_json(patch: Patch) -> serde_json::Value {
        serde_json::to_value(patch).unwrap_or_default()
    }

    #[test]
    fn steps_follow_deletion_and_finalizer() {
        assert_eq!(step(&group(None, false)), Step::AddFinalizerThenApply);
        assert_eq!(
            step(&group(Some(&["other"]), false)),
            Step::AddFinalizerThenApply
        );
        assert_eq!(
            step(&group(Some(&[FINALIZER_NODEGROUP]), false)),
            Step::Apply
        );
        assert_eq!(
            step(&group(Some(&["other", FINALIZER_NODEGROUP]), true)),
            Step::Cleanup
        );
        assert_eq!(step(&group(Some(&["other"]), true)), Step::Done);
        assert_eq!(step(&group(None, true)), Step::Done);
    }

    #[test]
    fn adding_to_an_absent_list_pins_the_resource_version() {
        let patch = add_patch(&group(None, false)).map(as_json).ok();
        assert_eq!(
            patch,
            Some(json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
                {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER_NODEGROUP]},
            ]))
        );
    }

    #[test]
    fn adding_to_a_list_pins_the_list() {
        let patch = add_patch(&group(Some(&["other"]), false)).map(as_json).ok();
        assert_eq!(
            patch,
            Some(json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["other"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER_NODEGROUP},
            ]))
        );
    }

    #[test]
    fn removal_tests_the_index_it_removes() {
        let patch = remove_patch(&group(Some(&["other", FINALIZER_NODEGROUP]), true))
            .and_then(Result::ok)
            .map(as_json);
        assert_eq!(
            patch,
            Some(json!([
                {"op": "test", "path": "/metadata/finalizers/1", "value": FINALIZER_NODEGROUP},
                {"op": "remove", "path": "/metadata/finalizers/1"},
            ]))
        );
        assert!(remove_patch(&group(Some(&["other"]), true)).is_none());
    }
}
