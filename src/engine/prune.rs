//! Which previously generated objects must go.
//!
//! An object is pruned when nothing in the current render produces it and no
//! render error asks to keep it. Objects are compared by API group, kind,
//! namespace and name, never by version: a manifest moving from
//! `apps/v1beta2` to `apps/v1` is the same object, not a delete and create.

use std::collections::BTreeSet;

use super::object::ObjectKey;
use super::render::Rendered;

/// The keys in `existing` (objects generated earlier for this application)
/// that the current render no longer wants, in the order given.
pub fn to_delete<'a>(existing: &'a [ObjectKey], rendered: &Rendered) -> Vec<&'a ObjectKey> {
    let wanted: BTreeSet<_> = rendered
        .objects
        .iter()
        .map(|o| o.key.identity())
        .chain(rendered.retained().map(ObjectKey::identity))
        .collect();
    existing
        .iter()
        .filter(|k| !wanted.contains(&k.identity()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineError;
    use crate::engine::render::{DesiredObject, RenderError};
    use serde_json::Value;

    fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
        ObjectKey::new(api_version, kind, Some("default"), name)
    }

    fn desired(k: ObjectKey) -> DesiredObject {
        DesiredObject {
            ordinal: 0,
            target: None,
            key: k,
            object: Value::Null,
        }
    }

    #[test]
    fn deletes_only_what_is_no_longer_rendered() {
        let existing = vec![
            key("apps/v1", "Deployment", "nginx-hangzhou"),
            key("apps/v1", "Deployment", "nginx-beijing"),
            key("v1", "Service", "nginx"),
        ];
        let rendered = Rendered {
            objects: vec![
                desired(key("apps/v1", "Deployment", "nginx-beijing")),
                desired(key("v1", "Service", "nginx")),
            ],
            errors: vec![],
            warnings: vec![],
        };
        let gone = to_delete(&existing, &rendered);
        assert_eq!(gone, vec![&existing[0]]);
    }

    #[test]
    fn a_failed_render_keeps_its_object() {
        let existing = vec![key("apps/v1", "Deployment", "nginx-hangzhou")];
        let rendered = Rendered {
            objects: vec![],
            errors: vec![RenderError {
                ordinal: Some(0),
                target: Some("hangzhou".into()),
                key: Some(existing[0].clone()),
                error: EngineError::NegativeReplicas {
                    target: "hangzhou".into(),
                    value: -1,
                },
            }],
            warnings: vec![],
        };
        assert!(to_delete(&existing, &rendered).is_empty());
    }

    #[test]
    fn version_changes_are_not_deletions_but_kind_and_namespace_changes_are() {
        let existing = vec![
            key("apps/v1beta2", "Deployment", "web"),
            key("v1", "ConfigMap", "web"),
            ObjectKey::new("v1", "Secret", Some("other"), "web"),
        ];
        let rendered = Rendered {
            objects: vec![
                desired(key("apps/v1", "Deployment", "web")),
                desired(key("v1", "Secret", "web")),
            ],
            errors: vec![],
            warnings: vec![],
        };
        let gone = to_delete(&existing, &rendered);
        assert_eq!(gone, vec![&existing[1], &existing[2]]);
    }
}
