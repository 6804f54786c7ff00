//! Field ownership (`metadata.managedFields`) and server-side apply, after
//! kube-apiserver's structured-merge-diff:
//!
//! - every write records which fields its manager set: an update owns the
//!   fields it changed (taking them from whoever owned them), an apply owns
//!   exactly the fields of its configuration;
//! - an apply merges its configuration into the live object (keyed lists by
//!   key, sets as sets, atomic values whole) and removes the fields that
//!   manager applied last time but no longer does, unless someone else owns
//!   them: this is how a generated object loses a dropped env var or label;
//! - an apply that would change a field another manager owns fails with a
//!   409 naming each field and manager, unless forced (then it takes them).
//!
//! Simplified: which built-in fields are keyed lists, sets, atomic, or Go
//! maps and pointers (owned with `"."` when an update adds them) comes from
//! tables of the common fields in [`super::fieldset`], not from the Go types;
//! entries keep the order of their first write.

use serde_json::{Map, Value, json};

use super::error::ApplyConflict;
use super::fieldset::{
    FieldSet, ListType, Shape, child_value, diff, display_path, item_key, set_of,
};
use super::objects;

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    subresource: String,
    api_version: String,
    time: Value,
    fields: FieldSet,
}

impl Entry {
    fn parse(value: &Value) -> Option<Entry> {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Some(Entry {
            manager: value.get("manager")?.as_str()?.to_string(),
            operation: text("operation"),
            subresource: text("subresource"),
            api_version: text("apiVersion"),
            time: value.get("time").cloned().unwrap_or(Value::Null),
            fields: FieldSet {
                // The root is never a member itself (`{}` is the empty set).
                member: false,
                ..FieldSet::from_fields_v1(value.get("fieldsV1").unwrap_or(&Value::Null))
            },
        })
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if !self.subresource.is_empty() {
            entry["subresource"] = json!(self.subresource);
        }
        entry
    }

    fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How conflict messages name the manager: appliers by name, updaters
    /// with the version they wrote (`"kubectl-edit" using v1`).
    fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// Who writes: manager name, `"Update"` or `"Apply"`, `""` or `"status"`.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub operation: &'a str,
    pub subresource: &'a str,
    pub api_version: &'a str,
}

/// The part of an object a write may own: never identity or bookkeeping,
/// and (for resources with a status subresource) only the status through
/// `/status`, never through the main resource.
pub fn owned_part(object: &Value, status_subresource: bool, subresource: &str) -> Value {
    let mut out = object.clone();
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    map.remove("apiVersion");
    map.remove("kind");
    if status_subresource {
        if subresource == "status" {
            map.retain(|k, _| k == "status");
        } else {
            map.remove("status");
        }
    }
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "name",
            "namespace",
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "managedFields",
        ] {
            meta.remove(field);
        }
        if meta.is_empty() {
            map.remove("metadata");
        }
    }
    out
}

fn entries(object: &Value) -> Vec<Entry> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Entry::parse).collect())
        .unwrap_or_default()
}

fn store_entries(object: &mut Value, entries: &[Entry]) {
    let Some(meta) = objects::metadata_mut(object) else {
        return;
    };
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if list.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

fn now() -> Value {
    json!(objects::rfc3339(objects::now()))
}

/// The entries a write starts from: the stored ones, unless the client sent
/// different ones (kube-apiserver lets a client replace them; `[{}]` clears).
fn base_entries(old: Option<&Value>, new: &Value) -> Vec<Entry> {
    let stored = old.and_then(|o| o.pointer("/metadata/managedFields"));
    match new.pointer("/metadata/managedFields") {
        Some(sent) if Some(sent) != stored => entries(new),
        _ => old.map(entries).unwrap_or_default(),
    }
}

/// Records a create or update by `writer` on `new` (stored `old`, if any):
/// it owns what it changed, which nobody else owns any more.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    writer: Writer<'_>,
    shape: Shape<'_>,
    status_subresource: bool,
) {
    let mut list = base_entries(old, new);
    let before = old
        .map(|o| owned_part(o, status_subresource, writer.subresource))
        .unwrap_or_else(|| json!({}));
    let after = owned_part(new, status_subresource, writer.subresource);
    let (changed, removed) = diff(&before, &after, shape, true);
    if changed.is_empty() && removed.is_empty() {
        store_entries(new, &list);
        return;
    }
    let mut lost = changed.clone();
    lost.union(&removed);
    for entry in &mut list {
        entry.fields = entry.fields.difference(&lost);
    }
    match list
        .iter_mut()
        .find(|e| e.is(writer.manager, writer.operation, writer.subresource))
    {
        Some(entry) => {
            entry.fields.union(&changed);
            entry.time = now();
            entry.api_version = writer.api_version.to_string();
        }
        None => list.push(Entry {
            manager: writer.manager.to_string(),
            operation: writer.operation.to_string(),
            subresource: writer.subresource.to_string(),
            api_version: writer.api_version.to_string(),
            time: now(),
            fields: changed,
        }),
    }
    let whole = owned_part(new, false, "");
    for entry in &mut list {
        entry.fields.retain_existing(&whole);
    }
    store_entries(new, &list);
}

