//! The kubelet's node status and the node lifecycle controller: heartbeats,
//! the Ready condition, and first-time initialisation of nodes that arrive
//! without status (from a seed or `kubectl apply`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::object::{self, Cond, CondStyle};
use super::{Config, Mutation, Offline};

/// Nodes' pod networks are /24s carved from 10.128.0.0/9: index k is
/// `10.(128 + k/256).(k%256).0/24`.
const POD_NET_BASE: u32 = u32::from_be_bytes([10, 128, 0, 0]);
const POD_NET_SLOTS: u32 = 1 << 15;
/// Node InternalIPs: 172.16.0.0/12, offset so none ends in .0.
const NODE_NET_BASE: u32 = u32::from_be_bytes([172, 16, 0, 10]);

const LABEL_CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";

/// Whether the node's Ready condition is True.
pub fn is_ready(node: &Value) -> bool {
    object::condition_status(node, "Ready") == Some("True")
}

/// The pod CIDR of a node (`spec.podCIDR`), as base address and prefix length.
pub fn pod_cidr(node: &Value) -> Option<(Ipv4Addr, u8)> {
    parse_cidr(object::str_at(node, "/spec/podCIDR")?)
}

pub fn parse_cidr(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    (prefix <= 32).then_some((ip, prefix))
}

/// The first InternalIP of a node.
pub fn internal_ip(node: &Value) -> Option<&str> {
    node.pointer("/status/addresses")
        .and_then(Value::as_array)?
        .iter()
        .find(|a| a.get("type").and_then(Value::as_str) == Some("InternalIP"))
        .and_then(|a| a.get("address"))
        .and_then(Value::as_str)
}

fn slot_of_cidr(node: &Value) -> Option<u32> {
    let (ip, prefix) = pod_cidr(node)?;
    let offset = u32::from(ip).checked_sub(POD_NET_BASE)?;
    (prefix == 24 && offset % 256 == 0 && offset / 256 < POD_NET_SLOTS).then_some(offset / 256)
}

fn cidr_of_slot(slot: u32) -> String {
    format!("{}/24", Ipv4Addr::from(POD_NET_BASE + slot * 256))
}

/// Hands out the lowest free slots in name order.
struct Slots {
    used: BTreeSet<u32>,
    cursor: u32,
}

impl Slots {
    fn next(&mut self) -> Option<u32> {
        while self.cursor < POD_NET_SLOTS {
            let slot = self.cursor;
            self.cursor += 1;
            if self.used.insert(slot) {
                return Some(slot);
            }
        }
        None
    }
}

/// Heartbeats and readiness for every node, plus initialisation of nodes
/// without status. Online nodes report Ready (heartbeat refreshed every
/// `heartbeat_interval`); offline nodes turn Unknown once `node_grace` has
/// passed since they went offline.
pub fn heartbeat(
    nodes: &[&Value],
    offline: &Offline,
    now: Timestamp,
    config: &Config,
) -> Vec<Mutation> {
    let mut sorted: Vec<&Value> = nodes.to_vec();
    sorted.sort_by(|a, b| object::name(a).cmp(object::name(b)));
    let mut slots = Slots {
        used: sorted.iter().filter_map(|n| slot_of_cidr(n)).collect(),
        cursor: 0,
    };
    let now_text = object::rfc3339(now);
    let mut out = Vec::new();
    let now_s = now.as_second();
    for node in sorted {
        if !node.is_object() || settled(node, offline, now_s, config) {
            continue;
        }
        let mut next = node.clone();
        initialise(&mut next, &mut slots);
        let name = object::name(node);
        match offline.since(name) {
            None => post_status(&mut next, now.as_second(), &now_text, config),
            Some(since) => {
                let detected =
                    since.as_second().saturating_add(config.grace_s()) <= now.as_second();
                if detected && object::condition(&next, "Ready").is_some() {
                    mark_unknown(&mut next, &now_text);
                }
            }
        }
        if next != *node {
            out.push(Mutation::Replace(next));
        }
    }
    out
}

/// Fast path: nothing to initialise and no heartbeat or detection due.
fn settled(node: &Value, offline: &Offline, now_s: i64, config: &Config) -> bool {
    let initialised = object::str_at(node, "/spec/podCIDR").is_some_and(|c| !c.is_empty())
        && [
            "addresses",
            "capacity",
            "allocatable",
            "daemonEndpoints",
            "nodeInfo",
        ]
        .iter()
        .all(|f| node.get("status").and_then(|s| s.get(f)).is_some());
    if !initialised {
        return false;
    }
    match offline.since(object::name(node)) {
        None => {
            is_ready(node)
                && object::condition(node, "Ready")
                    .and_then(|c| object::seconds_at(c, "/lastHeartbeatTime"))
                    .is_some_and(|beat| beat <= now_s && now_s - beat < config.heartbeat_s())
        }
        Some(since) => {
            object::condition_status(node, "Ready").is_none_or(|s| s == "Unknown")
                || since.as_second().saturating_add(config.grace_s()) > now_s
        }
    }
}

