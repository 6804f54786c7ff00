//! Container-level overriders: command, args, env and resources, plus the
//! checked enumeration of a pod template's containers they (and the image
//! overrider) share.
//!
//! Like KubeEdge, overriders reach `spec.containers` only: init containers
//! are left as written (an image predicate path can still point at one). An
//! overrider naming a container the template does not have is skipped with
//! a warning, as KubeEdge skips it silently: refusing the whole group would
//! stop a region from updating over a typo that KubeEdge tolerated.

use serde_json::{Map, Value};

use super::{Ctx, json};
use crate::api::{CommandArgsOverrider, EnvOverrider, OverriderOperator, ResourcesOverrider};
use crate::engine::{EngineError, EngineWarning};

/// One container of the pod template, located and checked to be an object
/// with a name.
pub(super) struct ContainerRef {
    index: usize,
    name: String,
    /// JSON pointer of the container object, for messages.
    pub(super) pointer: String,
}

/// The pod template's `containers`. The list is required: a pod template
/// without it is broken, and silently doing nothing would hide that.
pub(super) fn list(ctx: &Ctx, manifest: &mut Value) -> Result<Vec<ContainerRef>, EngineError> {
    let pod_spec_path = ctx.pod_spec_pointer();
    let pod_spec = json::object_at(ctx, manifest, pod_spec_path)?;
    let path = format!("{pod_spec_path}/containers");
    match pod_spec.get("containers") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| container_ref(ctx, &path, index, item))
            .collect(),
        None | Some(Value::Null) => Err(ctx.invalid_field(path, "is missing")),
        Some(other) => {
            Err(ctx.invalid_field(path, format!("is {}, not an array", json::type_name(other))))
        }
    }
}

fn container_ref(
    ctx: &Ctx,
    list_path: &str,
    index: usize,
    item: &Value,
) -> Result<ContainerRef, EngineError> {
    let pointer = format!("{list_path}/{index}");
    let Value::Object(fields) = item else {
        return Err(ctx.invalid_field(
            pointer,
            format!("is {}, not an object", json::type_name(item)),
        ));
    };
    match fields.get("name") {
        Some(Value::String(name)) if !name.is_empty() => Ok(ContainerRef {
            index,
            name: name.clone(),
            pointer,
        }),
        Some(Value::String(_)) => Err(ctx.invalid_field(format!("{pointer}/name"), "is empty")),
        Some(other) => Err(ctx.invalid_field(
            format!("{pointer}/name"),
            format!("is {}, not a string", json::type_name(other)),
        )),
        None => Err(ctx.invalid_field(format!("{pointer}/name"), "is missing")),
    }
}

/// The fields of a container found by [`list`] on the same manifest.
pub(super) fn get_mut<'a>(
    ctx: &Ctx,
    manifest: &'a mut Value,
    container: &ContainerRef,
) -> Result<&'a mut Map<String, Value>, EngineError> {
    json::object_at(ctx, manifest, ctx.pod_spec_pointer())?
        .get_mut("containers")
        .and_then(Value::as_array_mut)
        .and_then(|items| items.get_mut(container.index))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            ctx.invalid_field(
                container.pointer.clone(),
                "no longer holds the container found there",
            )
        })
}

/// The container named by entry `index` of the overrider list `overrider`;
/// when there is none, the entry is skipped and `skipped` says so.
fn find(
    ctx: &Ctx,
    manifest: &mut Value,
    (overrider, index): (&'static str, usize),
    name: &str,
    skipped: &mut Vec<EngineWarning>,
) -> Result<Option<ContainerRef>, EngineError> {
    let found = list(ctx, manifest)?
        .into_iter()
        .find(|container| container.name == name);
    if found.is_none() {
        skipped.push(EngineWarning::UnknownContainer {
            object: ctx.object.clone(),
            overrider: format!("{overrider}[{index}]"),
            container: name.to_owned(),
        });
    }
    Ok(found)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CommandArgs {
    Command,
    Args,
}

impl CommandArgs {
    fn field(self) -> &'static str {
        match self {
            CommandArgs::Command => "command",
            CommandArgs::Args => "args",
        }
    }

    fn overriders_field(self) -> &'static str {
        match self {
            CommandArgs::Command => "commandOverriders",
            CommandArgs::Args => "argsOverriders",
        }
    }
}

