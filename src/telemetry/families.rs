//! Every metric family with its labels, registered once.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::Controller;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ControllerLabels {
    pub(super) controller: Controller,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ErrorLabels {
    pub(super) controller: Controller,
    pub(super) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct WatchLabels {
    pub(super) controller: Controller,
    pub(super) resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct WriteLabels {
    pub resource: String,
    pub verb: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct GroupLabels {
    pub(super) group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub(super) group: String,
    pub(super) code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct BuildLabels {
    pub(super) version: &'static str,
}

pub(super) type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn reconcile_histogram() -> Histogram {
    // 5 ms … ~41 s: a quiet reconcile is a few requests; a fleet-wide
    // membership pass at 10,000 nodes takes seconds.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

fn filter_histogram() -> Histogram {
    // 10 µs … ~0.33 s: filtering a 1,000-endpoint slice takes ~130 µs (BENCHMARKS.md).
    Histogram::new(exponential_buckets(0.000_01, 2.0, 16))
}

/// Every metric family, registered once in [`Telemetry::new`].
pub(super) struct Families {
    pub(super) reconciles: Family<ControllerLabels, Counter>,
    pub(super) errors: Family<ErrorLabels, Counter>,
    pub(super) duration: HistogramFamily<ControllerLabels>,
    pub(super) queue_depth: Family<ControllerLabels, Gauge>,
    pub(super) queue_oldest: Family<ControllerLabels, Gauge<f64, AtomicU64>>,
    pub(super) in_flight: Family<ControllerLabels, Gauge>,
    pub(super) owned: Family<ControllerLabels, Gauge>,
    pub(super) stalled: Family<ControllerLabels, Gauge>,
    pub(super) watch_restarts: Family<WatchLabels, Counter>,
    pub(super) watchdog_restarts: Family<ControllerLabels, Counter>,
    pub(super) writes: Family<WriteLabels, Counter>,
    pub(super) leader: Gauge,
    pub(super) edge_requests: Family<RequestLabels, Counter>,
    pub(super) edge_watches: Family<GroupLabels, Gauge>,
    pub(super) edge_bytes: Family<GroupLabels, Counter>,
    pub(super) edge_filter: HistogramFamily<GroupLabels>,
}

impl Families {
    pub(super) fn register(registry: &mut Registry) -> Families {
        let f = Families {
            reconciles: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(reconcile_histogram),
            queue_depth: Family::default(),
            queue_oldest: Family::default(),
            in_flight: Family::default(),
            owned: Family::default(),
            stalled: Family::default(),
            watch_restarts: Family::default(),
            watchdog_restarts: Family::default(),
            writes: Family::default(),
            leader: Gauge::default(),
            edge_requests: Family::default(),
            edge_watches: Family::default(),
            edge_bytes: Family::default(),
            edge_filter: Family::new_with_constructor(filter_histogram),
        };
        let r = registry;
        r.register(
            "edgedeck_reconciles",
            "Reconciles finished, successful or not",
            f.reconciles.clone(),
        );
        r.register(
            "edgedeck_reconcile_errors",
            "Reconciles that failed, by the kind of error",
            f.errors.clone(),
        );
        r.register(
            "edgedeck_reconcile_duration_seconds",
            "How long reconciles took",
            f.duration.clone(),
        );
        r.register(
            "edgedeck_queue_depth",
            "Objects triggered by a watch event whose reconcile has not started",
            f.queue_depth.clone(),
        );
        r.register(
            "edgedeck_queue_oldest_seconds",
            "How long the longest-waiting queued or in-flight object has waited",
            f.queue_oldest.clone(),
        );
        r.register(
            "edgedeck_reconciles_in_flight",
            "Reconciles running now",
            f.in_flight.clone(),
        );
        r.register(
            "edgedeck_objects_owned",
            "Objects the controller manages, as its last written status says (nodes labelled into groups; generated objects)",
            f.owned.clone(),
        );
        r.register(
            "edgedeck_controller_stalled",
            "1 when the controller owes work and finished no reconcile within the progress deadline",
            f.stalled.clone(),
        );
        r.register(
            "edgedeck_watch_restarts",
            "Watches that failed and were restarted with backoff",
            f.watch_restarts.clone(),
        );
        r.register(
            "edgedeck_watchdog_restarts",
            "Controllers the watchdog restarted because they owed work and made no progress",
            f.watchdog_restarts.clone(),
        );
        r.register(
            "edgedeck_api_writes",
            "Write requests the engine sent to the API server, by resource and verb",
            f.writes.clone(),
        );
        r.register(
            "edgedeck_leader",
            "1 while this engine's controllers run (it holds the lease, or runs without leader election)",
            f.leader.clone(),
        );
        r.register(
            "edgedeck_edge_api_requests",
            "Edge API requests answered, by the node group of the node asking and status code",
            f.edge_requests.clone(),
        );
        r.register(
            "edgedeck_edge_api_watches_open",
            "Edge API watches open, by node group",
            f.edge_watches.clone(),
        );
        r.register(
            "edgedeck_edge_api_sent_bytes",
            "Response bytes the edge API sent, by node group",
            f.edge_bytes.clone(),
        );
        r.register(
            "edgedeck_edge_api_filter_duration_seconds",
            "Time spent computing a node's filtered view",
            f.edge_filter.clone(),
        );
        r.register(
            "edgedeck_build",
            "The running edgedeck",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        f
    }
}
