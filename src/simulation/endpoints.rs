//! The EndpointSlice and Endpoints controllers: for every Service with a
//! selector, the matching pods that have an IP become endpoints (ready,
//! serving, terminating; nodeName; zone from the node's
//! `topology.kubernetes.io/zone`; targetRef), in EndpointSlices of at most
//! [`MAX_ENDPOINTS_PER_SLICE`] grouped by resolved ports, and in the legacy
//! Endpoints object.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde_json::{Map, Value, json};

use super::Mutation;
use super::kubelet::is_ready;
use super::object;
use super::scheduler::node_name;

pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// On Endpoints the controller writes (tells the mirroring controller to skip them).
pub const LABEL_SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// A Service port resolved against a pod: `(name, port, protocol)`.
type Port = (String, i64, String);

/// Whether the Service is one the controllers manage (a non-empty selector, not ExternalName).
fn selector_of(service: &Value) -> Option<BTreeMap<&str, &str>> {
    if object::str_at(service, "/spec/type") == Some("ExternalName") {
        return None;
    }
    let selector = object::string_map(service.pointer("/spec/selector"));
    (!selector.is_empty()).then_some(selector)
}

/// Service ports resolved for `pod`: numeric targetPort as is, a named one
/// looked up among the pod's container ports (ports that do not resolve are
/// left out), no targetPort means `port`.
pub fn resolve_ports(service: &Value, pod: &Value) -> Vec<Port> {
    let Some(ports) = service.pointer("/spec/ports").and_then(Value::as_array) else {
        return Vec::new();
    };
    let container_ports: Vec<&Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("ports").and_then(Value::as_array))
                .flatten()
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for port in ports {
        let name = port
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let protocol = port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_string();
        let number = match port.get("targetPort") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => match s.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => container_ports
                    .iter()
                    .find(|cp| cp.get("name").and_then(Value::as_str) == Some(s.as_str()))
                    .and_then(|cp| cp.get("containerPort"))
                    .and_then(Value::as_i64),
            },
            _ => port.get("port").and_then(Value::as_i64),
        };
        if let Some(number) = number {
            out.push((name, number, protocol));
        }
    }
    out
}

fn port_json(ports: &[Port]) -> Vec<Value> {
    ports
        .iter()
        .map(|(name, port, protocol)| {
            let mut p = Map::new();
            if !name.is_empty() {
                p.insert("name".into(), json!(name));
            }
            p.insert("port".into(), json!(port));
            p.insert("protocol".into(), json!(protocol));
            Value::Object(p)
        })
        .collect()
}

fn target_ref(pod: &Value) -> Value {
    let mut r = Map::new();
    r.insert("kind".into(), json!("Pod"));
    r.insert("namespace".into(), json!(object::namespace(pod)));
    r.insert("name".into(), json!(object::name(pod)));
    if let Some(uid) = object::uid(pod) {
        r.insert("uid".into(), json!(uid));
    }
    Value::Object(r)
}

struct Member<'p> {
    pod: &'p Value,
    ip: &'p str,
    ready: bool,
    serving: bool,
    terminating: bool,
}

