//! What the engine measures about itself: Prometheus metrics, the progress
//! watchdog behind `/readyz`, and the figures the console's Engine view shows.
//!
//! One [`Telemetry`] per engine holds the registry and every family. The
//! controllers and the edge API record into it; `edgedeck engine
//! --metrics-listen` serves it ([`http`]); the console reads
//! [`Telemetry::figures`] from the same struct, never by scraping itself.
//!
//! # What "queue depth" means here
//!
//! kube-runtime's applier does not expose its scheduler. What is measured
//! instead is exact for what it covers: an object is *queued* from the
//! moment a watch event triggers it until a reconcile of it starts (the
//! scheduler holds one entry per object, and so does the queue here), and
//! *in flight* until that reconcile ends. Periodic resyncs and error
//! retries the applier schedules by itself are not counted as queued: they
//! are not work anybody is waiting for; failing objects show in
//! `edgedeck_reconcile_errors_total` instead.
//!
//! # Labels stay bounded
//!
//! Controllers are a fixed enum, error reasons come from the error's kind
//! (never its message), written resources are the kinds the engine manages,
//! and the edge API is labelled by node *group* (a node in no group is
//! `none`), never by node.

pub mod client;
mod families;
pub mod http;
pub mod scrape;
mod watchdog;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};
use prometheus_client::registry::Registry;

pub(crate) use families::WriteLabels;
use families::{ControllerLabels, ErrorLabels, Families, GroupLabels, RequestLabels, WatchLabels};

pub use watchdog::{ControllerFigures, Readiness};
use watchdog::{ControllerWatch, ObjectKey};

/// A controller of the engine, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Controller {
    NodeGroup,
    EdgeApplication,
}

impl Controller {
    pub const ALL: [Controller; 2] = [Controller::NodeGroup, Controller::EdgeApplication];

