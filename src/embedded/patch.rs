//! The four PATCH flavours: JSON patch (RFC 6902), JSON merge patch
//! (RFC 7386), strategic merge patch, and server-side apply.
//!
//! Strategic merge is a simplification of Kubernetes': instead of reading
//! patch strategies from Go struct tags, lists are merged by a key chosen by
//! the field name (containers/env/volumes by `name`, ports by
//! `containerPort`/`port`, …); every other list is replaced. The directives
//! kubectl emits (`$patch`, `$setElementOrder/…`, `$retainKeys`,
//! `$deleteFromPrimitiveList/…`) are honoured or dropped, never stored.

use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    /// From the request Content-Type (parameters such as charset ignored).
    pub fn from_content_type(content_type: &str) -> ApiResult<PatchKind> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchKind::Apply),
            other => Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
            ))),
        }
    }
}

/// Applies an RFC 6902 patch to a copy of `target`.
pub fn json_patch(target: &Value, patch: &Value) -> ApiResult<Value> {
    let operations: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON patch: {e}")))?;
    let mut out = target.clone();
    json_patch::patch(&mut out, &operations.0).map_err(|e| {
        ApiError::Invalid(
            Default::default(),
            vec![format!("the JSON patch could not be applied: {e}")],
        )
    })?;
    Ok(out)
}

/// Applies an RFC 7386 merge patch to a copy of `target`.
pub fn merge_patch(target: &Value, patch: &Value) -> ApiResult<Value> {
    if !patch.is_object() {
        return Err(ApiError::BadRequest(
            "a merge patch must be a JSON object".into(),
        ));
    }
    let mut out = target.clone();
    json_patch::merge(&mut out, patch);
    Ok(out)
}

/// Applies a strategic merge patch to a copy of `target`.
pub fn strategic_merge_patch(target: &Value, patch: &Value) -> ApiResult<Value> {
    let Value::Object(patch_map) = patch else {
        return Err(ApiError::BadRequest(
            "a strategic merge patch must be a JSON object".into(),
        ));
    };
    let mut out = target.clone();
    if !out.is_object() {
        out = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = &mut out {
        merge_map(target_map, patch_map)?;
    }
    Ok(out)
}

/// The key list elements of a field are merged by, if the field merges by key.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| items.iter().all(|i| i.get(k).is_some()) && !items.is_empty();
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "readinessGates"
        | "resourceClaims" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" if has("port") => Some("port"),
        _ => None,
    }
}

/// Lists of strings that merge as sets (Kubernetes `patchStrategy:merge` on primitives).
fn merges_as_set(field: &str) -> bool {
    field == "finalizers"
}

fn merge_map(target: &mut Map<String, Value>, patch: &Map<String, Value>) -> ApiResult<()> {
    if patch.get("$patch").and_then(Value::as_str) == Some("replace") {
        target.clear();
        for (k, v) in patch.iter().filter(|(k, _)| !k.starts_with('$')) {
            target.insert(k.clone(), strip_directives(v));
        }
        return Ok(());
    }
    if let Some(Value::Array(keep)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        target.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(remove)) = (target.get_mut(field), value)
            {
                list.retain(|item| !remove.contains(item));
            }
            continue;
        }
        if key.starts_with('$') {
            // $setElementOrder and friends only affect ordering; dropped.
            continue;
        }
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(patch_child) => {
                if patch_child.get("$patch").and_then(Value::as_str) == Some("delete") {
                    target.remove(key);
                    continue;
                }
                match target.get_mut(key) {
                    Some(Value::Object(target_child)) => merge_map(target_child, patch_child)?,
                    _ => {
                        target.insert(key.clone(), strip_directives(value));
                    }
                }
            }
            Value::Array(patch_items) => {
                let merged = match target.get(key) {
                    Some(Value::Array(existing)) => merge_list(key, existing, patch_items)?,
                    _ => patch_items
                        .iter()
                        .filter(|i| !is_delete_directive(i))
                        .map(strip_directives)
                        .collect(),
                };
                target.insert(key.clone(), Value::Array(merged));
            }
            scalar => {
                target.insert(key.clone(), scalar.clone());
            }
        }
    }
    Ok(())
}

fn is_delete_directive(item: &Value) -> bool {
    item.get("$patch").and_then(Value::as_str) == Some("delete")
}

fn merge_list(field: &str, existing: &[Value], patch: &[Value]) -> ApiResult<Vec<Value>> {
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip_directives)
            .collect());
    }
    if merges_as_set(field) {
        let mut out = existing.to_vec();
        for item in patch {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return Ok(out);
    }
    let Some(key) = merge_key(field, patch) else {
        return Ok(patch.iter().map(strip_directives).collect());
    };
    let mut out = existing.to_vec();
    for item in patch {
        let Some(id) = item.get(key) else {
            return Err(ApiError::BadRequest(format!(
                "strategic merge patch: an element of {field} lacks its merge key {key}"
            )));
        };
        let position = out.iter().position(|e| e.get(key) == Some(id));
        match (position, is_delete_directive(item)) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                if let (Value::Object(target), Value::Object(patch_item)) = (&mut out[i], item) {
                    merge_map(target, patch_item)?;
                } else {
                    out[i] = strip_directives(item);
                }
            }
            (None, false) => out.push(strip_directives(item)),
        }
    }
    Ok(out)
}

/// A copy of `value` without `$…` directive keys, so they never get stored.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strategic_merge_merges_containers_and_env_by_name() {
        let live = json!({"spec": {"containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "side", "image": "s:1"}
        ]}});
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [
                {"name": "app", "image": "a:2", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]},
                {"name": "side", "$patch": "delete"}
            ]
        }});
        let out = strategic_merge_patch(&live, &patch).expect("applies");
        assert_eq!(
            out,
            json!({"spec": {"containers": [
                {"name": "app", "image": "a:2", "env": [
                    {"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}
                ]}
            ]}})
        );
    }

    #[test]
    fn strategic_merge_replaces_unkeyed_lists_and_unions_finalizers() {
        let live = json!({"metadata": {"finalizers": ["a"]}, "spec": {"args": ["x", "y"]}});
        let patch =
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"args": ["z"], "gone": null}});
        let out = strategic_merge_patch(&live, &patch).expect("applies");
        assert_eq!(
            out,
            json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"args": ["z"]}})
        );
    }

    #[test]
    fn json_and_merge_patches() {
        let live = json!({"a": {"b": 1}, "l": [1, 2]});
        let out = json_patch(
            &live,
            &json!([{"op": "replace", "path": "/a/b", "value": 2}]),
        )
        .expect("ok");
        assert_eq!(out["a"]["b"], 2);
        assert!(json_patch(&live, &json!([{"op": "test", "path": "/a/b", "value": 9}])).is_err());
        assert!(json_patch(&live, &json!({"not": "a list"})).is_err());
        let merged = merge_patch(&live, &json!({"a": {"c": 3}, "l": [3]})).expect("ok");
        assert_eq!(merged, json!({"a": {"b": 1, "c": 3}, "l": [3]}));
    }
}
