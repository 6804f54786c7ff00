//! A template change as KubeEdge overriders: the overriders that turn every
//! workload of the old template into the same workload of the new one.
//!
//! KubeEdge overriders reach `replicas` and, per container of
//! `spec.containers`, `image`, `env`, `command`, `args` and `resources`.
//! Anything else that differs (a label, a volume, an init container, a
//! Service or ConfigMap of the template, a manifest added or removed) has no
//! per-group form: it is refused here with the path that differs, before the
//! rollout writes anything. The caller also renders the result and compares
//! it with a direct edit, so an overrider whose effect is not exactly the
//! new value (env order, a quantity removed from `resources`) is refused
//! too, not rolled out approximately.

use serde_json::Value;

use crate::api::{
    CommandArgsOverrider, EnvOverrider, ImageComponent, ImageOverrider, ImagePredicate,
    OverriderOperator, Overriders, ResourcesOverrider,
};
use crate::engine::image::ImageRef;
use crate::engine::object::WorkloadKind;

/// Container fields the overriders can set, in the order they are compared.
const CONTAINER_FIELDS: [&str; 5] = ["image", "env", "command", "args", "resources"];

/// The overriders that make `old` render like `new`, or why there are none.
pub fn template_delta(old: &[Value], new: &[Value]) -> Result<Overriders, String> {
    if old.len() != new.len() {
        return Err(format!(
            "the change takes the template from {} to {} manifests; which objects exist \
             cannot differ per group",
            old.len(),
            new.len()
        ));
    }
    let mut delta = Overriders::default();
    for (ordinal, (old, new)) in old.iter().zip(new).enumerate() {
        if old == new {
            continue;
        }
        let what = describe(ordinal, new);
        let Some(kind) = WorkloadKind::of_object(new).filter(|_| same_object(old, new)) else {
            return Err(format!(
                "{what} changes, and it is one object shared by every group (not a \
                 per-group workload): apply it directly, not as a rollout"
            ));
        };
        if let Some(path) = first_difference(&neutralized(old, new, kind), old, "") {
            return Err(format!(
                "{what} changes {path}, which KubeEdge overriders cannot express (they \
                 cover replicas, image, env, command, args and resources of \
                 spec.containers)"
            ));
        }
        add_delta(&mut delta, old, new, kind).map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(delta)
}

/// `delta` then `own`, type by type: the group's own overriders were
/// written against the new template, so they apply after it.
pub fn compose(delta: &Overriders, own: &Overriders) -> Overriders {
    fn chain<T: Clone>(a: &[T], b: &[T]) -> Vec<T> {
        a.iter().chain(b).cloned().collect()
    }
    Overriders {
        replicas: own.replicas.or(delta.replicas),
        image_overriders: chain(&delta.image_overriders, &own.image_overriders),
        command_overriders: chain(&delta.command_overriders, &own.command_overriders),
        args_overriders: chain(&delta.args_overriders, &own.args_overriders),
        env_overriders: chain(&delta.env_overriders, &own.env_overriders),
        resources_overriders: chain(&delta.resources_overriders, &own.resources_overriders),
    }
}

fn describe(ordinal: usize, manifest: &Value) -> String {
    let s = |p: &str| manifest.pointer(p).and_then(Value::as_str).unwrap_or("?");
    format!(
        "manifest {ordinal} ({} {})",
        s("/kind"),
        s("/metadata/name")
    )
}

fn same_object(old: &Value, new: &Value) -> bool {
    [
        "/apiVersion",
        "/kind",
        "/metadata/name",
        "/metadata/namespace",
    ]
    .iter()
    .all(|p| old.pointer(p) == new.pointer(p))
}

fn containers(manifest: &Value, kind: WorkloadKind) -> &[Value] {
    manifest
        .pointer(&format!("{}/containers", kind.pod_spec_pointer()))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `new` with every field the overriders can set taken from `old`: what is
/// left different is what no overrider can reach.
fn neutralized(old: &Value, new: &Value, kind: WorkloadKind) -> Value {
    let mut out = new.clone();
    copy_field(old, &mut out, "/spec", "replicas");
    let old_containers = containers(old, kind);
    let pointer = format!("{}/containers", kind.pod_spec_pointer());
    if let Some(Value::Array(list)) = out.pointer_mut(&pointer) {
        for (container, old) in list.iter_mut().zip(old_containers) {
            if container.get("name") != old.get("name") {
                continue;
            }
            for field in CONTAINER_FIELDS {
                copy_field(old, container, "", field);
            }
        }
    }
    out
}

fn copy_field(from: &Value, to: &mut Value, parent: &str, field: &str) {
    let value = from.pointer(parent).and_then(|p| p.get(field)).cloned();
    if let Some(Value::Object(target)) = to.pointer_mut(parent) {
        match value {
            Some(v) => target.insert(field.to_owned(), v),
            None => target.remove(field),
        };
    }
}

/// The JSON pointer of the first place `a` and `b` differ.
pub fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys = x.keys().chain(y.keys().filter(|k| !x.contains_key(*k)));
            keys.filter_map(|k| match (x.get(k), y.get(k)) {
                (Some(l), Some(r)) => first_difference(l, r, &format!("{at}/{k}")),
                _ => Some(format!("{at}/{k}")),
            })
            .next()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_difference(l, r, &format!("{at}/{i}"))),
        _ => (a != b).then(|| if at.is_empty() { "/".into() } else { at.into() }),
    }
}

