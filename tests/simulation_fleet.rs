//! The simulator over the demo fleet, with a stand-in for the engine
//! (render the EdgeApplications, label nodes with their group): pods land in
//! their group, become ready, show up in EndpointSlices with node and zone;
//! a region going offline turns its pods unready and out of the ready
//! endpoints; nodes created later join; every step is idempotent.

use std::collections::{BTreeMap, BTreeSet};

use edgedeck::api::EdgeApplication;
use edgedeck::engine::render::render;
use edgedeck::simulation::{
    self, Config, Kind, Mutation, Offline, World, apply, kubelet, nodes, object, region_nodes, seed,
};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};

const BELONGING_TO: &str = "apps.kubeedge.io/belonging-to";

/// The demo seed plus what the engine would add: group labels on nodes
/// (and a zone on topology-enabled groups) and the rendered workloads.
fn demo_with_engine_output() -> Vec<Value> {
    let mut objects = seed::demo();
    let topology: BTreeSet<String> = objects
        .iter()
        .filter(|o| object::kind(o) == "NodeGroup")
        .filter(|o| o.pointer("/spec/topologyEnabled") == Some(&json!(true)))
        .map(|o| object::name(o).to_string())
        .collect();
    let mut rendered = Vec::new();
    for o in objects.iter_mut() {
        match object::kind(o) {
            "Node" => {
                if let Some(location) = object::label(o, seed::LABEL_LOCATION).map(str::to_string) {
                    o["metadata"]["labels"][BELONGING_TO] = json!(location);
                    if topology.contains(&location) {
                        o["metadata"]["labels"]["topology.kubernetes.io/zone"] = json!(location);
                    }
                }
            }
            "EdgeApplication" => {
                let app: EdgeApplication = serde_json::from_value(o.clone()).expect("decodes");
                for d in render(&app).objects {
                    let mut obj = d.object;
                    obj["metadata"]["generation"] = json!(1);
                    rendered.push(obj);
                }
            }
            _ => {}
        }
    }
    objects.extend(rendered);
    objects.retain(|o| Kind::of(o).is_some());
    objects
}

struct Sim {
    objects: Vec<Value>,
    offline: Offline,
    now: Timestamp,
    config: Config,
}

impl Sim {
    fn new(objects: Vec<Value>) -> Sim {
        Sim {
            objects,
            offline: Offline::new(),
            now: Timestamp::from_second(1_750_000_000).unwrap_or_default(),
            config: Config::default(),
        }
    }

    fn step(&self) -> Vec<Mutation> {
        let world = World::from_objects(self.objects.iter());
        simulation::step(&world, &self.offline, self.now, &self.config)
    }

    /// Advances the clock, steps, applies, and checks a second step is a no-op.
    fn tick(&mut self, seconds: i64) -> Vec<Mutation> {
        self.now = Timestamp::from_second(self.now.as_second() + seconds).unwrap_or(self.now);
        let mutations = self.step();
        apply(&mut self.objects, &mutations);
        let again = self.step();
        assert!(again.is_empty(), "step is not idempotent: {again:#?}");
        mutations
    }

    fn all(&self, kind: Kind) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|o| Kind::of(o) == Some(kind))
            .collect()
    }

    fn get(&self, kind: Kind, name: &str) -> &Value {
        self.all(kind)
            .into_iter()
            .find(|o| object::name(o) == name)
            .unwrap_or_else(|| panic!("{kind:?} {name} missing"))
    }

    fn node_group(&self, node: &str) -> Option<String> {
        self.all(Kind::Node)
            .into_iter()
            .find(|n| object::name(n) == node)
            .and_then(|n| object::label(n, BELONGING_TO).map(str::to_string))
    }

    /// Endpoints of a service's slices: (pod, node, zone, ready).
    fn slice_endpoints(&self, service: &str) -> Vec<(String, String, Option<String>, bool)> {
        let mut out = Vec::new();
        for slice in self.all(Kind::EndpointSlice) {
            if object::label(slice, "kubernetes.io/service-name") != Some(service) {
                continue;
            }
            for e in slice["endpoints"].as_array().cloned().unwrap_or_default() {
                out.push((
                    e["targetRef"]["name"].as_str().unwrap_or("").to_string(),
                    e["nodeName"].as_str().unwrap_or("").to_string(),
                    e["zone"].as_str().map(str::to_string),
                    e["conditions"]["ready"] == json!(true),
                ));
            }
        }
        out.sort();
        out
    }
}

