//! Fleet simulator and seeds for the embedded cluster: the kubelet, the
//! scheduler and the parts of kube-controller-manager the engine and the
//! console rely on, as **pure, synchronous functions**.
//!
//! # Interface with the store
//!
//! Objects are the store's representation, `serde_json::Value`. The driver
//! (a loop in `src/embedded/`) collects the current objects into a
//! [`World`], calls [`step`] with the time and the [`Offline`] set it owns,
//! and applies the returned [`Mutation`]s. It may then sleep until
//! [`next_wakeup`] (or simply tick every second) and call [`step`] again.
//!
//! - [`step`] runs every controller to a fixpoint at the given time on an
//!   in-memory overlay and returns the **net** change against the input: at
//!   most one mutation per object, and only for objects that actually change.
//!   Applying the mutations and stepping again at the same time yields
//!   nothing (tested as a property). Time-driven progress (readiness after
//!   [`Config::ready_after`], heartbeats, offline detection) happens on later
//!   calls with a later `now`.
//! - [`Mutation::Create`] and [`Mutation::Replace`] carry whole objects
//!   **including `status`** and, for nodes and pods, spec fields a real
//!   cluster writes through subresources (`spec.nodeName` is a binding,
//!   `spec.podCIDR` the node IPAM controller). The driver must store them as
//!   given (an internal write, as the apiserver's own strategies do), not
//!   through the public main-resource path that drops `status`.
//! - A `Replace` keeps the `metadata.resourceVersion` it read, so a store that
//!   checks it turns a race with a client write into a conflict; the driver
//!   can drop the mutation, the next step recomputes it.
//! - Fields the store assigns (`uid`, `creationTimestamp`, `resourceVersion`,
//!   `generation`) are never invented here. One consequence: a pod created in
//!   a step has no uid yet, so its EndpointSlice `targetRef` gains the uid on
//!   the next step (one extra write per pod, once).
//! - Pods are deleted with [`Mutation::Delete`] directly (no graceful
//!   termination); the store's garbage collector still handles cascades.
//!   An object deleted and created again under the same name within one step
//!   (a StatefulSet pod being replaced) comes back as `Delete` then `Create`,
//!   never as a `Replace`, so it gets a new uid like in Kubernetes.
//! - Mutations are ordered by kind (Node, Deployment, StatefulSet,
//!   DaemonSet, Pod, Service, EndpointSlice, Endpoints), then namespace/name.
//! - Cost: a step is roughly linear in the number of objects (pods are
//!   matched to nodes through a label/name index). On the 10,000-node scale
//!   seed with 1,000 per-group Deployments and a fleet-wide DaemonSet, a
//!   debug build takes ~5 s for the first step (everything created) and
//!   ~1 s for a step with nothing to do; release builds are several times
//!   faster. Drivers should step when objects change or at [`next_wakeup`],
//!   not in a tight loop.
//!
//! # Model decisions
//!
//! - **Deployments own pods directly** (no ReplicaSets). Pods are named
//!   `<deployment>-<pod-template-hash>-<5 chars>`, carry the
//!   `pod-template-hash` label and a controller ownerReference to the
//!   Deployment. `kubectl get rs` is empty; everything the engine and
//!   `kubectl rollout status` read (Deployment status) is faithful. Rolling
//!   updates follow Kubernetes' arithmetic (maxSurge rounded up,
//!   maxUnavailable rounded down, unhealthy old pods removed first); since
//!   new pods become ready only after `ready_after`, a rollout advances over
//!   several steps exactly as it would in a cluster. `Recreate` replaces all
//!   at once. `spec.paused` freezes pods (status is still written).
//! - **StatefulSets**: pods `<name>-<ordinal>`, `OrderedReady` (one at a
//!   time, each waiting for its predecessor to be ready) or `Parallel`;
//!   rolling update from the highest ordinal, honouring `partition`;
//!   `OnDelete` leaves pods alone. No PersistentVolumeClaims.
//! - **DaemonSets**: one pod per node that matches the pod template's node
//!   selector, required node affinity and taints (Kubernetes' default
//!   daemon tolerations included). Like the real controller, and unlike
//!   "Ready nodes only", a node going offline keeps its daemon pod, which turns
//!   unready: an outage shows as `numberReady` dropping rather than
//!   disappearing from `desiredNumberScheduled`. Pods are pinned with
//!   `matchFields metadata.name` affinity and bound by the scheduler.
//! - **Scheduler**: Ready, schedulable nodes matching `nodeSelector`, the
//!   required node affinity (all operators, `matchFields` on
//!   `metadata.name`) and tolerating NoSchedule/NoExecute taints; spread by
//!   fewest pods, then name. Otherwise the pod stays Pending with
//!   `PodScheduled=False/Unschedulable` and the familiar
//!   `0/N nodes are available: …` message. Readiness is read from the
//!   node's Ready condition only, like the real scheduler.
//! - **Nodes**: online nodes post Ready with a heartbeat refreshed every
//!   [`Config::heartbeat_interval`]. An offline node is marked `Unknown`
//!   ("Kubelet stopped posting node status.") once [`Config::node_grace`]
//!   has passed since it was taken offline ([`Offline`] records when, which
//!   keeps detection prompt and deterministic whatever the heartbeat
//!   interval). Nodes without status (created through the API, or from a
//!   seed) are initialised: podCIDR from 10.128.0.0/9 (/24 each), InternalIP
//!   from 172.16.0.0/12, capacity, nodeInfo.
//! - **Kubelet**: bound pods on online Ready nodes run (podIP from the
//!   node's podCIDR, lowest free address) and become Ready once
//!   `ready_after` has passed since they started. Pods on NotReady nodes get
//!   `Ready=False` (what the node lifecycle controller does); they are not
//!   evicted. Pods of deleted nodes and terminating pods without finalizers
//!   are deleted.
//! - **Endpoints**: per Service with a selector, EndpointSlices
//!   `<service>-<5 chars>` (at most 100 endpoints each, grouped by resolved
//!   ports) with nodeName, zone, ready/serving/terminating and targetRef, and
//!   the legacy Endpoints object. Service labels are not copied onto them (so
//!   nothing generated here ever carries the engine's application label).
//!   ClusterIPs are the store's job at create; [`endpoints::allocate_cluster_ip`]
//!   is the same rule as a pure helper.
//!
//! Everything is deterministic given the inputs: no clock, no randomness.
//! The one exception is [`load`], which writes a seed to any cluster through
//! `kube::Client` (`edgedeck seed`).

