//! The verbs on stored objects — get, list, create, update, patch, delete,
//! and the status and scale subresources — independent of HTTP.
//!
//! Each verb runs in one store transaction, so checks (existence,
//! resourceVersion preconditions) and the write are atomic.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::cluster::Cluster;
use super::crd_schema;
use super::decode;
use super::defaults;
use super::error::{ApiError, ApiResult, Subject};
use super::gc;
use super::managed;
use super::objects::{self, finalizers, is_deleting, meta_str, metadata_mut};
use super::patch::{self, PatchKind};
use super::resources::ResourceInfo;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{ObjectKey, Txn};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
}

#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// Server-side apply takes fields other managers own instead of failing.
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// Result of a delete: still present with a deletionTimestamp, or gone.
#[derive(Debug)]
pub enum Deleted {
    Pending(Value),
    Gone(Value),
}

#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// Metadata of a list response.
#[derive(Debug, Clone)]
pub struct ListMeta {
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

impl ListMeta {
    pub fn to_json(&self) -> Value {
        let mut meta = json!({"resourceVersion": self.resource_version.to_string()});
        if let Some(token) = &self.continue_token {
            meta["continue"] = json!(token);
        }
        if let Some(n) = self.remaining {
            meta["remainingItemCount"] = json!(n);
        }
        meta
    }
}

pub fn subject(info: &ResourceInfo, name: &str) -> Subject {
    Subject {
        group: info.group.clone(),
        resource: info.plural.clone(),
        kind: info.kind.clone(),
        name: name.to_string(),
    }
}

fn not_found(info: &ResourceInfo, name: &str) -> ApiError {
    ApiError::NotFound(subject(info, name))
}

fn invalid(info: &ResourceInfo, name: &str, why: impl Into<String>) -> ApiError {
    ApiError::Invalid(subject(info, name), vec![why.into()])
}

fn conflict(info: &ResourceInfo, name: &str) -> ApiError {
    ApiError::Conflict(
        subject(info, name),
        "the object has been modified; please apply your changes to the latest version and try again".into(),
    )
}

/// The object as served at `info`'s version (stored copies are version-agnostic).
pub fn present(info: &ResourceInfo, object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(map) = out.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
    }
    out
}

/// Key of an object; namespaced resources need a namespace, others must not have one.
pub fn object_key(
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult<ObjectKey> {
    match (info.namespaced, namespace) {
        (true, Some(ns)) => Ok(ObjectKey::new(ns, name)),
        (false, None) => Ok(ObjectKey::new("", name)),
        _ => Err(ApiError::NoSuchResource),
    }
}

pub fn get(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult<Value> {
    let key = object_key(info, namespace, name)?;
    cluster
        .store
        .transaction(|t| t.get(&info.key(), &key))
        .map(|o| present(info, &o))
        .ok_or_else(|| not_found(info, name))
}

fn encode_continue(rv: u64, key: &ObjectKey) -> String {
    let raw = json!({"rv": rv, "ns": key.namespace, "name": key.name}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> ApiResult<(u64, ObjectKey)> {
    let bad = || ApiError::BadRequest("invalid continue token".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let ns = v["ns"].as_str().ok_or_else(bad)?;
    let name = v["name"].as_str().ok_or_else(bad)?;
    Ok((rv, ObjectKey::new(ns, name)))
}

/// Lists matching objects. With `limit`, pages continue after the last key;
/// every page reports the first page's resourceVersion so a watch started
/// from it replays (rather than misses) changes made between pages.
///
/// A page reads only its own entries from the ordered table (plus the
/// entries a selector skips). As on kube-apiserver, `continue` is set when
/// keys follow the page (matching or not: a later page may come back
/// empty), and `remainingItemCount` only for lists without selectors, where
/// it is a count of keys, not a walk through objects.
pub fn list(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    opts: &ListOptions,
) -> ApiResult<(Vec<Value>, ListMeta)> {
    let resume = opts
        .continue_token
        .as_deref()
        .map(decode_continue)
        .transpose()?;
    if let Some((rv, _)) = &resume {
        cluster
            .store
            .check_resumable(*rv)
            .map_err(|_| ApiError::ContinueExpired)?;
    }
    let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
    let selects_all =
        opts.labels == LabelSelector::default() && opts.fields == FieldSelector::default();
    let (head, page, rest) = cluster.store.transaction(|t| {
        let after = resume.as_ref().map(|(_, key)| key);
        let mut entries = t.list_after(&info.key(), namespace, after);
        let page: Vec<(ObjectKey, Arc<Value>)> = entries
            .by_ref()
            .filter(|(_, o)| opts.labels.matches(o) && opts.fields.matches(o))
            .take(limit)
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        let rest = if page.len() < limit {
            Some(0)
        } else if selects_all {
            Some(entries.count())
        } else {
            entries.next().map(|_| 1)
        };
        (t.current_rv(), page, rest)
    });
    let rv = resume.as_ref().map(|(rv, _)| *rv).unwrap_or(head);
    let (continue_token, remaining) = match (rest, page.last()) {
        (Some(0) | None, _) | (_, None) => (None, None),
        (Some(n), Some((key, _))) => (Some(encode_continue(rv, key)), selects_all.then_some(n)),
    };
    let items = page.iter().map(|(_, o)| present(info, o)).collect();
    Ok((
        items,
        ListMeta {
            resource_version: rv,
            continue_token,
            remaining,
        },
    ))
}

/// Checks apiVersion/kind of a request body against the URL, filling them if absent.
fn check_type(info: &ResourceInfo, body: &mut Value) -> ApiResult<()> {
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::BadRequest(
            "the request body must be a JSON or YAML object".into(),
        ));
    };
    let expected_version = info.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != expected_version => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )));
        }
        _ => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if k != info.kind => {
            return Err(ApiError::BadRequest(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                info.kind
            )));
        }
        _ => {}
    }
    map.insert("apiVersion".into(), json!(expected_version));
    map.insert("kind".into(), json!(info.kind));
    if !map.get("metadata").is_none_or(Value::is_object) {
        return Err(ApiError::BadRequest("metadata must be an object".into()));
    }
    Ok(())
}

