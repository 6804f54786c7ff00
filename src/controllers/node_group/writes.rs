//! Every cluster write of the NodeGroup controller, each with the
//! `edgedeck` field manager.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Map, Value};

use super::error::{Error, status_code};
use super::finalizer;
use super::labels::{guarded_removal, label_patch_body};
use super::plan::status_patch_body;
use crate::api::{FIELD_MANAGER, LABEL_BELONGING_TO, NodeGroup, NodeGroupStatus};
use crate::engine::membership::pods_to_evict;

fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    }
}

/// Applies a [`super::labels::label_patch`] for `group`: keys with a value
/// in one merge patch, each removal (`null`) as a [`guarded_removal`] that
/// is skipped when the key no longer names `group`. Returns the part that
/// was applied; `None` when the node is gone.
pub async fn write_labels(
    client: &Client,
    node: &str,
    group: &str,
    patch: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, Error> {
    let api: Api<Node> = Api::all(client.clone());
    let what = || format!("labelling node {node}");
    let sets: Map<String, Value> = patch
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut applied = Map::new();
    if !sets.is_empty() {
        match api
            .patch(
                node,
                &patch_params(),
                &Patch::Merge(label_patch_body(sets.clone())),
            )
            .await
        {
            Ok(_) => applied.extend(sets),
            Err(e) if status_code(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(Error::kube(what(), e)),
        }
    }
    for key in patch.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k) {
        let removal = Patch::Json::<()>(guarded_removal(key, group)?);
        match api.patch(node, &patch_params(), &removal).await {
            Ok(_) => {
                applied.insert(key.clone(), Value::Null);
            }
            Err(e) if status_code(&e) == Some(404) => return Ok(None),
            // The test failed: the key changed since (the winning group took the node).
            Err(e) if matches!(status_code(&e), Some(409 | 422)) => {}
            Err(e) => return Err(Error::kube(what(), e)),
        }
    }
    Ok(Some(applied))
}

pub async fn patch_status(
    client: &Client,
    group: &str,
    status: &NodeGroupStatus,
) -> Result<(), Error> {
    let api: Api<NodeGroup> = Api::all(client.clone());
    api.patch_status(
        group,
        &patch_params(),
        &Patch::Merge(status_patch_body(status)),
    )
    .await
    .map(drop)
    .map_err(|e| Error::kube(format!("updating status of nodegroup {group}"), e))
}

pub async fn add_finalizer(client: &Client, group: &NodeGroup) -> Result<(), Error> {
    let name = group.name_any();
    let api: Api<NodeGroup> = Api::all(client.clone());
    api.patch(
        &name,
        &patch_params(),
        &Patch::Json::<()>(finalizer::add_patch(group)?),
    )
    .await
    .map(drop)
    .map_err(|e| Error::kube(format!("adding finalizer to nodegroup {name}"), e))
}

/// Releases the group; a group already gone counts as released.
pub async fn remove_finalizer(client: &Client, group: &NodeGroup) -> Result<(), Error> {
    let Some(patch) = finalizer::remove_patch(group) else {
        return Ok(());
    };
    let name = group.name_any();
    let api: Api<NodeGroup> = Api::all(client.clone());
    match api
        .patch(&name, &patch_params(), &Patch::Json::<()>(patch?))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Ok(()),
        Err(e) => Err(Error::kube(
            format!("removing finalizer from nodegroup {name}"),
            e,
        )),
    }
}

/// Nodes carrying `belonging-to=<group>`, read from the API server rather
/// than the cache: releasing the finalizer on a stale view would leave
/// labels behind for good.
pub async fn nodes_labelled(client: &Client, group: &str) -> Result<Vec<Node>, Error> {
    let api: Api<Node> = Api::all(client.clone());
    let params = ListParams::default().labels(&format!("{LABEL_BELONGING_TO}={group}"));
    api.list(&params)
        .await
        .map(|list| list.items)
        .map_err(|e| Error::kube(format!("listing nodes of nodegroup {group}"), e))
}

/// Evicts the pods on `node` pinned to a group other than `now_in`
/// (`engine::membership::pods_to_evict`); returns `namespace/name` of each.
/// Lists only that node's pods: a cluster-wide pod cache would cost far
/// more than this rare call on large fleets.
pub async fn evict_pinned(
    client: &Client,
    node: &str,
    now_in: Option<&str>,
) -> Result<Vec<String>, Error> {
    let api: Api<Pod> = Api::all(client.clone());
    let params = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let pods = api
        .list(&params)
        .await
        .map_err(|e| Error::kube(format!("listing pods on node {node}"), e))?
        .items;
    let mut evicted = Vec::new();
    let mut errors = Vec::new();
    for pod in pods_to_evict(node, now_in, &pods) {
        let (namespace, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
        match evict_one(client, &namespace, &name).await {
            Ok(()) => evicted.push(format!("{namespace}/{name}")),
            Err(e) => errors.push(e),
        }
    }
    match Error::from_many(errors) {
        Some(e) => Err(e),
        None => Ok(evicted),
    }
}

/// The Eviction API respects PodDisruptionBudgets; servers without it
/// (404 on the subresource, 405) get a plain delete. A pod already gone is
/// a success.
async fn evict_one(client: &Client, namespace: &str, name: &str) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = EvictParams {
        delete_options: None,
        post_options: PostParams {
            dry_run: false,
            field_manager: Some(FIELD_MANAGER.to_owned()),
        },
    };
    match api.evict(name, &params).await {
        Ok(_) => return Ok(()),
        Err(e) if matches!(status_code(&e), Some(404 | 405)) => {}
        Err(e) => return Err(Error::kube(format!("evicting pod {namespace}/{name}"), e)),
    }
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(e) if status_code(&e) == Some(404) => Ok(()),
        Err(e) => Err(Error::kube(format!("deleting pod {namespace}/{name}"), e)),
    }
}