#[test]
fn demo_fleet_converges_and_pods_stay_in_their_group() {
    let mut sim = Sim::new(demo_with_engine_output());
    sim.tick(0);
    let all_nodes = sim.all(Kind::Node);
    assert!(all_nodes.iter().all(|n| nodes::is_ready(n)));
    let pods = sim.all(Kind::Pod);
    assert!(!pods.is_empty());
    for pod in &pods {
        let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
        assert!(!node.is_empty(), "unbound: {}", object::name(pod));
        assert_eq!(pod["status"]["phase"], "Running");
        assert!(!kubelet::is_ready(pod), "ready too early");
        let wanted = pod.pointer("/spec/nodeSelector/apps.kubeedge.io~1belonging-to");
        if let Some(group) = wanted.and_then(Value::as_str) {
            assert_eq!(sim.node_group(node).as_deref(), Some(group));
        }
    }
    // Pod IPs are unique.
    let ips: BTreeSet<&str> = pods
        .iter()
        .filter_map(|p| p["status"]["podIP"].as_str())
        .collect();
    assert_eq!(ips.len(), pods.len());

    sim.tick(5);
    assert!(sim.all(Kind::Pod).iter().all(|p| kubelet::is_ready(p)));
    for d in sim.all(Kind::Deployment) {
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        assert_eq!(
            d["status"]["readyReplicas"].as_i64().unwrap_or(0),
            replicas,
            "{}",
            object::name(d)
        );
        assert_eq!(
            d["status"]["updatedReplicas"].as_i64().unwrap_or(0),
            replicas
        );
        assert_eq!(
            d["status"]["availableReplicas"].as_i64().unwrap_or(0),
            replicas
        );
        assert_eq!(d["status"]["observedGeneration"], 1);
        assert_eq!(object::condition_status(d, "Available"), Some("True"));
    }
    let ds = sim.get(Kind::DaemonSet, "node-metrics");
    let node_count = sim.all(Kind::Node).len() as i64;
    assert_eq!(ds["status"]["desiredNumberScheduled"], node_count);
    assert_eq!(ds["status"]["numberReady"], node_count);

    let nginx = sim.slice_endpoints("nginx");
    let nginx_pods: usize = sim
        .all(Kind::Pod)
        .iter()
        .filter(|p| object::label(p, "app") == Some("nginx"))
        .count();
    assert_eq!(nginx.len(), nginx_pods);
    for (pod, node, zone, ready) in &nginx {
        assert!(ready, "{pod}");
        let group = sim.node_group(node);
        let topology = matches!(group.as_deref(), Some("hangzhou" | "shanghai" | "beijing"));
        assert_eq!(zone.is_some(), topology, "{pod} on {node}");
    }
    let endpoints = sim.get(Kind::Endpoints, "nginx");
    let addresses = endpoints["subsets"][0]["addresses"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(addresses, nginx_pods);
    // Time passing without change only brings heartbeats.
    let later = sim.tick(30);
    assert!(later.is_empty(), "{later:#?}");
    let beats = sim.tick(60);
    assert!(beats.iter().all(|m| m.target().0 == "Node"));
}

#[test]
fn a_region_going_offline_turns_its_pods_unready_and_back() {
    let mut sim = Sim::new(demo_with_engine_output());
    sim.tick(0);
    sim.tick(5);
    let refs = sim.all(Kind::Node);
    let chengdu = region_nodes(&refs, seed::LABEL_LOCATION, "chengdu");
    assert_eq!(chengdu.len(), 3);
    sim.offline.take_offline(chengdu.clone(), sim.now);
    // Within the grace period nothing is known yet.
    assert!(sim.tick(10).is_empty());
    sim.tick(40);
    for name in &chengdu {
        let node = sim.get(Kind::Node, name);
        assert_eq!(object::condition_status(node, "Ready"), Some("Unknown"));
    }
    let on_chengdu = |sim: &Sim| -> Vec<(String, bool)> {
        sim.all(Kind::Pod)
            .iter()
            .filter(|p| chengdu.iter().any(|n| p["spec"]["nodeName"] == json!(n)))
            .map(|p| (object::name(p).to_string(), kubelet::is_ready(p)))
            .collect()
    };
    let pods = on_chengdu(&sim);
    assert!(!pods.is_empty());
    assert!(pods.iter().all(|(_, ready)| !ready));
    for (pod, node, _, ready) in sim.slice_endpoints("nginx") {
        assert_eq!(ready, !chengdu.contains(&node), "{pod}");
    }
    let endpoints = sim.get(Kind::Endpoints, "nginx");
    let not_ready: Vec<String> = endpoints["subsets"][0]["notReadyAddresses"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| a["nodeName"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!not_ready.is_empty());
    assert!(not_ready.iter().all(|n| chengdu.contains(n)));
    let ds = sim.get(Kind::DaemonSet, "node-metrics");
    let total = sim.all(Kind::Node).len() as i64;
    assert_eq!(ds["status"]["desiredNumberScheduled"], total);
    assert_eq!(ds["status"]["numberReady"], total - 3);
    let d = sim.get(Kind::Deployment, "nginx-chengdu");
    assert!(d["status"].get("readyReplicas").is_none());
    assert_eq!(object::condition_status(d, "Available"), Some("False"));

    // Back online: ready again.
    sim.offline.bring_online(chengdu.clone());
    sim.tick(1);
    assert!(on_chengdu(&sim).iter().all(|(_, ready)| *ready));
    assert!(sim.slice_endpoints("nginx").iter().all(|e| e.3));
    assert_eq!(
        sim.get(Kind::DaemonSet, "node-metrics")["status"]["numberReady"],
        total
    );
}

#[test]
fn nodes_created_later_join_like_seeded_ones() {
    let mut sim = Sim::new(demo_with_engine_output());
    sim.tick(0);
    sim.tick(5);
    sim.objects.push(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "hz-edge-99", "labels": {
            "kubernetes.io/os": "linux", "location": "hangzhou", BELONGING_TO: "hangzhou"}}}));
    sim.tick(1);
    let node = sim.get(Kind::Node, "hz-edge-99");
    assert!(nodes::is_ready(node));
    assert!(node["spec"]["podCIDR"].is_string());
    let metrics_here = sim
        .all(Kind::Pod)
        .into_iter()
        .filter(|p| p["spec"]["nodeName"] == json!("hz-edge-99"))
        .count();
    assert_eq!(metrics_here, 1, "the DaemonSet covers the new node");
    // Scaling up a group's Deployment stays in the group, on the least loaded nodes.
    for o in sim.objects.iter_mut() {
        if object::kind(o) == "Deployment" && object::name(o) == "nginx-hangzhou" {
            o["spec"]["replicas"] = json!(4);
            o["metadata"]["generation"] = json!(2);
        }
    }
    sim.tick(1);
    let hosts: Vec<String> = sim
        .all(Kind::Pod)
        .iter()
        .filter(|p| object::name(p).starts_with("nginx-hangzhou-"))
        .map(|p| p["spec"]["nodeName"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(hosts.len(), 4);
    assert_eq!(
        hosts.iter().collect::<BTreeSet<_>>().len(),
        4,
        "spread: {hosts:?}"
    );
    assert!(
        hosts
            .iter()
            .all(|h| sim.node_group(h).as_deref() == Some("hangzhou"))
    );
    sim.tick(5);
    let d = sim.get(Kind::Deployment, "nginx-hangzhou");
    assert_eq!(d["status"]["readyReplicas"], 4);
    assert_eq!(d["status"]["observedGeneration"], 2);
    // Deleting the node deletes its pods; the Deployment replaces them elsewhere.
    sim.objects
        .retain(|o| !(object::kind(o) == "Node" && object::name(o) == "hz-edge-99"));
    sim.tick(1);
    assert!(
        sim.all(Kind::Pod)
            .iter()
            .all(|p| p["spec"]["nodeName"] != json!("hz-edge-99"))
    );
    let nginx_hz = sim
        .all(Kind::Pod)
        .iter()
        .filter(|p| object::name(p).starts_with("nginx-hangzhou-"))
        .count();
    assert_eq!(nginx_hz, 4);
}

#[test]
fn pods_for_a_group_without_nodes_stay_pending_with_a_reason() {
    let mut objects = demo_with_engine_output();
    let mut stray = objects
        .iter()
        .find(|o| object::kind(o) == "Deployment" && object::name(o) == "nginx-beijing")
        .cloned()
        .expect("rendered");
    stray["metadata"]["name"] = json!("nginx-mars");
    stray["spec"]["template"]["spec"]["nodeSelector"] = json!({BELONGING_TO: "mars"});
    objects.push(stray);
    let mut sim = Sim::new(objects);
    sim.tick(0);
    let total = sim.all(Kind::Node).len();
    let pending: Vec<&Value> = sim
        .all(Kind::Pod)
        .into_iter()
        .filter(|p| object::name(p).starts_with("nginx-mars-"))
        .collect();
    assert_eq!(pending.len(), 2);
    for pod in pending {
        assert_eq!(pod["status"]["phase"], "Pending");
        let cond = object::condition(pod, "PodScheduled")
            .cloned()
            .unwrap_or_default();
        assert_eq!(cond["status"], "False");
        assert_eq!(cond["reason"], "Unschedulable");
        let message = cond["message"].as_str().unwrap_or("");
        assert!(
            message.starts_with(&format!("0/{total} nodes are available: ")),
            "{message}"
        );
        assert!(
            message.contains(
                "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
            ),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "{} node(s) didn't match Pod's node affinity/selector",
                total - 1
            )),
            "{message}"
        );
    }
}

