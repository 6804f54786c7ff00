//! A fixed fleet for tests, snapshots and demos: the KubeEdge proposal
//! (hangzhou with 2 nodes, beijing with 3, nginx-app) plus a NotReady node,
//! a group nginx-app does not target, so its range-nodegroup Service is
//! "not deployed" there rather than a black hole (shanghai), an ungrouped
//! node and a second
//! application with a Secret. Variants with the conditions of issue #10
//! (a failed render, stale live counts, an empty group). Also a large
//! synthetic fleet for virtualization tests and benchmarks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::{Value, json};

use super::model::{ConnectionState, Fleet};
use crate::api::{EdgeApplication, NodeGroup};
use crate::controllers::events::{EngineEvent, Outcome, Source};

/// The fixture's "now": events are a few seconds to minutes before it.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn node(name: &str, location: Option<&str>, ready: &str) -> Node {
    let mut labels = serde_json::Map::new();
    if let Some(l) = location {
        labels.insert("location".into(), l.into());
        labels.insert("apps.kubeedge.io/belonging-to".into(), l.into());
    }
    labels.insert("kubernetes.io/hostname".into(), name.into());
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": ready}]}
    }))
    .unwrap_or_default()
}

fn group(name: &str) -> NodeGroup {
    serde_json::from_value(json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"matchLabels": {"location": name}}
    }))
    .unwrap_or_else(|_| NodeGroup::new(name, Default::default()))
}

fn nginx_app() -> Value {
    json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
        "metadata": {"name": "nginx-app", "namespace": "default", "resourceVersion": "100",
                     "generation": 1, "uid": "6b1d7c2e-0000-4000-8000-000000000001"},
        "spec": {
            "workloadTemplate": {"manifests": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx"},
                 "spec": {"selector": {"matchLabels": {"app": "nginx"}},
                          "template": {"metadata": {"labels": {"app": "nginx"}},
                                       "spec": {"containers": [{"name": "nginx", "image": "nginx:latest",
                                                                "ports": [{"containerPort": 80}]}]}}}},
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nginx-service"},
                 "spec": {"selector": {"app": "nginx"},
                          "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}],
                          "type": "ClusterIP"}}
            ]},
            "workloadScope": {"targetNodeGroups": [
                {"name": "hangzhou", "overriders": {"replicas": 2, "imageOverriders": [
                    {"component": "Registry", "operator": "replace", "value": "hangzhou.registry.io"}]}},
                {"name": "beijing", "overriders": {"replicas": 3, "imageOverriders": [
                    {"component": "Registry", "operator": "replace", "value": "beijing.registry.io"}]}}
            ]}
        }
    })
}

fn telemetry_app() -> Value {
    json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
        "metadata": {"name": "telemetry", "namespace": "edge", "resourceVersion": "200", "generation": 2},
        "spec": {
            "workloadTemplate": {"manifests": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "telemetry"},
                 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "telemetry"}},
                          "template": {"metadata": {"labels": {"app": "telemetry"}},
                                       "spec": {"containers": [{"name": "agent", "image": "reg.io/telemetry:1.4"}]}}}},
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "telemetry-token"},
                 "data": {"token": "c3VwZXItc2VjcmV0"}}
            ]},
            "workloadScope": {"targetNodeGroups": [{"name": "beijing"}, {"name": "shanghai"}]}
        }
    })
}

fn deployment(ns: &str, name: &str, app: &str, replicas: i64, ready: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "generation": 1,
                     "labels": {"apps.kubeedge.io/edgeapplication-name": app}},
        "spec": {"replicas": replicas, "template": {"spec": {"nodeSelector": {
            "apps.kubeedge.io/belonging-to": name.rsplit('-').next().unwrap_or_default()}}}},
        "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                   "readyReplicas": ready, "availableReplicas": ready}
    })
}

fn endpoint(node: &str, ip: &str, ready: bool) -> Value {
    json!({"addresses": [ip], "nodeName": node, "conditions": {"ready": ready},
           "targetRef": {"kind": "Pod", "namespace": "default", "name": format!("nginx-{node}"),
                         "uid": format!("uid-{node}")}})
}