/// Checks the body's namespace against the URL's, filling it if absent.
fn check_namespace(
    info: &ResourceInfo,
    namespace: Option<&str>,
    body: &mut Value,
) -> ApiResult<()> {
    let Some(meta) = metadata_mut(body) else {
        return Err(ApiError::BadRequest(
            "the request body must be an object".into(),
        ));
    };
    match (info.namespaced, namespace) {
        (true, Some(ns)) => {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                _ => {}
            }
            meta.insert("namespace".into(), json!(ns));
        }
        (false, _) => {
            meta.remove("namespace");
        }
        (true, None) => return Err(ApiError::MethodNotAllowed),
    }
    Ok(())
}

/// Runs `f` as `manager` writing `info` through `sub`, with the shape of
/// its objects (field ownership is recorded by path).
fn as_writer<R>(
    txn: &Txn<'_>,
    info: &ResourceInfo,
    manager: &str,
    operation: &str,
    sub: Subresource,
    f: impl FnOnce(managed::Writer<'_>, super::fieldset::Shape<'_>) -> R,
) -> R {
    let api_version = info.api_version();
    let writer = managed::Writer {
        manager,
        operation,
        subresource: match sub {
            Subresource::Main => "",
            Subresource::Status => "status",
        },
        api_version: &api_version,
    };
    let crd = crd_schema::crd_of(txn, info);
    f(writer, crd_schema::shape_of(info, crd.as_deref()))
}

/// A custom resource as its CRD's structural schema makes it (pruned,
/// defaulted), or 422 Invalid naming every offending field.
fn structural(txn: &Txn<'_>, info: &ResourceInfo, name: &str, object: &mut Value) -> ApiResult<()> {
    crd_schema::conform(txn, info, object)
        .map_err(|errors| ApiError::Invalid(subject(info, name), errors))
}

fn namespace_exists(txn: &Txn<'_>, namespace: &str) -> bool {
    txn.get(
        &super::resources::namespace_key(),
        &ObjectKey::new("", namespace),
    )
    .is_some()
}

pub fn create(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    body: Value,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    // Read before the transaction: the registry reads the store.
    let registry = cluster.registry();
    cluster.store.transaction(|t| {
        let created = create_in(t, info, namespace, body, opts, "Update", false)?;
        collect_if_orphaned(t, &registry, info, namespace, &created, opts)?;
        Ok(created)
    })
}

