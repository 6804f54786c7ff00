//! Seeds for the embedded cluster: `demo` (a believable small fleet),
//! `empty` (namespaces only) and `scale` (benchmarks).
//!
//! Seeds hold what users author, never engine output: no `belonging-to`
//! labels, no per-group workloads, no zone labels (the engine adds those).
//! Nodes carry labels only; the simulator initialises their status exactly
//! as for nodes created through the API. The NodeGroup and EdgeApplication
//! CRDs are not part of a seed: the driver installs [`crate::api::crds`]
//! first. Namespaces the store already creates (`default`, `kube-system`)
//! are included so a seed is complete on its own; drivers treat
//! AlreadyExists as success. Output is deterministic.

use serde_json::{Value, json};

use crate::api::API_VERSION;

/// The label demo and scale nodes carry their region in (NodeGroups select on it).
pub const LABEL_LOCATION: &str = "location";
/// Namespace of the demo EdgeApplications.
pub const DEMO_NAMESPACE: &str = "edge-apps";
/// Namespace of the scale EdgeApplications.
pub const SCALE_NAMESPACE: &str = "bench";

/// Which seed to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    Demo,
    Empty,
    Scale {
        nodes: usize,
        groups: usize,
        apps: usize,
    },
}

impl Seed {
    pub fn objects(self) -> Vec<Value> {
        match self {
            Seed::Demo => demo(),
            Seed::Empty => empty(),
            Seed::Scale {
                nodes,
                groups,
                apps,
            } => scale(nodes, groups, apps),
        }
    }
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// Just the namespaces every cluster has.
pub fn empty() -> Vec<Value> {
    vec![namespace("default"), namespace("kube-system")]
}

fn edge_node(name: &str, location: &str, arch: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/arch": arch,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/edge": "",
                LABEL_LOCATION: location,
            },
        },
    })
}

fn node_group(name: &str, location: &str, topology: bool) -> Value {
    let mut spec = json!({"matchLabels": {LABEL_LOCATION: location}});
    if topology {
        spec["topologyEnabled"] = json!(true);
    }
    json!({"apiVersion": API_VERSION, "kind": "NodeGroup", "metadata": {"name": name}, "spec": spec})
}

/// Regions of the demo fleet: (location / group, node prefix, nodes, arch of
/// every n-th node, topologyEnabled).
const DEMO_REGIONS: [(&str, &str, usize, usize, bool); 5] = [
    ("hangzhou", "hz", 6, 0, true),
    ("shanghai", "sh", 5, 0, true),
    ("beijing", "bj", 4, 0, true),
    ("shenzhen", "sz", 7, 3, false),
    ("chengdu", "cd", 3, 1, false),
];

fn nginx_app() -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "EdgeApplication",
        "metadata": {"name": "nginx-app", "namespace": DEMO_NAMESPACE},
        "spec": {
            "workloadTemplate": {"manifests": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": "nginx"}},
                        "template": {
                            "metadata": {"labels": {"app": "nginx"}},
                            "spec": {
                                "containers": [{
                                    "name": "nginx",
                                    "image": "nginx:1.27.3",
                                    "ports": [{"name": "http", "containerPort": 80}],
                                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                                                  "limits": {"memory": "128Mi"}},
                                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                                    "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d"}],
                                }],
                                "volumes": [{"name": "conf", "configMap": {"name": "nginx-conf"}}],
                            },
                        },
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
                    "spec": {
                        "selector": {"app": "nginx"},
                        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"}],
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "nginx-conf"},
                    "data": {"default.conf": "server {\n  listen 80;\n  location /healthz { return 200 'ok'; }\n  location / { root /usr/share/nginx/html; }\n}\n"},
                },
            ]},
            "workloadScope": {"targetNodeGroups": [
                {"name": "hangzhou", "overriders": {
                    "replicas": 3,
                    "imageOverriders": [{"component": "Registry", "operator": "replace", "value": "registry.hangzhou.edge.example.com"}],
                }},
                {"name": "shanghai", "overriders": {
                    "imageOverriders": [{"component": "Registry", "operator": "replace", "value": "registry.shanghai.edge.example.com"}],
                }},
                {"name": "beijing", "overriders": {
                    "replicas": 2,
                    "envOverriders": [{"containerName": "nginx", "operator": "add",
                                       "value": [{"name": "NGINX_ENTRYPOINT_QUIET_LOGS", "value": "1"}]}],
                }},
                {"name": "shenzhen", "overriders": {"replicas": 4}},
                {"name": "chengdu", "overriders": {
                    "replicas": 1,
                    "imageOverriders": [{"component": "Tag", "operator": "replace", "value": "1.27.3-alpine"}],
                }},
            ]},
        },
    })
}

