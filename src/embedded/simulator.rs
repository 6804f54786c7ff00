//! Drives the pure fleet simulation (`crate::simulation`) against the store:
//! snapshot the simulated kinds, step outside the store lock, and write the
//! net changes back as the cluster's own components would (status kept).
//!
//! A change computed from a snapshot that a client has since modified is
//! dropped, never forced: the next step recomputes it from the new state.
//! Steps run when the store changes (after a short pause that batches
//! bursts), when a control asks, and once a second for time-driven progress
//! (pods turning ready, heartbeats, offline detection).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::cluster::Cluster;
use super::error::{ApiError, ApiResult};
use super::operations::{self, DeleteOptions};
use super::resources::ResourceInfo;
use crate::simulation::{self, Config, Kind, Mutation, Offline, World};

/// Field manager recorded on simulated writes.
const MANAGER: &str = "edgedeck-simulator";
/// How long to let a burst of writes settle before stepping.
const SETTLE: Duration = Duration::from_millis(50);
/// Time-driven progress needs a step at least this often.
const TICK: Duration = Duration::from_secs(1);

/// The simulator's timing in the embedded cluster: snappier than a real
/// cluster's defaults, so a demo reacts while the operator watches.
pub fn demo_config() -> Config {
    Config {
        ready_after: Duration::from_secs(2),
        heartbeat_interval: Duration::from_secs(30),
        node_grace: Duration::from_secs(5),
        ..Config::default()
    }
}

/// Shared between the driver task, the control endpoint and `RunningCluster`.
pub struct Simulator {
    offline: Mutex<Offline>,
    config: Config,
    wake: Notify,
}

impl Simulator {
    pub fn new(config: Config) -> Simulator {
        Simulator {
            offline: Mutex::new(Offline::new()),
            config,
            wake: Notify::new(),
        }
    }

    /// Takes nodes offline (their kubelet goes silent) or brings them back;
    /// returns the nodes whose state changed.
    pub fn set_offline(&self, nodes: &[String], offline: bool) -> Vec<String> {
        let changed = match self.offline.lock() {
            Ok(mut set) if offline => set.take_offline(nodes, Timestamp::now()),
            Ok(mut set) => set.bring_online(nodes),
            Err(_) => Vec::new(),
        };
        self.wake.notify_one();
        changed
    }

    pub fn offline(&self) -> BTreeSet<String> {
        self.offline.lock().map(|o| o.names()).unwrap_or_default()
    }
}

/// Steps the simulation until `stop` fires.
pub async fn run(
    cluster: Arc<Cluster>,
    sim: Arc<Simulator>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut changes = cluster.store.subscribe();
    loop {
        let stepped_at = cluster.store.current_rv();
        let worker = (cluster.clone(), sim.clone());
        // Stepping a large fleet is CPU work; keep it off the async workers serving requests.
        let _ = tokio::task::spawn_blocking(move || step_once(&worker.0, &worker.1)).await;
        // The guards wait_for returns are not Send: turn them into plain values at once.
        let stopped = async { stop.wait_for(|stopped| *stopped).await.map(|_| ()) };
        let changed = async { changes.wait_for(|rv| *rv > stepped_at).await.map(|_| ()) };
        tokio::select! {
            _ = stopped => return,
            _ = sim.wake.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
            result = changed => {
                if result.is_err() {
                    return;
                }
                tokio::time::sleep(SETTLE).await;
            }
        }
    }
}

fn plural(kind: Kind) -> &'static str {
    match kind {
        Kind::Node => "nodes",
        Kind::Pod => "pods",
        Kind::Deployment => "deployments",
        Kind::StatefulSet => "statefulsets",
        Kind::DaemonSet => "daemonsets",
        Kind::Service => "services",
        Kind::EndpointSlice => "endpointslices",
        Kind::Endpoints => "endpoints",
    }
}

fn info_of(cluster: &Cluster, kind: Kind) -> Option<Arc<ResourceInfo>> {
    let (group, version) = kind
        .api_version()
        .rsplit_once('/')
        .unwrap_or(("", kind.api_version()));
    cluster.registry().find(group, version, plural(kind))
}

