//! kube-runtime reflectors for everything the console shows, and the task
//! that turns them into [`Fleet`] snapshots.
//!
//! One task per resource runs `reflector(watcher(..)).default_backoff()` and
//! reports to the builder: changed, (re)synced, failed. The builder keeps
//! each stream's health, coalesces changes with a [`Throttle`] and publishes
//! an `Arc<Fleet>` with a higher version on a `watch` channel. Watch errors
//! keep the data and mark the fleet `Reconnecting`; a missing CRD is named
//! with the command that installs it, and a resource the user may not read
//! (403) is named as such — a narrow role is not a lost connection.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::controls::FleetControls;
use super::lag::LagTracker;
use super::throttle::Throttle;
use crate::api::{EdgeApplication, LABEL_EDGEAPPLICATION_NAME, NodeGroup};
use crate::console::engine_stats::EngineReading;
use crate::console::model::heartbeats::NODE_LEASE_NAMESPACE;
use crate::console::model::{ConnectionState, Fleet};
use crate::controllers::events::EngineEvent;

/// At most one fleet rebuild per window.
pub const FLEET_WINDOW: Duration = Duration::from_millis(150);
/// Engine events kept in the fleet (most recent).
pub const EVENT_CAPACITY: usize = 1000;
/// How often a failing stream checks whether the API server answers again.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// The resources watched, in the order of [`Kind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Nodes,
    NodeGroups,
    EdgeApplications,
    Deployments,
    StatefulSets,
    DaemonSets,
    Services,
    EndpointSlices,
    Pods,
    Events,
    EventsV1,
    NodeLeases,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Nodes,
        Kind::NodeGroups,
        Kind::EdgeApplications,
        Kind::Deployments,
        Kind::StatefulSets,
        Kind::DaemonSets,
        Kind::Services,
        Kind::EndpointSlices,
        Kind::Pods,
        Kind::Events,
        Kind::EventsV1,
        Kind::NodeLeases,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Nodes => "nodes",
            Kind::NodeGroups => "nodegroups",
            Kind::EdgeApplications => "edgeapplications",
            Kind::Deployments => "deployments",
            Kind::StatefulSets => "statefulsets",
            Kind::DaemonSets => "daemonsets",
            Kind::Services => "services",
            Kind::EndpointSlices => "endpointslices",
            Kind::Pods => "pods",
            Kind::Events => "events",
            Kind::EventsV1 => "events.k8s.io",
            Kind::NodeLeases => "node leases",
        }
    }

    /// What to tell the user when the resource is not served (404 on list).
    pub fn missing_message(self) -> String {
        match self {
            Kind::NodeGroups => {
                "NodeGroup CRD not installed: run `edgedeck crds | kubectl apply -f -`".into()
            }
            Kind::EdgeApplications => {
                "EdgeApplication CRD not installed: run `edgedeck crds | kubectl apply -f -`".into()
            }
            other => format!("the cluster does not serve {}", other.label()),
        }
    }
}

/// How one watch is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamHealth {
    /// Initial list not done yet.
    Syncing,
    Ready,
    /// The resource is not served (CRD missing); retried with backoff.
    Missing,
    /// The user may not list or watch it (403); retried with backoff, so a
    /// role granted later is picked up.
    Forbidden {
        error: String,
    },
    Failing {
        since: SystemTime,
        error: String,
    },
}

/// The fleet's connection state from the health of every stream.
/// Failures win over loading, loading over missing resources.
pub fn connection(health: &[(Kind, StreamHealth)]) -> ConnectionState {
    let failing = health.iter().filter_map(|(_, h)| match h {
        StreamHealth::Failing { since, error } => Some((*since, error)),
        _ => None,
    });
    if let Some((since, error)) = failing.min_by_key(|(since, _)| *since) {
        return ConnectionState::Reconnecting {
            since,
            error: error.clone(),
        };
    }
    let syncing: Vec<&str> = health
        .iter()
        .filter(|(_, h)| *h == StreamHealth::Syncing)
        .map(|(k, _)| k.label())
        .collect();
    if !syncing.is_empty() {
        let ready = health.len() - syncing.len();
        return ConnectionState::Connecting {
            step: format!(
                "loading {} ({ready}/{} resources ready)…",
                syncing.join(", "),
                health.len()
            ),
        };
    }
    let problems: Vec<String> = health
        .iter()
        .filter_map(|(k, h)| match h {
            StreamHealth::Missing => Some(k.missing_message()),
            StreamHealth::Forbidden { error } => {
                Some(format!("not allowed to list {}: {error}", k.label()))
            }
            _ => None,
        })
        .collect();
    if problems.is_empty() {
        ConnectionState::Connected
    } else {
        ConnectionState::Partial { problems }
    }
}