/// Like kube-controller-manager's garbage collector, an object created with
/// owner references that all name objects gone (an owner deleted while a
/// controller was still writing its dependents) is deleted: the cascade of
/// the owner's delete ran before it existed. The soak found such objects
/// outliving their EdgeApplication on this server and never on a real one.
fn collect_if_orphaned(
    txn: &mut Txn<'_>,
    registry: &super::resources::Registry,
    info: &ResourceInfo,
    namespace: Option<&str>,
    created: &Value,
    opts: &WriteOptions,
) -> ApiResult<()> {
    let Some(refs) = created
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .filter(|refs| !refs.is_empty())
    else {
        return Ok(());
    };
    if opts.dry_run {
        return Ok(());
    }
    let gone = |owner: &Value| -> bool {
        let text = |f: &str| owner.get(f).and_then(Value::as_str).unwrap_or_default();
        let (group, version) = text("apiVersion")
            .rsplit_once('/')
            .unwrap_or(("", text("apiVersion")));
        let Some(owner_info) = registry
            .in_group_version(group, version)
            .find(|r| r.kind == text("kind"))
        else {
            // A kind this server does not serve: leave the object alone.
            return false;
        };
        let owner_ns = if owner_info.namespaced {
            namespace
        } else {
            None
        };
        let Ok(key) = object_key(owner_info, owner_ns, text("name")) else {
            return false;
        };
        txn.get(&owner_info.key(), &key)
            .is_none_or(|o| meta_str(&o, "uid") != Some(text("uid")))
    };
    if refs.iter().all(gone) {
        let name = meta_str(created, "name").unwrap_or_default().to_owned();
        let key = object_key(info, namespace, &name)?;
        delete_in(txn, info, &key, &DeleteOptions::default())?;
    }
    Ok(())
}

fn create_in(
    txn: &mut Txn<'_>,
    info: &ResourceInfo,
    namespace: Option<&str>,
    mut body: Value,
    opts: &WriteOptions,
    operation: &str,
    keep_status: bool,
) -> ApiResult<Value> {
    check_type(info, &mut body)?;
    check_namespace(info, namespace, &mut body)?;
    let applied =
        (operation == "Apply").then(|| managed::owned_part(&body, info.status_subresource, ""));
    if let Some(ns) = namespace
        && !namespace_exists(txn, ns)
    {
        return Err(ApiError::NotFound(Subject {
            group: String::new(),
            resource: "namespaces".into(),
            kind: "Namespace".into(),
            name: ns.to_string(),
        }));
    }
    let name_rule = match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces" | "services") => objects::NameRule::Label,
        _ => objects::NameRule::Subdomain,
    };
    let name = match meta_str(&body, "name").filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None => {
            let prefix = meta_str(&body, "generateName").unwrap_or("").to_string();
            if prefix.is_empty() {
                return Err(invalid(
                    info,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            // Retry on the (unlikely) collision, as the real server does.
            let free = (0..8)
                .map(|_| format!("{prefix}{}", objects::random_suffix()))
                .find(|candidate| {
                    object_key(info, namespace, candidate)
                        .map(|k| txn.get(&info.key(), &k).is_none())
                        .unwrap_or(false)
                });
            free.ok_or_else(|| ApiError::AlreadyExists(subject(info, &prefix)))?
        }
    };
    objects::validate_name(&name, name_rule).map_err(|why| {
        invalid(
            info,
            &name,
            format!("metadata.name: Invalid value: {name:?}: {why}"),
        )
    })?;
    let key = object_key(info, namespace, &name)?;
    if txn.get(&info.key(), &key).is_some() {
        return Err(ApiError::AlreadyExists(subject(info, &name)));
    }
    if !keep_status
        && !defaults::keeps_status_on_create(info)
        && let Some(map) = body.as_object_mut()
    {
        map.remove("status");
    }
    if let Some(meta) = metadata_mut(&mut body) {
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(objects::new_uid()));
        meta.insert(
            "creationTimestamp".into(),
            json!(objects::rfc3339(objects::now())),
        );
        meta.insert("generation".into(), json!(1));
        for transient in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(transient);
        }
    }
    decode::check(info, &body).map_err(ApiError::BadRequest)?;
    structural(txn, info, &name, &mut body)?;
    defaults::on_create(txn, info, &mut body).map_err(|why| invalid(info, &name, why))?;
    if let Some(meta) = metadata_mut(&mut body) {
        meta.remove("managedFields");
    }
    if let Some(manager) = opts.field_manager.as_deref() {
        let sub = Subresource::Main;
        as_writer(
            txn,
            info,
            manager,
            operation,
            sub,
            |writer, shape| match &applied {
                Some(config) => managed::record_create_by_apply(&mut body, config, writer, shape),
                None => {
                    managed::record_update(None, &mut body, writer, shape, info.status_subresource)
                }
            },
        );
    }
    if opts.dry_run {
        return Ok(present(info, &body));
    }
    let stored = txn.put(&info.key(), &key, body);
    Ok(present(info, &stored))
}