/// `add` appends the values; `remove` deletes every occurrence of each value.
/// Neither creates an empty list where there was none.
pub(super) fn apply_command_args(
    ctx: &Ctx,
    manifest: &mut Value,
    which: CommandArgs,
    overriders: &[CommandArgsOverrider],
) -> Result<Vec<EngineWarning>, EngineError> {
    let mut skipped = Vec::new();
    for (index, overrider) in overriders.iter().enumerate() {
        if overrider.operator == OverriderOperator::Replace {
            return Err(ctx.invalid_field(
                format!("{}[{index}].operator", which.overriders_field()),
                format!(
                    "replace is not supported for {}; use add or remove",
                    which.field()
                ),
            ));
        }
        let Some(container) = find(
            ctx,
            manifest,
            (which.overriders_field(), index),
            &overrider.container_name,
            &mut skipped,
        )?
        else {
            continue;
        };
        let fields = get_mut(ctx, manifest, &container)?;
        if overrider.operator == OverriderOperator::Add {
            append_strings(ctx, fields, &container, which.field(), &overrider.value)?;
        } else {
            remove_strings(ctx, fields, &container, which.field(), &overrider.value)?;
        }
    }
    Ok(skipped)
}

fn append_strings(
    ctx: &Ctx,
    fields: &mut Map<String, Value>,
    container: &ContainerRef,
    key: &str,
    values: &[String],
) -> Result<(), EngineError> {
    if values.is_empty() {
        return Ok(());
    }
    let list = json::child_array(ctx, fields, &container.pointer, key)?;
    list.extend(values.iter().cloned().map(Value::String));
    Ok(())
}

fn remove_strings(
    ctx: &Ctx,
    fields: &mut Map<String, Value>,
    container: &ContainerRef,
    key: &str,
    values: &[String],
) -> Result<(), EngineError> {
    retain_list(ctx, fields, container, key, |item| {
        !item.as_str().is_some_and(|s| values.iter().any(|v| v == s))
    })
}

/// Keeps the entries of the list at `key` for which `keep` holds; an absent
/// or null list stays as it is (removing from nothing creates nothing).
fn retain_list(
    ctx: &Ctx,
    fields: &mut Map<String, Value>,
    container: &ContainerRef,
    key: &str,
    keep: impl Fn(&Value) -> bool,
) -> Result<(), EngineError> {
    match fields.get_mut(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(list)) => {
            list.retain(|item| keep(item));
            Ok(())
        }
        Some(other) => Err(ctx.invalid_field(
            format!("{}/{key}", container.pointer),
            format!("is {}, not an array", json::type_name(other)),
        )),
    }
}

/// Env edits never reorder existing entries: a changed order is a changed
/// pod template, hence a rollout (the reference implementation rebuilt the
/// list from a map and rolled pods for nothing).
///
/// `add` and `replace` both upsert by name: an existing variable is replaced
/// where it stands, a new one is appended in the order given. `add` does not
/// append a second entry with the same name because the kubelet lets the last
/// duplicate win, which would make the result depend on entry order; for the
/// same reason every existing duplicate of the name is replaced. `remove`
/// deletes every entry whose name is among the value entries' names.
pub(super) fn apply_env(
    ctx: &Ctx,
    manifest: &mut Value,
    overriders: &[EnvOverrider],
) -> Result<Vec<EngineWarning>, EngineError> {
    let mut skipped = Vec::new();
    for (index, overrider) in overriders.iter().enumerate() {
        let vars = env_values(ctx, index, overrider)?;
        let Some(container) = find(
            ctx,
            manifest,
            ("envOverriders", index),
            &overrider.container_name,
            &mut skipped,
        )?
        else {
            continue;
        };
        let fields = get_mut(ctx, manifest, &container)?;
        match overrider.operator {
            OverriderOperator::Add | OverriderOperator::Replace if vars.is_empty() => {}
            OverriderOperator::Add | OverriderOperator::Replace => {
                upsert_env(
                    json::child_array(ctx, fields, &container.pointer, "env")?,
                    vars,
                );
            }
            OverriderOperator::Remove => remove_env(ctx, fields, &container, &vars)?,
        }
    }
    Ok(skipped)
}