/// Records a create by server-side apply: the manager owns exactly the
/// fields of its configuration (stripped by [`owned_part`]), not the defaults.
pub fn record_create_by_apply(
    object: &mut Value,
    config: &Value,
    writer: Writer<'_>,
    shape: Shape<'_>,
) {
    let entry = Entry {
        manager: writer.manager.to_string(),
        operation: "Apply".into(),
        subresource: writer.subresource.to_string(),
        api_version: writer.api_version.to_string(),
        time: now(),
        fields: set_of(config, shape, true),
    };
    store_entries(object, &[entry]);
}

/// Server-side apply of `config` (already stripped by [`owned_part`]) onto
/// `live` by `writer`: the merged object with its managedFields, or the
/// conflicts with other managers when not forced.
pub fn apply(
    live: &Value,
    config: &Value,
    writer: Writer<'_>,
    shape: Shape<'_>,
    force: bool,
) -> Result<Value, Vec<ApplyConflict>> {
    let mut list = entries(live);
    let applied = set_of(config, shape, true);
    let mine = |e: &Entry| e.is(writer.manager, "Apply", writer.subresource);
    let previous = list
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut others = FieldSet::default();
    for entry in list.iter().filter(|e| !mine(e)) {
        others.union(&entry.fields);
    }
    let mut merged = merge(Some(live), config, shape, true);
    // Fields this manager applied before but not now go, unless owned by someone else.
    for path in previous.difference(&applied).paths() {
        if !others.touches(&path) {
            remove_path(&mut merged, &path, &applied, &others);
        }
    }
    let (changed, removed) = diff(live, &merged, shape, true);
    let mut touched = changed;
    touched.union(&removed);
    let mut conflicts = Vec::new();
    for entry in list.iter().filter(|e| !mine(e)) {
        for path in entry.fields.intersection(&touched).paths() {
            conflicts.push(ApplyConflict {
                manager: entry.describe(),
                field: display_path(&path),
            });
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    for entry in list.iter_mut().filter(|e| !mine(e)) {
        entry.fields = entry.fields.difference(&touched);
    }
    match list.iter_mut().find(|e| mine(e)) {
        Some(entry) => {
            entry.fields = applied;
            entry.time = now();
            entry.api_version = writer.api_version.to_string();
        }
        None => list.push(Entry {
            manager: writer.manager.to_string(),
            operation: "Apply".into(),
            subresource: writer.subresource.to_string(),
            api_version: writer.api_version.to_string(),
            time: now(),
            fields: applied,
        }),
    }
    store_entries(&mut merged, &list);
    Ok(merged)
}

/// Removes the value at `path`, then every parent it leaves empty that
/// nobody owns and the configuration does not set.
fn remove_path(value: &mut Value, path: &[String], applied: &FieldSet, others: &FieldSet) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = value_at_mut(value, parents) else {
        return;
    };
    remove_child(parent, last);
    let empty = |v: &Value| match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    for depth in (1..parents.len()).rev() {
        let prefix = &parents[..=depth];
        let owned = applied.touches(prefix) || others.touches(prefix);
        match value_at_mut(value, prefix) {
            Some(v) if empty(v) && !owned => {}
            _ => break,
        }
        if let Some(grandparent) = value_at_mut(value, &parents[..depth]) {
            remove_child(grandparent, &parents[depth]);
        }
    }
}

fn value_at_mut<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut current = value;
    for element in path {
        let found = child_value(current, element)? as *const Value;
        current = match current {
            Value::Object(map) => map.get_mut(element.strip_prefix("f:")?)?,
            Value::Array(items) => items.iter_mut().find(|i| std::ptr::eq(*i, found))?,
            _ => return None,
        };
    }
    Some(current)
}

fn remove_child(parent: &mut Value, element: &str) {
    let Some(found) = child_value(parent, element).map(|v| v as *const Value) else {
        return;
    };
    match parent {
        Value::Object(map) => {
            if let Some(field) = element.strip_prefix("f:") {
                map.remove(field);
            }
        }
        Value::Array(items) => items.retain(|i| !std::ptr::eq(i, found)),
        _ => {}
    }
}