/// What a watcher error means for the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The resource is not served (404 on the initial list): a CRD is missing.
    Missing,
    /// The watch expired (410 Gone); the watcher relists by itself. Not a lost connection.
    Expired,
    /// The user may not read the resource (403).
    Forbidden,
    /// The API server cannot be reached or refused the request.
    Lost,
}

/// What a watcher error means, and a one-line description of it.
pub fn classify(error: &watcher::Error) -> (Failure, String) {
    let code = |e: &kube::Error| match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    };
    match error {
        watcher::Error::InitialListFailed(e) => (
            match code(e) {
                Some(404) => Failure::Missing,
                Some(403) => Failure::Forbidden,
                _ => Failure::Lost,
            },
            short_error(e),
        ),
        watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            let kind = match code(e) {
                Some(410) => Failure::Expired,
                Some(403) => Failure::Forbidden,
                _ => Failure::Lost,
            };
            (kind, short_error(e))
        }
        watcher::Error::WatchError(status) => (
            if status.code == 410 {
                Failure::Expired
            } else {
                Failure::Lost
            },
            status_text(status),
        ),
        watcher::Error::NoResourceVersion => (Failure::Lost, error.to_string()),
    }
}

fn status_text(s: &kube::core::Status) -> String {
    let reason = s.reason.to_string();
    match (s.message.is_empty(), reason.is_empty()) {
        (false, _) => format!("{} ({})", s.message, s.code),
        (true, false) => format!("{reason} ({})", s.code),
        (true, true) => format!("HTTP {}", s.code),
    }
}

/// A kube error as one short line: the API status, or the chain of causes
/// ("client error (Connect): tcp connect error: Connection refused").
pub fn short_error(error: &kube::Error) -> String {
    if let kube::Error::Api(s) = error {
        return status_text(s);
    }
    if matches!(error, kube::Error::Service(_) | kube::Error::HyperError(_)) {
        let mut root: &dyn std::error::Error = error;
        while let Some(next) = root.source() {
            root = next;
        }
        return format!("cannot reach the API server: {root}");
    }
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    let mut line = parts.join(": ");
    if line.chars().count() > 200 {
        line = line.chars().take(199).collect::<String>() + "…";
    }
    line
}

/// What a stream task tells the builder.
#[derive(Debug)]
struct Signal {
    index: usize,
    event: SignalEvent,
}

#[derive(Debug)]
enum SignalEvent {
    /// The store changed.
    Changed,
    /// (Re)listed or recovered: healthy, and the store may have changed.
    Ready,
    Failed {
        failure: Failure,
        error: String,
    },
}

/// Inputs of the fleet builder besides the stores.
#[derive(Debug, Clone)]
pub enum StoreInput {
    Namespace(Option<String>),
    EngineEvent(EngineEvent),
    LeaseHolder(Option<String>),
    /// What the console's own engine does.
    Engine(String),
    /// The engine's figures (None once there are none to show).
    EngineStats(Option<EngineReading>),
    /// Rebuild now (the simulator's offline set changed).
    Refresh,
}

/// How to build fleets.
#[derive(Clone)]
pub struct StoresConfig {
    pub context: String,
    pub namespace: Option<String>,
    pub controls: Option<Arc<dyn FleetControls>>,
    pub window: Duration,
    /// Fleet versions, shared across sessions so they only grow.
    pub versions: Arc<AtomicU64>,
}

