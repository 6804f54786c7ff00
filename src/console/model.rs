//! What the console shows: a [`Fleet`] snapshot of the reflector stores, and
//! the [`Derived`] views the engine computes from it, memoised per snapshot
//! version. Nothing here decides a domain question itself: membership,
//! rendering, availability and traffic all come from `crate::engine`.

pub mod cluster_events;
pub mod heartbeats;
mod objects;
pub mod pods;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::Value;

use crate::api::{
    EdgeApplication, EdgeApplicationStatus, LABEL_SERVICE_NAME, ManifestCondition, NodeGroup,
    NodeStatus, ReadyStatus, SelectionStatus,
};
use crate::controllers::events::EngineEvent;
use crate::engine::membership::{self, Membership};
use crate::engine::object::ObjectKey;
use crate::engine::render::{self, Rendered};
use crate::engine::status::{self, Observation, Standing, Verdict};
use crate::engine::topology::{self, LocalService, NodeGroupIndex, ServiceTraffic};

/// How the console's watches are doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnectionState {
    #[default]
    Connected,
    /// Starting up or loading: what is happening now (embedded cluster
    /// starting, initial lists, switching context).
    Connecting { step: String },
    /// The watch broke at `since`; it retries by itself. Data is the last known.
    Reconnecting { since: SystemTime, error: String },
    /// Connected, but some resources cannot be watched (a CRD not installed, …).
    Partial { problems: Vec<String> },
    /// Data is shown but no longer updated (e.g. engine stopped, context switching).
    Stale,
}

/// One immutable snapshot of everything the stores hold. A new snapshot
/// carries a higher `version`; the console recomputes derived data only then.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub version: u64,
    /// kubeconfig context (or `embedded`).
    pub context: String,
    /// Namespace filter for namespaced objects; `None` = all namespaces.
    pub namespace: Option<String>,
    pub nodes: Vec<Node>,
    pub node_groups: Vec<NodeGroup>,
    pub applications: Vec<EdgeApplication>,
    /// Objects generated from applications (Deployments, StatefulSets, …) as raw JSON.
    pub workloads: Vec<Value>,
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
    /// Most recent last.
    pub events: Vec<EngineEvent>,
    pub lease_holder: Option<String>,
    pub connection: ConnectionState,
    /// What the console's own (in-process) engine does; empty when unknown.
    pub engine: String,
    /// The figures of the engine that works: the in-process one while it
    /// leads, else the remote one of `--engine-metrics`, else none.
    pub engine_stats: Option<crate::console::engine_stats::EngineReading>,
    /// Applications whose generation the engine has not observed for longer
    /// than a reconcile takes (see `console::live::lag`), sorted.
    pub lagging: Vec<AppLag>,
    /// Nodes the embedded fleet simulator holds offline (embedded mode only).
    pub offline: BTreeSet<String>,
    /// Every pod, slim (see [`pods`]), sorted by namespace and name.
    pub pods: Vec<pods::PodInfo>,
    /// Kubernetes Events of both APIs, one per uid, newest first.
    pub cluster_events: Vec<cluster_events::ClusterEvent>,
    /// Leases in `kube-node-lease`.
    pub node_leases: Vec<heartbeats::NodeLease>,
    /// The embedded fleet simulator can take nodes offline (`o`, `O` keys).
    pub controls: bool,
}

/// An EdgeApplication the engine is behind on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLag {
    pub namespace: String,
    pub name: String,
    pub generation: i64,
    /// `status.observedGeneration`; `None` when never observed.
    pub observed: Option<i64>,
    /// Since when observedGeneration has not moved.
    pub since: std::time::SystemTime,
}

/// A node as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub name: String,
    /// The group the engine places it in.
    pub group: Option<String>,
    pub ready: ReadyStatus,
    /// `k=v,k=v`, sorted.
    pub labels: String,
}

/// One NodeGroup with everything the Regions and Group views need.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    pub name: String,
    /// Index into [`Fleet::node_groups`]; `None` for the ungrouped pseudo-group.
    pub object: Option<usize>,
    /// Node statuses as the engine computes them (members and failed selections).
    pub statuses: Vec<NodeStatus>,
    /// Indices into [`Derived::nodes`] of the members.
    pub members: Vec<usize>,
    pub ready: usize,
    pub not_ready: usize,
    pub unknown: usize,
    pub failed_selections: usize,
    /// Indices into [`Derived::apps`] targeting this group.
    pub apps: Vec<usize>,
    pub workloads: usize,
    pub available_workloads: usize,
    /// Every application's standing here combined; `None` when none has a
    /// workload here.
    pub replicas: Option<Standing>,
    /// Range-nodegroup services that are [`LocalService::BlackHole`]s here.
    pub black_holes: usize,
    /// Applications here the engine is behind on.
    pub lagging_apps: usize,
}