/// structured-merge-diff's merge of a configuration into a live value.
fn merge(live: Option<&Value>, config: &Value, shape: Shape<'_>, at_root: bool) -> Value {
    match (live, config) {
        (Some(Value::Object(l)), Value::Object(c)) if !shape.atomic_map() => {
            let mut out = l.clone();
            for (key, value) in c {
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                let merged = merge(l.get(key), value, shape.field(key, at_root), false);
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (Some(Value::Array(l)), Value::Array(c)) => match shape.list_type() {
            ListType::Atomic => config.clone(),
            list_type => Value::Array(merge_list(l, c, &list_type, shape.items())),
        },
        _ => strip_nulls(config),
    }
}

fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// The object without the times of its managedFields entries: an apply
/// that changes nothing else is no change (kube-apiserver writes nothing).
pub fn without_times(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(entries) = out
        .pointer_mut("/metadata/managedFields")
        .and_then(Value::as_array_mut)
    {
        for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
            entry.remove("time");
        }
    }
    out
}

/// Keyed and set lists: shared items in the configuration's order, items
/// only the live list has keep their place, new items follow the
/// configuration (structured-merge-diff's `visitListItems`).
fn merge_list(
    live: &[Value],
    config: &[Value],
    list_type: &ListType,
    items: Shape<'_>,
) -> Vec<Value> {
    let key = |v: &Value| item_key(list_type, v).unwrap_or_default();
    let live_keys: Vec<String> = live.iter().map(key).collect();
    let config_keys: Vec<String> = config.iter().map(key).collect();
    let mut shared: std::collections::VecDeque<&String> = config_keys
        .iter()
        .filter(|k| live_keys.contains(k))
        .collect();
    let mut merged_config = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let merge_item = |k: &String| {
        let l = live_keys.iter().position(|x| x == k).map(|i| &live[i]);
        let c = config_keys.iter().position(|x| x == k).map(|i| &config[i]);
        match c {
            Some(c) => merge(l, c, items, false),
            None => l.cloned().unwrap_or(Value::Null),
        }
    };
    let (mut li, mut ri) = (0, 0);
    while li < live.len() || ri < config.len() {
        if li < live.len() && ri < config.len() {
            let lk = &live_keys[li];
            if *lk == config_keys[ri] {
                merged_config.insert(lk.clone());
                out.push(merge_item(lk));
                li += 1;
                ri += 1;
                shared.pop_front();
                continue;
            }
            if config_keys.contains(lk) && shared.front().is_some_and(|next| *next != lk) {
                li += 1;
                continue;
            }
        }
        if li < live.len() {
            let lk = &live_keys[li];
            if !config_keys.contains(lk) {
                out.push(live[li].clone());
                li += 1;
                continue;
            }
            if merged_config.contains(lk) {
                li += 1;
                continue;
            }
        }
        if ri < config.len() {
            let rk = &config_keys[ri];
            merged_config.insert(rk.clone());
            out.push(merge_item(rk));
            if shared.front().is_some_and(|next| *next == rk) {
                shared.pop_front();
            }
            ri += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape<'static> {
        Shape::root(("apps", "deployments"), None, false)
    }

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            operation: "Apply",
            subresource: "",
            api_version: "apps/v1",
        }
    }

    fn deployment(env: Value) -> Value {
        json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "i", "env": env}]}}}})
    }

    #[test]
    fn a_reapply_removes_what_the_manager_dropped_and_keeps_the_rest() {
        let config = deployment(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]));
        let live = apply(&json!({}), &config, writer("edgedeck"), shape(), false).expect("applies");
        let mut edited = live.clone();
        edited["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .expect("env")
            .push(json!({"name": "C", "value": "3"}));
        let updater = Writer {
            operation: "Update",
            api_version: "apps/v1",
            ..writer("kubectl-edit")
        };
        record_update(Some(&live), &mut edited, updater, shape(), true);
        let next = deployment(json!([{"name": "A", "value": "1"}]));
        let out = apply(&edited, &next, writer("edgedeck"), shape(), false).expect("applies");
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "C", "value": "3"}])
        );
    }

    #[test]
    fn changing_another_managers_field_conflicts_unless_forced() {
        let live = apply(
            &json!({}),
            &json!({"spec": {"replicas": 2}}),
            writer("alpha"),
            shape(),
            false,
        )
        .expect("applies");
        let conflicts = apply(
            &live,
            &json!({"spec": {"replicas": 3}}),
            writer("beta"),
            shape(),
            false,
        )
        .expect_err("conflicts");
        assert_eq!(
            conflicts,
            vec![ApplyConflict {
                manager: "\"alpha\"".into(),
                field: ".spec.replicas".into()
            }]
        );
        let same = apply(
            &live,
            &json!({"spec": {"replicas": 2}}),
            writer("beta"),
            shape(),
            false,
        );
        assert!(same.is_ok(), "the same value is shared, not a conflict");
        let forced = apply(
            &live,
            &json!({"spec": {"replicas": 3}}),
            writer("beta"),
            shape(),
            true,
        )
        .expect("forced");
        assert_eq!(forced["spec"]["replicas"], 3);
        let owners: Vec<&str> = forced["metadata"]["managedFields"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(
            owners,
            vec!["beta"],
            "alpha owned nothing else, so its entry is gone"
        );
    }

    #[test]
    fn keyed_lists_merge_in_structured_merge_diff_order() {
        let t = ListType::Map(vec!["name".into()]);
        let item = |n: &str| json!({"name": n});
        let out = merge_list(
            &[item("a"), item("b"), item("c")],
            &[item("c"), item("a"), item("d")],
            &t,
            shape(),
        );
        let names: Vec<&str> = out.iter().filter_map(|i| i["name"].as_str()).collect();
        assert_eq!(names, vec!["b", "c", "a", "d"]);
    }
}