/// The pods a Service selects that can be endpoints (have an IP, are not finished).
fn members<'p>(
    service: &Value,
    selector: &BTreeMap<&str, &str>,
    pods: &[&'p Value],
) -> Vec<Member<'p>> {
    let publish = service
        .pointer("/spec/publishNotReadyAddresses")
        .and_then(Value::as_bool)
        == Some(true);
    let mut out: Vec<Member<'p>> = pods
        .iter()
        .filter(|p| {
            let labels = object::labels(p);
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .filter(|p| {
            !matches!(
                object::str_at(p, "/status/phase"),
                Some("Succeeded" | "Failed")
            )
        })
        .filter_map(|p| {
            let ip = object::str_at(p, "/status/podIP").filter(|ip| !ip.is_empty())?;
            let terminating = object::is_deleting(p);
            let serving = publish || is_ready(p);
            Some(Member {
                pod: p,
                ip,
                ready: serving && !terminating,
                serving,
                terminating,
            })
        })
        .collect();
    out.sort_by(|a, b| object::name(a.pod).cmp(object::name(b.pod)));
    out
}

fn owner_ref(service: &Value) -> Value {
    let mut r = object::owner_reference(service);
    if let Some(map) = r.as_object_mut() {
        map.insert("apiVersion".into(), json!("v1"));
        map.insert("kind".into(), json!("Service"));
    }
    r
}

fn desired_slices(
    service: &Value,
    members: &[Member<'_>],
    nodes: &BTreeMap<&str, &Value>,
) -> Vec<Value> {
    let svc = object::name(service);
    let ns = object::namespace(service);
    let mut groups: BTreeMap<Vec<Port>, Vec<&Member<'_>>> = BTreeMap::new();
    for m in members {
        groups
            .entry(resolve_ports(service, m.pod))
            .or_default()
            .push(m);
    }
    let mut slices = Vec::new();
    let mut make = |ports: Option<&[Port]>, chunk: usize, endpoints: Vec<Value>| {
        let port_key = ports.map(|p| format!("{p:?}")).unwrap_or_default();
        let suffix = object::safe_suffix(&[ns, svc, &port_key, &chunk.to_string()], 5);
        let mut slice = json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": format!("{svc}-{suffix}"),
                "namespace": ns,
                "labels": {LABEL_SERVICE_NAME: svc, LABEL_MANAGED_BY: MANAGED_BY},
                "ownerReferences": [owner_ref(service)],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
        });
        if let Some(ports) = ports {
            slice["ports"] = Value::Array(port_json(ports));
        }
        slices.push(slice);
    };
    if groups.is_empty() {
        make(None, 0, Vec::new());
    }
    for (ports, group) in &groups {
        for (chunk, part) in group.chunks(MAX_ENDPOINTS_PER_SLICE).enumerate() {
            let endpoints = part
                .iter()
                .map(|m| {
                    let mut e = Map::new();
                    e.insert("addresses".into(), json!([m.ip]));
                    e.insert(
                        "conditions".into(),
                        json!({"ready": m.ready, "serving": m.serving, "terminating": m.terminating}),
                    );
                    if let (Some(host), Some(sub)) = (
                        object::str_at(m.pod, "/spec/hostname"),
                        object::str_at(m.pod, "/spec/subdomain"),
                    ) && sub == svc
                    {
                        e.insert("hostname".into(), json!(host));
                    }
                    if let Some(node) = node_name(m.pod) {
                        e.insert("nodeName".into(), json!(node));
                        if let Some(zone) = nodes.get(node).and_then(|n| object::label(n, LABEL_ZONE)) {
                            e.insert("zone".into(), json!(zone));
                        }
                    }
                    e.insert("targetRef".into(), target_ref(m.pod));
                    Value::Object(e)
                })
                .collect();
            make(Some(ports), chunk, endpoints);
        }
    }
    slices
}

fn desired_endpoints(service: &Value, members: &[Member<'_>]) -> Value {
    let mut groups: BTreeMap<Vec<Port>, (Vec<&Member<'_>>, Vec<&Member<'_>>)> = BTreeMap::new();
    for m in members.iter().filter(|m| !m.terminating) {
        let entry = groups.entry(resolve_ports(service, m.pod)).or_default();
        if m.ready {
            entry.0.push(m);
        } else {
            entry.1.push(m);
        }
    }
    let address = |m: &&Member<'_>| {
        let mut a = Map::new();
        a.insert("ip".into(), json!(m.ip));
        if let Some(node) = node_name(m.pod) {
            a.insert("nodeName".into(), json!(node));
        }
        a.insert("targetRef".into(), target_ref(m.pod));
        Value::Object(a)
    };
    let ip_key = |m: &&Member<'_>| m.ip.parse::<Ipv4Addr>().map(u32::from).unwrap_or(u32::MAX);
    let subsets: Vec<Value> = groups
        .into_iter()
        .filter(|(ports, _)| !ports.is_empty())
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort_by_key(ip_key);
            not_ready.sort_by_key(ip_key);
            let mut subset = Map::new();
            if !ready.is_empty() {
                subset.insert("addresses".into(), ready.iter().map(address).collect());
            }
            if !not_ready.is_empty() {
                subset.insert(
                    "notReadyAddresses".into(),
                    not_ready.iter().map(address).collect(),
                );
            }
            subset.insert("ports".into(), Value::Array(port_json(&ports)));
            Value::Object(subset)
        })
        .collect();
    let mut endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": object::name(service),
            "namespace": object::namespace(service),
            "labels": {LABEL_SKIP_MIRROR: "true"},
        },
    });
    if !subsets.is_empty() {
        endpoints["subsets"] = Value::Array(subsets);
    }
    endpoints
}