/// Creates an object the way a cluster component does through its own
/// subresources (a kubelet posting pod status): `status` is kept.
pub(crate) fn create_internal(
    txn: &mut Txn<'_>,
    info: &ResourceInfo,
    namespace: Option<&str>,
    body: Value,
    field_manager: &str,
) -> ApiResult<Value> {
    let opts = WriteOptions {
        field_manager: Some(field_manager.to_owned()),
        ..WriteOptions::default()
    };
    create_in(txn, info, namespace, body, &opts, "Update", true)
}

/// Writes the new state of an existing object: an object being deleted whose
/// last finalizer is gone is removed (and its dependents collected) instead.
pub(crate) fn store_existing(
    txn: &mut Txn<'_>,
    info: &ResourceInfo,
    key: &ObjectKey,
    object: Value,
) -> Arc<Value> {
    if is_deleting(&object) && finalizers(&object).is_empty() {
        txn.put(&info.key(), key, object);
        match txn.remove(&info.key(), key) {
            Some(removed) => {
                gc::collect(txn, &info.key(), key, &removed);
                removed
            }
            None => Arc::new(Value::Null),
        }
    } else {
        txn.put(&info.key(), key, object)
    }
}

/// Metadata fields clients cannot change through update or patch.
const SYSTEM_METADATA: [&str; 7] = [
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "name",
    "namespace",
];

/// The common tail of update, patch and apply: `desired` is the full object
/// the client wants; only the part `sub` governs is taken from it.
#[allow(clippy::too_many_arguments)]
fn update_in(
    txn: &mut Txn<'_>,
    info: &ResourceInfo,
    key: &ObjectKey,
    old: &Value,
    mut desired: Value,
    sub: Subresource,
    opts: &WriteOptions,
    operation: &str,
) -> ApiResult<Value> {
    let name = key.name.as_str();
    if let Some(wanted) = meta_str(&desired, "resourceVersion").filter(|rv| !rv.is_empty())
        && Some(wanted) != meta_str(old, "resourceVersion")
    {
        return Err(conflict(info, name));
    }
    let mut next = match sub {
        Subresource::Main => {
            if info.status_subresource
                && let Some(map) = desired.as_object_mut()
            {
                map.remove("status");
                if let Some(status) = old.get("status") {
                    map.insert("status".into(), status.clone());
                }
            }
            desired
        }
        Subresource::Status => {
            let mut next = old.clone();
            if let Some(map) = next.as_object_mut() {
                match desired.get("status") {
                    Some(status) => map.insert("status".into(), status.clone()),
                    None => map.remove("status"),
                };
            }
            next
        }
    };
    if !next.is_object() {
        return Err(ApiError::BadRequest(
            "the object must be a JSON object".into(),
        ));
    }
    if let (Some(meta), Some(old_meta)) = (metadata_mut(&mut next), objects::metadata(old)) {
        for field in SYSTEM_METADATA.iter().chain(["resourceVersion"].iter()) {
            match old_meta.get(*field) {
                Some(v) => meta.insert((*field).to_string(), v.clone()),
                None => meta.remove(*field),
            };
        }
        if !meta.contains_key("managedFields")
            && let Some(entries) = old_meta.get("managedFields")
        {
            meta.insert("managedFields".into(), entries.clone());
        }
    }
    if let Some(map) = next.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
    }
    structural(txn, info, name, &mut next)?;
    if objects::spec_changed(old, &next) || deployment_annotations_changed(info, old, &next) {
        let generation = objects::metadata(old)
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(meta) = metadata_mut(&mut next) {
            meta.insert("generation".into(), json!(generation + 1));
        }
    }
    if let Some(why) = objects::finalizers_added_while_deleting(old, &next) {
        return Err(invalid(info, name, why));
    }
    decode::check(info, &next).map_err(ApiError::BadRequest)?;
    defaults::on_update(txn, info, old, &mut next).map_err(|why| invalid(info, name, why))?;
    let mut old_versioned = old.clone();
    if let Some(map) = old_versioned.as_object_mut() {
        map.insert("apiVersion".into(), json!(info.api_version()));
        map.insert("kind".into(), json!(info.kind));
    }
    if managed::without_times(&next) == managed::without_times(&old_versioned) {
        // Kubernetes does not write (or bump resourceVersion) on no-op
        // updates, nor for an apply that only renews its managedFields time.
        return Ok(present(info, old));
    }
    if operation != "Apply"
        && let Some(manager) = opts.field_manager.as_deref()
    {
        as_writer(txn, info, manager, operation, sub, |writer, shape| {
            managed::record_update(Some(old), &mut next, writer, shape, info.status_subresource);
        });
    }
    if opts.dry_run {
        return Ok(present(info, &next));
    }
    let stored = store_existing(txn, info, key, next);
    Ok(present(info, &stored))
}

