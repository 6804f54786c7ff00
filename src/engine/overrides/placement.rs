//! Pinning the copy to its target: a nodeSelector for a NodeGroup, a
//! required node affinity for a label selector.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde_json::{Value, json};

use super::{Ctx, Target, json as js};
use crate::api::LABEL_BELONGING_TO;
use crate::engine::EngineError;

pub(super) fn pin(ctx: &Ctx, manifest: &mut Value, target: &Target) -> Result<(), EngineError> {
    match target {
        Target::Group(group) => pin_to_group(ctx, manifest, group),
        Target::Labels { selector, .. } => {
            let requirements = requirements(ctx, selector)?;
            require_on_every_term(ctx, manifest, &requirements)
        }
    }
}

/// Existing nodeSelector entries are kept; ours wins on the group label, so
/// a template written for one group cannot leak into another.
fn pin_to_group(ctx: &Ctx, manifest: &mut Value, group: &str) -> Result<(), EngineError> {
    let path = ctx.pod_spec_pointer();
    let pod_spec = js::object_at(ctx, manifest, path)?;
    let node_selector = js::child_object(ctx, pod_spec, path, "nodeSelector")?;
    node_selector.insert(
        LABEL_BELONGING_TO.to_owned(),
        Value::String(group.to_owned()),
    );
    Ok(())
}

/// Node selector requirements equivalent to the label selector.
///
/// Only the operators a LabelSelector has are accepted: node selectors also
/// know `Gt`/`Lt`, but a `labelSelector` carrying them is invalid as the
/// type it claims to be, and would be rejected by any other consumer of it.
/// An empty selector is refused: it would pin the copy to every node, which
/// is what not using `targetNodeLabels` does, so it is almost certainly a
/// mistake (and would otherwise collide with other empty selectors' names).
fn requirements(ctx: &Ctx, selector: &LabelSelector) -> Result<Vec<Value>, EngineError> {
    let invalid = |problem: String| EngineError::InvalidSelector {
        target: ctx.object.clone(),
        problem,
    };
    let mut requirements = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        if key.is_empty() {
            return Err(invalid("matchLabels has an empty key".into()));
        }
        requirements.push(json!({"key": key, "operator": "In", "values": [value]}));
    }
    for (index, expression) in selector.match_expressions.iter().flatten().enumerate() {
        requirements.push(
            expression_requirement(expression)
                .map_err(|problem| invalid(format!("matchExpressions[{index}]: {problem}")))?,
        );
    }
    if requirements.is_empty() {
        return Err(invalid(
            "the selector is empty and would select every node; give matchLabels or matchExpressions".into(),
        ));
    }
    Ok(requirements)
}

fn expression_requirement(expression: &LabelSelectorRequirement) -> Result<Value, String> {
    let LabelSelectorRequirement {
        key,
        operator,
        values,
    } = expression;
    if key.is_empty() {
        return Err("empty key".into());
    }
    let values = values.as_deref().unwrap_or_default();
    match operator.as_str() {
        "In" | "NotIn" if values.is_empty() => {
            Err(format!("{key} {operator} needs at least one value"))
        }
        "In" | "NotIn" => Ok(json!({"key": key, "operator": operator, "values": values})),
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            Err(format!("{key} {operator} must not have values"))
        }
        "Exists" | "DoesNotExist" => Ok(json!({"key": key, "operator": operator})),
        other => Err(format!(
            "{key}: unknown operator {other:?}; a label selector allows In, NotIn, Exists and DoesNotExist"
        )),
    }
}

/// Terms of `requiredDuringScheduling…` are ORed, so adding our term beside
/// existing ones would let the pod escape to any node matching one of them.
/// Instead our requirements are ANDed into every term; with no term yet, they
/// become the only one. Requirements a term already has are not repeated.
fn require_on_every_term(
    ctx: &Ctx,
    manifest: &mut Value,
    requirements: &[Value],
) -> Result<(), EngineError> {
    let mut path = ctx.pod_spec_pointer().to_owned();
    let mut object = js::object_at(ctx, manifest, &path)?;
    for key in [
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
    ] {
        object = js::child_object(ctx, object, &path, key)?;
        path = format!("{path}/{key}");
    }
    let terms = js::child_array(ctx, object, &path, "nodeSelectorTerms")?;
    if terms.is_empty() {
        terms.push(json!({"matchExpressions": requirements}));
        return Ok(());
    }
    for (index, term) in terms.iter_mut().enumerate() {
        let term_path = format!("{path}/nodeSelectorTerms/{index}");
        let Value::Object(term) = term else {
            return Err(ctx.invalid_field(
                term_path,
                format!("is {}, not an object", js::type_name(term)),
            ));
        };
        let expressions = js::child_array(ctx, term, &term_path, "matchExpressions")?;
        for requirement in requirements {
            if !expressions.contains(requirement) {
                expressions.push(requirement.clone());
            }
        }
    }
    Ok(())
}