fn event(secs_ago: u64, source: Source, object: &str, outcome: Outcome) -> EngineEvent {
    EngineEvent {
        at: now() - Duration::from_secs(secs_ago),
        source,
        object: object.into(),
        outcome,
        repeats: 0,
    }
}

fn from<T: serde::de::DeserializeOwned + Default>(v: Value) -> T {
    serde_json::from_value(v).unwrap_or_default()
}

fn app(v: Value) -> EdgeApplication {
    serde_json::from_value(v)
        .unwrap_or_else(|_| EdgeApplication::new("invalid", Default::default()))
}

/// The demo fleet.
pub fn demo_fleet() -> Fleet {
    let nodes = vec![
        node("node-a", Some("hangzhou"), "True"),
        node("node-b", Some("hangzhou"), "True"),
        node("node-c", Some("beijing"), "True"),
        node("node-d", Some("beijing"), "True"),
        node("node-e", Some("beijing"), "False"),
        node("node-f", Some("shanghai"), "True"),
        node("node-g", None, "True"),
    ];
    let node_groups = vec![group("hangzhou"), group("beijing"), group("shanghai")];
    let applications: Vec<EdgeApplication> = vec![app(nginx_app()), app(telemetry_app())];
    let workloads = vec![
        deployment("default", "nginx-hangzhou", "nginx-app", 2, 2),
        deployment("default", "nginx-beijing", "nginx-app", 3, 2),
        deployment("edge", "telemetry-beijing", "telemetry", 1, 1),
        deployment("edge", "telemetry-shanghai", "telemetry", 1, 0),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "nginx-service", "namespace": "default",
                            "annotations": {"apps.kubeedge.io/service-topology": "range-nodegroup"}},
               "spec": {"ports": [{"port": 80}]}}),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "telemetry-token", "namespace": "edge"},
               "data": {"token": "c3VwZXItc2VjcmV0"}}),
    ];
    let services: Vec<Service> = vec![
        from(
            json!({"metadata": {"name": "nginx-service", "namespace": "default",
                                 "annotations": {"apps.kubeedge.io/service-topology": "range-nodegroup"}},
                    "spec": {"ports": [{"port": 80}], "selector": {"app": "nginx"}}}),
        ),
        from(
            json!({"metadata": {"name": "kubernetes", "namespace": "default"},
                    "spec": {"ports": [{"port": 443}]}}),
        ),
    ];
    let endpoint_slices: Vec<EndpointSlice> = vec![from(json!({
        "metadata": {"name": "nginx-service-abc12", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "nginx-service"}},
        "addressType": "IPv4",
        "endpoints": [
            endpoint("node-a", "10.0.1.1", true),
            endpoint("node-b", "10.0.1.2", true),
            endpoint("node-c", "10.0.2.1", true),
            endpoint("node-d", "10.0.2.2", true),
            endpoint("node-e", "10.0.2.3", false)
        ]
    }))];
    let events = vec![
        event(
            300,
            Source::Leader,
            "",
            Outcome::Leadership {
                holder: Some("edgedeck-engine-0".into()),
                we_lead: true,
            },
        ),
        event(
            240,
            Source::NodeGroup,
            "hangzhou",
            Outcome::Reconciled {
                changes: vec!["labelled node-a, node-b".into()],
            },
        ),
        event(
            200,
            Source::NodeGroup,
            "beijing",
            Outcome::Reconciled {
                changes: vec!["labelled node-c, node-d, node-e".into()],
            },
        ),
        event(
            90,
            Source::EdgeApplication,
            "default/nginx-app",
            Outcome::Reconciled {
                changes: vec![
                    "applied Deployment default/nginx-hangzhou".into(),
                    "applied Deployment default/nginx-beijing".into(),
                ],
            },
        ),
        event(
            30,
            Source::EdgeApplication,
            "edge/telemetry",
            Outcome::Failed {
                reason: "Deployment edge/telemetry-shanghai: 0 of 1 replicas ready".into(),
            },
        ),
        event(
            5,
            Source::EdgeApplication,
            "default/nginx-app",
            Outcome::Reconciled { changes: vec![] },
        ),
    ];
    Fleet {
        version: 1,
        context: "embedded".into(),
        namespace: None,
        nodes,
        node_groups,
        applications,
        workloads,
        services,
        endpoint_slices,
        events,
        lease_holder: Some("edgedeck-engine-0".into()),
        connection: ConnectionState::Connected,
        engine: String::new(),
        engine_stats: None,
        lagging: Vec::new(),
        offline: Default::default(),
        controls: false,
        pods: super::fixture_pods::pods(),
        cluster_events: super::fixture_pods::cluster_events(),
        node_leases: super::fixture_pods::node_leases(),
    }
}