pub fn update(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    mut body: Value,
    sub: Subresource,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    check_type(info, &mut body)?;
    check_namespace(info, namespace, &mut body)?;
    match meta_str(&body, "name") {
        Some(n) if n != name => {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => {}
    }
    let key = object_key(info, namespace, name)?;
    cluster.store.transaction(|t| {
        let old = t
            .get(&info.key(), &key)
            .ok_or_else(|| not_found(info, name))?;
        update_in(t, info, &key, &old, body, sub, opts, "Update")
    })
}

#[allow(clippy::too_many_arguments)]
pub fn patch(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    kind: PatchKind,
    body: Value,
    sub: Subresource,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    if kind == PatchKind::Strategic && info.custom {
        return Err(ApiError::UnsupportedMediaType(
            "strategic merge patch is not supported for custom resources; use a JSON merge patch or JSON patch".into(),
        ));
    }
    if kind == PatchKind::Apply && opts.field_manager.is_none() {
        return Err(ApiError::BadRequest(
            "PATCH with Content-Type application/apply-patch+yaml requires the fieldManager parameter".into(),
        ));
    }
    let key = object_key(info, namespace, name)?;
    let registry = cluster.registry();
    cluster.store.transaction(|t| {
        let Some(old) = t.get(&info.key(), &key) else {
            if kind == PatchKind::Apply && sub == Subresource::Main {
                let mut body = body;
                if meta_str(&body, "name").is_none()
                    && let Some(meta) = metadata_mut(&mut body)
                {
                    meta.insert("name".into(), json!(name));
                }
                check_name_matches(&body, name)?;
                let created = create_in(t, info, namespace, body, opts, "Apply", false)?;
                collect_if_orphaned(t, &registry, info, namespace, &created, opts)?;
                return Ok(created);
            }
            return Err(not_found(info, name));
        };
        let old_json = present(info, &old);
        let (patched, operation) = match kind {
            PatchKind::Json => (patch::json_patch(&old_json, &body)?, "Update"),
            PatchKind::Merge => (patch::merge_patch(&old_json, &body)?, "Update"),
            PatchKind::Strategic => (patch::strategic_merge_patch(&old_json, &body)?, "Update"),
            PatchKind::Apply => {
                let mut body = body;
                check_type(info, &mut body)?;
                check_name_matches(&body, name)?;
                let manager = opts.field_manager.as_deref().unwrap_or_default();
                let mut merged = as_writer(t, info, manager, "Apply", sub, |writer, shape| {
                    let config =
                        managed::owned_part(&body, info.status_subresource, writer.subresource);
                    managed::apply(&old_json, &config, writer, shape, opts.force)
                        .map_err(ApiError::ApplyConflict)
                })?;
                // A resourceVersion in the configuration is a precondition.
                if let (Some(rv), Some(meta)) = (
                    meta_str(&body, "resourceVersion"),
                    metadata_mut(&mut merged),
                ) {
                    meta.insert("resourceVersion".into(), json!(rv));
                }
                (merged, "Apply")
            }
        };
        // A patch cannot move an object: a changed name/namespace is ignored
        // by update_in, as for every system field.
        update_in(t, info, &key, &old, patched, sub, opts, operation)
    })
}

fn check_name_matches(body: &Value, name: &str) -> ApiResult<()> {
    match meta_str(body, "name") {
        Some(n) if n != name => Err(ApiError::BadRequest(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        ))),
        _ => Ok(()),
    }
}

