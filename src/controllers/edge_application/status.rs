//! Writing an application's status so that it fits the CRD the cluster
//! serves (edgedeck's, or KubeEdge's during a migration: see
//! [`crate::engine::status_schema`]), and the Warning Events that go with it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::Error;
use crate::api::{API_VERSION, EdgeApplication, EdgeApplicationStatus, ManifestCondition};
use crate::controllers::cluster::{self, lock};
use crate::controllers::served_schema::ServedSchema;
use crate::engine::status_schema::StatusSchema;

/// The schema of the EdgeApplication CRD the cluster serves.
pub(super) fn served_schema() -> ServedSchema<StatusSchema> {
    ServedSchema::new(
        "edgeapplications.apps.kubeedge.io",
        StatusSchema::from_openapi,
        StatusSchema::EDGEDECK,
    )
}

/// Writes `status` (already fitted to the schema).
pub(super) async fn write(
    client: &Client,
    schemas: &ServedSchema<StatusSchema>,
    app: &EdgeApplication,
    namespace: &str,
    status: &EdgeApplicationStatus,
) -> Result<(), Error> {
    let api: Api<EdgeApplication> = Api::namespaced(client.clone(), namespace);
    // A merge patch of the whole status: list fields are replaced, so stale entries go.
    let patch = json!({ "status": status });
    let result = api
        .patch_status(
            &app.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await;
    if let Err(kube::Error::Api(refused)) = &result
        && refused.code == 422
    {
        // The CRD may have been replaced since it was read.
        schemas.forget();
    }
    result.map(|_| ()).map_err(Error::Status)
}

/// Remembers, per application, which failure and warning messages were
/// already recorded as Events. The previous status says so too, but not
/// under a schema that prunes `reason`: without this every status change
/// would repeat every Event.
#[derive(Default)]
pub(super) struct Reported {
    by_app: Mutex<HashMap<String, BTreeSet<String>>>,
}

impl Reported {
    /// Records a Warning Event for each failure and warning of `status` not
    /// reported before, for this application in this process or in the
    /// previous status.
    pub(super) async fn record_new(
        &self,
        client: &Client,
        app: &EdgeApplication,
        status: &EdgeApplicationStatus,
    ) {
        let uid = app.uid().unwrap_or_default();
        let before: BTreeSet<String> = app
            .status
            .iter()
            .flat_map(|s| &s.workload_status)
            .flat_map(messages)
            .map(|(_, message)| message.to_owned())
            .collect();
        let now: Vec<(&str, &str)> = status.workload_status.iter().flat_map(messages).collect();
        let fresh: Vec<(&str, &str)> = {
            let mut by_app = lock(&self.by_app);
            let seen = by_app.entry(uid).or_default();
            let fresh = now
                .iter()
                .filter(|(_, message)| !before.contains(*message) && !seen.contains(*message))
                .copied()
                .collect();
            // Forget what is no longer shown, so a failure that comes back is reported again.
            *seen = now.iter().map(|(_, m)| (*m).to_owned()).collect();
            fresh
        };
        let reference = ObjectReference {
            api_version: Some(API_VERSION.to_owned()),
            kind: Some("EdgeApplication".to_owned()),
            name: app.metadata.name.clone(),
            namespace: app.metadata.namespace.clone(),
            uid: app.metadata.uid.clone(),
            ..ObjectReference::default()
        };
        for (reason, message) in fresh {
            cluster::warn(client, reference.clone(), reason, message).await;
        }
    }

    pub(super) fn forget(&self, uid: &str) {
        lock(&self.by_app).remove(uid);
    }
}

/// The Event reason and message of each failure and warning of one entry.
fn messages(entry: &crate::api::ManifestStatus) -> impl Iterator<Item = (&'static str, &str)> {
    let failure = (entry.conditions == Some(ManifestCondition::Failed))
        .then_some(entry.reason.as_deref())
        .flatten()
        .map(|reason| ("GenerateFailed", reason));
    failure.into_iter().chain(
        entry
            .warnings
            .iter()
            .map(|warning| ("OverriderSkipped", warning.as_str())),
    )
}

/// What a status write said, for the engine's event: each group's
/// ready/desired, so the Engine view shows progress rather than "updated".
pub(super) fn words(status: &crate::api::EdgeApplicationStatus) -> String {
    const SHOWN: usize = 4;
    let groups: Vec<String> = status
        .groups
        .iter()
        .take(SHOWN)
        .map(|g| format!("{} {}/{}", g.name, g.ready_replicas, g.desired_replicas))
        .collect();
    if groups.is_empty() {
        return "status updated".into();
    }
    let more = status.groups.len().saturating_sub(SHOWN);
    let tail = if more > 0 {
        format!(" … and {more} more")
    } else {
        String::new()
    };
    format!("status: {} ready{tail}", groups.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{EdgeApplicationStatus, GroupSummary};

    #[test]
    fn status_words_give_each_groups_ready_over_desired() {
        let group = |name: &str, ready, desired| GroupSummary {
            name: name.into(),
            ready_replicas: ready,
            desired_replicas: desired,
            ..GroupSummary::default()
        };
        let mut status = EdgeApplicationStatus {
            groups: vec![group("hangzhou", 2, 3), group("beijing", 3, 3)],
            ..EdgeApplicationStatus::default()
        };
        assert_eq!(words(&status), "status: hangzhou 2/3, beijing 3/3 ready");
        status.groups = (0..6).map(|i| group(&format!("g{i}"), 1, 1)).collect();
        assert_eq!(
            words(&status),
            "status: g0 1/1, g1 1/1, g2 1/1, g3 1/1 ready … and 2 more"
        );
        status.groups.clear();
        assert_eq!(words(&status), "status updated");
    }
}