    fn index(self) -> usize {
        match self {
            Controller::NodeGroup => 0,
            Controller::EdgeApplication => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Controller::NodeGroup => "nodegroup",
            Controller::EdgeApplication => "edgeapplication",
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EncodeLabelValue for Controller {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        fmt::Write::write_str(encoder, self.as_str())
    }
}

/// A bounded label for an error: what kind of failure, never its text.
pub trait ErrorReason {
    fn reason(&self) -> &'static str;
}

/// The reason label of a kube error: the HTTP status class the API server
/// answered with, or how the request failed before that.
pub fn kube_reason(error: &kube::Error) -> &'static str {
    match error {
        kube::Error::Api(status) => match status.code {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            422 => "invalid",
            429 => "throttled",
            500..=599 => "server_error",
            _ => "client_error",
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => "transport",
        kube::Error::SerdeError(_) => "decode",
        _ => "other",
    }
}

/// How long a controller that owes work may finish no reconcile before
/// `/readyz` calls it stalled.
pub const DEFAULT_PROGRESS_DEADLINE: Duration = Duration::from_secs(120);

/// How stale the runtime heartbeat may be before `/healthz` fails.
const HEARTBEAT_STALE: Duration = Duration::from_secs(10);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// A readiness check registered from outside (the edge API's first list).
type Check = Box<dyn Fn() -> bool + Send + Sync>;

/// The engine's metrics and health, shared by everything that records or reads them.
pub struct Telemetry {
    registry: Registry,
    families: Families,
    controllers: Mutex<HashMap<Controller, ControllerWatch>>,
    edge_synced: Mutex<Option<Check>>,
    progress_deadline: Duration,
    started: Instant,
    /// Milliseconds since `started` at the last heartbeat tick.
    heartbeat: AtomicU64,
    /// Sums over the labels of two families, for the console: prometheus
    /// families cannot be iterated.
    errors_total: [AtomicU64; 2],
    writes_total: AtomicU64,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new(DEFAULT_PROGRESS_DEADLINE)
    }
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("progress_deadline", &self.progress_deadline)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    pub fn new(progress_deadline: Duration) -> Telemetry {
        let mut registry = Registry::default();
        let families = Families::register(&mut registry);
        // Families show once they have a series: these are there from the
        // start, so a dashboard tells "no reconcile yet" from "no engine".
        for controller in Controller::ALL {
            let labels = ControllerLabels { controller };
            drop(families.reconciles.get_or_create(&labels));
            drop(families.duration.get_or_create(&labels));
        }
        Telemetry {
            registry,
            families,
            controllers: Mutex::default(),
            edge_synced: Mutex::default(),
            progress_deadline,
            started: Instant::now(),
            heartbeat: AtomicU64::new(0),
            errors_total: Default::default(),
            writes_total: AtomicU64::new(0),
        }
    }

    fn watches(&self) -> MutexGuard<'_, HashMap<Controller, ControllerWatch>> {
        self.controllers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn with<T>(&self, controller: Controller, f: impl FnOnce(&mut ControllerWatch) -> T) -> T {
        let mut all = self.watches();
        f(all.entry(controller).or_default())
    }

    /// A (re)started controller begins with nothing queued and no caches.
    pub fn controller_started(&self, controller: Controller) {
        self.with(controller, |w| {
            *w = ControllerWatch::started(Instant::now())
        });
    }

    /// A stopped controller owes nothing (the next leader does the work).
    pub fn controller_stopped(&self, controller: Controller) {
        self.watches().remove(&controller);
    }

    /// Registers a cache that must have listed once before `/readyz` passes.
    pub fn cache(
        &self,
        controller: Controller,
        resource: &'static str,
        synced: impl Fn() -> bool + Send + Sync + 'static,
    ) {
        self.with(controller, |w| w.caches.push((resource, Box::new(synced))));
    }

    /// Registers how to count the objects a controller owns (read at scrape time).
    pub fn owned(&self, controller: Controller, count: impl Fn() -> usize + Send + Sync + 'static) {
        self.with(controller, |w| w.owned = Some(Box::new(count)));
    }

    /// A watch event asked for `name` (in `namespace`) to be reconciled.
    pub fn queued(&self, controller: Controller, namespace: Option<&str>, name: &str) {
        let key = ObjectKey::new(namespace, name);
        self.with(controller, |w| w.queue(key, Instant::now()));
    }

    /// The applier dropped a queued object (it was deleted before its reconcile).
    pub fn dequeued(&self, controller: Controller, namespace: Option<&str>, name: &str) {
        let key = ObjectKey::new(namespace, name);
        self.with(controller, |w| {
            w.queued.remove(&key);
        });
    }

    /// A reconcile starts; the guard records its end (or its cancellation, when dropped).
    pub fn reconcile(
        self: &Arc<Self>,
        controller: Controller,
        namespace: Option<&str>,
        name: &str,
    ) -> ReconcileGuard {
        let key = ObjectKey::new(namespace, name);
        let started = Instant::now();
        self.with(controller, |w| w.start(key.clone(), started));
        ReconcileGuard {
            telemetry: self.clone(),
            controller,
            key,
            started,
            done: false,
        }
    }

    /// The progress deadline `/readyz` judges stalls by.
    pub fn progress_deadline(&self) -> Duration {
        self.progress_deadline
    }

    /// Why `controller` counts as stuck: it owes work and finished no
    /// reconcile for longer than `after`; None if it moves.
    pub fn stuck(&self, controller: Controller, after: Duration) -> Option<String> {
        let now = Instant::now();
        self.watches().get(&controller)?.stall(now, after)
    }

    /// The watchdog restarted `controller`.
    pub fn watchdog_restarted(&self, controller: Controller) {
        self.families
            .watchdog_restarts
            .get_or_create(&ControllerLabels { controller })
            .inc();
    }

    pub fn watch_restarted(&self, controller: Controller, resource: &'static str) {
        self.families
            .watch_restarts
            .get_or_create(&WatchLabels {
                controller,
                resource,
            })
            .inc();
    }

    pub(crate) fn wrote(&self, labels: &WriteLabels) {
        self.families.writes.get_or_create(labels).inc();
        self.writes_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_leading(&self, leading: bool) {
        self.families.leader.set(i64::from(leading));
    }

    pub fn is_leading(&self) -> bool {
        self.families.leader.get() == 1
    }

    /// Write requests sent so far, of every resource and verb.
    pub fn writes(&self) -> u64 {
        self.writes_total.load(Ordering::Relaxed)
    }

    // ---- edge API ----

    pub fn edge_cache(&self, synced: impl Fn() -> bool + Send + Sync + 'static) {
        *self
            .edge_synced
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Box::new(synced));
    }

    pub fn edge_request(&self, group: &str, code: u16) {
        let labels = RequestLabels {
            group: group.to_owned(),
            code,
        };
        self.families.edge_requests.get_or_create(&labels).inc();
    }

    pub fn edge_sent(&self, group: &str, bytes: usize) {
        let labels = GroupLabels {
            group: group.to_owned(),
        };
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.families
            .edge_bytes
            .get_or_create(&labels)
            .inc_by(bytes);
    }

    /// One more open watch for `group`, until the guard drops.
    pub fn edge_watch(self: &Arc<Self>, group: &str) -> EdgeWatchGuard {
        let labels = GroupLabels {
            group: group.to_owned(),
        };
        self.families.edge_watches.get_or_create(&labels).inc();
        EdgeWatchGuard {
            telemetry: self.clone(),
            labels,
        }
    }

    pub fn edge_filtered(&self, group: &str, took: Duration) {
        let labels = GroupLabels {
            group: group.to_owned(),
        };
        self.families
            .edge_filter
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    // ---- reading ----

    /// Sets the gauges that are computed from state (queue, ownership, stalls).
    fn refresh(&self) {
        let now = Instant::now();
        let all = self.watches();
        for controller in Controller::ALL {
            let labels = ControllerLabels { controller };
            let figures = all
                .get(&controller)
                .map(|w| w.figures(now, self.progress_deadline))
                .unwrap_or_default();
            let f = &self.families;
            f.queue_depth
                .get_or_create(&labels)
                .set(to_i64(figures.queued));
            f.in_flight
                .get_or_create(&labels)
                .set(to_i64(figures.in_flight));
            f.queue_oldest
                .get_or_create(&labels)
                .set(figures.oldest.map_or(0.0, |d| d.as_secs_f64()));
            f.owned.get_or_create(&labels).set(to_i64(figures.owned));
            f.stalled
                .get_or_create(&labels)
                .set(i64::from(figures.stalled));
        }
    }

    /// The registry in the Prometheus text format (0.0.4).
    pub fn encode(&self) -> String {
        self.refresh();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// What the console's Engine view shows, per controller.
    pub fn figures(&self) -> EngineFigures {
        let now = Instant::now();
        let all = self.watches();
        let controllers = Controller::ALL
            .iter()
            .map(|&controller| {
                let labels = ControllerLabels { controller };
                let mut figures = all
                    .get(&controller)
                    .map(|w| w.figures(now, self.progress_deadline))
                    .unwrap_or_default();
                figures.reconciles = self.families.reconciles.get(&labels).map_or(0, |c| c.get());
                figures.errors = self.errors_of(controller);
                (controller, figures)
            })
            .collect();
        EngineFigures {
            at: now,
            leading: self.is_leading(),
            writes: self.writes(),
            controllers,
        }
    }

    fn errors_of(&self, controller: Controller) -> u64 {
        self.errors_total[controller.index()].load(Ordering::Relaxed)
    }

    /// `/readyz`: caches listed, and (while leading) no controller stalled.
    pub fn readiness(&self) -> Readiness {
        let mut problems = Vec::new();
        if let Some(check) = self
            .edge_synced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && !check()
        {
            problems.push("edge API: the cluster has not been listed yet".to_owned());
        }
        if self.is_leading() {
            let now = Instant::now();
            let all = self.watches();
            for controller in Controller::ALL {
                match all.get(&controller) {
                    Some(w) => problems.extend(
                        w.problems(now, self.progress_deadline)
                            .into_iter()
                            .map(|p| format!("{controller}: {p}")),
                    ),
                    None => problems.push(format!("{controller}: not running")),
                }
            }
        }
        Readiness::from_problems(problems)
    }

    /// Ticks the heartbeat `/healthz` reads, until `cancel` fires.
    pub async fn heartbeat(&self, cancel: tokio_util::sync::CancellationToken) {
        let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = ticks.tick() => {
                    let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    self.heartbeat.store(ms, Ordering::Relaxed);
                }
            }
        }
    }

    /// `/healthz`: the runtime still runs timers (the heartbeat is fresh).
    pub fn is_alive(&self) -> bool {
        let last = Duration::from_millis(self.heartbeat.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last) < HEARTBEAT_STALE
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The figures of every controller at one instant.
#[derive(Debug, Clone)]
pub struct EngineFigures {
    pub at: Instant,
    pub leading: bool,
    /// Write requests sent so far.
    pub writes: u64,
    pub controllers: Vec<(Controller, ControllerFigures)>,
}

/// Records the end of a reconcile; dropped unfinished (the controller was
/// stopped), it only takes the object out of flight.
pub struct ReconcileGuard {
    telemetry: Arc<Telemetry>,
    controller: Controller,
    key: ObjectKey,
    started: Instant,
    done: bool,
}

impl ReconcileGuard {
    /// `error`: the reason label when the reconcile failed.
    pub fn finished(mut self, error: Option<&'static str>) {
        self.done = true;
        let t = &self.telemetry;
        let labels = ControllerLabels {
            controller: self.controller,
        };
        t.families.reconciles.get_or_create(&labels).inc();
        t.families
            .duration
            .get_or_create(&labels)
            .observe(self.started.elapsed().as_secs_f64());
        if let Some(reason) = error {
            t.errors_total[self.controller.index()].fetch_add(1, Ordering::Relaxed);
            t.families
                .errors
                .get_or_create(&ErrorLabels {
                    controller: self.controller,
                    reason,
                })
                .inc();
        }
        t.with(self.controller, |w| w.finish(&self.key, Instant::now()));
    }
}

impl Drop for ReconcileGuard {
    fn drop(&mut self) {
        if !self.done {
            self.telemetry.with(self.controller, |w| {
                w.in_flight.remove(&self.key);
            });
        }
    }
}

pub struct EdgeWatchGuard {
    telemetry: Arc<Telemetry>,
    labels: GroupLabels,
}

impl Drop for EdgeWatchGuard {
    fn drop(&mut self) {
        self.telemetry
            .families
            .edge_watches
            .get_or_create(&self.labels)
            .dec();
    }
}

#[cfg(test)]
mod tests;
