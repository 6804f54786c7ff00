//! Garbage collection through ownerReferences, and the cascades that follow
//! removing a CRD or a namespace. Runs synchronously inside the deleting
//! transaction (the real collector is asynchronous; clients only observe that
//! dependents disappear shortly after their owner).

use std::sync::Arc;

use serde_json::Value;

use super::objects::{finalizers, is_deleting, meta_str, metadata_mut};
use super::resources::{crd_key, namespace_key};
use super::store::{ObjectKey, ResourceKey, Txn};

/// Finalizer that holds an owner until its dependents are gone.
pub const FOREGROUND: &str = "foregroundDeletion";

/// Finalizer that holds an owner until its dependents no longer refer to it.
pub const ORPHAN: &str = "orphan";

fn owner_uids(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn dependents_of(txn: &Txn<'_>, uid: &str) -> Vec<(ResourceKey, ObjectKey, Arc<Value>)> {
    txn.all()
        .into_iter()
        .filter(|(_, _, o)| owner_uids(o).iter().any(|u| u == uid))
        .collect()
}

fn without_owner(object: &Value, uid: &str) -> Value {
    let mut next = object.clone();
    if let Some(refs) = next
        .pointer_mut("/metadata/ownerReferences")
        .and_then(Value::as_array_mut)
    {
        refs.retain(|r| r["uid"].as_str() != Some(uid));
        if refs.is_empty()
            && let Some(meta) = metadata_mut(&mut next)
        {
            meta.remove("ownerReferences");
        }
    }
    next
}

/// Removes the reference to `owner` from all its dependents (orphan propagation).
pub fn orphan_dependents(txn: &mut Txn<'_>, owner: &Value) {
    let Some(uid) = meta_str(owner, "uid") else {
        return;
    };
    for (resource, key, dependent) in dependents_of(txn, uid) {
        txn.put(&resource, &key, without_owner(&dependent, uid));
    }
}

/// Starts background deletion of every dependent of `owner` (foreground propagation).
pub fn delete_dependents(txn: &mut Txn<'_>, owner: &Value) {
    let Some(uid) = meta_str(owner, "uid") else {
        return;
    };
    let mut removed = Vec::new();
    for (resource, key, dependent) in dependents_of(txn, uid) {
        delete_background(txn, &resource, &key, &dependent, &mut removed);
    }
    for (resource, key, object) in removed {
        collect(txn, &resource, &key, &object);
    }
}

/// Deletes one object without cascading yet: marked if it has finalizers,
/// else removed and queued in `removed` for collection.
fn delete_background(
    txn: &mut Txn<'_>,
    resource: &ResourceKey,
    key: &ObjectKey,
    object: &Value,
    removed: &mut Vec<(ResourceKey, ObjectKey, Arc<Value>)>,
) {
    if finalizers(object).is_empty() {
        if let Some(gone) = txn.remove(resource, key) {
            removed.push((resource.clone(), key.clone(), gone));
        }
    } else if !is_deleting(object) {
        let mut next = object.clone();
        super::objects::mark_deleting(&mut next);
        txn.put(resource, key, next);
    }
}

/// Releases an owner held by foreground deletion once no dependents remain.
pub fn finish_foreground(txn: &mut Txn<'_>, resource: &ResourceKey, key: &ObjectKey) {
    let Some(owner) = txn.get(resource, key) else {
        return;
    };
    let Some(uid) = meta_str(&owner, "uid") else {
        return;
    };
    if !is_deleting(&owner) || !finalizers(&owner).iter().any(|f| f == FOREGROUND) {
        return;
    }
    // Only dependents that say so block their owner (kube-controller-manager
    // releases it once no blockOwnerDeletion reference to it remains).
    let blocking = dependents_of(txn, uid).iter().any(|(_, _, d)| {
        d.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r["uid"].as_str() == Some(uid) && r["blockOwnerDeletion"] == true)
            })
    });
    if blocking {
        return;
    }
    release(txn, resource, key, &owner, FOREGROUND);
}

/// Releases an owner held by orphan deletion (its dependents were orphaned).
pub fn finish_orphan(txn: &mut Txn<'_>, resource: &ResourceKey, key: &ObjectKey) {
    if let Some(owner) = txn.get(resource, key)
        && is_deleting(&owner)
        && finalizers(&owner).iter().any(|f| f == ORPHAN)
    {
        release(txn, resource, key, &owner, ORPHAN);
    }
}

/// Removes `finalizer` from a deleting object, removing the object when it was the last.
fn release(
    txn: &mut Txn<'_>,
    resource: &ResourceKey,
    key: &ObjectKey,
    owner: &Value,
    finalizer: &str,
) {
    let mut next = owner.clone();
    if let Some(list) = next
        .pointer_mut("/metadata/finalizers")
        .and_then(Value::as_array_mut)
    {
        list.retain(|f| f.as_str() != Some(finalizer));
    }
    if finalizers(&next).is_empty() {
        txn.put(resource, key, next);
        if let Some(gone) = txn.remove(resource, key) {
            collect(txn, resource, key, &gone);
        }
    } else {
        txn.put(resource, key, next);
    }
}

/// Everything that follows the removal of `removed`: its dependents are
/// deleted (or lose the reference if they have other owners), owners waiting
/// in foreground deletion are released, and CRD / namespace contents go.
pub fn collect(txn: &mut Txn<'_>, resource: &ResourceKey, key: &ObjectKey, removed: &Value) {
    let mut queue = vec![(resource.clone(), key.clone(), Arc::new(removed.clone()))];
    // Bounded by the number of stored objects: each is removed at most once.
    while let Some((resource, key, object)) = queue.pop() {
        let mut newly_removed = Vec::new();
        // Simplification: custom objects go with their CRD even if they
        // carry finalizers.
        if resource == crd_key()
            && let (Some(group), Some(plural)) = (
                object.pointer("/spec/group").and_then(Value::as_str),
                object.pointer("/spec/names/plural").and_then(Value::as_str),
            )
        {
            txn.remove_all(&ResourceKey::new(group, plural));
        }
        if resource == namespace_key() {
            let contents: Vec<(ResourceKey, ObjectKey, Arc<Value>)> = txn
                .all()
                .into_iter()
                .filter(|(_, k, _)| k.namespace == key.name)
                .collect();
            for (r, k, o) in contents {
                delete_background(txn, &r, &k, &o, &mut newly_removed);
            }
        }
        if let Some(uid) = meta_str(&object, "uid") {
            for (r, k, dependent) in dependents_of(txn, uid) {
                let remaining = owner_uids(&dependent)
                    .into_iter()
                    .filter(|u| u != uid)
                    .count();
                if remaining == 0 {
                    delete_background(txn, &r, &k, &dependent, &mut newly_removed);
                } else {
                    txn.put(&r, &k, without_owner(&dependent, uid));
                }
            }
        }
        for owner_uid in owner_uids(&object) {
            let owners: Vec<(ResourceKey, ObjectKey)> = txn
                .all()
                .into_iter()
                .filter(|(_, _, o)| meta_str(o, "uid") == Some(owner_uid.as_str()))
                .map(|(r, k, _)| (r, k))
                .collect();
            for (r, k) in owners {
                finish_foreground(txn, &r, &k);
            }
        }
        queue.extend(newly_removed);
    }
}