/// Writes the controller-owned parts of `desired` over `existing` (store
/// metadata, annotations and other labels are kept).
fn merge(existing: &Value, desired: &Value) -> Value {
    let mut next = existing.clone();
    let Some(map) = next.as_object_mut() else {
        return desired.clone();
    };
    for field in ["addressType", "endpoints", "ports", "subsets"] {
        match desired.get(field) {
            Some(v) => map.insert(field.to_string(), v.clone()),
            None => map.remove(field),
        };
    }
    if let Some(labels) = object::map_mut(&mut next, "metadata").and_then(|m| {
        let l = m.entry("labels").or_insert_with(|| json!({}));
        if !l.is_object() {
            *l = json!({});
        }
        l.as_object_mut()
    }) && let Some(wanted) = desired
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    {
        for (k, v) in wanted {
            labels.insert(k.clone(), v.clone());
        }
    }
    if let Some(owners) = desired.pointer("/metadata/ownerReferences")
        && let Some(meta) = object::map_mut(&mut next, "metadata")
    {
        meta.insert("ownerReferences".into(), owners.clone());
    }
    next
}

/// EndpointSlices and Endpoints for every Service with a selector; removes
/// the ones this controller wrote for Services that are gone or lost their
/// selector. Only changes are returned.
pub fn reconcile(
    services: &[&Value],
    pods: &[&Value],
    nodes: &[&Value],
    slices: &[&Value],
    endpoints: &[&Value],
) -> Vec<Mutation> {
    let nodes: BTreeMap<&str, &Value> = nodes.iter().map(|n| (object::name(n), *n)).collect();
    let mut pods_by_ns: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for pod in pods {
        pods_by_ns
            .entry(object::namespace(pod))
            .or_default()
            .push(*pod);
    }
    let mut slices_by_service: BTreeMap<(&str, &str), Vec<&Value>> = BTreeMap::new();
    for slice in slices {
        if object::label(slice, LABEL_MANAGED_BY) == Some(MANAGED_BY)
            && let Some(svc) = object::label(slice, LABEL_SERVICE_NAME)
        {
            slices_by_service
                .entry((object::namespace(slice), svc))
                .or_default()
                .push(*slice);
        }
    }
    let endpoints_by_name: BTreeMap<(&str, &str), &Value> = endpoints
        .iter()
        .map(|e| ((object::namespace(e), object::name(e)), *e))
        .collect();

    let mut out = Vec::new();
    let mut managed: BTreeSet<(&str, &str)> = BTreeSet::new();
    for service in services {
        let Some(selector) = selector_of(service) else {
            continue;
        };
        if object::is_deleting(service) {
            continue;
        }
        let key = (object::namespace(service), object::name(service));
        managed.insert(key);
        let ns_pods = pods_by_ns.get(key.0).map(Vec::as_slice).unwrap_or(&[]);
        let members = members(service, &selector, ns_pods);

        let existing: BTreeMap<&str, &Value> = slices_by_service
            .get(&key)
            .map(|v| v.iter().map(|s| (object::name(s), *s)).collect())
            .unwrap_or_default();
        let desired = desired_slices(service, &members, &nodes);
        let wanted: BTreeSet<String> = desired
            .iter()
            .map(|s| object::name(s).to_string())
            .collect();
        for slice in desired {
            match existing.get(object::name(&slice)) {
                Some(old) => {
                    let next = merge(old, &slice);
                    if next != **old {
                        out.push(Mutation::Replace(next));
                    }
                }
                None => out.push(Mutation::Create(slice)),
            }
        }
        for (name, old) in &existing {
            if !wanted.contains(*name) {
                out.push(Mutation::delete(old));
            }
        }

        let desired = desired_endpoints(service, &members);
        match endpoints_by_name.get(&key) {
            Some(old) => {
                let next = merge(old, &desired);
                if next != **old {
                    out.push(Mutation::Replace(next));
                }
            }
            None => out.push(Mutation::Create(desired)),
        }
    }
    for (key, owned) in &slices_by_service {
        if !managed.contains(key) {
            out.extend(owned.iter().map(|s| Mutation::delete(s)));
        }
    }
    // A selectorless Service keeps whatever Endpoints it has; only those of a
    // Service that is gone are this controller's to clean up.
    let present: BTreeSet<(&str, &str)> = services
        .iter()
        .filter(|s| !object::is_deleting(s))
        .map(|s| (object::namespace(s), object::name(s)))
        .collect();
    for (key, e) in &endpoints_by_name {
        if !present.contains(key) && object::label(e, LABEL_SKIP_MIRROR) == Some("true") {
            out.push(Mutation::delete(e));
        }
    }
    out
}