#[test]
fn next_wakeup_points_at_readiness_and_heartbeats() {
    let mut sim = Sim::new(demo_with_engine_output());
    sim.tick(0);
    let world = World::from_objects(sim.objects.iter());
    let wake = simulation::next_wakeup(&world, &sim.offline, sim.now, &sim.config);
    assert_eq!(wake.map(|t| t.as_second()), Some(sim.now.as_second() + 3));
    sim.tick(3);
    let world = World::from_objects(sim.objects.iter());
    let wake = simulation::next_wakeup(&world, &sim.offline, sim.now, &sim.config);
    assert_eq!(wake.map(|t| t.as_second()), Some(sim.now.as_second() + 57));
}

/// An operation on the running fleet.
#[derive(Debug, Clone)]
enum Op {
    Wait(i64),
    ToggleNode(usize),
    ToggleRegion(usize),
    Scale(usize, i64),
    Image(usize, u8),
    DeleteNode(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..70).prop_map(Op::Wait),
        (0usize..64).prop_map(Op::ToggleNode),
        (0usize..8).prop_map(Op::ToggleRegion),
        ((0usize..32), (0i64..6)).prop_map(|(d, r)| Op::Scale(d, r)),
        ((0usize..32), any::<u8>()).prop_map(|(d, v)| Op::Image(d, v)),
        (0usize..64).prop_map(Op::DeleteNode),
    ]
}