/// One simulation step: snapshot, compute, write back.
pub fn step_once(cluster: &Cluster, sim: &Simulator) {
    let started = Instant::now();
    // Resolved before the transaction: the registry reads the store, whose lock the transaction holds.
    let infos: BTreeMap<Kind, Arc<ResourceInfo>> = Kind::ALL
        .iter()
        .filter_map(|&kind| info_of(cluster, kind).map(|info| (kind, info)))
        .collect();
    let snapshot: Vec<Vec<Arc<Value>>> = infos
        .values()
        .map(|info| cluster.store.snapshot(&info.key()))
        .collect();
    let mut world = World::default();
    for objects in &snapshot {
        for object in objects {
            world.add(object);
        }
    }
    let offline = match sim.offline.lock() {
        Ok(mut offline) => {
            offline.retain_existing(&world.nodes);
            offline.clone()
        }
        Err(_) => return,
    };
    let snapshot_at = started.elapsed();
    renew_leases(cluster, &world.nodes, &offline);
    let now = Timestamp::now();
    let mutations = simulation::step(&world, &offline, now, &sim.config);
    let events = simulation::events::record(&world, &mutations, now);
    let stepped_at = started.elapsed();
    let count = mutations.len();
    if count > 0 {
        cluster.store.transaction(|txn| {
            for mutation in mutations {
                if let Err(e) = apply(&infos, txn, mutation) {
                    tracing::debug!(error = %e, "simulated change dropped");
                }
            }
        });
    }
    write_events(cluster, events, now);
    // Where a slow fleet spends its time (RUST_LOG=edgedeck::embedded::simulator=debug).
    tracing::debug!(
        snapshot_ms = snapshot_at.as_millis(),
        step_ms = (stepped_at - snapshot_at).as_millis(),
        write_ms = (started.elapsed() - stepped_at).as_millis(),
        mutations = count,
        "simulator step"
    );
}

/// Records the step's Events and drops those of ours past their TTL, as
/// kube-apiserver's `--event-ttl` does.
fn write_events(cluster: &Cluster, events: Vec<Value>, now: Timestamp) {
    let Some(info) = cluster.registry().find("", "v1", "events") else {
        return;
    };
    let stale: Vec<Arc<Value>> = cluster
        .store
        .snapshot(&info.key())
        .into_iter()
        .filter(|e| simulation::events::expired(e, now))
        .collect();
    if events.is_empty() && stale.is_empty() {
        return;
    }
    cluster.store.transaction(|txn| {
        for event in events {
            let namespace = event
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Err(e) =
                operations::create_internal(txn, &info, namespace.as_deref(), event, MANAGER)
            {
                tracing::debug!(error = %e, "simulated event dropped");
            }
        }
        for event in stale {
            let namespace = event.pointer("/metadata/namespace").and_then(Value::as_str);
            let name = event
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Ok(key) = operations::object_key(&info, namespace, name) {
                let _ = operations::delete_in(txn, &info, &key, &DeleteOptions::default());
            }
        }
    });
}

/// Node Leases in `kube-node-lease`, renewed like a kubelet's (see
/// [`simulation::leases`]); stored apart from the step's kinds, which the
/// controllers never read.
fn renew_leases(cluster: &Cluster, nodes: &[&Value], offline: &Offline) {
    let Some(info) = cluster
        .registry()
        .find("coordination.k8s.io", "v1", "leases")
    else {
        return;
    };
    let leases: Vec<Arc<Value>> = cluster
        .store
        .snapshot(&info.key())
        .into_iter()
        .filter(|l| {
            l.pointer("/metadata/namespace").and_then(Value::as_str)
                == Some(simulation::leases::NAMESPACE)
        })
        .collect();
    let refs: Vec<&Value> = leases.iter().map(|l| &**l).collect();
    let writes = simulation::leases::renew(nodes, &refs, offline, Timestamp::now());
    if writes.is_empty() {
        return;
    }
    let namespace = Some(simulation::leases::NAMESPACE);
    cluster.store.transaction(|txn| {
        for lease in writes {
            let name = lease
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let result = if lease.pointer("/metadata/resourceVersion").is_some() {
                operations::object_key(&info, namespace, &name).map(|key| {
                    let current = txn.get(&info.key(), &key);
                    // Changed since read: renewed next step.
                    if current
                        .as_ref()
                        .and_then(|c| c.pointer("/metadata/resourceVersion"))
                        == lease.pointer("/metadata/resourceVersion")
                    {
                        operations::store_existing(txn, &info, &key, lease);
                    }
                })
            } else {
                operations::create_internal(txn, &info, namespace, lease, MANAGER).map(|_| ())
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, lease = name, "simulated lease write dropped");
            }
        }
    });
}

