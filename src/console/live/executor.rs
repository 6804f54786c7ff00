//! Performs the App's writing [`Effect`]s against the cluster and reports a
//! [`WriteOutcome`]. A merge patch carries `metadata.resourceVersion`, so a
//! stale write is refused by the API server with 409; the object is then
//! read again and handed back as [`WriteOutcome::Conflict`]. In read-only
//! mode nothing is written, whatever the App asked (defence in depth).

use std::sync::Arc;

use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
    PostParams, Preconditions,
};
use serde_json::{Map, Value};

use super::controls::FleetControls;
use super::stores::short_error;
use crate::api::{EdgeApplication, FIELD_MANAGER};
use crate::console::action::{Effect, WriteOutcome};
use crate::engine::ObjectKey;
use crate::engine::object::{is_cluster_scoped, resource_for_kind, split_api_version};

/// What an API request does.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    /// PATCH with `application/merge-patch+json`.
    MergePatch(Value),
    /// PUT of the whole object.
    Replace(Value),
    /// POST.
    Create(Value),
    /// DELETE with a resourceVersion precondition.
    Delete { resource_version: String },
}

/// One API request, fully determined by an effect.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRequest {
    pub resource: ApiResource,
    /// None for cluster-scoped resources.
    pub namespace: Option<String>,
    pub name: String,
    pub verb: Verb,
    /// For messages: `EdgeApplication edge-apps/nginx`.
    pub what: String,
}

fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = split_api_version(api_version);
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind),
        &resource_for_kind(kind),
    )
}

fn namespace_of(api_version: &str, kind: &str, namespace: Option<&str>) -> Option<String> {
    (!is_cluster_scoped(api_version, kind)).then(|| namespace.unwrap_or("default").to_owned())
}

/// `value` with `metadata.resourceVersion` set to `rv`.
pub fn with_resource_version(mut value: Value, rv: &str) -> Value {
    if !value.is_object() {
        value = Value::Object(Map::new());
    }
    if let Some(map) = value.as_object_mut() {
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".into(), Value::String(rv.to_owned()));
        }
    }
    value
}

/// The API request for a writing effect; `Err` for effects that are not
/// object writes or that lack what a request needs.
pub fn request_for(effect: &Effect) -> Result<WriteRequest, String> {
    match effect {
        Effect::Patch {
            key,
            patch,
            resource_version,
        } => {
            if resource_version.is_empty() {
                return Err("refusing a patch without a resourceVersion precondition".into());
            }
            Ok(WriteRequest {
                resource: api_resource(&key.api_version, &key.kind),
                namespace: namespace_of(&key.api_version, &key.kind, key.namespace.as_deref()),
                name: key.name.clone(),
                verb: Verb::MergePatch(with_resource_version(patch.clone(), resource_version)),
                what: key.to_string(),
            })
        }
        Effect::Replace {
            object,
            resource_version,
        } => {
            let key = ObjectKey::of(object)
                .ok_or("the object has no apiVersion, kind or metadata.name")?;
            if resource_version.is_empty() {
                return Err("refusing a replace without a resourceVersion precondition".into());
            }
            Ok(WriteRequest {
                resource: api_resource(&key.api_version, &key.kind),
                namespace: namespace_of(&key.api_version, &key.kind, key.namespace.as_deref()),
                name: key.name.clone(),
                verb: Verb::Replace(with_resource_version(object.clone(), resource_version)),
                what: key.to_string(),
            })
        }
        Effect::Create { object } => {
            let key = ObjectKey::of(object)
                .ok_or("the object has no apiVersion, kind or metadata.name")?;
            Ok(WriteRequest {
                resource: api_resource(&key.api_version, &key.kind),
                namespace: namespace_of(&key.api_version, &key.kind, key.namespace.as_deref()),
                name: key.name.clone(),
                verb: Verb::Create(object.clone()),
                what: key.to_string(),
            })
        }
        Effect::Delete {
            key,
            resource_version,
        } => {
            if resource_version.is_empty() {
                return Err("refusing a delete without a resourceVersion precondition".into());
            }
            Ok(WriteRequest {
                resource: api_resource(&key.api_version, &key.kind),
                namespace: namespace_of(&key.api_version, &key.kind, key.namespace.as_deref()),
                name: key.name.clone(),
                verb: Verb::Delete {
                    resource_version: resource_version.clone(),
                },
                what: key.to_string(),
            })
        }
        other => Err(format!("{other:?} is not an object write")),
    }
}

