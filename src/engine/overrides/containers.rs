//! Container-level overriders: command, args, env and resources, plus the
//! checked enumeration of a pod template's containers they (and the image
//! overrider) share.

use serde_json::{Map, Value};

use super::{Ctx, json};
use crate::api::{CommandArgsOverrider, EnvOverrider, OverriderOperator, ResourcesOverrider};
use crate::engine::EngineError;

/// One container of the pod template, located and checked to be an object
/// with a name.
pub(super) struct ContainerRef {
    /// `containers` or `initContainers`.
    list: &'static str,
    index: usize,
    name: String,
    /// JSON pointer of the container object, for messages.
    pub(super) pointer: String,
}

/// Regular containers first, then init containers (names are unique across
/// both in a valid pod). `containers` is required: a pod template without it
/// is broken, and silently doing nothing would hide that.
pub(super) fn list(ctx: &Ctx, manifest: &mut Value) -> Result<Vec<ContainerRef>, EngineError> {
    let pod_spec_path = ctx.pod_spec_pointer();
    let pod_spec = json::object_at(ctx, manifest, pod_spec_path)?;
    let mut refs = Vec::new();
    for (list, required) in [("containers", true), ("initContainers", false)] {
        let path = format!("{pod_spec_path}/{list}");
        match pod_spec.get(list) {
            Some(Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    refs.push(container_ref(ctx, &path, list, index, item)?);
                }
            }
            None | Some(Value::Null) if !required => {}
            None | Some(Value::Null) => return Err(ctx.invalid_field(path, "is missing")),
            Some(other) => {
                return Err(
                    ctx.invalid_field(path, format!("is {}, not an array", json::type_name(other)))
                );
            }
        }
    }
    Ok(refs)
}

fn container_ref(
    ctx: &Ctx,
    list_path: &str,
    list: &'static str,
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
            list,
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
        .get_mut(container.list)
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

/// The container named by an overrider; `overrider` names the overrider kind
/// for the error.
fn find(
    ctx: &Ctx,
    manifest: &mut Value,
    overrider: &'static str,
    name: &str,
) -> Result<ContainerRef, EngineError> {
    list(ctx, manifest)?
        .into_iter()
        .find(|container| container.name == name)
        .ok_or_else(|| EngineError::UnknownContainer {
            object: ctx.object.clone(),
            overrider,
            container: name.to_owned(),
        })
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
) -> Result<(), EngineError> {
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
        let container = find(ctx, manifest, which.field(), &overrider.container_name)?;
        let fields = get_mut(ctx, manifest, &container)?;
        if overrider.operator == OverriderOperator::Add {
            append_strings(ctx, fields, &container, which.field(), &overrider.value)?;
        } else {
            remove_strings(ctx, fields, &container, which.field(), &overrider.value)?;
        }
    }
    Ok(())
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
) -> Result<(), EngineError> {
    for (index, overrider) in overriders.iter().enumerate() {
        let vars = env_values(ctx, index, overrider)?;
        let container = find(ctx, manifest, "env", &overrider.container_name)?;
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
    Ok(())
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
) -> Result<(), EngineError> {
    for (index, overrider) in overriders.iter().enumerate() {
        let container = find(ctx, manifest, "resources", &overrider.container_name)?;
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
    Ok(())
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