fn apply(
    infos: &BTreeMap<Kind, Arc<ResourceInfo>>,
    txn: &mut super::store::Txn<'_>,
    mutation: Mutation,
) -> ApiResult<()> {
    let object_kind = match &mutation {
        Mutation::Create(v) | Mutation::Replace(v) => Kind::of(v),
        Mutation::Delete(r) => Kind::from_parts(&r.api_version, &r.kind),
    };
    let Some(info) = object_kind.and_then(|k| infos.get(&k)).cloned() else {
        return Ok(());
    };
    let (_, namespace, name) = mutation.target();
    let namespace = info
        .namespaced
        .then_some(namespace.as_str())
        .filter(|ns| !ns.is_empty());
    match mutation {
        Mutation::Create(object) => {
            operations::create_internal(txn, &info, namespace, object, MANAGER)?;
        }
        Mutation::Replace(object) => {
            let key = operations::object_key(&info, namespace, &name)?;
            let current = txn.get(&info.key(), &key);
            let read_rv = object.pointer("/metadata/resourceVersion");
            // Computed from an older state than the store holds now: the next step recomputes it.
            if current
                .as_ref()
                .and_then(|c| c.pointer("/metadata/resourceVersion"))
                != read_rv
            {
                return Ok(());
            }
            operations::store_existing(txn, &info, &key, object);
        }
        Mutation::Delete(_) => {
            let key = operations::object_key(&info, namespace, &name)?;
            match operations::delete_in(txn, &info, &key, &DeleteOptions::default()) {
                Ok(_) | Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// `/edgedeck/simulator…`: the control endpoint outside the Kubernetes paths.
///
/// - `GET /edgedeck/simulator` → `{"offline": [...]}`
/// - `POST /edgedeck/simulator/offline` and `…/online` with
///   `{"nodes": ["a", "b"]}` and/or `{"labels": {"location": "hangzhou"}}`
///   (every node carrying all those labels — a whole region).
pub fn control(
    cluster: &Cluster,
    sim: Option<&Simulator>,
    method: &str,
    path: &str,
    body: &[u8],
) -> ApiResult<Value> {
    let sim = sim.ok_or_else(|| {
        ApiError::BadRequest("this cluster runs without the fleet simulator".into())
    })?;
    let action = path
        .trim_start_matches("/edgedeck/simulator")
        .trim_matches('/');
    match (method, action) {
        ("GET", "") => Ok(json!({ "offline": sim.offline() })),
        ("POST", "offline" | "online") => {
            let request: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
            let nodes = selected_nodes(cluster, &request)?;
            if nodes.is_empty() {
                return Err(ApiError::BadRequest("no node matches the request".into()));
            }
            let changed = sim.set_offline(&nodes, action == "offline");
            Ok(json!({ "selected": nodes, "changed": changed, "offline": sim.offline() }))
        }
        _ => Err(ApiError::BadRequest(format!(
            "unknown simulator control {method} {path}"
        ))),
    }
}

fn selected_nodes(cluster: &Cluster, request: &Value) -> ApiResult<Vec<String>> {
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    if let Some(named) = request.get("nodes") {
        let named = named
            .as_array()
            .ok_or_else(|| ApiError::BadRequest("nodes: expected a list of names".into()))?;
        for name in named {
            let name = name
                .as_str()
                .ok_or_else(|| ApiError::BadRequest("nodes: names are strings".into()))?;
            nodes.insert(name.to_owned());
        }
    }
    if let Some(labels) = request.get("labels") {
        let labels = labels
            .as_object()
            .ok_or_else(|| ApiError::BadRequest("labels: expected a map".into()))?;
        let all = info_of(cluster, Kind::Node)
            .map(|info| cluster.store.snapshot(&info.key()))
            .unwrap_or_default();
        for node in &all {
            let matches = labels
                .iter()
                .all(|(k, v)| node.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v));
            if matches {
                nodes.insert(simulation::object::name(node).to_owned());
            }
        }
    }
    Ok(nodes.into_iter().collect())
}