/// Deletes only the version the operator saw: a 409 means someone changed it
/// meanwhile, and nothing is deleted.
async fn delete(
    api: &Api<DynamicObject>,
    request: &WriteRequest,
    resource_version: &str,
) -> WriteOutcome {
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            resource_version: Some(resource_version.to_owned()),
            uid: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&request.name, &params).await {
        Ok(_) => {
            tracing::info!(what = %request.what, "deleted");
            WriteOutcome::Ok {
                what: format!("deleted {}", request.what),
                written: None,
            }
        }
        Err(kube::Error::Api(s)) if s.code == 409 => WriteOutcome::Failed {
            error: format!(
                "{} changed since it was shown; not deleted (look again, then ctrl-d)",
                request.what
            ),
        },
        Err(kube::Error::Api(s)) if s.code == 404 => WriteOutcome::Ok {
            what: format!("{} was already gone", request.what),
            written: None,
        },
        Err(e) => WriteOutcome::Failed {
            error: format!("delete {}: {}", request.what, short_error(&e)),
        },
    }
}

/// What a 409 becomes: the App can merge an EdgeApplication it gets back;
/// anything else is reported as a failure to reload.
pub fn conflict_outcome(request: &WriteRequest, current: Option<Value>) -> WriteOutcome {
    let app = current
        .filter(|_| request.resource.kind == "EdgeApplication")
        .and_then(|v| serde_json::from_value::<EdgeApplication>(v).ok());
    match app {
        Some(app) => WriteOutcome::Conflict {
            current: Box::new(app),
        },
        None => WriteOutcome::Failed {
            error: format!(
                "409 Conflict: {} changed since it was read; reload and try again",
                request.what
            ),
        },
    }
}

/// Performs writing effects.
#[derive(Clone)]
pub struct Executor {
    client: Client,
    readonly: bool,
    controls: Option<Arc<dyn FleetControls>>,
}

impl Executor {
    pub fn new(
        client: Client,
        readonly: bool,
        controls: Option<Arc<dyn FleetControls>>,
    ) -> Executor {
        Executor {
            client,
            readonly,
            controls,
        }
    }