fn video_analytics() -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "EdgeApplication",
        "metadata": {"name": "video-analytics", "namespace": DEMO_NAMESPACE},
        "spec": {
            "workloadTemplate": {"manifests": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "video-analytics", "labels": {"app": "video-analytics"}},
                    "spec": {
                        "replicas": 1,
                        "selector": {"matchLabels": {"app": "video-analytics"}},
                        "template": {
                            "metadata": {"labels": {"app": "video-analytics"}},
                            "spec": {
                                "containers": [{
                                    "name": "analyzer",
                                    "image": "registry.example.com/vision/video-analytics:2.4.1",
                                    "args": ["--config=/etc/analytics/cameras.yaml"],
                                    "env": [
                                        {"name": "MODEL", "value": "yolov8n"},
                                        {"name": "STREAMS", "value": "4"},
                                    ],
                                    "ports": [{"name": "http", "containerPort": 8080},
                                              {"name": "metrics", "containerPort": 9090}],
                                    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                                                  "limits": {"cpu": "2", "memory": "1Gi"}},
                                    "volumeMounts": [{"name": "config", "mountPath": "/etc/analytics"}],
                                }],
                                "volumes": [{"name": "config", "configMap": {"name": "video-analytics-config"}}],
                            },
                        },
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "video-analytics", "labels": {"app": "video-analytics"}},
                    "spec": {
                        "selector": {"app": "video-analytics"},
                        "ports": [
                            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"},
                            {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090},
                        ],
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "video-analytics-config"},
                    "data": {"cameras.yaml": "cameras:\n  - name: gate\n    url: rtsp://camera-gate.local/stream1\n  - name: dock\n    url: rtsp://camera-dock.local/stream1\nthreshold: 0.6\n"},
                },
            ]},
            "workloadScope": {"targetNodeGroups": [
                {"name": "hangzhou", "overriders": {
                    "replicas": 2,
                    "envOverriders": [{"containerName": "analyzer", "operator": "replace",
                                       "value": [{"name": "MODEL", "value": "yolov8s"}]}],
                }},
                {"name": "shenzhen", "overriders": {
                    "replicas": 3,
                    "resourcesOverriders": [{"containerName": "analyzer", "value": {
                        "requests": {"cpu": "1", "memory": "1Gi"},
                        "limits": {"cpu": "4", "memory": "2Gi"},
                    }}],
                }},
                {"name": "chengdu", "overriders": {
                    "replicas": 1,
                    "imageOverriders": [{"component": "Tag", "operator": "replace", "value": "2.4.1-arm64"}],
                    "envOverriders": [{"containerName": "analyzer", "operator": "add",
                                       "value": [{"name": "ACCELERATOR", "value": "npu"}]}],
                }},
            ]},
        },
    })
}

/// A plain DaemonSet and Service (not from an EdgeApplication, so without
/// the `range-nodegroup` annotation): every node's metrics endpoint.
fn node_metrics() -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "node-metrics", "namespace": "kube-system", "labels": {"app": "node-metrics"}},
            "spec": {
                "selector": {"matchLabels": {"app": "node-metrics"}},
                "template": {
                    "metadata": {"labels": {"app": "node-metrics"}},
                    "spec": {
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
                        "hostNetwork": false,
                        "containers": [{
                            "name": "node-exporter",
                            "image": "quay.io/prometheus/node-exporter:v1.8.2",
                            "args": ["--path.rootfs=/host"],
                            "ports": [{"name": "metrics", "containerPort": 9100}],
                            "resources": {"requests": {"cpu": "10m", "memory": "24Mi"},
                                          "limits": {"memory": "64Mi"}},
                        }],
                    },
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "node-metrics", "namespace": "kube-system", "labels": {"app": "node-metrics"}},
            "spec": {
                "selector": {"app": "node-metrics"},
                "ports": [{"name": "metrics", "protocol": "TCP", "port": 9100, "targetPort": "metrics"}],
            },
        }),
    ]
}

/// Five regions (3–7 nodes each, labelled `location=<region>`), a control
/// node in no group, one NodeGroup per region, two EdgeApplications and a
/// plain node-metrics DaemonSet with its Service.
pub fn demo() -> Vec<Value> {
    let mut out = empty();
    out.push(namespace(DEMO_NAMESPACE));
    out.push(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": "control-01",
            "labels": {
                "kubernetes.io/hostname": "control-01",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
            },
        },
        "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
    }));
    for (location, prefix, count, arm_every, _) in DEMO_REGIONS {
        for i in 1..=count {
            let arm = arm_every > 0 && i % arm_every == 0;
            let arch = if arm { "arm64" } else { "amd64" };
            out.push(edge_node(&format!("{prefix}-edge-{i:02}"), location, arch));
        }
    }
    for (location, _, _, _, topology) in DEMO_REGIONS {
        out.push(node_group(location, location, topology));
    }
    out.extend(node_metrics());
    out.push(nginx_app());
    out.push(video_analytics());
    out
}

