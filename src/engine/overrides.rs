//! Overriders applied to one rendered copy of a workload.
//!
//! Everything works on the raw JSON manifest, so fields edgedeck does not
//! model survive untouched. Malformed input (a missing pod template, a
//! container that is not an object, an image that is not a string) becomes
//! an [`EngineError`] naming the JSON pointer of the offending field; nothing
//! here indexes unchecked or panics on what a user wrote.

mod containers;
mod image;
mod json;
mod placement;
#[cfg(test)]
mod tests;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::EngineError;
use super::object::WorkloadKind;
use crate::api::Overriders;

/// Where one rendered copy of a workload is pinned.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A NodeGroup, by name: suffix is the group name.
    Group(String),
    /// A `targetNodeLabels` entry: suffix is `ls-<8 hex>`.
    Labels {
        selector: LabelSelector,
        suffix: String,
    },
}

impl Target {
    pub fn labels(selector: LabelSelector) -> Self {
        let suffix = label_selector_suffix(&selector);
        Target::Labels { selector, suffix }
    }

    /// What is appended to generated names: the group name or `ls-<8 hex>`.
    pub fn suffix(&self) -> &str {
        match self {
            Target::Group(name) => name,
            Target::Labels { suffix, .. } => suffix,
        }
    }
}

/// `ls-` + the first 8 hex digits of sha256 over the selector's sorted requirements.
///
/// The hashed text is one line per requirement, joined by `\n` (no trailing
/// newline); valid label keys, values and operators cannot contain `\n`, `=`,
/// ` ` or `,`, so distinct selectors give distinct texts:
///
/// 1. every `matchLabels` entry as `<key>=<value>`, sorted by key; then
/// 2. every `matchExpressions` entry as `<key> <operator> <v1>,<v2>,…` with
///    its values sorted (the part after the operator is empty, but the space
///    is kept, for `Exists`/`DoesNotExist`), these lines sorted.
///
/// So the suffix depends only on what the selector selects by, never on the
/// order keys, expressions or values were written in. `matchLabels {a: b}`
/// and the expression `a In [b]` hash differently even though they select
/// the same nodes: the suffix identifies what the user wrote.
pub fn label_selector_suffix(selector: &LabelSelector) -> String {
    let labels = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value}"));
    let mut expressions: Vec<String> = selector
        .match_expressions
        .iter()
        .flatten()
        .map(|requirement| {
            let mut values: Vec<&str> = requirement
                .values
                .iter()
                .flatten()
                .map(String::as_str)
                .collect();
            values.sort_unstable();
            format!(
                "{} {} {}",
                requirement.key,
                requirement.operator,
                values.join(",")
            )
        })
        .collect();
    expressions.sort_unstable();
    let canonical: Vec<String> = labels.chain(expressions).collect();
    let hash = Sha256::digest(canonical.join("\n").as_bytes());
    let hex: String = hash
        .iter()
        .take(4)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("ls-{hex}")
}

/// Returns a copy of `manifest` (a workload of `kind`) with every overrider
/// of `target` applied in the reference order:
/// name → replicas → image → nodeSelector/affinity → command → args → env → resources.
///
/// Each step sees the result of the previous ones, so an image predicate
/// path is evaluated on the renamed copy, before the pod is pinned.
pub fn apply_target(
    manifest: &Value,
    kind: WorkloadKind,
    target: &Target,
    overriders: &Overriders,
) -> Result<Value, EngineError> {
    let ctx = Ctx::new(manifest, kind, target);
    let mut copy = manifest.clone();
    rename(&ctx, &mut copy, target)?;
    set_replicas(&ctx, &mut copy, overriders.replicas)?;
    image::apply_all(&ctx, &mut copy, &overriders.image_overriders)?;
    placement::pin(&ctx, &mut copy, target)?;
    containers::apply_command_args(
        &ctx,
        &mut copy,
        containers::CommandArgs::Command,
        &overriders.command_overriders,
    )?;
    containers::apply_command_args(
        &ctx,
        &mut copy,
        containers::CommandArgs::Args,
        &overriders.args_overriders,
    )?;
    containers::apply_env(&ctx, &mut copy, &overriders.env_overriders)?;
    containers::apply_resources(&ctx, &mut copy, &overriders.resources_overriders)?;
    Ok(copy)
}

/// What every error needs to know about the copy being rendered.
struct Ctx {
    /// `Deployment default/nginx-hangzhou`: the copy this target produces,
    /// which is what the user sees listed in the status.
    object: String,
    kind: WorkloadKind,
}

impl Ctx {
    fn new(manifest: &Value, kind: WorkloadKind, target: &Target) -> Self {
        let metadata = manifest.get("metadata");
        let name = metadata.and_then(|m| m.get("name")).and_then(Value::as_str);
        let namespace = metadata
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str);
        let name = match name {
            Some(name) => format!("{name}-{}", target.suffix()),
            None => "(unnamed)".to_owned(),
        };
        let object = match namespace {
            Some(namespace) => format!("{} {namespace}/{name}", kind.kind()),
            None => format!("{} {name}", kind.kind()),
        };
        Ctx { object, kind }
    }

    fn pod_spec_pointer(&self) -> &'static str {
        self.kind.pod_spec_pointer()
    }

    fn invalid_field(&self, field: impl Into<String>, problem: impl Into<String>) -> EngineError {
        EngineError::InvalidField {
            object: self.object.clone(),
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// `metadata.name` → `<name>-<suffix>`; the caller checks the length.
fn rename(ctx: &Ctx, manifest: &mut Value, target: &Target) -> Result<(), EngineError> {
    let metadata = json::object_at(ctx, manifest, "/metadata")?;
    match metadata.get_mut("name") {
        Some(Value::String(name)) if !name.is_empty() => {
            name.push('-');
            name.push_str(target.suffix());
            Ok(())
        }
        Some(Value::String(_)) => Err(ctx.invalid_field("/metadata/name", "is empty")),
        Some(other) => Err(ctx.invalid_field(
            "/metadata/name",
            format!("is {}, not a string", json::type_name(other)),
        )),
        None => Err(ctx.invalid_field("/metadata/name", "is missing")),
    }
}

fn set_replicas(ctx: &Ctx, manifest: &mut Value, replicas: Option<i32>) -> Result<(), EngineError> {
    let Some(replicas) = replicas else {
        return Ok(());
    };
    if !ctx.kind.has_replicas() {
        return Err(EngineError::OverriderNotApplicable {
            object: ctx.object.clone(),
            overrider: "replicas",
            kind: ctx.kind.kind().to_owned(),
        });
    }
    if replicas < 0 {
        return Err(EngineError::NegativeReplicas {
            target: ctx.object.clone(),
            value: i64::from(replicas),
        });
    }
    let spec = json::object_at(ctx, manifest, "/spec")?;
    spec.insert("replicas".to_owned(), Value::from(replicas));
    Ok(())
}
