//! Small cluster-facing helpers the controllers share: kind discovery with a
//! cache, the "does the live object already say this" check that keeps the
//! engine from writing when nothing changed, and Kubernetes Events.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ApiResource, GroupVersionKind, PostParams};
use kube::{Client, discovery};
use serde_json::Value;

/// Resolves kinds to API resources, remembering what it found. Failures are
/// not remembered: a kind missing now may be served once its CRD is applied.
#[derive(Default)]
pub struct KindCache {
    known: Mutex<HashMap<GroupVersionKind, ApiResource>>,
}

impl KindCache {
    pub async fn resolve(
        &self,
        client: &Client,
        gvk: &GroupVersionKind,
    ) -> Result<ApiResource, kube::Error> {
        if let Some(found) = self.known.lock().ok().and_then(|k| k.get(gvk).cloned()) {
            return Ok(found);
        }
        let (resource, _) = discovery::pinned_kind(client, gvk).await?;
        if let Ok(mut known) = self.known.lock() {
            known.insert(gvk.clone(), resource.clone());
        }
        Ok(resource)
    }
}

/// Whether `live` already holds everything `desired` says. Fields the server
/// adds (defaults, status, metadata) do not count as differences; lists must
/// match element by element.
pub fn covers(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => desired
            .iter()
            .all(|(key, want)| live.get(key).is_some_and(|have| covers(have, want))),
        (Value::Array(live), Value::Array(desired)) => {
            live.len() == desired.len()
                && live
                    .iter()
                    .zip(desired)
                    .all(|(have, want)| covers(have, want))
        }
        (live, desired) => live == desired,
    }
}

/// A std mutex's guard, poisoned or not: the engine's locks guard plain
/// data that a panicking holder cannot leave half-written in a way that
/// matters more than stopping the controller would.
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a Warning Event on `regarding` (shown by `kubectl describe`).
/// Best effort: failing to record an event must not fail a reconcile.
pub async fn warn(client: &Client, regarding: ObjectReference, reason: &str, message: &str) {
    let namespace = regarding
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let now = Time(Timestamp::now());
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some(format!(
                "{}.",
                regarding.name.as_deref().unwrap_or("edgedeck")
            )),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        involved_object: regarding,
        reason: Some(reason.to_owned()),
        message: Some(truncate(message, 1024)),
        type_: Some("Warning".to_owned()),
        source: Some(EventSource {
            component: Some(crate::api::FIELD_MANAGER.to_owned()),
            host: None,
        }),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        reporting_component: Some(crate::api::FIELD_MANAGER.to_owned()),
        ..Event::default()
    };
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    if let Err(e) = events.create(&PostParams::default(), &event).await {
        tracing::debug!(error = %e, "could not record event");
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_defaults_are_not_drift_but_changed_values_are() {
        let desired = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}}});
        let live = json!({"metadata": {"uid": "x"}, "status": {"readyReplicas": 3},
            "spec": {"replicas": 3, "strategy": {"type": "RollingUpdate"},
                     "template": {"spec": {"containers": [{"name": "c", "image": "a:1", "imagePullPolicy": "IfNotPresent"}]}}}});
        assert!(covers(&live, &desired));

        let scaled = json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}}});
        assert!(!covers(&scaled, &desired));
        let extra_container = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "c", "image": "a:1"}, {"name": "sidecar", "image": "s:1"}]}}}});
        assert!(
            !covers(&extra_container, &desired),
            "a list with more elements is drift"
        );
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ok", 5), "ok");
    }
}