fn add_delta(
    delta: &mut Overriders,
    old: &Value,
    new: &Value,
    kind: WorkloadKind,
) -> Result<(), String> {
    let replicas = new.pointer("/spec/replicas");
    if replicas != old.pointer("/spec/replicas") {
        let Some(n) = replicas
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
        else {
            return Err("spec.replicas removed or not a number: no overrider unsets it".into());
        };
        if delta.replicas.is_some_and(|r| r != n) {
            return Err("two workloads change replicas differently".into());
        }
        delta.replicas = Some(n);
    }
    for (index, (old_c, new_c)) in containers(old, kind)
        .iter()
        .zip(containers(new, kind))
        .enumerate()
    {
        let name = new_c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if new_c.get("image") != old_c.get("image") {
            let path = format!("{}/containers/{index}/image", kind.pod_spec_pointer());
            delta.image_overriders.extend(image_delta(new_c, path)?);
        }
        if new_c.get("env") != old_c.get("env") {
            delta.env_overriders.extend(env_delta(name, old_c, new_c)?);
        }
        for (field, list) in [
            ("command", &mut delta.command_overriders),
            ("args", &mut delta.args_overriders),
        ] {
            if new_c.get(field) != old_c.get(field) {
                list.extend(strings_delta(name, field, old_c, new_c)?);
            }
        }
        if new_c.get("resources") != old_c.get("resources") {
            let value = new_c.get("resources").cloned().unwrap_or(Value::Null);
            let value = serde_json::from_value(value).map_err(|e| format!("resources: {e}"))?;
            delta.resources_overriders.push(ResourcesOverrider {
                container_name: name.to_owned(),
                value,
            });
        }
    }
    Ok(())
}

/// Sets every component of the image at `path` to the new image's.
fn image_delta(container: &Value, path: String) -> Result<Vec<ImageOverrider>, String> {
    let text = container
        .get("image")
        .and_then(Value::as_str)
        .ok_or("an image removed or not a string")?;
    let image = ImageRef::parse(text)?;
    if image.digest.is_some() {
        return Err(format!(
            "image {text} has a digest, which KubeEdge image overriders cannot set"
        ));
    }
    let predicate = Some(ImagePredicate { path });
    let set = |component, value: Option<String>| ImageOverrider {
        predicate: predicate.clone(),
        component,
        operator: if value.is_some() {
            OverriderOperator::Replace
        } else {
            OverriderOperator::Remove
        },
        value: value.unwrap_or_default(),
    };
    Ok(vec![
        set(ImageComponent::Registry, image.registry),
        set(ImageComponent::Repository, Some(image.repository)),
        set(ImageComponent::Tag, image.tag),
    ])
}

fn env_delta(container: &str, old: &Value, new: &Value) -> Result<Vec<EnvOverrider>, String> {
    let vars = |c: &Value| -> Result<Vec<k8s_openapi::api::core::v1::EnvVar>, String> {
        let v = c.get("env").cloned().unwrap_or(Value::Array(vec![]));
        serde_json::from_value(v).map_err(|e| format!("env: {e}"))
    };
    let (old, new) = (vars(old)?, vars(new)?);
    let removed: Vec<_> = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.name == o.name))
        .cloned()
        .collect();
    let changed: Vec<_> = new.iter().filter(|n| !old.contains(n)).cloned().collect();
    let mut out = Vec::new();
    for (operator, value) in [
        (OverriderOperator::Remove, removed),
        (OverriderOperator::Add, changed),
    ] {
        if !value.is_empty() {
            out.push(EnvOverrider {
                container_name: container.to_owned(),
                operator,
                value,
            });
        }
    }
    Ok(out)
}

/// Removes every old string, then adds every new one.
fn strings_delta(
    container: &str,
    field: &str,
    old: &Value,
    new: &Value,
) -> Result<Vec<CommandArgsOverrider>, String> {
    let strings = |c: &Value| -> Result<Vec<String>, String> {
        let v = c.get(field).cloned().unwrap_or(Value::Array(vec![]));
        serde_json::from_value(v).map_err(|e| format!("{field}: {e}"))
    };
    let mut out = Vec::new();
    for (operator, value) in [
        (OverriderOperator::Remove, strings(old)?),
        (OverriderOperator::Add, strings(new)?),
    ] {
        if !value.is_empty() {
            out.push(CommandArgsOverrider {
                container_name: container.to_owned(),
                operator,
                value,
            });
        }
    }
    Ok(out)
}