fn invariants(sim: &Sim) {
    let nodes: BTreeMap<&str, &Value> = sim
        .all(Kind::Node)
        .into_iter()
        .map(|n| (object::name(n), n))
        .collect();
    let mut ips = BTreeSet::new();
    for pod in sim.all(Kind::Pod) {
        if let Some(node) = pod["spec"]["nodeName"].as_str() {
            let node = nodes
                .get(node)
                .unwrap_or_else(|| panic!("pod on missing node {node}"));
            if kubelet::is_ready(pod) {
                assert!(nodes::is_ready(node), "ready pod on unready node");
            }
        }
        if let Some(ip) = pod["status"]["podIP"].as_str() {
            assert!(ips.insert(ip.to_string()), "duplicate pod IP {ip}");
        }
    }
    for d in sim.all(Kind::Deployment) {
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let owned = sim
            .all(Kind::Pod)
            .iter()
            .filter(|p| object::is_controlled_by(p, d))
            .count() as i64;
        // Rolling updates surge by at most maxSurge (25%, rounded up, at least 1).
        let surge = ((replicas + 3) / 4).max(1);
        assert!(
            owned <= replicas + surge,
            "{}: {owned} pods for {replicas}",
            object::name(d)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_step_is_idempotent_and_consistent(ops in proptest::collection::vec(op(), 1..12)) {
        let mut sim = Sim::new(demo_with_engine_output());
        sim.tick(0);
        for op in ops {
            let node_names: Vec<String> = sim.all(Kind::Node).iter().map(|n| object::name(n).to_string()).collect();
            let deployments: Vec<String> = sim.all(Kind::Deployment).iter().map(|d| object::name(d).to_string()).collect();
            match op {
                Op::Wait(s) => {
                    sim.tick(s);
                }
                Op::ToggleNode(i) if !node_names.is_empty() => {
                    let name = node_names[i % node_names.len()].clone();
                    if sim.offline.contains(&name) {
                        sim.offline.bring_online([name]);
                    } else {
                        sim.offline.take_offline([name], sim.now);
                    }
                }
                Op::ToggleRegion(i) => {
                    let regions = ["hangzhou", "shanghai", "beijing", "shenzhen", "chengdu"];
                    let refs = sim.all(Kind::Node);
                    let names = region_nodes(&refs, seed::LABEL_LOCATION, regions[i % regions.len()]);
                    if names.iter().any(|n| sim.offline.contains(n)) {
                        sim.offline.bring_online(names);
                    } else {
                        sim.offline.take_offline(names, sim.now);
                    }
                }
                Op::Scale(d, r) if !deployments.is_empty() => {
                    let name = deployments[d % deployments.len()].clone();
                    for o in sim.objects.iter_mut() {
                        if object::kind(o) == "Deployment" && object::name(o) == name {
                            o["spec"]["replicas"] = json!(r);
                        }
                    }
                }
                Op::Image(d, v) if !deployments.is_empty() => {
                    let name = deployments[d % deployments.len()].clone();
                    for o in sim.objects.iter_mut() {
                        if object::kind(o) == "Deployment" && object::name(o) == name {
                            o["spec"]["template"]["spec"]["containers"][0]["image"] = json!(format!("img:{v}"));
                            let g = object::generation(o);
                            o["metadata"]["generation"] = json!(g + 1);
                        }
                    }
                }
                Op::DeleteNode(i) if !node_names.is_empty() => {
                    let name = node_names[i % node_names.len()].clone();
                    sim.objects.retain(|o| !(object::kind(o) == "Node" && object::name(o) == name));
                }
                _ => {}
            }
            sim.tick(1);
            invariants(&sim);
        }
        // Once the dust settles, everything is online and converged.
        let all: Vec<String> = sim.offline.names().into_iter().collect();
        sim.offline.bring_online(all);
        for _ in 0..30 {
            sim.tick(5);
        }
        for d in sim.all(Kind::Deployment) {
            let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
            let group = d.pointer("/spec/template/spec/nodeSelector/apps.kubeedge.io~1belonging-to").and_then(Value::as_str);
            let has_nodes = sim.all(Kind::Node).iter().any(|n| object::label(n, BELONGING_TO) == group);
            if has_nodes {
                prop_assert_eq!(d["status"]["updatedReplicas"].as_i64().unwrap_or(0), replicas, "{}", object::name(d));
                prop_assert_eq!(d["status"]["readyReplicas"].as_i64().unwrap_or(0), replicas, "{}", object::name(d));
            }
        }
    }
}