    fn api(&self, request: &WriteRequest) -> Api<DynamicObject> {
        match &request.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &request.resource),
            None => Api::all_with(self.client.clone(), &request.resource),
        }
    }

    /// Performs one writing effect (see [`Effect::writes`]).
    pub async fn write(&self, effect: &Effect) -> WriteOutcome {
        if self.readonly && effect.writes() {
            tracing::warn!(?effect, "refused a write in read-only mode");
            return WriteOutcome::Failed {
                error: "read-only: writes are disabled (started with --readonly)".into(),
            };
        }
        if let Effect::SetOffline { nodes, offline } = effect {
            return self.set_offline(nodes, *offline);
        }
        let request = match request_for(effect) {
            Ok(r) => r,
            Err(error) => return WriteOutcome::Failed { error },
        };
        let api = self.api(&request);
        if let Verb::Delete { resource_version } = &request.verb {
            return delete(&api, &request, resource_version).await;
        }
        let result = match &request.verb {
            Verb::MergePatch(body) => {
                let params = PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PatchParams::default()
                };
                api.patch(&request.name, &params, &Patch::Merge(body)).await
            }
            Verb::Delete { .. } => unreachable!("handled above"),
            Verb::Replace(body) | Verb::Create(body) => {
                let object: DynamicObject = match serde_json::from_value(body.clone()) {
                    Ok(o) => o,
                    Err(e) => {
                        return WriteOutcome::Failed {
                            error: format!("not a Kubernetes object: {e}"),
                        };
                    }
                };
                let params = PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PostParams::default()
                };
                if matches!(request.verb, Verb::Create(_)) {
                    api.create(&params, &object).await
                } else {
                    api.replace(&request.name, &params, &object).await
                }
            }
        };
        match result {
            Ok(object) => {
                tracing::info!(what = %request.what, "written");
                let written = (request.resource.kind == "EdgeApplication")
                    .then(|| serde_json::to_value(&object).ok())
                    .flatten()
                    .and_then(|v| serde_json::from_value::<EdgeApplication>(v).ok())
                    .map(Box::new);
                WriteOutcome::Ok {
                    what: format!("saved {}", request.what),
                    written,
                }
            }
            Err(kube::Error::Api(s))
                if s.code == 409 && !matches!(request.verb, Verb::Create(_)) =>
            {
                tracing::info!(what = %request.what, "409 conflict; reading the current object");
                let current = match api.get(&request.name).await {
                    Ok(o) => serde_json::to_value(o).ok(),
                    Err(e) => {
                        tracing::warn!(error = %short_error(&e), "cannot read the object after a conflict");
                        None
                    }
                };
                conflict_outcome(&request, current)
            }
            Err(e) => {
                let error = short_error(&e);
                tracing::warn!(what = %request.what, %error, "write failed");
                WriteOutcome::Failed { error }
            }
        }
    }

    fn set_offline(&self, nodes: &[String], offline: bool) -> WriteOutcome {
        let Some(controls) = &self.controls else {
            return WriteOutcome::Failed {
                error: "taking nodes offline needs the embedded fleet simulator (--embedded)"
                    .into(),
            };
        };
        match controls.set_offline(nodes, offline) {
            Ok(()) => WriteOutcome::Done {
                message: format!(
                    "{} {}",
                    match nodes {
                        [one] => one.clone(),
                        many => format!("{} nodes", many.len()),
                    },
                    if offline { "offline" } else { "back online" }
                ),
            },
            Err(error) => WriteOutcome::Failed { error },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app_key() -> ObjectKey {
        ObjectKey::new(
            crate::api::API_VERSION,
            "EdgeApplication",
            Some("edge-apps"),
            "nginx",
        )
    }

    #[test]
    fn a_patch_is_a_merge_patch_carrying_the_resource_version() {
        let effect = Effect::Patch {
            key: app_key(),
            patch: json!({"spec": {"x": 1}}),
            resource_version: "42".into(),
        };
        let r = request_for(&effect).expect("request");
        assert_eq!(r.resource.plural, "edgeapplications");
        assert_eq!(r.resource.group, "apps.kubeedge.io");
        assert_eq!(r.resource.version, "v1alpha1");
        assert_eq!(r.namespace.as_deref(), Some("edge-apps"));
        assert_eq!(r.name, "nginx");
        assert_eq!(
            r.verb,
            Verb::MergePatch(json!({"spec": {"x": 1}, "metadata": {"resourceVersion": "42"}}))
        );
        assert_eq!(r.what, "EdgeApplication edge-apps/nginx");
    }

    #[test]
    fn the_effects_resource_version_wins_over_the_patch_body() {
        let effect = Effect::Patch {
            key: app_key(),
            patch: json!({"metadata": {"resourceVersion": "1", "labels": {"a": "b"}}}),
            resource_version: "7".into(),
        };
        let r = request_for(&effect).expect("request");
        assert_eq!(
            r.verb,
            Verb::MergePatch(json!({"metadata": {"resourceVersion": "7", "labels": {"a": "b"}}}))
        );
    }

    #[test]
    fn a_patch_without_a_precondition_is_refused() {
        let effect = Effect::Patch {
            key: app_key(),
            patch: json!({}),
            resource_version: String::new(),
        };
        assert!(request_for(&effect).is_err());
    }

    #[test]
    fn creating_a_nodegroup_is_cluster_scoped() {
        let object = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": "hangzhou"}, "spec": {"matchLabels": {"location": "hangzhou"}}});
        let r = request_for(&Effect::Create {
            object: object.clone(),
        })
        .expect("request");
        assert_eq!(r.namespace, None);
        assert_eq!(r.resource.plural, "nodegroups");
        assert_eq!(r.verb, Verb::Create(object));
    }

    #[test]
    fn namespaced_objects_default_to_default() {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let r = request_for(&Effect::Replace {
            object,
            resource_version: "3".into(),
        })
        .expect("request");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.resource.group, "");
        assert_eq!(r.resource.api_version, "v1");
        match r.verb {
            Verb::Replace(v) => {
                assert_eq!(v.pointer("/metadata/resourceVersion"), Some(&json!("3")))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_writes_have_no_request() {
        assert!(request_for(&Effect::Quit).is_err());
        assert!(request_for(&Effect::SwitchNamespace(None)).is_err());
    }

    fn app_request() -> WriteRequest {
        request_for(&Effect::Patch {
            key: app_key(),
            patch: json!({}),
            resource_version: "1".into(),
        })
        .expect("request")
    }

    #[test]
    fn a_conflict_on_an_application_hands_back_the_current_object() {
        let current = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
            "metadata": {"name": "nginx", "namespace": "edge-apps", "resourceVersion": "9"},
            "spec": {"workloadTemplate": {"manifests": []}, "workloadScope": {}}});
        match conflict_outcome(&app_request(), Some(current)) {
            WriteOutcome::Conflict { current } => {
                assert_eq!(current.metadata.resource_version.as_deref(), Some("9"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_conflict_without_a_readable_object_is_a_failure() {
        assert!(matches!(
            conflict_outcome(&app_request(), None),
            WriteOutcome::Failed { .. }
        ));
        let group = request_for(&Effect::Replace {
            object: json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "g"}}),
            resource_version: "1".into(),
        })
        .expect("request");
        match conflict_outcome(&group, Some(json!({"kind": "NodeGroup"}))) {
            WriteOutcome::Failed { error } => assert!(error.contains("409"), "{error}"),
            other => panic!("{other:?}"),
        }
    }
}
