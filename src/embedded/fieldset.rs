//! Sets of field paths in kube-apiserver's `FieldsV1` form, and the shape of
//! objects that decides how a path is spelled: which lists are keyed
//! (`k:{"name":"c"}`), which are sets (`v:"x"`), which lists and maps are
//! atomic (one leaf). Server-side apply ([`super::managed`]) is built on it.
//!
//! Built-in kinds take their list types from a table of the fields that are
//! keyed or sets in Kubernetes' Go types (everything else is atomic, as there);
//! custom resources from their CRD schema's `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys` and `x-kubernetes-map-type`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// A node of a path set: `member` when the path itself is in the set (a leaf,
/// or `"."` next to children), children keyed `f:…`, `k:…`, `v:…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    pub member: bool,
    pub children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Reads `fieldsV1` (`{"f:spec": {"f:replicas": {}}}`).
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let Some(map) = value.as_object() else {
            return FieldSet::default();
        };
        let mut set = FieldSet {
            member: map.is_empty(),
            children: BTreeMap::new(),
        };
        for (key, child) in map {
            if key == "." {
                set.member = true;
            } else {
                set.children
                    .insert(key.clone(), FieldSet::from_fields_v1(child));
            }
        }
        set
    }

    /// The root as `fieldsV1` (the root itself is never a member).
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        for (key, child) in &self.children {
            map.insert(key.clone(), child.node_json());
        }
        Value::Object(map)
    }

    fn node_json(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".into(), json!({}));
        }
        for (key, child) in &self.children {
            map.insert(key.clone(), child.node_json());
        }
        Value::Object(map)
    }

    pub fn union(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (key, child) in &other.children {
            self.children.entry(key.clone()).or_default().union(child);
        }
    }

    /// The paths of `self` that are not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (key, child) in &self.children {
            let rest = match other.children.get(key) {
                Some(theirs) => child.difference(theirs),
                None => child.clone(),
            };
            if !rest.is_empty() {
                out.children.insert(key.clone(), rest);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (key, child) in &self.children {
            if let Some(theirs) = other.children.get(key) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(key.clone(), both);
                }
            }
        }
        out
    }

    /// Every member path, depth first.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (key, child) in &self.children {
            prefix.push(key.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// Whether `path` or anything below it is in the set.
    pub fn touches(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.touches(rest)),
        }
    }

    /// Adds `path` as a member.
    pub fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.member = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Keeps only the paths that exist in `value`.
    pub fn retain_existing(&mut self, value: &Value) {
        self.children
            .retain(|key, child| match child_value(value, key) {
                Some(v) => {
                    child.retain_existing(v);
                    !child.is_empty()
                }
                None => false,
            });
    }
}

/// kube-apiserver's rendering of a path in conflict messages:
/// `.spec.template.spec.containers[name="c"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(keys) = element.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(keys).unwrap_or_default();
            let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else {
            out.push_str(&format!("[{element}]"));
        }
    }
    out
}

/// How the elements of a list are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value.
    Atomic,
    /// Scalars, each its own element (`v:"x"`).
    Set,
    /// Objects identified by these fields (`k:{"name":"c"}`).
    Map(Vec<String>),
}

/// Where in an object a value sits, enough to know its list and map types.
#[derive(Debug, Clone, Copy)]
pub enum Shape<'a> {
    /// A built-in kind's field, by the name of the field holding it and
    /// the resource (`("", "services")`).
    Builtin {
        resource: (&'a str, &'a str),
        field: &'a str,
    },
    /// A custom resource's field, with its schema (None: not in the schema).
    Custom(Option<&'a Value>),
}

impl<'a> Shape<'a> {
    /// The root of an object of `resource`; `schema` for custom resources.
    pub fn root(resource: (&'a str, &'a str), schema: Option<&'a Value>, custom: bool) -> Self {
        if custom {
            Shape::Custom(schema)
        } else {
            Shape::Builtin {
                resource,
                field: "",
            }
        }
    }

