//! `imageOverriders`: with a predicate, the one image string at its JSON
//! pointer; without, every image of `spec.containers` (not of init
//! containers: KubeEdge leaves those as written, and so do we).

use serde_json::Value;

use super::containers::{self, ContainerRef};
use super::{Ctx, json};
use crate::api::{ImageComponent, ImageOverrider, OverriderOperator};
use crate::engine::EngineError;
use crate::engine::image::ImageRef;

pub(super) fn apply_all(
    ctx: &Ctx,
    manifest: &mut Value,
    overriders: &[ImageOverrider],
) -> Result<(), EngineError> {
    for (index, overrider) in overriders.iter().enumerate() {
        check_overrider(ctx, index, overrider)?;
        match &overrider.predicate {
            Some(predicate) => {
                apply_at_predicate(ctx, manifest, &predicate.path, index, overrider)?
            }
            None => apply_to_containers(ctx, manifest, index, overrider)?,
        }
    }
    Ok(())
}

/// Problems of the overrider itself are reported as such, not as a problem
/// of whichever image it happened to be applied to first.
fn check_overrider(ctx: &Ctx, index: usize, overrider: &ImageOverrider) -> Result<(), EngineError> {
    let problem = match (overrider.component, overrider.operator) {
        (ImageComponent::Repository, OverriderOperator::Remove) => {
            "the repository cannot be removed: an image needs one"
        }
        (_, OverriderOperator::Add | OverriderOperator::Replace) if overrider.value.is_empty() => {
            "add and replace need a non-empty value"
        }
        _ => return Ok(()),
    };
    Err(EngineError::BadImageOverrider {
        object: ctx.object.clone(),
        problem: format!("imageOverriders[{index}]: {problem}"),
    })
}

fn apply_at_predicate(
    ctx: &Ctx,
    manifest: &mut Value,
    path: &str,
    index: usize,
    overrider: &ImageOverrider,
) -> Result<(), EngineError> {
    let bad_predicate = |problem: String| EngineError::BadImagePredicate {
        object: ctx.object.clone(),
        path: path.to_owned(),
        problem,
    };
    let slot = json::resolve_mut(manifest, path).map_err(bad_predicate)?;
    let Value::String(image) = slot else {
        return Err(bad_predicate(format!(
            "points at {}, not an image string",
            json::type_name(slot)
        )));
    };
    *image = override_image(ctx, path, image, index, overrider)?;
    Ok(())
}

fn apply_to_containers(
    ctx: &Ctx,
    manifest: &mut Value,
    index: usize,
    overrider: &ImageOverrider,
) -> Result<(), EngineError> {
    for container in containers::list(ctx, manifest)? {
        apply_to_container(ctx, manifest, &container, index, overrider)?;
    }
    Ok(())
}

fn apply_to_container(
    ctx: &Ctx,
    manifest: &mut Value,
    container: &ContainerRef,
    index: usize,
    overrider: &ImageOverrider,
) -> Result<(), EngineError> {
    let path = format!("{}/image", container.pointer);
    let fields = containers::get_mut(ctx, manifest, container)?;
    match fields.get_mut("image") {
        Some(Value::String(image)) => {
            *image = override_image(ctx, &path, image, index, overrider)?;
            Ok(())
        }
        Some(other) => {
            Err(ctx.invalid_field(path, format!("is {}, not a string", json::type_name(other))))
        }
        None => Err(ctx.invalid_field(path, "is missing")),
    }
}

fn override_image(
    ctx: &Ctx,
    path: &str,
    image: &str,
    index: usize,
    overrider: &ImageOverrider,
) -> Result<String, EngineError> {
    let invalid = |problem: String| EngineError::InvalidImage {
        object: ctx.object.clone(),
        path: path.to_owned(),
        image: image.to_owned(),
        problem,
    };
    let parsed = ImageRef::parse(image).map_err(invalid)?;
    let result = parsed
        .apply(overrider.component, overrider.operator, &overrider.value)
        .map_err(|problem| invalid(format!("imageOverriders[{index}]: {problem}")))?;
    Ok(result.to_string())
}
