//! The stores of pods, Kubernetes Events (both APIs) and node Leases, kept
//! slim: each watched object is cut down to what the console's records
//! read ([`crate::console::model::pods::slim_pod`] and the functions here)
//! before the reflector stores it, and turned into those records when a
//! fleet is built.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use k8s_openapi::api::events::v1::Event as NewEvent;
use kube::runtime::reflector::Store;

use crate::console::model::cluster_events::{self, ClusterEvent};
use crate::console::model::heartbeats::NodeLease;
use crate::console::model::pods::PodInfo;

/// Readers of the stores this module adds to [`super::stores`].
#[derive(Clone)]
pub struct ExtraReaders {
    pub pods: Store<Pod>,
    pub events: Store<CoreEvent>,
    pub events_v1: Store<NewEvent>,
    pub leases: Store<Lease>,
}

impl ExtraReaders {
    pub fn pods(&self) -> Vec<PodInfo> {
        let mut pods: Vec<PodInfo> = self
            .pods
            .state()
            .iter()
            .filter_map(|p| PodInfo::from_pod(p))
            .collect();
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        pods
    }

    pub fn events(&self) -> Vec<ClusterEvent> {
        cluster_events::merge(
            self.events
                .state()
                .iter()
                .map(|e| ClusterEvent::from_core(e))
                .collect::<Vec<_>>(),
            self.events_v1
                .state()
                .iter()
                .map(|e| ClusterEvent::from_events_v1(e))
                .collect::<Vec<_>>(),
        )
    }

    pub fn leases(&self) -> Vec<NodeLease> {
        self.leases
            .state()
            .iter()
            .filter_map(|l| NodeLease::from_lease(l))
            .collect()
    }
}

pub fn slim_core_event(e: &mut CoreEvent) {
    e.metadata.managed_fields = None;
    e.metadata.annotations = None;
    e.metadata.labels = None;
    e.related = None;
    e.series = None;
}

pub fn slim_event_v1(e: &mut NewEvent) {
    e.metadata.managed_fields = None;
    e.metadata.annotations = None;
    e.metadata.labels = None;
    e.related = None;
}

pub fn slim_lease(l: &mut Lease) {
    l.metadata.managed_fields = None;
    l.metadata.annotations = None;
    l.metadata.labels = None;
    l.metadata.owner_references = None;
}