    /// The shape of field `name` of an object of this shape.
    pub fn field(self, name: &'a str, at_root: bool) -> Shape<'a> {
        match self {
            // Metadata is ObjectMeta everywhere.
            _ if at_root && name == "metadata" => Shape::Builtin {
                resource: ("", "metadata"),
                field: "metadata",
            },
            Shape::Builtin { resource, .. } => Shape::Builtin {
                resource,
                field: name,
            },
            Shape::Custom(schema) => Shape::Custom(schema.and_then(|s| {
                s.get("properties")
                    .and_then(|p| p.get(name))
                    .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
            })),
        }
    }

    /// The shape of the elements of a list of this shape.
    pub fn items(self) -> Shape<'a> {
        match self {
            Shape::Builtin { .. } => self,
            Shape::Custom(schema) => Shape::Custom(schema.and_then(|s| s.get("items"))),
        }
    }

    pub fn list_type(self) -> ListType {
        match self {
            Shape::Builtin { resource, field } => builtin_list_type(resource, field),
            Shape::Custom(None) => ListType::Atomic,
            Shape::Custom(Some(schema)) => {
                match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                    Some("set") => ListType::Set,
                    Some("map") => ListType::Map(
                        schema
                            .get("x-kubernetes-list-map-keys")
                            .and_then(Value::as_array)
                            .map(|keys| {
                                keys.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    // A CRD list without a list type is atomic.
                    _ => ListType::Atomic,
                }
            }
        }
    }

    /// Whether a node of this shape that an update adds is itself owned
    /// (`"."`): kube-apiserver compares typed objects, where Go maps and
    /// pointer structs can be absent but plain structs (`spec`, `template`,
    /// ObjectMeta) always exist; custom resources are unstructured, so every
    /// added map is owned there.
    pub fn owned_when_added(self) -> bool {
        match self {
            Shape::Builtin { field, .. } => matches!(
                field,
                "labels"
                    | "annotations"
                    | "data"
                    | "binaryData"
                    | "stringData"
                    | "matchLabels"
                    | "limits"
                    | "requests"
                    | "capacity"
                    | "allocatable"
                    | "rollingUpdate"
                    | "affinity"
                    | "nodeAffinity"
                    | "podAffinity"
                    | "podAntiAffinity"
                    | "livenessProbe"
                    | "readinessProbe"
                    | "startupProbe"
                    | "lifecycle"
                    | "httpGet"
                    | "tcpSocket"
                    | "exec"
                    | "grpc"
                    | "valueFrom"
                    | "fieldRef"
                    | "resourceFieldRef"
                    | "configMapKeyRef"
                    | "secretKeyRef"
                    | "configMap"
                    | "secret"
                    | "emptyDir"
                    | "hostPath"
                    | "persistentVolumeClaim"
                    | "projected"
                    | "downwardAPI"
            ),
            Shape::Custom(_) => true,
        }
    }

    /// Whether a map or struct of this shape is one value.
    pub fn atomic_map(self) -> bool {
        match self {
            // LabelSelectors, a Service's selector map and NodeSelectors are
            // atomic in Kubernetes' types.
            Shape::Builtin { field, .. } => matches!(
                field,
                "selector"
                    | "nodeSelector"
                    | "labelSelector"
                    | "namespaceSelector"
                    | "podSelector"
                    | "requiredDuringSchedulingIgnoredDuringExecution"
            ),
            Shape::Custom(schema) => schema
                .and_then(|s| s.get("x-kubernetes-map-type"))
                .is_some_and(|t| t == "atomic"),
        }
    }
}

fn keys(names: &[&str]) -> ListType {
    ListType::Map(names.iter().map(|s| s.to_string()).collect())
}

fn builtin_list_type(resource: (&str, &str), field: &str) -> ListType {
    match (resource, field) {
        (("", "metadata"), "finalizers") => ListType::Set,
        (("", "metadata"), "ownerReferences") => keys(&["uid"]),
        (("", "services"), "ports") => keys(&["port", "protocol"]),
        (("discovery.k8s.io", "endpointslices"), _) => ListType::Atomic,
        (_, "ports") => keys(&["containerPort", "protocol"]),
        (
            _,
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "env"
            | "volumes"
            | "imagePullSecrets"
            | "resourceClaims",
        ) => keys(&["name"]),
        (_, "volumeMounts") => keys(&["mountPath"]),
        (_, "volumeDevices") => keys(&["devicePath"]),
        (_, "hostAliases") => keys(&["ip"]),
        (_, "conditions" | "addresses") => keys(&["type"]),
        (_, "topologySpreadConstraints") => keys(&["topologyKey", "whenUnsatisfiable"]),
        (_, "podCIDRs") => ListType::Set,
        _ => ListType::Atomic,
    }
}

/// The path element naming `item` in a list of type `list_type` (None for
/// atomic lists, whose items are not addressed).
pub fn item_key(list_type: &ListType, item: &Value) -> Option<String> {
    match list_type {
        ListType::Atomic => None,
        ListType::Set => Some(format!("v:{item}")),
        ListType::Map(names) => {
            let mut sorted: Vec<&String> = names.iter().collect();
            sorted.sort();
            let mut key = Map::new();
            for name in sorted {
                match item.get(name.as_str()) {
                    Some(v) => {
                        key.insert(name.clone(), v.clone());
                    }
                    // kube-apiserver keys ports by their defaulted protocol.
                    None if name == "protocol" => {
                        key.insert(name.clone(), json!("TCP"));
                    }
                    None => {}
                }
            }
            Some(format!("k:{}", Value::Object(key)))
        }
    }
}

/// The value at one path element under `value`.
pub fn child_value<'v>(value: &'v Value, element: &str) -> Option<&'v Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.as_object()?.get(field);
    }
    let items = value.as_array()?;
    if let Some(wanted) = element.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(wanted).ok()?;
        return items.iter().find(|i| **i == wanted);
    }
    if let Some(keys) = element.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(keys).ok()?;
        return items.iter().find(|item| {
            keys.iter().all(|(k, v)| match item.get(k) {
                Some(found) => found == v,
                None => k == "protocol" && v == "TCP",
            })
        });
    }
    None
}