fn env_values(
    ctx: &Ctx,
    index: usize,
    overrider: &EnvOverrider,
) -> Result<Vec<(String, Value)>, EngineError> {
    overrider
        .value
        .iter()
        .enumerate()
        .map(|(position, var)| {
            let field = format!("envOverriders[{index}].value[{position}]");
            if var.name.is_empty() {
                return Err(ctx.invalid_field(format!("{field}.name"), "is empty"));
            }
            let value =
                serde_json::to_value(var).map_err(|e| ctx.invalid_field(field, e.to_string()))?;
            Ok((var.name.clone(), value))
        })
        .collect()
}

fn env_name(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

fn upsert_env(env: &mut Vec<Value>, vars: Vec<(String, Value)>) {
    for (name, var) in vars {
        let mut found = false;
        for entry in env
            .iter_mut()
            .filter(|entry| env_name(entry) == Some(name.as_str()))
        {
            *entry = var.clone();
            found = true;
        }
        if !found {
            env.push(var);
        }
    }
}

fn remove_env(
    ctx: &Ctx,
    fields: &mut Map<String, Value>,
    container: &ContainerRef,
    vars: &[(String, Value)],
) -> Result<(), EngineError> {
    retain_list(ctx, fields, container, "env", |entry| {
        !env_name(entry).is_some_and(|name| vars.iter().any(|(n, _)| n == name))
    })
}

/// Merges rather than replaces: each quantity given under `limits` or
/// `requests` overrides that one resource, and resources not mentioned keep
/// their values (raising the memory limit for one region should not drop
/// the CPU request). Other fields (`claims`) are replaced when given.
pub(super) fn apply_resources(
    ctx: &Ctx,
    manifest: &mut Value,
    overriders: &[ResourcesOverrider],
) -> Result<Vec<EngineWarning>, EngineError> {
    let mut skipped = Vec::new();
    for (index, overrider) in overriders.iter().enumerate() {
        let Some(container) = find(
            ctx,
            manifest,
            ("resourcesOverriders", index),
            &overrider.container_name,
            &mut skipped,
        )?
        else {
            continue;
        };
        let given = match serde_json::to_value(&overrider.value) {
            Ok(Value::Object(given)) => given,
            Ok(_) => Map::new(),
            Err(e) => {
                return Err(
                    ctx.invalid_field(format!("resourcesOverriders[{index}].value"), e.to_string())
                );
            }
        };
        if given.is_empty() {
            continue;
        }
        let fields = get_mut(ctx, manifest, &container)?;
        let path = format!("{}/resources", container.pointer);
        merge_resources(
            ctx,
            json::child_object(ctx, fields, &container.pointer, "resources")?,
            &path,
            given,
        )?;
    }
    Ok(skipped)
}

fn merge_resources(
    ctx: &Ctx,
    resources: &mut Map<String, Value>,
    path: &str,
    given: Map<String, Value>,
) -> Result<(), EngineError> {
    for (key, value) in given {
        match value {
            Value::Object(quantities) if key == "limits" || key == "requests" => {
                json::child_object(ctx, resources, path, &key)?.extend(quantities);
            }
            other => {
                resources.insert(key, other);
            }
        }
    }
    Ok(())
}