/// The lowest free ClusterIP in 10.96.0.0/12 (10.96.0.1 is the API server's),
/// the rule the store applies when a Service is created without one.
pub fn allocate_cluster_ip(services: &[&Value]) -> Option<String> {
    let used: BTreeSet<u32> = services
        .iter()
        .filter_map(|s| object::str_at(s, "/spec/clusterIP"))
        .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
        .map(u32::from)
        .collect();
    let base = u32::from(Ipv4Addr::new(10, 96, 0, 0));
    (2..(1u32 << 20) - 1)
        .map(|offset| base + offset)
        .find(|ip| !used.contains(ip))
        .map(|ip| Ipv4Addr::from(ip).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(target: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "apps", "uid": "svc-uid"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": target}]}})
    }

    fn pod(name: &str, ip: &str, node: &str, ready: bool) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "apps", "uid": format!("uid-{name}"), "labels": {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": [{"name": "web", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip,
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    fn node(name: &str, zone: Option<&str>) -> Value {
        let mut labels = json!({});
        if let Some(z) = zone {
            labels[LABEL_ZONE] = json!(z);
        }
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})
    }

    fn created(muts: &[Mutation], kind: &str) -> Vec<Value> {
        muts.iter()
            .filter_map(|m| match m {
                Mutation::Create(v) if object::kind(v) == kind => Some(v.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn slices_and_endpoints_carry_nodes_zones_and_readiness() {
        let svc = service(json!("web"));
        let (a, b) = (
            pod("web-a", "10.128.0.2", "n1", true),
            pod("web-b", "10.128.1.2", "n2", false),
        );
        let other = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "x", "namespace": "apps", "labels": {"app": "db"}},
            "status": {"podIP": "10.128.0.9"}});
        let no_ip = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-c", "namespace": "apps", "labels": {"app": "web"}}, "status": {"phase": "Pending"}});
        let (n1, n2) = (node("n1", Some("hangzhou")), node("n2", None));
        let muts = reconcile(&[&svc], &[&a, &b, &other, &no_ip], &[&n1, &n2], &[], &[]);
        let slices = created(&muts, "EndpointSlice");
        assert_eq!(slices.len(), 1);
        let slice = &slices[0];
        assert!(object::name(slice).starts_with("web-"));
        assert_eq!(object::label(slice, LABEL_SERVICE_NAME), Some("web"));
        assert_eq!(object::label(slice, LABEL_MANAGED_BY), Some(MANAGED_BY));
        assert_eq!(slice["metadata"]["ownerReferences"][0]["uid"], "svc-uid");
        assert_eq!(
            slice["ports"],
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
        );
        let eps = slice["endpoints"].as_array().cloned().unwrap_or_default();
        assert_eq!(eps.len(), 2);
        assert_eq!(eps[0]["addresses"], json!(["10.128.0.2"]));
        assert_eq!(eps[0]["nodeName"], "n1");
        assert_eq!(eps[0]["zone"], "hangzhou");
        assert_eq!(
            eps[0]["conditions"],
            json!({"ready": true, "serving": true, "terminating": false})
        );
        assert_eq!(
            eps[0]["targetRef"],
            json!({"kind": "Pod", "namespace": "apps", "name": "web-a", "uid": "uid-web-a"})
        );
        assert!(eps[1].get("zone").is_none());
        assert_eq!(eps[1]["conditions"]["ready"], false);

        let endpoints = created(&muts, "Endpoints");
        assert_eq!(endpoints.len(), 1);
        let subset = &endpoints[0]["subsets"][0];
        assert_eq!(subset["addresses"][0]["ip"], "10.128.0.2");
        assert_eq!(subset["addresses"][0]["nodeName"], "n1");
        assert_eq!(subset["notReadyAddresses"][0]["ip"], "10.128.1.2");
        assert_eq!(subset["notReadyAddresses"][0]["targetRef"]["name"], "web-b");
        assert_eq!(subset["ports"][0]["port"], 8080);

        // Stable: the same inputs plus the created objects yield nothing.
        let slice_refs: Vec<&Value> = slices.iter().collect();
        let ep_refs: Vec<&Value> = endpoints.iter().collect();
        assert!(
            reconcile(
                &[&svc],
                &[&a, &b, &other, &no_ip],
                &[&n1, &n2],
                &slice_refs,
                &ep_refs
            )
            .is_empty()
        );

        // A pod turning unready leaves the ready endpoints.
        let a_down = pod("web-a", "10.128.0.2", "n1", false);
        let muts = reconcile(&[&svc], &[&a_down, &b], &[&n1, &n2], &slice_refs, &ep_refs);
        assert_eq!(muts.len(), 2);
        for m in &muts {
            let Mutation::Replace(v) = m else {
                panic!("expected replaces, got {m:?}");
            };
            if object::kind(v) == "Endpoints" {
                assert!(v["subsets"][0].get("addresses").is_none());
            } else {
                assert!(
                    v["endpoints"]
                        .as_array()
                        .is_some_and(|e| e.iter().all(|e| e["conditions"]["ready"] == false))
                );
            }
        }
    }

    #[test]
    fn empty_services_get_a_placeholder_and_stale_objects_go() {
        let svc = service(json!(80));
        let muts = reconcile(&[&svc], &[], &[], &[], &[]);
        let slices = created(&muts, "EndpointSlice");
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0]["endpoints"], json!([]));
        let endpoints = created(&muts, "Endpoints");
        assert!(endpoints[0].get("subsets").is_none());
        // The service goes: its slice and endpoints go too; user objects stay.
        let user = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext", "namespace": "apps"}});
        let muts = reconcile(&[], &[], &[], &[&slices[0]], &[&endpoints[0], &user]);
        assert_eq!(muts.len(), 2);
        assert!(
            muts.iter()
                .all(|m| matches!(m, Mutation::Delete(r) if r.name != "ext"))
        );
        // Selectorless services are left alone.
        let mut manual = service(json!(80));
        manual["spec"]["selector"] = json!({});
        assert!(reconcile(&[&manual], &[], &[], &[], &[&user]).is_empty());
        // Even the Endpoints the controller once wrote for it, skip-mirror
        // label and all: kube-controller-manager only deletes those once the
        // Service itself is gone.
        assert!(reconcile(&[&manual], &[], &[], &[], &[&endpoints[0]]).is_empty());
    }

    #[test]
    fn large_services_are_split_and_ports_resolved() {
        let svc = service(json!(8080));
        let pods: Vec<Value> = (0..250)
            .map(|i| {
                pod(
                    &format!("p{i:03}"),
                    &format!("10.128.{}.{}", i / 200, 2 + i % 200),
                    "n1",
                    true,
                )
            })
            .collect();
        let refs: Vec<&Value> = pods.iter().collect();
        let muts = reconcile(&[&svc], &refs, &[], &[], &[]);
        let slices = created(&muts, "EndpointSlice");
        assert_eq!(slices.len(), 3);
        let total: usize = slices
            .iter()
            .map(|s| s["endpoints"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(total, 250);
        let names: BTreeSet<&str> = slices.iter().map(object::name).collect();
        assert_eq!(names.len(), 3);
        let unnamed = json!({"spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 1, "targetPort": "missing"}]}});
        assert_eq!(
            resolve_ports(&unnamed, &pods[0]),
            vec![(String::new(), 53, "UDP".to_string())]
        );
    }

    #[test]
    fn cluster_ips_are_lowest_free() {
        let a = json!({"spec": {"clusterIP": "10.96.0.2"}});
        let b = json!({"spec": {"clusterIP": "None"}});
        assert_eq!(allocate_cluster_ip(&[]).as_deref(), Some("10.96.0.2"));
        assert_eq!(allocate_cluster_ip(&[&a, &b]).as_deref(), Some("10.96.0.3"));
    }
}