pub fn delete(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<Deleted> {
    let key = object_key(info, namespace, name)?;
    cluster
        .store
        .transaction(|t| delete_in(t, info, &key, opts))
}

pub(crate) fn delete_in(
    txn: &mut Txn<'_>,
    info: &ResourceInfo,
    key: &ObjectKey,
    opts: &DeleteOptions,
) -> ApiResult<Deleted> {
    let name = key.name.as_str();
    let old = txn
        .get(&info.key(), key)
        .ok_or_else(|| not_found(info, name))?;
    if let Some(uid) = &opts.precondition_uid
        && meta_str(&old, "uid") != Some(uid.as_str())
    {
        return Err(ApiError::Conflict(
            subject(info, name),
            format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(&old, "uid").unwrap_or("")
            ),
        ));
    }
    if let Some(rv) = &opts.precondition_rv
        && meta_str(&old, "resourceVersion") != Some(rv.as_str())
    {
        return Err(ApiError::Conflict(
            subject(info, name),
            format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(&old, "resourceVersion").unwrap_or("")
            ),
        ));
    }
    let propagation = opts.propagation.unwrap_or(Propagation::Background);
    let mut next = (*old).clone();
    // Like kube-apiserver, foreground and orphan deletion hold the object
    // with a finalizer that the garbage collector removes when done.
    let held_by = match propagation {
        Propagation::Foreground => Some(gc::FOREGROUND),
        Propagation::Orphan => Some(gc::ORPHAN),
        Propagation::Background => None,
    };
    if let Some(finalizer) = held_by
        && !finalizers(&next).iter().any(|f| f == finalizer)
        && let Some(meta) = metadata_mut(&mut next)
    {
        let list = meta.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.push(json!(finalizer));
        }
    }
    if opts.dry_run {
        return Ok(if finalizers(&next).is_empty() {
            Deleted::Gone(present(info, &old))
        } else {
            Deleted::Pending(present(info, &next))
        });
    }
    if finalizers(&next).is_empty() {
        let removed = txn.remove(&info.key(), key).unwrap_or(old);
        gc::collect(txn, &info.key(), key, &removed);
        return Ok(Deleted::Gone(present(info, &removed)));
    }
    if !is_deleting(&next) {
        objects::mark_deleting(&mut next);
    }
    let marked = (next != *old).then(|| txn.put(&info.key(), key, next));
    match propagation {
        Propagation::Foreground => {
            gc::delete_dependents(txn, &old);
            gc::finish_foreground(txn, &info.key(), key);
        }
        Propagation::Orphan => {
            gc::orphan_dependents(txn, &old);
            gc::finish_orphan(txn, &info.key(), key);
        }
        Propagation::Background => {}
    }
    Ok(match (txn.get(&info.key(), key), marked) {
        (Some(current), _) => Deleted::Pending(present(info, &current)),
        // The real garbage collector finishes these deletions only later,
        // so kube-apiserver always answers with the marked object; here the
        // collection happened in the same transaction.
        (None, Some(marked)) if held_by.is_some() => Deleted::Pending(present(info, &marked)),
        (None, _) => Deleted::Gone(present(info, &old)),
    })
}