/// The demo fleet with counts that used to contradict each other:
/// nginx-app's beijing target fails to render (replicas -1) while its
/// previous Deployment keeps 5 pods running; nginx-hangzhou still runs the
/// 4 replicas of its old spec (the engine has not applied the 2 it renders
/// yet, as after a reconnect); telemetry-beijing's new generation is not yet
/// observed by its controller.
pub fn contradicting_counts_fleet() -> Fleet {
    let mut nginx = nginx_app();
    nginx["spec"]["workloadScope"]["targetNodeGroups"][1]["overriders"]["replicas"] = json!(-1);
    let mut telemetry_beijing = deployment("edge", "telemetry-beijing", "telemetry", 1, 1);
    telemetry_beijing["metadata"]["generation"] = json!(2);
    let mut fleet = demo_fleet();
    fleet.applications[0] = app(nginx);
    fleet.workloads[0] = deployment("default", "nginx-hangzhou", "nginx-app", 4, 4);
    fleet.workloads[1] = deployment("default", "nginx-beijing", "nginx-app", 5, 5);
    fleet.workloads[2] = telemetry_beijing;
    fleet
}

/// The demo fleet plus chengdu, a NodeGroup that selects no node, which
/// nginx-app (and so its range-nodegroup Service) targets.
pub fn empty_group_fleet() -> Fleet {
    let mut nginx = nginx_app();
    if let Some(targets) = nginx["spec"]["workloadScope"]["targetNodeGroups"].as_array_mut() {
        targets.push(json!({"name": "chengdu"}));
    }
    let mut fleet = demo_fleet();
    fleet.applications[0] = app(nginx);
    fleet.node_groups.push(group("chengdu"));
    fleet
}

/// `groups` groups with `nodes` nodes spread over them, one app per 10 groups.
pub fn scale_fleet(groups: usize, nodes: usize) -> Fleet {
    let names: Vec<String> = (0..groups).map(|g| format!("region-{g:04}")).collect();
    let node_list = (0..nodes)
        .map(|n| {
            let g = names.get(n % groups.max(1)).map(String::as_str);
            node(
                &format!("edge-{n:05}"),
                g,
                if n % 97 == 0 { "False" } else { "True" },
            )
        })
        .collect();
    let node_groups = names.iter().map(|n| group(n)).collect();
    let applications = (0..groups.div_ceil(10))
        .map(|a| {
            let targets: Vec<Value> = names
                .iter()
                .skip(a * 10)
                .take(10)
                .map(|n| json!({"name": n, "overriders": {"replicas": 2}}))
                .collect();
            app(json!({
                "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
                "metadata": {"name": format!("app-{a:03}"), "namespace": "default", "resourceVersion": "1"},
                "spec": {"workloadTemplate": {"manifests": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("app-{a:03}")},
                     "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}}]},
                         "workloadScope": {"targetNodeGroups": targets}}
            }))
        })
        .collect();
    Fleet {
        version: 1,
        context: "scale".into(),
        nodes: node_list,
        node_groups,
        applications,
        ..Fleet::default()
    }
}
