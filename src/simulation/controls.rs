//! Controls the driver (console, CLI, tests) uses to take nodes or whole
//! labelled regions offline and back. The [`Offline`] set is owned by the
//! driver and passed to every [`super::step`].

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::Value;

use super::object;

/// Nodes currently offline, with the time each went offline (detection
/// happens [`super::Config::node_grace`] after that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offline {
    since: BTreeMap<String, Timestamp>,
}

impl Offline {
    pub fn new() -> Offline {
        Offline::default()
    }

    /// Takes nodes offline at `now`. A node already offline keeps its
    /// original time. Returns the names that were newly taken offline.
    pub fn take_offline<I, S>(&mut self, names: I, now: Timestamp) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut added = Vec::new();
        for name in names {
            let name = name.into();
            if !self.since.contains_key(&name) {
                self.since.insert(name.clone(), now);
                added.push(name);
            }
        }
        added
    }

    /// Brings nodes back online. Returns the names that were offline.
    pub fn bring_online<I, S>(&mut self, names: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        names
            .into_iter()
            .filter_map(|n| self.since.remove_entry(n.as_ref()).map(|(name, _)| name))
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.since.contains_key(name)
    }

    /// When `name` went offline, if it is offline.
    pub fn since(&self, name: &str) -> Option<Timestamp> {
        self.since.get(name).copied()
    }

    pub fn names(&self) -> BTreeSet<String> {
        self.since.keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.since.is_empty()
    }

    pub fn len(&self) -> usize {
        self.since.len()
    }

    /// Forgets nodes that no longer exist (so a node re-created with the same
    /// name does not start offline).
    pub fn retain_existing(&mut self, nodes: &[&Value]) {
        let existing: BTreeSet<&str> = nodes.iter().map(|n| object::name(n)).collect();
        self.since
            .retain(|name, _| existing.contains(name.as_str()));
    }
}

/// Names of the nodes labelled `key=value`, sorted.
pub fn region_nodes(nodes: &[&Value], key: &str, value: &str) -> Vec<String> {
    let mut names: Vec<String> = nodes
        .iter()
        .filter(|n| object::label(n, key) == Some(value))
        .map(|n| object::name(n).to_string())
        .collect();
    names.sort();
    names
}

/// Every value of label `key` with the nodes carrying it (nodes without the
/// label are left out), sorted.
pub fn regions(nodes: &[&Value], key: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in nodes {
        if let Some(value) = object::label(node, key) {
            out.entry(value.to_string())
                .or_default()
                .push(object::name(node).to_string());
        }
    }
    for names in out.values_mut() {
        names.sort();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, location: Option<&str>) -> Value {
        let mut labels = json!({"kubernetes.io/hostname": name});
        if let Some(l) = location {
            labels["location"] = json!(l);
        }
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}})
    }

    #[test]
    fn region_offline_and_back() {
        let nodes = [
            node("b-2", Some("b")),
            node("a-1", Some("a")),
            node("b-1", Some("b")),
            node("c", None),
        ];
        let refs: Vec<&Value> = nodes.iter().collect();
        assert_eq!(region_nodes(&refs, "location", "b"), ["b-1", "b-2"]);
        let all = regions(&refs, "location");
        assert_eq!(all.len(), 2);
        assert_eq!(all["a"], ["a-1"]);

        let t0 = Timestamp::from_second(1_000).unwrap_or_default();
        let t1 = Timestamp::from_second(2_000).unwrap_or_default();
        let mut offline = Offline::new();
        assert_eq!(
            offline
                .take_offline(region_nodes(&refs, "location", "b"), t0)
                .len(),
            2
        );
        assert!(offline.take_offline(["b-1"], t1).is_empty());
        assert_eq!(offline.since("b-1"), Some(t0));
        assert!(offline.contains("b-2") && !offline.contains("a-1"));
        assert_eq!(offline.bring_online(["b-1", "a-1"]), ["b-1"]);
        assert_eq!(offline.len(), 1);
        offline.retain_existing(&refs[..1]);
        assert!(offline.contains("b-2"));
        offline.retain_existing(&refs[1..2]);
        assert!(offline.is_empty());
    }
}
