//! Waiting for new CRDs to be served. A real kube-apiserver creates a CRD at
//! once but serves its resource a moment later (Established), and lists the
//! kind in discovery a moment after that; the embedded server does all of it
//! at once, so there the first probe succeeds.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery::Discovery;
use kube::{Client, Resource};
use tokio::time::Instant;

use super::plan::Plan;
use super::{LoadError, describe, discover};

/// Waits until every CRD of `plan` is served, then returns a discovery that
/// knows their kinds.
pub(super) async fn wait(
    client: &Client,
    plan: &Plan,
    patience: Duration,
) -> Result<Discovery, LoadError> {
    let deadline = Instant::now() + patience;
    let crds = plan.crd_definitions()?;
    loop {
        let pending = match unserved(client, &crds).await? {
            Some(pending) => pending,
            None => match discover(client, &plan.groups).await {
                Ok(discovery) => match crds.iter().find(|crd| !discovered(&discovery, crd)) {
                    None => return Ok(discovery),
                    Some(crd) => (crd_name(crd), "not in discovery yet".to_owned()),
                },
                // A group can be listed a beat before its versions answer.
                Err(e) => (
                    crds.first().map(crd_name).unwrap_or_default(),
                    e.to_string(),
                ),
            },
        };
        if Instant::now() >= deadline {
            let (name, reason) = pending;
            return Err(LoadError::NotServed {
                name,
                waited: patience,
                reason,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn crd_name(crd: &CustomResourceDefinition) -> String {
    crd.meta().name.clone().unwrap_or_default()
}

/// The first CRD not yet served, with why; an error when the API server
/// refused one for good (a name clash never resolves by waiting).
async fn unserved(
    client: &Client,
    crds: &[CustomResourceDefinition],
) -> Result<Option<(String, String)>, LoadError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds {
        let name = crd_name(crd);
        let live = match api.get(&name).await {
            Ok(live) => live,
            Err(e) => return Ok(Some((name, describe(&e)))),
        };
        let conditions = live.status.and_then(|s| s.conditions).unwrap_or_default();
        let condition = |type_: &str| conditions.iter().find(|c| c.type_ == type_);
        if let Some(refused) = condition("NamesAccepted").filter(|c| c.status == "False") {
            let message = refused.message.clone().unwrap_or_default();
            return Err(LoadError::Rejected { name, message });
        }
        let established = condition("Established").is_some_and(|c| c.status == "True");
        if !established {
            return Ok(Some((name, "not Established yet".to_owned())));
        }
        let Some(resource) = api_resource(crd) else {
            return Ok(Some((name, "it serves no version".to_owned())));
        };
        let list = Api::<DynamicObject>::all_with(client.clone(), &resource)
            .list_metadata(&ListParams::default().limit(1))
            .await;
        if let Err(e) = list {
            return Ok(Some((name, format!("not listable yet: {}", describe(&e)))));
        }
    }
    Ok(None)
}

/// The CRD's resource at its storage version (served, or nothing is).
fn api_resource(crd: &CustomResourceDefinition) -> Option<ApiResource> {
    let spec = &crd.spec;
    let version = spec.versions.iter().find(|v| v.storage && v.served)?;
    Some(ApiResource {
        group: spec.group.clone(),
        version: version.name.clone(),
        api_version: format!("{}/{}", spec.group, version.name),
        kind: spec.names.kind.clone(),
        plural: spec.names.plural.clone(),
    })
}

fn discovered(discovery: &Discovery, crd: &CustomResourceDefinition) -> bool {
    api_resource(crd).is_some_and(|r| {
        let gvk = GroupVersionKind::gvk(&r.group, &r.version, &r.kind);
        discovery.resolve_gvk(&gvk).is_some()
    })
}
