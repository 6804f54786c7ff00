//! The revision-history step of the EdgeApplication controller: record the
//! applied spec as a ControllerRevision when it differs from the newest one,
//! then prune to [`revision::KEEP`]. The engine runs controllers only while
//! it leads, so only the leader writes here.
//!
//! The hash last recorded per application is remembered, so a pass over an
//! unchanged application neither lists nor writes (after the first pass of
//! an engine, which lists once to learn it).

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};

use crate::api::{EdgeApplication, FIELD_MANAGER};
use crate::engine::revision;

#[derive(Default)]
pub(super) struct Recorded(Mutex<HashMap<String, String>>);

impl Recorded {
    fn get(&self, uid: &str) -> Option<String> {
        self.0.lock().ok()?.get(uid).cloned()
    }
    fn set(&self, uid: &str, hash: String) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(uid.to_owned(), hash);
        }
    }
}

/// Records `app`'s spec if it is new; returns what changed for the event log.
pub(super) async fn record(
    client: &Client,
    recorded: &Recorded,
    app: &EdgeApplication,
    namespace: &str,
    uid: &str,
) -> Result<Vec<String>, kube::Error> {
    let hash = revision::spec_hash(&app.spec);
    if recorded.get(uid).as_deref() == Some(hash.as_str()) {
        return Ok(Vec::new());
    }
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), namespace);
    let selector = format!("{}={}", revision::APP_LABEL, app.name_any());
    let mut existing = api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    // Revisions of an earlier application of the same name are not this one's history.
    existing.retain(|r| r.owner_references().iter().any(|o| o.uid == uid));
    let mut changes = Vec::new();
    if let Some(next) = revision::to_record(app, &existing) {
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..PostParams::default()
        };
        let created = api.create(&params, &next).await?;
        changes.push(format!("revision {} recorded", created.revision));
        existing.push(created);
    }
    for name in revision::to_prune(&existing, revision::KEEP) {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => changes.push(format!("revision {name} pruned")),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    recorded.set(uid, hash);
    Ok(changes)
}