fn post_status(node: &mut Value, now_s: i64, now: &str, config: &Config) {
    let fresh = object::condition(node, "Ready")
        .and_then(|c| object::seconds_at(c, "/lastHeartbeatTime"))
        .is_some_and(|beat| now_s.saturating_sub(beat) < config.heartbeat_s() && beat <= now_s);
    if is_ready(node) && fresh {
        return;
    }
    let mut conditions = object::conditions_of(node);
    let wanted = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        (
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ];
    for (type_, status, reason, message) in wanted {
        let cond = Cond {
            type_,
            status,
            reason: Some(reason),
            message: Some(message),
        };
        object::set_condition(&mut conditions, &cond, now, CondStyle::Node);
    }
    for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
        c.insert("lastHeartbeatTime".into(), json!(now));
    }
    if let Some(status) = object::map_mut(node, "status") {
        status.insert("conditions".into(), Value::Array(conditions));
    }
}

fn mark_unknown(node: &mut Value, now: &str) {
    let mut conditions = object::conditions_of(node);
    let types: Vec<String> = conditions
        .iter()
        .filter_map(|c| c.get("type").and_then(Value::as_str).map(str::to_string))
        .collect();
    for type_ in types {
        let cond = Cond {
            type_: &type_,
            status: "Unknown",
            reason: Some("NodeStatusUnknown"),
            message: Some("Kubelet stopped posting node status."),
        };
        object::set_condition(&mut conditions, &cond, now, CondStyle::Node);
    }
    if let Some(status) = object::map_mut(node, "status") {
        status.insert("conditions".into(), Value::Array(conditions));
    }
}

