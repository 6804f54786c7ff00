//! Node Leases, as a kubelet keeps them: one Lease per node in
//! `kube-node-lease`, named after the node, held by it, renewed every
//! quarter of its duration while the node is online; an offline node's
//! lease stops being renewed (that is what makes it look dead). A pure
//! function like the other controllers: the driver hands it the nodes and
//! the leases it stores, and writes back what it returns.
//!
//! Renewal is a write per node per interval; so that a 10,000-node fleet
//! does not spend its store on heartbeats, the interval stretches with the
//! fleet (see [`renew_every`]).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::Offline;
use super::object;

pub const NAMESPACE: &str = "kube-node-lease";
/// A kubelet's default lease duration.
pub const DURATION_S: i64 = 40;

/// Seconds between renewals: a quarter of the duration, as a kubelet does,
/// stretched so the fleet renews at most ~100 leases a second.
pub fn renew_every(nodes: usize) -> i64 {
    (DURATION_S / 4).max(i64::try_from(nodes / 100).unwrap_or(i64::MAX))
}

/// Leases to write (created, or renewed: whole objects with the
/// resourceVersion read, so a stale write is dropped by the driver).
pub fn renew(nodes: &[&Value], leases: &[&Value], offline: &Offline, now: Timestamp) -> Vec<Value> {
    let every = renew_every(nodes.len());
    let now_s = now.as_second();
    let stamp = now.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let by_name: std::collections::HashMap<&str, &Value> =
        leases.iter().map(|l| (object::name(l), *l)).collect();
    let mut out = Vec::new();
    for node in nodes {
        let name = object::name(node);
        if name.is_empty() || offline.since(name).is_some() {
            continue;
        }
        match by_name.get(name) {
            Some(lease) => {
                let renewed = object::seconds_at(lease, "/spec/renewTime");
                if renewed.is_some_and(|r| r <= now_s && now_s - r < every) {
                    continue;
                }
                let mut next = (*lease).clone();
                next["spec"]["renewTime"] = json!(stamp);
                next["spec"]["holderIdentity"] = json!(name);
                out.push(next);
            }
            None => out.push(json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "ownerReferences": [{
                        "apiVersion": "v1", "kind": "Node", "name": name,
                        "uid": node.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
                    }],
                },
                "spec": {
                    "holderIdentity": name,
                    "leaseDurationSeconds": DURATION_S,
                    "renewTime": stamp,
                },
            })),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("time")
    }

    fn node(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": "u"}})
    }

    #[test]
    fn every_online_node_gets_a_lease_renewed_each_interval_and_offline_ones_go_stale() {
        let (a, b) = (node("a"), node("b"));
        let created = renew(&[&a, &b], &[], &Offline::new(), t(0));
        assert_eq!(created.len(), 2);
        assert_eq!(created[0]["metadata"]["namespace"], NAMESPACE);
        let leases: Vec<&Value> = created.iter().collect();
        assert!(renew(&[&a, &b], &leases, &Offline::new(), t(9)).is_empty());
        let renewed = renew(&[&a, &b], &leases, &Offline::new(), t(10));
        assert_eq!(renewed.len(), 2);
        assert!(
            renewed[0]["spec"]["renewTime"].as_str().unwrap_or("")
                > created[0]["spec"]["renewTime"].as_str().unwrap_or("~")
        );
        let mut offline = Offline::new();
        offline.take_offline(["a"], t(5));
        let renewed = renew(&[&a, &b], &leases, &offline, t(10));
        assert_eq!(renewed.len(), 1);
        assert_eq!(object::name(&renewed[0]), "b");
    }

    #[test]
    fn a_large_fleet_renews_less_often() {
        assert_eq!(renew_every(25), 10);
        assert_eq!(renew_every(10_000), 100);
    }
}