impl GroupInfo {
    fn new(name: String, object: Option<usize>) -> GroupInfo {
        GroupInfo {
            name,
            object,
            statuses: Vec::new(),
            members: Vec::new(),
            ready: 0,
            not_ready: 0,
            unknown: 0,
            failed_selections: 0,
            apps: Vec::new(),
            workloads: 0,
            available_workloads: 0,
            replicas: None,
            black_holes: 0,
            lagging_apps: 0,
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.not_ready == 0
            && self.unknown == 0
            && self.available_workloads == self.workloads
            && self
                .replicas
                .as_ref()
                .is_none_or(|r| r.verdict != Verdict::Failed)
            && self.black_holes == 0
            && self.lagging_apps == 0
    }
}

/// A generated object: what render wanted, what the engine's status says.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: Option<ObjectKey>,
    pub ordinal: usize,
    pub target: Option<String>,
    pub condition: ManifestCondition,
    pub reason: Option<String>,
    /// Overriders skipped for this object (it is applied all the same).
    pub warnings: Vec<String>,
    /// Ready/desired replicas with their verdict; `None` for non-workloads
    /// and for a failed one with nothing live.
    pub replicas: Option<Standing>,
    /// Index into [`Fleet::workloads`] of the live object.
    pub live: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppInfo {
    pub namespace: String,
    pub name: String,
    /// Index into [`Fleet::applications`].
    pub object: usize,
    pub targets: Vec<String>,
    pub rendered: Rendered,
    pub status: EdgeApplicationStatus,
    pub objects: Vec<ObjectInfo>,
    /// The engine's standing per summarised group, in `status.groups` order.
    pub standings: Vec<(String, Standing)>,
    /// Some target is a `targetNodeLabels` selector, which may place
    /// workloads in any group.
    pub label_targets: bool,
    /// The engine is behind on this application's spec.
    pub lag: Option<AppLag>,
}

impl AppInfo {
    pub fn available(&self) -> usize {
        self.objects
            .iter()
            .filter(|o| o.condition == ManifestCondition::Available)
            .count()
    }
    pub fn processing(&self) -> usize {
        self.objects
            .iter()
            .filter(|o| o.condition == ManifestCondition::Processing)
            .count()
    }
    pub fn failed(&self) -> usize {
        self.objects
            .iter()
            .filter(|o| o.condition == ManifestCondition::Failed)
            .count()
    }
    /// The engine's standing of this application in one target group.
    pub fn replicas_in(&self, group: &str) -> Option<&Standing> {
        self.standings
            .iter()
            .find(|(g, _)| g == group)
            .map(|(_, s)| s)
    }

    /// Whether workloads of this application may run in `group`.
    pub fn deployed_in(&self, group: &str) -> bool {
        self.label_targets || self.targets.iter().any(|t| t == group)
    }