impl StoresConfig {
    pub fn new(context: impl Into<String>) -> StoresConfig {
        StoresConfig {
            context: context.into(),
            namespace: None,
            controls: None,
            window: FLEET_WINDOW,
            versions: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Readers of every store.
#[derive(Clone)]
struct Readers {
    nodes: Store<Node>,
    node_groups: Store<NodeGroup>,
    applications: Store<EdgeApplication>,
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    daemon_sets: Store<DaemonSet>,
    services: Store<Service>,
    endpoint_slices: Store<EndpointSlice>,
    extra: super::pods::ExtraReaders,
}

/// Running watches and the builder publishing fleets.
pub struct Stores {
    input: mpsc::UnboundedSender<StoreInput>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Stores {
    /// Starts every watch and the builder; fleets go to `out`.
    pub fn start(client: Client, config: StoresConfig, out: watch::Sender<Arc<Fleet>>) -> Stores {
        let cancel = CancellationToken::new();
        let (signal_tx, signal_rx) = mpsc::unbounded_channel();
        let (input, input_rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        let generated = watcher::Config::default().labels(LABEL_EDGEAPPLICATION_NAME);
        let all = watcher::Config::default();

        macro_rules! watch_kind {
            ($kind:expr, $config:expr) => {
                watch_kind!($kind, $config, Api::all(client.clone()), |_| {})
            };
            ($kind:expr, $config:expr, $api:expr, $slim:expr) => {{
                let (reader, writer) = reflector::store();
                let index = Kind::ALL.iter().position(|k| *k == $kind).unwrap_or(0);
                tasks.push(tokio::spawn(watch_resource(
                    index,
                    $api,
                    $config,
                    $slim,
                    writer,
                    signal_tx.clone(),
                    cancel.clone(),
                )));
                reader
            }};
        }
        let readers = Readers {
            nodes: watch_kind!(Kind::Nodes, all.clone()),
            node_groups: watch_kind!(Kind::NodeGroups, all.clone()),
            applications: watch_kind!(Kind::EdgeApplications, all.clone()),
            deployments: watch_kind!(Kind::Deployments, generated.clone()),
            stateful_sets: watch_kind!(Kind::StatefulSets, generated.clone()),
            daemon_sets: watch_kind!(Kind::DaemonSets, generated.clone()),
            services: watch_kind!(Kind::Services, all.clone()),
            endpoint_slices: watch_kind!(Kind::EndpointSlices, all.clone()),
            extra: super::pods::ExtraReaders {
                pods: watch_kind!(
                    Kind::Pods,
                    all.clone(),
                    Api::all(client.clone()),
                    crate::console::model::pods::slim_pod
                ),
                events: watch_kind!(
                    Kind::Events,
                    all.clone(),
                    Api::all(client.clone()),
                    super::pods::slim_core_event
                ),
                events_v1: watch_kind!(
                    Kind::EventsV1,
                    all.clone(),
                    Api::all(client.clone()),
                    super::pods::slim_event_v1
                ),
                leases: watch_kind!(
                    Kind::NodeLeases,
                    all,
                    Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE),
                    super::pods::slim_lease
                ),
            },
        };
        drop(signal_tx);
        tasks.push(tokio::spawn(build_fleets(
            readers,
            signal_rx,
            input_rx,
            out,
            config,
            cancel.clone(),
        )));
        Stores {
            input,
            cancel,
            tasks,
        }
    }

    /// Where to send namespace changes, engine events, lease holders.
    pub fn input(&self) -> mpsc::UnboundedSender<StoreInput> {
        self.input.clone()
    }

    pub fn send(&self, input: StoreInput) {
        // The builder only ends on shutdown.
        let _ = self.input.send(input);
    }

    /// Stops every watch and the builder.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn watch_resource<K>(
    index: usize,
    api: Api<K>,
    config: watcher::Config,
    slim: fn(&mut K),
    writer: Writer<K>,
    signals: mpsc::UnboundedSender<Signal>,
    cancel: CancellationToken,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
{
    let probe_params = {
        let mut p = ListParams::default().limit(1);
        p.label_selector = config.label_selector.clone();
        p
    };
    // Slimmed before the store keeps it (issue #9: memory at 10,000 nodes).
    let stream = reflector::reflector(writer, watcher::watcher(api.clone(), config).modify(slim))
        .default_backoff();
    let mut stream = std::pin::pin!(stream);
    let send = |event| {
        let _ = signals.send(Signal { index, event });
    };
    let mut failing = false;
    // Between Init and InitDone the store still holds the old list: it is
    // not fresh again until the new one is complete, whatever else answers.
    let mut relisting = false;
    let mut probe = tokio::time::interval(PROBE_EVERY);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            next = stream.next() => match next {
                None => break,
                Some(Ok(watcher::Event::Init)) => relisting = true,
                Some(Ok(watcher::Event::InitApply(_))) => {}
                Some(Ok(watcher::Event::InitDone)) => {
                    relisting = false;
                    failing = false;
                    send(SignalEvent::Ready);
                }
                Some(Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_))) => {
                    if failing && !relisting {
                        failing = false;
                        send(SignalEvent::Ready);
                    } else {
                        send(SignalEvent::Changed);
                    }
                }
                Some(Err(error)) => {
                    let (kind, text) = classify(&error);
                    let resource = Kind::ALL.get(index).map_or("?", |k| k.label());
                    match kind {
                        Failure::Expired => {
                            tracing::debug!(resource, error = %text, "watch expired; relisting");
                        }
                        Failure::Missing | Failure::Forbidden => {
                            tracing::warn!(resource, error = %text, "resource not readable; retrying");
                            // Found again by the watcher's own relist.
                            failing = false;
                            send(SignalEvent::Failed { failure: kind, error: text });
                        }
                        Failure::Lost => {
                            tracing::warn!(resource, error = %text, "watch failed; retrying");
                            failing = true;
                            send(SignalEvent::Failed { failure: kind, error: text });
                        }
                    }
                }
            },
            // A watch that resumes quietly emits nothing: ask the server directly.
            _ = probe.tick(), if failing && !relisting => {
                if api.list_metadata(&probe_params).await.is_ok() && failing {
                    failing = false;
                    send(SignalEvent::Ready);
                }
            }
        }
    }
}

/// Everything in a fleet that does not come from the stores.
struct Meta {
    context: String,
    namespace: Option<String>,
    events: VecDeque<EngineEvent>,
    lease_holder: Option<String>,
    engine: String,
    engine_stats: Option<EngineReading>,
    lags: LagTracker,
}

async fn build_fleets(
    readers: Readers,
    mut signals: mpsc::UnboundedReceiver<Signal>,
    mut inputs: mpsc::UnboundedReceiver<StoreInput>,
    out: watch::Sender<Arc<Fleet>>,
    config: StoresConfig,
    cancel: CancellationToken,
) {
    let mut health: Vec<(Kind, StreamHealth)> = Kind::ALL
        .iter()
        .map(|k| (*k, StreamHealth::Syncing))
        .collect();
    let mut meta = Meta {
        context: config.context.clone(),
        namespace: config.namespace.clone(),
        events: VecDeque::new(),
        lease_holder: None,
        engine: String::new(),
        engine_stats: None,
        lags: LagTracker::default(),
    };
    // When an application within its lag grace would cross it: the fleet
    // is rebuilt then even if nothing else changes.
    let mut wake: Option<Instant> = None;
    let mut throttle = Throttle::new(config.window);
    throttle.changed(Instant::now());
    let mut signals_open = true;
    let mut inputs_open = true;
    loop {
        let deadline = throttle.deadline();
        tokio::select! {
            () = cancel.cancelled() => break,
            signal = signals.recv(), if signals_open => match signal {
                Some(Signal { index, event }) => {
                    if let Some((_, h)) = health.get_mut(index) {
                        match event {
                            SignalEvent::Changed => {}
                            SignalEvent::Ready => *h = StreamHealth::Ready,
                            SignalEvent::Failed { failure: Failure::Missing, .. } => {
                                *h = StreamHealth::Missing;
                            }
                            SignalEvent::Failed { failure: Failure::Forbidden, error } => {
                                *h = StreamHealth::Forbidden { error };
                            }
                            SignalEvent::Failed { error, .. } => {
                                let since = match h {
                                    StreamHealth::Failing { since, .. } => *since,
                                    _ => SystemTime::now(),
                                };
                                *h = StreamHealth::Failing { since, error };
                            }
                        }
                    }
                    throttle.changed(Instant::now());
                }
                None => signals_open = false,
            },
            input = inputs.recv(), if inputs_open => match input {
                Some(input) => {
                    apply_input(&mut meta, input);
                    throttle.changed(Instant::now());
                }
                None => inputs_open = false,
            },
            () = sleep_until(wake) => {
                wake = None;
                throttle.changed(Instant::now());
            }
            () = sleep_until(deadline) => {
                if throttle.fire(Instant::now()) {
                    let (fleet, next) = build(&readers, &mut meta, &health, &config);
                    wake = next.map(|at| {
                        Instant::now() + at.duration_since(SystemTime::now()).unwrap_or_default()
                    });
                    out.send_replace(Arc::new(fleet));
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn apply_input(meta: &mut Meta, input: StoreInput) {
    match input {
        StoreInput::Namespace(ns) => meta.namespace = ns,
        StoreInput::EngineEvent(event) => {
            if let crate::controllers::Outcome::Leadership { holder, .. } = &event.outcome {
                meta.lease_holder = holder.clone();
            }
            // The same outcome again (a status that keeps moving, a retried
            // failure) is one line with a count, not a screenful.
            if let Some(last) = meta.events.back_mut()
                && last.repeats(&event)
            {
                last.repeats += 1;
                last.at = event.at;
                return;
            }
            if meta.events.len() >= EVENT_CAPACITY {
                meta.events.pop_front();
            }
            meta.events.push_back(event);
        }
        StoreInput::LeaseHolder(holder) => meta.lease_holder = holder,
        StoreInput::Engine(status) => meta.engine = status,
        StoreInput::EngineStats(stats) => meta.engine_stats = stats,
        StoreInput::Refresh => {}
    }
}

fn owned<K>(store: &Store<K>) -> Vec<K>
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store.state().iter().map(|o| (**o).clone()).collect()
}

fn values<K>(store: &Store<K>) -> impl Iterator<Item = Value> + '_
where
    K: Resource + Clone + Serialize + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store
        .state()
        .into_iter()
        .filter_map(|o| serde_json::to_value(&*o).ok())
}

/// The fleet now, and when the next application would start lagging.
fn build(
    readers: &Readers,
    meta: &mut Meta,
    health: &[(Kind, StreamHealth)],
    config: &StoresConfig,
) -> (Fleet, Option<SystemTime>) {
    let applications = owned(&readers.applications);
    let (lagging, next) = meta.lags.observe(&applications, SystemTime::now());
    let workloads: Vec<Value> = values(&readers.deployments)
        .chain(values(&readers.stateful_sets))
        .chain(values(&readers.daemon_sets))
        // Generated Services too: an application's status needs them live.
        .chain(values(&readers.services))
        .collect();
    let fleet = Fleet {
        version: config.versions.fetch_add(1, Ordering::Relaxed) + 1,
        context: meta.context.clone(),
        namespace: meta.namespace.clone(),
        nodes: owned(&readers.nodes),
        node_groups: owned(&readers.node_groups),
        applications,
        workloads,
        services: owned(&readers.services),
        endpoint_slices: owned(&readers.endpoint_slices),
        events: meta.events.iter().cloned().collect(),
        lease_holder: meta.lease_holder.clone(),
        connection: connection(health),
        engine: meta.engine.clone(),
        engine_stats: meta.engine_stats.clone(),
        lagging,
        offline: config
            .controls
            .as_ref()
            .map(|c| c.offline())
            .unwrap_or_default(),
        controls: config.controls.is_some(),
        pods: readers.extra.pods(),
        cluster_events: readers.extra.events(),
        node_leases: readers.extra.leases(),
    };
    (fleet, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(h: StreamHealth) -> Vec<(Kind, StreamHealth)> {
        Kind::ALL.iter().map(|k| (*k, h.clone())).collect()
    }

    #[test]
    fn all_ready_is_connected() {
        assert_eq!(
            connection(&all(StreamHealth::Ready)),
            ConnectionState::Connected
        );
    }

    #[test]
    fn loading_names_what_is_pending() {
        let mut h = all(StreamHealth::Ready);
        h[0].1 = StreamHealth::Syncing;
        match connection(&h) {
            ConnectionState::Connecting { step } => {
                assert!(step.contains("nodes"), "{step}");
                assert!(
                    step.contains(&format!("{}/{}", Kind::ALL.len() - 1, Kind::ALL.len())),
                    "{step}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failure_wins_and_reports_the_oldest() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let mut h = all(StreamHealth::Syncing);
        h[1].1 = StreamHealth::Missing;
        h[2].1 = StreamHealth::Failing {
            since: t0 + Duration::from_secs(5),
            error: "later".into(),
        };
        h[3].1 = StreamHealth::Failing {
            since: t0,
            error: "first".into(),
        };
        assert_eq!(
            connection(&h),
            ConnectionState::Reconnecting {
                since: t0,
                error: "first".into()
            }
        );
    }

    #[test]
    fn a_missing_crd_says_how_to_install_it() {
        let mut h = all(StreamHealth::Ready);
        h[1].1 = StreamHealth::Missing;
        match connection(&h) {
            ConnectionState::Partial { problems } => {
                assert_eq!(
                    problems,
                    ["NodeGroup CRD not installed: run `edgedeck crds | kubectl apply -f -`"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    fn status(code: u16) -> Box<kube::core::Status> {
        Box::new(
            kube::core::Status::failure("the server could not find it", "NotFound").with_code(code),
        )
    }

    #[test]
    fn only_a_404_on_the_initial_list_means_missing() {
        let missing = watcher::Error::InitialListFailed(kube::Error::Api(status(404)));
        assert_eq!(classify(&missing).0, Failure::Missing);
        assert!(classify(&missing).1.contains("404"));
        let watch = watcher::Error::WatchFailed(kube::Error::Api(status(404)));
        assert_eq!(classify(&watch).0, Failure::Lost);
    }

    // A user whose role may list nodes but not pods is connected: only the
    // views that need pods are without them, and they say why.
    #[test]
    fn a_forbidden_resource_is_named_not_a_lost_connection() {
        for error in [
            watcher::Error::InitialListFailed(kube::Error::Api(status(403))),
            watcher::Error::WatchStartFailed(kube::Error::Api(status(403))),
        ] {
            assert_eq!(classify(&error).0, Failure::Forbidden, "{error:?}");
        }
        let mut h = all(StreamHealth::Ready);
        let pods = h.iter().position(|(k, _)| *k == Kind::Pods).expect("pods");
        h[pods].1 = StreamHealth::Forbidden {
            error: "pods is forbidden: User \"ops\" cannot list resource \"pods\" (403)".into(),
        };
        match connection(&h) {
            ConnectionState::Partial { problems } => assert_eq!(
                problems,
                [
                    "not allowed to list pods: pods is forbidden: User \"ops\" cannot list resource \"pods\" (403)"
                ]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_expired_watch_is_not_a_lost_connection() {
        let gone = watcher::Error::WatchError(status(410));
        assert_eq!(classify(&gone).0, Failure::Expired);
        let gone = watcher::Error::WatchStartFailed(kube::Error::Api(status(410)));
        assert_eq!(classify(&gone).0, Failure::Expired);
    }

    fn empty_meta() -> Meta {
        Meta {
            context: String::new(),
            namespace: None,
            events: VecDeque::new(),
            lease_holder: None,
            engine: String::new(),
            engine_stats: None,
            lags: LagTracker::default(),
        }
    }

    #[test]
    fn a_repeated_event_is_counted_on_one_line() {
        let mut meta = empty_meta();
        let failed = || {
            EngineEvent::new(
                crate::controllers::Source::EdgeApplication,
                "default/web",
                crate::controllers::Outcome::Failed {
                    reason: "409".into(),
                },
            )
        };
        for _ in 0..3 {
            apply_input(&mut meta, StoreInput::EngineEvent(failed()));
        }
        assert_eq!(meta.events.len(), 1);
        assert_eq!(meta.events[0].repeats, 2);
        assert!(
            meta.events[0].to_string().ends_with("failed: 409 (×3)"),
            "{}",
            meta.events[0]
        );
        let other = EngineEvent::new(
            crate::controllers::Source::EdgeApplication,
            "default/web",
            crate::controllers::Outcome::Reconciled { changes: vec![] },
        );
        apply_input(&mut meta, StoreInput::EngineEvent(other));
        apply_input(&mut meta, StoreInput::EngineEvent(failed()));
        assert_eq!(meta.events.len(), 3, "only consecutive repeats collapse");
    }

    #[test]
    fn engine_events_are_a_bounded_ring() {
        let mut meta = empty_meta();
        for i in 0..EVENT_CAPACITY + 10 {
            apply_input(
                &mut meta,
                StoreInput::EngineEvent(EngineEvent::new(
                    crate::controllers::Source::Engine,
                    format!("e{i}"),
                    crate::controllers::Outcome::Lifecycle {
                        message: "x".into(),
                    },
                )),
            );
        }
        assert_eq!(meta.events.len(), EVENT_CAPACITY);
        assert_eq!(meta.events.front().map(|e| e.object.as_str()), Some("e10"));
        apply_input(
            &mut meta,
            StoreInput::EngineEvent(EngineEvent::new(
                crate::controllers::Source::Leader,
                "",
                crate::controllers::Outcome::Leadership {
                    holder: Some("me".into()),
                    we_lead: true,
                },
            )),
        );
        assert_eq!(meta.lease_holder.as_deref(), Some("me"));
    }
}