/// A deterministic, UUID-shaped id from the node name.
fn uuid_from(parts: &[&str]) -> String {
    let h = object::hex(parts, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Fills what a registering kubelet and the node IPAM controller would:
/// podCIDR, addresses, capacity, nodeInfo, daemon endpoint. Fields already
/// present are kept.
fn initialise(node: &mut Value, slots: &mut Slots) {
    let name = object::name(node).to_string();
    let labels: Map<String, Value> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let label = |k: &str| labels.get(k).and_then(Value::as_str).map(str::to_string);
    let mut slot = slot_of_cidr(node);
    if object::str_at(node, "/spec/podCIDR").is_none_or(str::is_empty) {
        slot = slots.next();
        if let (Some(s), Some(spec)) = (slot, object::map_mut(node, "spec")) {
            let cidr = cidr_of_slot(s);
            spec.insert("podCIDR".into(), json!(cidr));
            spec.insert("podCIDRs".into(), json!([cidr]));
        }
    }
    let control_plane = labels.contains_key(LABEL_CONTROL_PLANE);
    let arch = label("kubernetes.io/arch").unwrap_or_else(|| "amd64".into());
    let os = label("kubernetes.io/os").unwrap_or_else(|| "linux".into());
    let shape = object::sha256(&[&name, "shape"])[0] % 3;
    let (cpu, mem_gi) = match (control_plane, shape) {
        (true, _) => (8, 16),
        (false, 0) => (2, 4),
        (false, 1) => (4, 8),
        (false, _) => (8, 16),
    };
    let mem_ki = mem_gi * 1024 * 1024 - 187_324;
    let Some(status) = object::map_mut(node, "status") else {
        return;
    };
    if !status.get("addresses").is_some_and(Value::is_array) {
        let ip = slot
            .or_else(|| slots.next())
            .map(|s| Ipv4Addr::from(NODE_NET_BASE + s).to_string());
        let mut addresses = Vec::new();
        if let Some(ip) = ip {
            addresses.push(json!({"type": "InternalIP", "address": ip}));
        }
        addresses.push(json!({"type": "Hostname", "address": name}));
        status.insert("addresses".into(), Value::Array(addresses));
    }
    status.entry("capacity").or_insert_with(|| {
        json!({"cpu": cpu.to_string(), "ephemeral-storage": "61202244Ki", "hugepages-2Mi": "0",
               "memory": format!("{mem_ki}Ki"), "pods": "110"})
    });
    status.entry("allocatable").or_insert_with(|| {
        json!({"cpu": cpu.to_string(), "ephemeral-storage": "56403987978", "hugepages-2Mi": "0",
               "memory": format!("{}Ki", mem_ki - 102_400), "pods": "110"})
    });
    status
        .entry("daemonEndpoints")
        .or_insert_with(|| json!({"kubeletEndpoint": {"Port": 10250}}));
    status.entry("nodeInfo").or_insert_with(|| {
        let kubelet = if control_plane {
            "v1.33.4"
        } else {
            "v1.31.12-kubeedge-v1.21.0"
        };
        json!({
            "architecture": arch,
            "bootID": uuid_from(&[&name, "boot"]),
            "containerRuntimeVersion": "containerd://1.7.27",
            "kernelVersion": "5.15.0-139-generic",
            "kubeProxyVersion": "",
            "kubeletVersion": kubelet,
            "machineID": object::hex(&[&name, "machine"], 32),
            "operatingSystem": os,
            "osImage": "Ubuntu 22.04.5 LTS",
            "systemUUID": uuid_from(&[&name, "system"]),
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_750_000_000 + s).unwrap_or_default()
    }

    fn bare(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"location": "x"}}})
    }

    fn replaced(muts: Vec<Mutation>) -> Vec<Value> {
        muts.into_iter()
            .filter_map(|m| match m {
                Mutation::Replace(v) => Some(v),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn bare_nodes_are_initialised_and_ready() {
        let (a, b) = (bare("b-node"), bare("a-node"));
        let config = Config::default();
        let out = replaced(heartbeat(&[&a, &b], &Offline::new(), t(0), &config));
        assert_eq!(out.len(), 2);
        // Slots go in name order.
        assert_eq!(object::name(&out[0]), "a-node");
        assert_eq!(out[0]["spec"]["podCIDR"], "10.128.0.0/24");
        assert_eq!(out[1]["spec"]["podCIDR"], "10.128.1.0/24");
        assert_eq!(internal_ip(&out[0]), Some("172.16.0.10"));
        assert!(is_ready(&out[0]));
        assert_eq!(
            out[0]["status"]["nodeInfo"]["kubeletVersion"],
            "v1.31.12-kubeedge-v1.21.0"
        );
        assert!(out[0]["status"]["capacity"]["cpu"].is_string());
        // Initialised nodes are stable until the heartbeat is due.
        let refs: Vec<&Value> = out.iter().collect();
        assert!(heartbeat(&refs, &Offline::new(), t(59), &config).is_empty());
        let beat = replaced(heartbeat(&refs, &Offline::new(), t(60), &config));
        assert_eq!(beat.len(), 2);
        let ready = object::condition(&beat[0], "Ready")
            .cloned()
            .unwrap_or_default();
        assert_eq!(ready["lastHeartbeatTime"], object::rfc3339(t(60)));
        assert_eq!(ready["lastTransitionTime"], object::rfc3339(t(0)));
    }

    #[test]
    fn existing_cidrs_are_not_reused() {
        let mut a = bare("a");
        a["spec"] = json!({"podCIDR": "10.128.0.0/24"});
        let b = bare("b");
        let out = replaced(heartbeat(
            &[&a, &b],
            &Offline::new(),
            t(0),
            &Config::default(),
        ));
        let b = out
            .iter()
            .find(|n| object::name(n) == "b")
            .cloned()
            .unwrap_or_default();
        assert_eq!(b["spec"]["podCIDR"], "10.128.1.0/24");
    }

    #[test]
    fn offline_nodes_turn_unknown_after_grace_and_recover() {
        let config = Config::default();
        let node = replaced(heartbeat(&[&bare("n")], &Offline::new(), t(0), &config))
            .pop()
            .unwrap_or_default();
        let mut offline = Offline::new();
        offline.take_offline(["n"], t(10));
        assert!(heartbeat(&[&node], &offline, t(49), &config).is_empty());
        let down = replaced(heartbeat(&[&node], &offline, t(50), &config))
            .pop()
            .unwrap_or_default();
        assert_eq!(object::condition_status(&down, "Ready"), Some("Unknown"));
        let ready = object::condition(&down, "Ready")
            .cloned()
            .unwrap_or_default();
        assert_eq!(ready["reason"], "NodeStatusUnknown");
        assert_eq!(ready["lastHeartbeatTime"], object::rfc3339(t(0)));
        assert_eq!(ready["lastTransitionTime"], object::rfc3339(t(50)));
        assert!(heartbeat(&[&down], &offline, t(90), &config).is_empty());
        offline.bring_online(["n"]);
        let up = replaced(heartbeat(&[&down], &offline, t(95), &config))
            .pop()
            .unwrap_or_default();
        assert!(is_ready(&up));
        assert!(heartbeat(&[&up], &offline, t(96), &config).is_empty());
    }

    #[test]
    fn garbage_nodes_do_not_panic() {
        let junk = [
            json!(null),
            json!({"metadata": 3, "status": []}),
            json!("x"),
        ];
        let refs: Vec<&Value> = junk.iter().collect();
        let _ = heartbeat(&refs, &Offline::new(), t(0), &Config::default());
    }
}