/// Deletes every object matching `opts` (the `deletecollection` verb).
pub fn delete_collection(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    list_opts: &ListOptions,
    opts: &DeleteOptions,
) -> ApiResult<Vec<Value>> {
    cluster.store.transaction(|t| {
        let targets: Vec<ObjectKey> = t
            .list(&info.key(), namespace)
            .into_iter()
            .filter(|(_, o)| list_opts.labels.matches(o) && list_opts.fields.matches(o))
            .map(|(k, _)| k)
            .collect();
        let mut out = Vec::new();
        for key in targets {
            match delete_in(t, info, &key, opts) {
                Ok(Deleted::Gone(o) | Deleted::Pending(o)) => out.push(o),
                // Already collected as a dependent of an earlier one.
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    })
}

fn pointer_of(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |mut acc, part| {
            acc.push('/');
            acc.push_str(part);
            acc
        })
}

fn selector_string(selector: Option<&Value>) -> String {
    match selector {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(sel)) => sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The autoscaling/v1 Scale view of a scalable object.
fn scale_of(info: &ResourceInfo, object: &Value) -> ApiResult<Value> {
    let paths = info.scale.as_ref().ok_or(ApiError::NoSuchResource)?;
    let mut meta = Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = objects::metadata(object).and_then(|m| m.get(field)) {
            meta.insert(field.into(), v.clone());
        }
    }
    let selector = paths
        .label_selector
        .as_deref()
        .map(|p| selector_string(object.pointer(&pointer_of(p))))
        .unwrap_or_default();
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": object.pointer(&pointer_of(&paths.spec_replicas)).cloned().unwrap_or(json!(0))},
        "status": {
            "replicas": object.pointer(&pointer_of(&paths.status_replicas)).cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    }))
}

pub fn get_scale(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> ApiResult<Value> {
    let object = get(cluster, info, namespace, name)?;
    scale_of(info, &object)
}

/// Sets the replicas of a scalable object from a Scale; `patch` (if any) is
/// applied to the current Scale first (what `kubectl scale` sends).
pub fn update_scale(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    body: Value,
    patch_kind: Option<PatchKind>,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    let paths = info.scale.clone().ok_or(ApiError::NoSuchResource)?;
    let key = object_key(info, namespace, name)?;
    cluster.store.transaction(|t| {
        let old = t
            .get(&info.key(), &key)
            .ok_or_else(|| not_found(info, name))?;
        let current = scale_of(info, &old)?;
        let scale = match patch_kind {
            None => body,
            Some(PatchKind::Json) => patch::json_patch(&current, &body)?,
            Some(PatchKind::Merge | PatchKind::Apply) => patch::merge_patch(&current, &body)?,
            Some(PatchKind::Strategic) => patch::strategic_merge_patch(&current, &body)?,
        };
        let replicas = scale
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid(info, name, "spec.replicas: Required value"))?;
        if replicas < 0 {
            return Err(invalid(
                info,
                name,
                "spec.replicas: must be greater than or equal to 0",
            ));
        }
        let mut desired = present(info, &old);
        if let Some(rv) = meta_str(&scale, "resourceVersion").filter(|rv| !rv.is_empty())
            && let Some(meta) = metadata_mut(&mut desired)
        {
            meta.insert("resourceVersion".into(), json!(rv));
        }
        set_pointer(
            &mut desired,
            &pointer_of(&paths.spec_replicas),
            json!(replicas),
        );
        let updated = update_in(
            t,
            info,
            &key,
            &old,
            desired,
            Subresource::Main,
            opts,
            "Update",
        )?;
        scale_of(info, &updated)
    })
}

fn set_pointer(target: &mut Value, pointer: &str, value: Value) {
    let mut current = target;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !current.is_object() {
            *current = json!({});
        }
        let Some(map) = current.as_object_mut() else {
            return;
        };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        current = map.entry((*part).to_string()).or_insert_with(|| json!({}));
    }
}

/// kube-apiserver bumps a Deployment's generation when its annotations
/// change, not only its spec, because the Deployment controller copies them
/// onto the ReplicaSet (pkg/registry/apps/deployment). A client that waits
/// for `observedGeneration` sees that lag on a real server after any
/// annotation edit, so it must see it here too.
fn deployment_annotations_changed(info: &ResourceInfo, old: &Value, new: &Value) -> bool {
    // Semantic equality there: no annotations and an empty map are the same.
    let annotations = |v: &Value| {
        v.pointer("/metadata/annotations")
            .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
            .cloned()
    };
    info.group == "apps" && info.kind == "Deployment" && annotations(old) != annotations(new)
}