    /// Whether the application renders the Service `namespace/name`.
    fn renders_service(&self, namespace: &str, name: &str) -> bool {
        let is = |k: &ObjectKey| {
            k.kind == "Service"
                && k.group().is_empty()
                && k.name == name
                && k.namespace.as_deref().unwrap_or("default") == namespace
        };
        self.rendered.objects.iter().any(|o| is(&o.key))
            || self
                .rendered
                .errors
                .iter()
                .any(|e| e.key.as_ref().is_some_and(is))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    pub namespace: String,
    pub name: String,
    /// Index into [`Fleet::services`].
    pub object: usize,
    pub range_nodegroup: bool,
    pub traffic: ServiceTraffic,
    /// What each group gets from it, in `traffic.per_group` order.
    pub local: Vec<LocalService>,
}

impl ServiceInfo {
    /// How `group` is served, with its endpoint counts.
    pub fn local_in(&self, group: &str) -> Option<(&topology::GroupTraffic, LocalService)> {
        self.traffic
            .per_group
            .iter()
            .zip(&self.local)
            .find(|(t, _)| t.group == group)
            .map(|(t, l)| (t, *l))
    }
}

/// Everything computed from one [`Fleet`] by the engine.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub version: u64,
    pub membership: Membership,
    /// node → group from the `belonging-to` labels (what traffic closure uses).
    pub index: NodeGroupIndex,
    pub nodes: Vec<NodeInfo>,
    /// Live groups sorted by name.
    pub groups: Vec<GroupInfo>,
    /// Indices into `nodes` of nodes in no group.
    pub ungrouped: Vec<usize>,
    pub apps: Vec<AppInfo>,
    pub services: Vec<ServiceInfo>,
    /// Heartbeats, in `nodes` order.
    pub beats: Vec<heartbeats::NodeBeat>,
    /// Workload, application and group of each pod, in `Fleet::pods` order.
    pub pod_places: Vec<pods::PodPlace>,
}

fn in_namespace(ns: Option<&str>, filter: Option<&str>) -> bool {
    match filter {
        None => true,
        Some(f) => ns.unwrap_or("default") == f,
    }
}

impl Derived {
    /// Computes every derived view from a snapshot (call once per version).
    pub fn compute(fleet: &Fleet) -> Derived {
        let ns_filter = fleet.namespace.as_deref();
        let membership = membership::compute(&fleet.nodes, &fleet.node_groups);
        let index = topology::node_group_index(&fleet.nodes);

        let mut nodes: Vec<NodeInfo> = fleet
            .nodes
            .iter()
            .filter_map(|n| {
                let name = n.metadata.name.clone()?;
                let labels = n
                    .metadata
                    .labels
                    .iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                Some(NodeInfo {
                    group: membership.node_group.get(&name).cloned(),
                    ready: membership::readiness(n),
                    name,
                    labels,
                })
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        nodes.dedup_by(|a, b| a.name == b.name);
        let node_pos: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();

        // Live objects by identity, for the engine's status observation.
        let mut live: HashMap<(String, String, Option<String>, String), usize> = HashMap::new();
        for (i, w) in fleet.workloads.iter().enumerate() {
            if let Some(key) = ObjectKey::of(w) {
                let (g, k, ns, n) = key.identity();
                live.insert(
                    (
                        g.to_owned(),
                        k.to_owned(),
                        ns.map(str::to_owned),
                        n.to_owned(),
                    ),
                    i,
                );
            }
        }
        let lookup = |key: &ObjectKey| -> Option<usize> {
            let (g, k, ns, n) = key.identity();
            live.get(&(
                g.to_owned(),
                k.to_owned(),
                ns.map(str::to_owned),
                n.to_owned(),
            ))
            .copied()
        };

        let mut apps: Vec<AppInfo> =
            fleet
                .applications
                .iter()
                .enumerate()
                .filter(|(_, a)| in_namespace(a.metadata.namespace.as_deref(), ns_filter))
                .filter_map(|(i, app)| {
                    let name = app.metadata.name.clone()?;
                    let namespace = app
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into());
                    let rendered = render::render(app);
                    let observe = |key: &ObjectKey| match lookup(key) {
                        Some(i) => fleet
                            .workloads
                            .get(i)
                            .map_or(Observation::Absent, Observation::Live),
                        None => Observation::Absent,
                    };
                    let mut status = status::summarize(&rendered, observe, app.metadata.generation);
                    objects::adopt_recorded_status(&mut status, app.status.as_ref(), |id| {
                        live.contains_key(&(
                            id.group.clone(),
                            id.kind.clone(),
                            Some(id.namespace.clone()).filter(|n| !n.is_empty()),
                            id.name.clone(),
                        ))
                    });
                    let objects = objects::object_infos(&rendered, &status, &lookup, fleet);
                    let lag = fleet
                        .lagging
                        .iter()
                        .find(|l| l.namespace == namespace && l.name == name)
                        .cloned();
                    let standings = status
                        .groups
                        .iter()
                        .filter_map(|g| {
                            status::group_standing(&status, &rendered, &g.name)
                                .map(|s| (g.name.clone(), s))
                        })
                        .map(|(group, mut standing)| {
                            // What runs may look right, but the engine has not
                            // caught up with the spec: no ✓ anywhere it counts.
                            if lag.is_some() && standing.verdict == Verdict::Available {
                                standing.verdict = Verdict::Progressing;
                            }
                            (group, standing)
                        })
                        .collect();
                    let mut targets: Vec<String> = app
                        .spec
                        .workload_scope
                        .target_node_groups
                        .iter()
                        .map(|t| t.name.clone())
                        .collect();
                    targets.extend(app.spec.workload_scope.target_node_labels.iter().map(|t| {
                        crate::engine::overrides::label_selector_suffix(&t.label_selector)
                    }));
                    Some(AppInfo {
                        namespace,
                        name,
                        object: i,
                        targets,
                        rendered,
                        status,
                        objects,
                        standings,
                        label_targets: !app.spec.workload_scope.target_node_labels.is_empty(),
                        lag,
                    })
                })
                .collect();
        apps.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));