pub mod controls;
pub mod endpoints;
pub mod events;
pub mod kubelet;
pub mod leases;
pub mod load;
pub mod nodes;
pub mod object;
pub mod scheduler;
pub mod seed;
mod state;
pub mod workloads;

use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

pub use controls::{Offline, region_nodes, regions};
pub use state::{Kind, apply};

/// A change for the store to make.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    /// A new object (no uid/resourceVersion; `status` included).
    Create(Value),
    /// The whole new state of an existing object, including `status`.
    Replace(Value),
    /// Remove the object.
    Delete(ObjectRef),
}

/// Identifies an object to delete. `namespace` is `None` for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// The reference to `object` (read from its apiVersion, kind and metadata).
    pub fn of(object: &Value) -> ObjectRef {
        let ns = object::namespace(object);
        ObjectRef {
            api_version: object::api_version(object).to_string(),
            kind: object::kind(object).to_string(),
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            name: object::name(object).to_string(),
        }
    }
}

impl Mutation {
    pub fn delete(object: &Value) -> Mutation {
        Mutation::Delete(ObjectRef::of(object))
    }

    /// The object a Create or Replace writes.
    pub fn object(&self) -> Option<&Value> {
        match self {
            Mutation::Create(v) | Mutation::Replace(v) => Some(v),
            Mutation::Delete(_) => None,
        }
    }

    /// `(kind, namespace, name)` of the object concerned.
    pub fn target(&self) -> (String, String, String) {
        match self {
            Mutation::Create(v) | Mutation::Replace(v) => (
                object::kind(v).to_string(),
                object::namespace(v).to_string(),
                object::name(v).to_string(),
            ),
            Mutation::Delete(r) => (
                r.kind.clone(),
                r.namespace.clone().unwrap_or_default(),
                r.name.clone(),
            ),
        }
    }
}

/// Timing of the simulation. All of it is simulated time: nothing sleeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long a started pod takes to become Ready.
    pub ready_after: Duration,
    /// How often an online node refreshes `lastHeartbeatTime` (each refresh is a write).
    pub heartbeat_interval: Duration,
    /// How long after going offline a node is marked NotReady (Unknown).
    pub node_grace: Duration,
    /// Upper bound on controller rounds per [`step`]; what is left continues next step.
    pub max_rounds: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ready_after: Duration::from_secs(3),
            heartbeat_interval: Duration::from_secs(60),
            node_grace: Duration::from_secs(40),
            max_rounds: 50,
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

impl Config {
    pub(crate) fn ready_after_s(&self) -> i64 {
        secs(self.ready_after)
    }
    pub(crate) fn heartbeat_s(&self) -> i64 {
        secs(self.heartbeat_interval).max(1)
    }
    pub(crate) fn grace_s(&self) -> i64 {
        secs(self.node_grace)
    }
}

