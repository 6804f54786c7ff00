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

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::object::WorkloadKind;
use super::{EngineError, EngineWarning};
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

/// `ls-` + the first 8 hex digits of sha256 over a canonical text of the
/// selector, so the suffix depends only on what the selector says, never on
/// the order keys, expressions or values were written in.
///
/// A selector of `matchLabels` only hashes exactly as KubeEdge's name
/// overrider does: every key and its value run together with no separator,
/// sorted by key (`{region: g, tier: edge}` → `regiongtieredge` →
/// `ls-afc90c45`). Migrating from KubeEdge then keeps every generated name,
/// so the objects KubeEdge made are adopted instead of duplicated.
///
/// KubeEdge ignores `matchExpressions`; edgedeck honours them, so a
/// selector with any gets a text of its own that cannot be mistaken for
/// KubeEdge's (two entries differing only in their expressions must not
/// share a name). It is one line per requirement, joined by `\n`; valid
/// label keys, values and operators cannot contain `\n`, `=`, ` ` or `,`:
///
/// 1. every `matchLabels` entry as `<key>=<value>`, sorted by key; then
/// 2. every `matchExpressions` entry as `<key> <operator> <v1>,<v2>,…` with
///    its values sorted (the part after the operator is empty, but the space
///    is kept, for `Exists`/`DoesNotExist`), these lines sorted.
pub fn label_selector_suffix(selector: &LabelSelector) -> String {
    let canonical = match selector.match_expressions.as_deref() {
        None | Some([]) => kubeedge_text(selector),
        Some(expressions) => expressions_text(selector, expressions),
    };
    let hash = Sha256::digest(canonical.as_bytes());
    let hex: String = hash
        .iter()
        .take(4)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("ls-{hex}")
}

/// KubeEdge's text: `k1v1k2v2…`, keys sorted (a BTreeMap iterates sorted).
fn kubeedge_text(selector: &LabelSelector) -> String {
    selector
        .match_labels
        .iter()
        .flatten()
        .flat_map(|(key, value)| [key.as_str(), value.as_str()])
        .collect()
}

fn expressions_text(selector: &LabelSelector, expressions: &[LabelSelectorRequirement]) -> String {
    let labels = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(key, value)| format!("{key}={value}"));
    let mut lines: Vec<String> = expressions
        .iter()
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
    lines.sort_unstable();
    labels.chain(lines).collect::<Vec<_>>().join("\n")
}

/// One rendered copy, and the overriders that were skipped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub object: Value,
    pub warnings: Vec<EngineWarning>,
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
) -> Result<Applied, EngineError> {
    let ctx = Ctx::new(manifest, kind, target);
    let mut copy = manifest.clone();
    rename(&ctx, &mut copy, target)?;
    set_replicas(&ctx, &mut copy, overriders.replicas)?;
    image::apply_all(&ctx, &mut copy, &overriders.image_overriders)?;
    placement::pin(&ctx, &mut copy, target)?;
    let mut warnings = containers::apply_command_args(
        &ctx,
        &mut copy,
        containers::CommandArgs::Command,
        &overriders.command_overriders,
    )?;
    warnings.extend(containers::apply_command_args(
        &ctx,
        &mut copy,
        containers::CommandArgs::Args,
        &overriders.args_overriders,
    )?);
    warnings.extend(containers::apply_env(
        &ctx,
        &mut copy,
        &overriders.env_overriders,
    )?);
    warnings.extend(containers::apply_resources(
        &ctx,
        &mut copy,
        &overriders.resources_overriders,
    )?);
    Ok(Applied {
        object: copy,
        warnings,
    })
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