        let group_names: Vec<String> = membership.statuses.keys().cloned().collect();
        let members: HashMap<&str, usize> = membership
            .statuses
            .iter()
            .map(|(name, status)| {
                let n = status
                    .node_statuses
                    .iter()
                    .filter(|s| s.selection_status == SelectionStatus::Succeeded)
                    .count();
                (name.as_str(), n)
            })
            .collect();
        let mut services: Vec<ServiceInfo> = fleet
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| in_namespace(s.metadata.namespace.as_deref(), ns_filter))
            .filter_map(|(i, svc)| {
                let name = svc.metadata.name.clone()?;
                let namespace = svc
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into());
                let slices: Vec<EndpointSlice> = fleet
                    .endpoint_slices
                    .iter()
                    .filter(|s| {
                        s.metadata.namespace.as_deref().unwrap_or("default") == namespace
                            && s.metadata
                                .labels
                                .as_ref()
                                .and_then(|l| l.get(LABEL_SERVICE_NAME))
                                .is_some_and(|n| *n == name)
                    })
                    .cloned()
                    .collect();
                let traffic = topology::service_traffic(&slices, &group_names, &index);
                // A Service no application renders may be meant anywhere:
                // every group counts as deployed, so no black hole is hidden.
                let owner = apps.iter().find(|a| a.renders_service(&namespace, &name));
                let local = traffic
                    .per_group
                    .iter()
                    .map(|t| {
                        let deployed = owner.is_none_or(|a| a.deployed_in(&t.group));
                        let nodes = members.get(t.group.as_str()).copied().unwrap_or(0);
                        topology::local_service(t, deployed, nodes)
                    })
                    .collect();
                Some(ServiceInfo {
                    namespace,
                    name,
                    object: i,
                    range_nodegroup: topology::is_range_nodegroup(svc),
                    traffic,
                    local,
                })
            })
            .collect();
        services.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));

        let object_of: BTreeMap<&str, usize> = fleet
            .node_groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.metadata.name.as_deref().map(|n| (n, i)))
            .collect();
        let mut groups: Vec<GroupInfo> = membership
            .statuses
            .iter()
            .map(|(name, status)| {
                let mut g = GroupInfo::new(name.clone(), object_of.get(name.as_str()).copied());
                g.statuses = status.node_statuses.clone();
                for s in &status.node_statuses {
                    if s.selection_status == SelectionStatus::Failed {
                        g.failed_selections += 1;
                        continue;
                    }
                    if let Some(&i) = node_pos.get(s.node_name.as_str()) {
                        g.members.push(i);
                    }
                    match s.ready_status {
                        ReadyStatus::Ready => g.ready += 1,
                        ReadyStatus::NotReady => g.not_ready += 1,
                        ReadyStatus::Unknown => g.unknown += 1,
                    }
                }
                for (ai, app) in apps.iter().enumerate() {
                    if let Some(s) = app.status.groups.iter().find(|s| s.name == *name) {
                        g.apps.push(ai);
                        g.workloads += usize::try_from(s.workloads).unwrap_or(0);
                        g.available_workloads +=
                            usize::try_from(s.available_workloads).unwrap_or(0);
                        if let Some(standing) = app.replicas_in(name) {
                            g.replicas = Some(match &g.replicas {
                                Some(sum) => sum.combine(standing),
                                None => standing.clone(),
                            });
                        }
                    } else if app.targets.iter().any(|t| t == name) {
                        g.apps.push(ai);
                    }
                }
                g.lagging_apps = g
                    .apps
                    .iter()
                    .filter(|&&ai| apps.get(ai).is_some_and(|a| a.lag.is_some()))
                    .count();
                g.black_holes = services
                    .iter()
                    .filter(|s| {
                        s.range_nodegroup
                            && s.local_in(name)
                                .is_some_and(|(_, l)| l == LocalService::BlackHole)
                    })
                    .count();
                g
            })
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));

        let ungrouped = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.group.is_none())
            .map(|(i, _)| i)
            .collect();

        let beats = heartbeats::compute(fleet, &nodes);
        let pod_places = pods::place(fleet, &nodes);
        Derived {
            version: fleet.version,
            beats,
            pod_places,
            membership,
            index,
            nodes,
            groups,
            ungrouped,
            apps,
            services,
        }
    }

    pub fn group(&self, name: &str) -> Option<&GroupInfo> {
        self.groups
            .binary_search_by(|g| g.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.groups.get(i))
    }

    pub fn app(&self, namespace: &str, name: &str) -> Option<&AppInfo> {
        self.apps
            .iter()
            .find(|a| a.namespace == namespace && a.name == name)
    }

    /// The ungrouped nodes as a pseudo-group row.
    pub fn ungrouped_info(&self) -> GroupInfo {
        let mut g = GroupInfo::new(UNGROUPED.into(), None);
        g.members = self.ungrouped.clone();
        for &i in &self.ungrouped {
            match self.nodes.get(i).map(|n| n.ready) {
                Some(ReadyStatus::Ready) => g.ready += 1,
                Some(ReadyStatus::NotReady) => g.not_ready += 1,
                _ => g.unknown += 1,
            }
        }
        g
    }
}

/// Name of the pseudo-group holding nodes in no group.
pub const UNGROUPED: &str = "(ungrouped)";