/// The objects the simulator reads, by kind. Other kinds are ignored.
#[derive(Debug, Clone, Default)]
pub struct World<'a> {
    pub nodes: Vec<&'a Value>,
    pub pods: Vec<&'a Value>,
    pub deployments: Vec<&'a Value>,
    pub statefulsets: Vec<&'a Value>,
    pub daemonsets: Vec<&'a Value>,
    pub services: Vec<&'a Value>,
    pub endpointslices: Vec<&'a Value>,
    pub endpoints: Vec<&'a Value>,
}

impl<'a> World<'a> {
    /// Sorts objects of any kinds into a world (unknown kinds are skipped).
    pub fn from_objects(objects: impl IntoIterator<Item = &'a Value>) -> World<'a> {
        let mut world = World::default();
        for object in objects {
            world.add(object);
        }
        world
    }

    /// Adds one object to the list of its kind; false if the kind is not simulated.
    pub fn add(&mut self, object: &'a Value) -> bool {
        let Some(kind) = Kind::of(object) else {
            return false;
        };
        self.list_mut(kind).push(object);
        true
    }

    pub fn list(&self, kind: Kind) -> &[&'a Value] {
        match kind {
            Kind::Node => &self.nodes,
            Kind::Pod => &self.pods,
            Kind::Deployment => &self.deployments,
            Kind::StatefulSet => &self.statefulsets,
            Kind::DaemonSet => &self.daemonsets,
            Kind::Service => &self.services,
            Kind::EndpointSlice => &self.endpointslices,
            Kind::Endpoints => &self.endpoints,
        }
    }

    fn list_mut(&mut self, kind: Kind) -> &mut Vec<&'a Value> {
        match kind {
            Kind::Node => &mut self.nodes,
            Kind::Pod => &mut self.pods,
            Kind::Deployment => &mut self.deployments,
            Kind::StatefulSet => &mut self.statefulsets,
            Kind::DaemonSet => &mut self.daemonsets,
            Kind::Service => &mut self.services,
            Kind::EndpointSlice => &mut self.endpointslices,
            Kind::Endpoints => &mut self.endpoints,
        }
    }
}

/// Runs every controller to a fixpoint at `now` and returns the net changes.
///
/// Order per round: node heartbeats, kubelet (pod GC, run, readiness),
/// workload controllers (pods and status), scheduler. Rounds repeat until
/// nothing changes (at most [`Config::max_rounds`]); endpoints are computed
/// once at the end from the settled pods.
pub fn step(
    world: &World<'_>,
    offline: &Offline,
    now: Timestamp,
    config: &Config,
) -> Vec<Mutation> {
    let mut state = state::State::new(world);
    for _ in 0..config.max_rounds.max(1) {
        let mut changed = false;
        let nodes = state.list(Kind::Node);
        let muts = nodes::heartbeat(&nodes, offline, now, config);
        changed |= state.apply(muts);

        let (pods, nodes) = (state.list(Kind::Pod), state.list(Kind::Node));
        let muts = kubelet::sync(&pods, &nodes, offline, now, config);
        changed |= state.apply(muts);

        let (pods, deployments) = (state.list(Kind::Pod), state.list(Kind::Deployment));
        let muts = workloads::deployments(&deployments, &pods, now);
        changed |= state.apply(muts);

        let (pods, statefulsets) = (state.list(Kind::Pod), state.list(Kind::StatefulSet));
        let muts = workloads::statefulsets(&statefulsets, &pods, now);
        changed |= state.apply(muts);

        let (pods, nodes, daemonsets) = (
            state.list(Kind::Pod),
            state.list(Kind::Node),
            state.list(Kind::DaemonSet),
        );
        let muts = workloads::daemonsets(&daemonsets, &pods, &nodes, now);
        changed |= state.apply(muts);

        let (pods, nodes) = (state.list(Kind::Pod), state.list(Kind::Node));
        let muts = scheduler::schedule_pending(&pods, &nodes, now);
        changed |= state.apply(muts);

        if !changed {
            break;
        }
    }
    let (services, pods, nodes, slices, endpoints) = (
        state.list(Kind::Service),
        state.list(Kind::Pod),
        state.list(Kind::Node),
        state.list(Kind::EndpointSlice),
        state.list(Kind::Endpoints),
    );
    let muts = endpoints::reconcile(&services, &pods, &nodes, &slices, &endpoints);
    state.apply(muts);
    state.diff()
}

