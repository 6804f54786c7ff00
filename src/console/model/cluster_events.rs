//! Kubernetes Events as the console keeps them: one slim record per event,
//! from either API that serves them. On a real cluster `events.k8s.io/v1`
//! and core `v1` are two views of the same objects (same uid); the
//! console watches both and keeps one record per uid, so a cluster that
//! serves only one of them (or stores them apart) is shown whole.

use std::time::SystemTime;

use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event as NewEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

/// Which API an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApi {
    Core,
    EventsV1,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterEvent {
    pub uid: String,
    pub namespace: String,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    /// The object it is about: kind, namespace (empty when cluster-scoped), name.
    pub kind: String,
    pub object_namespace: String,
    pub object: String,
    pub count: i32,
    /// When it last happened.
    pub last: Option<SystemTime>,
    pub source: String,
    pub api: EventApi,
}

fn t(t: &Time) -> SystemTime {
    SystemTime::from(t.0)
}

fn mt(t: &MicroTime) -> SystemTime {
    SystemTime::from(t.0)
}

impl ClusterEvent {
    pub fn from_core(e: &CoreEvent) -> ClusterEvent {
        let o = &e.involved_object;
        ClusterEvent {
            uid: e.metadata.uid.clone().unwrap_or_default(),
            namespace: e.metadata.namespace.clone().unwrap_or_default(),
            warning: e.type_.as_deref() == Some("Warning"),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            kind: o.kind.clone().unwrap_or_default(),
            object_namespace: o.namespace.clone().unwrap_or_default(),
            object: o.name.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1).max(1),
            last: e
                .last_timestamp
                .as_ref()
                .map(t)
                .or_else(|| e.event_time.as_ref().map(mt))
                .or_else(|| e.first_timestamp.as_ref().map(t))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(t)),
            source: e
                .reporting_component
                .clone()
                .filter(|c| !c.is_empty())
                .or_else(|| e.source.as_ref().and_then(|s| s.component.clone()))
                .unwrap_or_default(),
            api: EventApi::Core,
        }
    }

    pub fn from_events_v1(e: &NewEvent) -> ClusterEvent {
        let o = e.regarding.as_ref();
        ClusterEvent {
            uid: e.metadata.uid.clone().unwrap_or_default(),
            namespace: e.metadata.namespace.clone().unwrap_or_default(),
            warning: e.type_.as_deref() == Some("Warning"),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.note.clone().unwrap_or_default(),
            kind: o.and_then(|o| o.kind.clone()).unwrap_or_default(),
            object_namespace: o.and_then(|o| o.namespace.clone()).unwrap_or_default(),
            object: o.and_then(|o| o.name.clone()).unwrap_or_default(),
            count: e
                .series
                .as_ref()
                .map(|s| s.count)
                .or(e.deprecated_count)
                .unwrap_or(1)
                .max(1),
            last: e
                .series
                .as_ref()
                .map(|s| mt(&s.last_observed_time))
                .or_else(|| e.deprecated_last_timestamp.as_ref().map(t))
                .or_else(|| e.event_time.as_ref().map(mt))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(t)),
            source: e.reporting_controller.clone().unwrap_or_default(),
            api: EventApi::EventsV1,
        }
    }

    /// `Kind/name` of the object, as describe and the table show it.
    pub fn object_label(&self) -> String {
        format!("{}/{}", self.kind, self.object)
    }

    /// Whether the event is about the object `kind` `namespace`/`name`
    /// (`namespace` empty for cluster-scoped objects).
    pub fn is_about(&self, kind: &str, namespace: &str, name: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
            && self.object == name
            && (namespace.is_empty() || self.object_namespace == namespace)
    }
}

/// Both APIs' events, one per uid (core wins: kubectl shows it), newest first.
pub fn merge(
    core: impl IntoIterator<Item = ClusterEvent>,
    v1: impl IntoIterator<Item = ClusterEvent>,
) -> Vec<ClusterEvent> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<ClusterEvent> = Vec::new();
    for e in core.into_iter().chain(v1) {
        if e.uid.is_empty() || seen.insert(e.uid.clone()) {
            out.push(e);
        }
    }
    sort_newest_first(&mut out);
    out
}

pub fn sort_newest_first(events: &mut [ClusterEvent]) {
    events.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.uid.cmp(&b.uid)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn core(uid: &str, at: &str, kind: &str, warn: bool) -> ClusterEvent {
        let e: CoreEvent = serde_json::from_value(json!({
            "metadata": {"name": uid, "namespace": "ns", "uid": uid},
            "involvedObject": {"kind": kind, "name": "x", "namespace": "ns"},
            "type": if warn { "Warning" } else { "Normal" },
            "reason": "R", "message": "m", "lastTimestamp": at, "count": 3,
        }))
        .expect("event");
        ClusterEvent::from_core(&e)
    }

    fn v1(uid: &str, at: &str) -> ClusterEvent {
        let e: NewEvent = serde_json::from_value(json!({
            "metadata": {"name": uid, "namespace": "ns", "uid": uid},
            "eventTime": at, "reportingController": "sim", "reportingInstance": "sim-1",
            "action": "Sync", "regarding": {"kind": "Pod", "name": "p", "namespace": "ns"},
            "type": "Warning", "reason": "BackOff", "note": "restarting",
        }))
        .expect("event");
        ClusterEvent::from_events_v1(&e)
    }

    #[test]
    fn both_apis_are_read_into_one_shape() {
        let c = core("a", "2026-01-01T00:00:05Z", "Node", true);
        assert!(c.warning && c.count == 3 && c.is_about("node", "", "x"));
        let n = v1("b", "2026-01-01T00:00:06.000000Z");
        assert_eq!(
            (n.reason.as_str(), n.message.as_str(), n.api),
            ("BackOff", "restarting", EventApi::EventsV1)
        );
        assert!(n.is_about("Pod", "ns", "p") && !n.is_about("Pod", "other", "p"));
    }

    #[test]
    fn the_same_event_from_both_apis_is_listed_once_newest_first() {
        let merged = merge(
            [
                core("a", "2026-01-01T00:00:05Z", "Pod", false),
                core("b", "2026-01-01T00:00:09Z", "Pod", false),
            ],
            [
                v1("a", "2026-01-01T00:00:05.000000Z"),
                v1("c", "2026-01-01T00:00:07.000000Z"),
            ],
        );
        let uids: Vec<&str> = merged.iter().map(|e| e.uid.as_str()).collect();
        assert_eq!(uids, ["b", "c", "a"]);
        assert_eq!(merged[2].api, EventApi::Core);
    }
}