/// The paths `value` sets: the field set of an applied configuration.
pub fn set_of(value: &Value, shape: Shape<'_>, at_root: bool) -> FieldSet {
    let mut set = FieldSet::default();
    match value {
        Value::Object(map) if !map.is_empty() && !shape.atomic_map() => {
            for (key, child) in map {
                let child_set = set_of(child, shape.field(key, at_root), false);
                set.children.insert(format!("f:{key}"), child_set);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let list_type = shape.list_type();
            if list_type == ListType::Atomic {
                set.member = true;
            }
            for item in items {
                if let Some(key) = item_key(&list_type, item) {
                    let mut item_set = match list_type {
                        ListType::Set => FieldSet::default(),
                        _ => set_of(item, shape.items(), false),
                    };
                    item_set.member = true;
                    set.children.insert(key, item_set);
                }
            }
        }
        _ => set.member = true,
    }
    set
}

/// The paths of a node an update added: like [`set_of`], but maps that can
/// be absent are owned themselves (`"."`), as kube-apiserver records them.
fn added_set(value: &Value, shape: Shape<'_>, at_root: bool) -> FieldSet {
    let mut set = FieldSet::default();
    match value {
        Value::Object(map) if !map.is_empty() && !shape.atomic_map() => {
            set.member = shape.owned_when_added();
            for (key, child) in map {
                let child_set = added_set(child, shape.field(key, at_root), false);
                set.children.insert(format!("f:{key}"), child_set);
            }
        }
        Value::Array(items) if !items.is_empty() && shape.list_type() != ListType::Atomic => {
            let list_type = shape.list_type();
            // A pod's containers are never absent in Go's zero value (no
            // omitempty), so kube-apiserver sees them modified, not added.
            set.member = !matches!(
                shape,
                Shape::Builtin {
                    field: "containers",
                    ..
                }
            );
            for item in items {
                if let Some(key) = item_key(&list_type, item) {
                    let mut item_set = match list_type {
                        ListType::Set => FieldSet::default(),
                        _ => added_set(item, shape.items(), false),
                    };
                    item_set.member = true;
                    set.children.insert(key, item_set);
                }
            }
        }
        _ => set.member = true,
    }
    set
}

/// The paths whose value differs between `old` and `new`: added or changed
/// (with everything below an added node), and removed.
pub fn diff(old: &Value, new: &Value, shape: Shape<'_>, at_root: bool) -> (FieldSet, FieldSet) {
    let mut changed = FieldSet::default();
    let mut removed = FieldSet::default();
    match (old, new) {
        (Value::Object(a), Value::Object(b)) if !shape.atomic_map() => {
            for (key, new_child) in b {
                let child_shape = shape.field(key, at_root);
                let element = format!("f:{key}");
                match a.get(key) {
                    Some(old_child) => {
                        let (c, r) = diff(old_child, new_child, child_shape, false);
                        if !c.is_empty() {
                            changed.children.insert(element.clone(), c);
                        }
                        if !r.is_empty() {
                            removed.children.insert(element, r);
                        }
                    }
                    None => {
                        changed
                            .children
                            .insert(element, added_set(new_child, child_shape, false));
                    }
                }
            }
            for key in a.keys().filter(|k| !b.contains_key(*k)) {
                removed.insert(&[format!("f:{key}")]);
            }
        }
        (Value::Array(a), Value::Array(b)) if shape.list_type() != ListType::Atomic => {
            let list_type = shape.list_type();
            let index = |items: &[Value]| -> BTreeMap<String, Value> {
                items
                    .iter()
                    .filter_map(|i| item_key(&list_type, i).map(|k| (k, i.clone())))
                    .collect()
            };
            let (before, after) = (index(a), index(b));
            for (key, new_item) in &after {
                match before.get(key) {
                    Some(old_item) => {
                        let (c, r) = diff(old_item, new_item, shape.items(), false);
                        if !c.is_empty() {
                            changed.children.insert(key.clone(), c);
                        }
                        if !r.is_empty() {
                            removed.children.insert(key.clone(), r);
                        }
                    }
                    None => {
                        let mut added = match list_type {
                            ListType::Set => FieldSet::default(),
                            _ => added_set(new_item, shape.items(), false),
                        };
                        added.member = true;
                        changed.children.insert(key.clone(), added);
                    }
                }
            }
            for key in before.keys().filter(|k| !after.contains_key(*k)) {
                removed.insert(std::slice::from_ref(key));
            }
        }
        _ => {
            if old != new {
                changed.member = true;
            }
        }
    }
    (changed, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Shape<'static> {
        Shape::root(("apps", "deployments"), None, false)
    }

    #[test]
    fn an_applied_deployment_is_spelled_like_kube_apiserver() {
        let config = json!({"metadata": {"labels": {"a": "b"}}, "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i",
                "env": [{"name": "A", "value": "1"}], "args": ["x"], "ports": [{"containerPort": 80}]}]}}}});
        let set = set_of(&config, deployment(), true);
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {
                "f:selector": {},
                "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                    ".": {}, "f:args": {}, "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}},
                    "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}})
        );
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()), set);
        let image = vec![
            "f:spec".to_string(),
            "f:template".into(),
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"c\"}".into(),
            "f:image".into(),
        ];
        assert_eq!(
            display_path(&image),
            ".spec.template.spec.containers[name=\"c\"].image"
        );
    }

    #[test]
    fn diff_reports_changed_added_and_removed_paths() {
        let old = json!({"data": {"a": "1", "b": "2"}, "metadata": {"finalizers": ["x"]}});
        let new = json!({"data": {"a": "9", "c": "3"}, "metadata": {"finalizers": ["x", "y"]}});
        let shape = Shape::root(("", "configmaps"), None, false);
        let (changed, removed) = diff(&old, &new, shape, true);
        assert_eq!(
            changed.to_fields_v1(),
            json!({"f:data": {"f:a": {}, "f:c": {}}, "f:metadata": {"f:finalizers": {"v:\"y\"": {}}}})
        );
        assert_eq!(removed.to_fields_v1(), json!({"f:data": {"f:b": {}}}));
    }
}