/// Groups each scale application targets (a window of groups, so the
/// generated workload count stays `apps × min(groups, 20)`).
pub const SCALE_GROUPS_PER_APP: usize = 20;

/// `nodes` edge nodes spread round-robin over `groups` regions (one
/// NodeGroup each) and `apps` EdgeApplications (Deployment + Service +
/// ConfigMap), each targeting a window of up to [`SCALE_GROUPS_PER_APP`]
/// groups with `replicas: 1`.
pub fn scale(nodes: usize, groups: usize, apps: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(nodes + groups + apps + 3);
    out.extend(empty());
    out.push(namespace(SCALE_NAMESPACE));
    let group_name = |g: usize| format!("region-{g:04}");
    for i in 0..nodes {
        let location = if groups == 0 {
            "unassigned".to_string()
        } else {
            group_name(i % groups)
        };
        out.push(edge_node(&format!("edge-{i:05}"), &location, "amd64"));
    }
    for g in 0..groups {
        out.push(node_group(&group_name(g), &group_name(g), false));
    }
    for a in 0..apps {
        let name = format!("app-{a:03}");
        let first = (a * groups).checked_div(apps).unwrap_or(0);
        let targets: Vec<Value> = (0..groups.min(SCALE_GROUPS_PER_APP))
            .map(|k| json!({"name": group_name((first + k) % groups.max(1)), "overriders": {"replicas": 1}}))
            .collect();
        out.push(json!({
            "apiVersion": API_VERSION,
            "kind": "EdgeApplication",
            "metadata": {"name": name, "namespace": SCALE_NAMESPACE},
            "spec": {
                "workloadTemplate": {"manifests": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": name},
                        "spec": {
                            "replicas": 1,
                            "selector": {"matchLabels": {"app": name}},
                            "template": {
                                "metadata": {"labels": {"app": name}},
                                "spec": {"containers": [{
                                    "name": "app",
                                    "image": format!("registry.example.com/bench/{name}:1.0.{a}"),
                                    "ports": [{"name": "http", "containerPort": 8080}],
                                }]},
                            },
                        },
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": name},
                        "spec": {"selector": {"app": name},
                                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": format!("{name}-config")},
                        "data": {"app.properties": format!("app.name={name}\nlog.level=info\n")},
                    },
                ]},
                "workloadScope": {"targetNodeGroups": targets},
            },
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::simulation::object;

    fn kinds(objects: &[Value]) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for o in objects {
            *out.entry(object::kind(o).to_string()).or_default() += 1;
        }
        out
    }

    #[test]
    fn demo_fleet_shape() {
        let objects = demo();
        let nodes: Vec<&Value> = objects
            .iter()
            .filter(|o| object::kind(o) == "Node")
            .collect();
        let mut per_region: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &nodes {
            if let Some(l) = object::label(n, LABEL_LOCATION) {
                *per_region.entry(l).or_default() += 1;
            }
        }
        assert!((4..=6).contains(&per_region.len()));
        assert!(per_region.values().all(|n| (3..=8).contains(n)));
        let unlabelled: Vec<&str> = nodes
            .iter()
            .filter(|n| object::label(n, LABEL_LOCATION).is_none())
            .map(|n| object::name(n))
            .collect();
        assert_eq!(unlabelled, ["control-01"]);
        let k = kinds(&objects);
        assert_eq!(k["NodeGroup"], per_region.len());
        assert_eq!(k["EdgeApplication"], 2);
        assert_eq!(k["DaemonSet"], 1);
        let names: BTreeSet<String> = objects
            .iter()
            .map(|o| {
                format!(
                    "{}/{}/{}",
                    object::kind(o),
                    object::namespace(o),
                    object::name(o)
                )
            })
            .collect();
        assert_eq!(names.len(), objects.len(), "duplicate objects");
        assert_eq!(demo(), objects, "deterministic");
    }

    #[test]
    fn scale_counts() {
        let objects = scale(1_000, 50, 10);
        let k = kinds(&objects);
        assert_eq!(k["Node"], 1_000);
        assert_eq!(k["NodeGroup"], 50);
        assert_eq!(k["EdgeApplication"], 10);
        let tiny = kinds(&scale(3, 0, 2));
        assert_eq!(tiny["Node"], 3);
        assert!(!tiny.contains_key("NodeGroup"));
        assert_eq!(Seed::Empty.objects().len(), 2);
    }
}