/// The earliest time after `now` at which [`step`] would change something
/// by itself (a pod becoming ready or available, a heartbeat due, an
/// offline node reaching its grace period), if any. Drivers may sleep until
/// then, or until an object changes, whichever comes first.
pub fn next_wakeup(
    world: &World<'_>,
    offline: &Offline,
    now: Timestamp,
    config: &Config,
) -> Option<Timestamp> {
    let now_s = now.as_second();
    let mut best: Option<i64> = None;
    let mut consider = |t: i64| {
        if t > now_s && best.is_none_or(|b| t < b) {
            best = Some(t);
        }
    };
    for node in &world.nodes {
        let name = object::name(node);
        match offline.since(name) {
            Some(since) => {
                if object::condition_status(node, "Ready") != Some("Unknown") {
                    consider(since.as_second().saturating_add(config.grace_s()));
                }
            }
            None => {
                if let Some(beat) = object::condition(node, "Ready")
                    .and_then(|c| object::seconds_at(c, "/lastHeartbeatTime"))
                {
                    consider(beat.saturating_add(config.heartbeat_s()));
                }
            }
        }
    }
    // Workloads with minReadySeconds count a ready pod available later.
    let min_ready: std::collections::BTreeMap<(&str, &str, &str), i64> = world
        .deployments
        .iter()
        .chain(&world.statefulsets)
        .chain(&world.daemonsets)
        .filter_map(|w| {
            let m = workloads::min_ready_seconds(w);
            (m > 0).then(|| ((object::namespace(w), object::kind(w), object::name(w)), m))
        })
        .collect();
    for pod in &world.pods {
        if let Some(t) = kubelet::ready_at(pod, config) {
            consider(t);
        }
        if min_ready.is_empty() {
            continue;
        }
        let Some((kind, name, _)) = object::controller_of(pod) else {
            continue;
        };
        if let (Some(m), Some(t)) = (
            min_ready.get(&(object::namespace(pod), kind, name)),
            object::condition(pod, "Ready")
                .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"))
                .and_then(|c| object::seconds_at(c, "/lastTransitionTime")),
        ) {
            consider(t.saturating_add(*m));
        }
    }
    best.and_then(object::timestamp)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + s).unwrap_or_default()
    }

    fn world_objects() -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}}}),
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "db", "namespace": "default", "uid": "s1", "generation": 1},
                "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                        "spec": {"containers": [{"name": "db", "image": "pg:16", "ports": [{"containerPort": 5432}]}]}}}}),
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "db", "namespace": "default"},
                "spec": {"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}}),
        ]
    }

    fn tick(objects: &mut Vec<Value>, now: Timestamp) -> Vec<Mutation> {
        let config = Config::default();
        let muts = step(
            &World::from_objects(objects.iter()),
            &Offline::new(),
            now,
            &config,
        );
        apply(objects, &muts);
        assert!(
            step(
                &World::from_objects(objects.iter()),
                &Offline::new(),
                now,
                &config
            )
            .is_empty()
        );
        muts
    }

    #[test]
    fn one_step_converges_and_is_deterministic() {
        let objects = world_objects();
        let world = World::from_objects(objects.iter());
        let a = step(&world, &Offline::new(), t(0), &Config::default());
        let b = step(&world, &Offline::new(), t(0), &Config::default());
        assert_eq!(a, b);
        let mut objects = objects;
        tick(&mut objects, t(0));
        let pod = objects
            .iter()
            .find(|o| object::name(o) == "db-0")
            .cloned()
            .unwrap_or_default();
        assert_eq!(pod["spec"]["nodeName"], "n1");
        assert_eq!(pod["status"]["phase"], "Running");
        tick(&mut objects, t(3));
        let slice = objects
            .iter()
            .find(|o| object::kind(o) == "EndpointSlice")
            .cloned()
            .unwrap_or_default();
        assert_eq!(slice["endpoints"][0]["hostname"], "db-0");
        assert_eq!(slice["endpoints"][0]["conditions"]["ready"], true);
    }

    #[test]
    fn replaced_statefulset_pods_are_new_objects() {
        let mut objects = world_objects();
        tick(&mut objects, t(0));
        tick(&mut objects, t(3));
        for o in objects
            .iter_mut()
            .filter(|o| object::kind(o) == "StatefulSet")
        {
            o["spec"]["template"]["spec"]["containers"][0]["image"] = json!("pg:17");
        }
        let muts = tick(&mut objects, t(4));
        let on_pod: Vec<&Mutation> = muts.iter().filter(|m| m.target().2 == "db-0").collect();
        assert_eq!(on_pod.len(), 2, "{on_pod:?}");
        assert!(matches!(on_pod[0], Mutation::Delete(_)));
        assert!(
            matches!(on_pod[1], Mutation::Create(p) if p["spec"]["containers"][0]["image"] == "pg:17")
        );
    }

    #[test]
    fn next_wakeup_sees_offline_detection() {
        let mut objects = world_objects();
        tick(&mut objects, t(0));
        tick(&mut objects, t(3));
        let mut offline = Offline::new();
        offline.take_offline(["n1"], t(10));
        let world = World::from_objects(objects.iter());
        let wake = next_wakeup(&world, &offline, t(10), &Config::default());
        assert_eq!(wake, Some(t(50)));
    }
}
