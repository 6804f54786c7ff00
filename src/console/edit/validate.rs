//! What the YAML editor's text would do if saved, decided as the API server
//! and the engine decide it: refused (a syntax error, a field of the wrong
//! type in the EdgeApplication or in any built-in manifest, a field the
//! server would silently drop), or accepted with the engine's own words for
//! every group it will not render (that group keeps what it runs).

use serde_json::Value;

use crate::api::validation::{Finding, validate_against_crd};
use crate::api::{EdgeApplication, typed};
use crate::engine::render;

/// The editor text, checked.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// What the API server would refuse or drop; nothing is saved while any.
    pub errors: Vec<String>,
    /// What the engine will refuse to render once saved.
    pub warnings: Vec<String>,
    pub app: Option<EdgeApplication>,
}

const API_VERSION: &str = "apps.kubeedge.io/v1alpha1";
const KIND: &str = "EdgeApplication";

/// Checks `text` as the whole EdgeApplication.
pub fn check(text: &str) -> Checked {
    let value: Value = match serde_yaml_ng::from_str(text) {
        Ok(v) => v,
        // serde_yaml_ng says where: "… at line 4 column 7".
        Err(e) => return refused(vec![format!("YAML: {e}")]),
    };
    let mut errors = Vec::new();
    for (field, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        match value.get(field).and_then(Value::as_str) {
            Some(v) if v == want => {}
            Some(v) => errors.push(format!("{field}: {v:?}, expected {want:?}")),
            None => errors.push(format!("{field}: missing (expected {want:?})")),
        }
    }
    if let Some(crd) = crate::api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == KIND)
    {
        // Against the version the editor saves, whatever the text claims
        // (a wrong apiVersion is reported above, and hides nothing else).
        let mut as_saved = value.clone();
        if let Some(map) = as_saved.as_object_mut() {
            map.insert("apiVersion".into(), Value::String(API_VERSION.into()));
        }
        errors.extend(
            validate_against_crd(&crd, &as_saved)
                .into_iter()
                .map(|f| match f {
                    Finding::Invalid { .. } => f.to_string(),
                    Finding::Pruned { path } => {
                        format!("{path}: unknown field (the API server would drop it)")
                    }
                }),
        );
    }
    let manifests = value
        .pointer("/spec/workloadTemplate/manifests")
        .and_then(Value::as_array);
    for (i, manifest) in manifests.into_iter().flatten().enumerate() {
        if let Err(e) = typed::check_object(manifest) {
            errors.push(format!("spec.workloadTemplate.manifests[{i}]: {e}"));
        }
    }
    if !errors.is_empty() {
        return refused(errors);
    }
    let app = match serde_path_to_error::deserialize::<_, EdgeApplication>(&value) {
        Ok(app) => app,
        Err(e) => return refused(vec![format!("{}: {}", e.path(), e.inner())]),
    };
    let warnings = render::render(&app)
        .errors
        .iter()
        .map(|e| match &e.target {
            Some(group) => format!(
                "engine: {group} will not be rendered ({}); it keeps what it runs",
                e.error
            ),
            None => format!("engine: {}", e.error),
        })
        .collect();
    Checked {
        errors: Vec::new(),
        warnings,
        app: Some(app),
    }
}

fn refused(errors: Vec<String>) -> Checked {
    Checked {
        errors,
        ..Checked::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
apiVersion: apps.kubeedge.io/v1alpha1
kind: EdgeApplication
metadata:
  name: web
  namespace: default
spec:
  workloadTemplate:
    manifests:
    - apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
      spec:
        replicas: 2
        selector:
          matchLabels: {app: web}
        template:
          metadata:
            labels: {app: web}
          spec:
            containers:
            - name: web
              image: nginx:1.27
  workloadScope:
    targetNodeGroups:
    - name: hangzhou
      overriders:
        replicas: 3
"#;

    #[test]
    fn a_valid_application_is_accepted_with_nothing_to_say() {
        let c = check(GOOD);
        assert_eq!(
            (c.errors.clone(), c.warnings.clone()),
            (vec![], vec![]),
            "{c:?}"
        );
        assert!(c.app.is_some());
    }

    #[test]
    fn a_wrongly_typed_manifest_field_is_refused_naming_it() {
        let c = check(&GOOD.replace("replicas: 2", "replicas: abc"));
        assert!(c.app.is_none());
        let e = c.errors.join("\n");
        assert!(e.contains("spec.workloadTemplate.manifests[0]"), "{e}");
        assert!(e.contains("spec.replicas"), "{e}");
    }

    #[test]
    fn a_mistyped_top_level_key_is_refused() {
        let c = check(&GOOD.replace("apiVersion: apps.kubeedge", "GapiVersion: apps.kubeedge"));
        let e = c.errors.join("\n");
        assert!(e.contains("GapiVersion: unknown field"), "{e}");
        assert!(e.contains("apiVersion: missing"), "{e}");
        assert!(c.app.is_none());
    }

    #[test]
    fn a_wrongly_typed_overrider_is_refused() {
        let c = check(&GOOD.replace("replicas: 3", "replicas: three"));
        assert!(c.app.is_none(), "{c:?}");
        assert!(c.errors.join("\n").contains("replicas"), "{c:?}");
    }

    #[test]
    fn negative_replicas_are_saved_but_the_engine_keeps_that_group_as_it_runs() {
        let c = check(&GOOD.replace("replicas: 3", "replicas: -1"));
        assert!(c.errors.is_empty(), "the API server accepts it: {c:?}");
        assert!(c.app.is_some());
        let w = c.warnings.join("\n");
        assert!(w.contains("hangzhou will not be rendered"), "{w}");
        assert!(w.contains("keeps what it runs"), "{w}");
    }

    #[test]
    fn a_syntax_error_says_where() {
        let c = check("apiVersion: [unclosed\nkind: EdgeApplication\n");
        let e = c.errors.join("\n");
        assert!(e.starts_with("YAML: "), "{e}");
        assert!(e.contains("line"), "{e}");
    }
}
