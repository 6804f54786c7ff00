//! Membership kept up to date event by event, for fleets where
//! recomputing [`compute`](super::compute) per reconcile is too slow.
//!
//! # Why an index
//!
//! `compute` asks every group about every node: 10,000 nodes × 500 groups
//! is five million selector checks, and the NodeGroup controller needed the
//! answer for every one of 500 reconciles. Here a node is asked only of the
//! groups that could select it (those naming it, and those whose
//! `matchLabels` require one of its label pairs), and a group's selection
//! is found from the node set of its rarest required pair. A node event then
//! costs what that node's labels touch, a group event what the group
//! selects before and after.
//!
//! # Same answers, same rules
//!
//! The index decides nothing itself: the claim, the winner, the status
//! entries and the managed labels all come from the functions `compute`
//! uses. Because a node's winner depends only on that node's labels and
//! the claims on it, an event re-resolves exactly the nodes whose claims may
//! have changed and nothing else. A property test replays random event
//! sequences and compares [`MembershipIndex::membership`] with `compute`
//! over the same objects from scratch.
//!
//! # What an event reports
//!
//! Every update returns the groups whose status or share of node labels the
//! event may have changed, so the controller reconciles those and no
//! others. The set errs on the side of too many (a group is named when any
//! node it claims changed readiness or labels); it never misses one, which
//! the property test checks too.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Node;

use super::{
    Claim, Labels, Membership, claim, is_live, managed_labels, missing_named, missing_node,
    pick_winner, readiness, required_labels, selection, status_of,
};
use crate::api::{
    LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE, NodeGroup, NodeGroupStatus, ReadyStatus,
};

/// Group names, the unit every update reports in.
pub type Groups = BTreeSet<String>;

#[derive(Debug, Default, Clone)]
pub struct MembershipIndex {
    nodes: BTreeMap<String, NodeEntry>,
    /// Every known group, being deleted or not, reduced to what membership reads.
    groups: BTreeMap<String, NodeGroup>,
    /// Label key → value → nodes carrying that pair.
    nodes_by_label: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Label key → value → groups whose `matchLabels` require that pair.
    groups_by_label: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Node name → groups naming it in `spec.nodes` (the node may not exist).
    groups_naming: BTreeMap<String, BTreeSet<String>>,
    /// Live group → existing nodes it claims (won or not).
    claimed: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, PartialEq)]
struct NodeEntry {
    labels: Labels,
    ready: ReadyStatus,
    /// Live groups claiming the node.
    claims: BTreeSet<String>,
    winner: Option<String>,
}

impl MembershipIndex {
    /// An index over `nodes` and `groups`, as [`compute`](super::compute) takes them.
    pub fn new(nodes: &[Node], groups: &[NodeGroup]) -> Self {
        let mut index = Self::default();
        for group in groups {
            if group
                .metadata
                .name
                .as_ref()
                .is_some_and(|n| !index.groups.contains_key(n))
            {
                index.upsert_group(group);
            }
        }
        for node in nodes {
            if node
                .metadata
                .name
                .as_ref()
                .is_some_and(|n| !index.nodes.contains_key(n))
            {
                index.upsert_node(node);
            }
        }
        index
    }

    /// A node was created or changed. Heartbeats (labels and readiness
    /// unchanged) concern no group.
    pub fn upsert_node(&mut self, node: &Node) -> Groups {
        let Some(name) = node.metadata.name.as_deref() else {
            return Groups::new();
        };
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let ready = readiness(node);
        if let Some(old) = self.nodes.get(name)
            && old.labels == labels
            && old.ready == ready
        {
            return Groups::new();
        }
        let mut affected = self.remove_node(name);
        for (key, value) in &labels {
            set_of(&mut self.nodes_by_label, key, value).insert(name.to_owned());
        }
        let (claims, winner) = self.resolve(name, &labels);
        for group in &claims {
            self.claimed
                .entry(group.clone())
                .or_default()
                .insert(name.to_owned());
        }
        affected.extend(claims.iter().cloned());
        affected.extend(self.labelled_for(&labels));
        self.nodes.insert(
            name.to_owned(),
            NodeEntry {
                labels,
                ready,
                claims,
                winner,
            },
        );
        affected
    }

    /// A node was deleted.
    pub fn delete_node(&mut self, name: &str) -> Groups {
        self.remove_node(name)
    }

    /// A group was created or changed.
    pub fn upsert_group(&mut self, group: &NodeGroup) -> Groups {
        let Some(name) = group.metadata.name.as_deref() else {
            return Groups::new();
        };
        let slim = slim(group);
        if self
            .groups
            .get(name)
            .is_some_and(|old| same_inputs(old, &slim))
        {
            return Groups::new();
        }
        let before = self.claimed.get(name).cloned().unwrap_or_default();
        self.unindex_group(name);
        for node in &slim.spec.nodes {
            self.groups_naming
                .entry(node.clone())
                .or_default()
                .insert(name.to_owned());
        }
        for (key, value) in required_labels(&slim).into_iter().flatten() {
            set_of(&mut self.groups_by_label, key, value).insert(name.to_owned());
        }
        let after = if is_live(&slim) {
            self.selected_by(&slim)
        } else {
            BTreeSet::new()
        };
        self.groups.insert(name.to_owned(), slim);
        let mut affected = Groups::from([name.to_owned()]);
        for node in before.union(&after) {
            self.refresh_node(node, &mut affected);
        }
        affected
    }

    /// A group is gone from the cluster.
    pub fn delete_group(&mut self, name: &str) -> Groups {
        if !self.groups.contains_key(name) {
            return Groups::new();
        }
        let before = self.claimed.get(name).cloned().unwrap_or_default();
        self.unindex_group(name);
        self.groups.remove(name);
        let mut affected = Groups::new();
        for node in &before {
            self.refresh_node(node, &mut affected);
        }
        self.claimed.remove(name);
        affected.remove(name);
        affected
    }

    /// The group node `name` belongs to.
    pub fn group_of(&self, node: &str) -> Option<&str> {
        self.nodes.get(node)?.winner.as_deref()
    }

    /// The labels edgedeck manages that node `name` must carry (empty when
    /// it is in no group), as [`Membership::node_labels`] has them.
    pub fn wanted_labels(&self, node: &str) -> Labels {
        self.group_of(node)
            .and_then(|w| Some(managed_labels(w, self.groups.get(w)?)))
            .unwrap_or_default()
    }

    /// The node's labels as last seen; None for an unknown node.
    pub fn labels(&self, node: &str) -> Option<&Labels> {
        self.nodes.get(node).map(|e| &e.labels)
    }

    /// The complete status of a live group, as in [`Membership::statuses`];
    /// None for a group unknown or being deleted.
    pub fn status(&self, group: &str) -> Option<NodeGroupStatus> {
        let spec = self.groups.get(group).filter(|g| is_live(g))?;
        let mut entries = BTreeMap::new();
        for name in self.claimed.get(group).into_iter().flatten() {
            if let Some(node) = self.nodes.get(name)
                && let Some(winner) = node.winner.as_deref()
            {
                entries.insert(name.clone(), selection(name, node.ready, group, winner));
            }
        }
        for name in missing_named(spec, |n| self.nodes.contains_key(n)) {
            entries.insert(name.to_owned(), missing_node(name));
        }
        Some(status_of(entries))
    }

    /// The nodes a reconcile of `group` may have to write: those it claims
    /// and those carrying a managed label with its name.
    pub fn touching(&self, group: &str) -> BTreeSet<&str> {
        let claimed = self.claimed.get(group).into_iter().flatten();
        let labelled = [LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE]
            .into_iter()
            .filter_map(|key| self.nodes_by_label.get(key)?.get(group))
            .flatten();
        claimed.chain(labelled).map(String::as_str).collect()
    }

    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }

    /// Everything at once, as [`compute`](super::compute) returns it.
    pub fn membership(&self) -> Membership {
        let statuses = self
            .groups
            .keys()
            .filter_map(|g| Some((g.clone(), self.status(g)?)))
            .collect();
        let node_labels = self
            .nodes
            .keys()
            .map(|n| (n.clone(), self.wanted_labels(n)))
            .collect();
        let node_group = self
            .nodes
            .iter()
            .filter_map(|(n, e)| Some((n.clone(), e.winner.clone()?)))
            .collect();
        Membership {
            statuses,
            node_labels,
            node_group,
        }
    }

    /// Drops node `name` from every index; returns the groups that claimed
    /// it or whose name its managed labels carry.
    fn remove_node(&mut self, name: &str) -> Groups {
        let Some(old) = self.nodes.remove(name) else {
            return Groups::new();
        };
        for (key, value) in &old.labels {
            remove_from(&mut self.nodes_by_label, key, value, name);
        }
        for group in &old.claims {
            if let Some(set) = self.claimed.get_mut(group) {
                set.remove(name);
            }
        }
        let mut affected = old.claims;
        affected.extend(self.labelled_for(&old.labels));
        affected
    }

    /// Known groups named by a node's managed labels: a group must strip
    /// labels with its name from nodes it does not win.
    fn labelled_for(&self, labels: &Labels) -> Groups {
        [LABEL_BELONGING_TO, LABEL_TOPOLOGY_ZONE]
            .into_iter()
            .filter_map(|key| labels.get(key))
            .filter(|g| self.groups.contains_key(*g))
            .cloned()
            .collect()
    }

    fn unindex_group(&mut self, name: &str) {
        let Some(old) = self.groups.get(name) else {
            return;
        };
        for node in &old.spec.nodes {
            if let Some(set) = self.groups_naming.get_mut(node) {
                set.remove(name);
                if set.is_empty() {
                    self.groups_naming.remove(node);
                }
            }
        }
        for (key, value) in required_labels(old).into_iter().flatten() {
            remove_from(&mut self.groups_by_label, key, value, name);
        }
    }

    /// The live groups claiming node `name` and the winner among them.
    fn resolve(&self, name: &str, labels: &Labels) -> (BTreeSet<String>, Option<String>) {
        let mut candidates: BTreeSet<&str> = self
            .groups_naming
            .get(name)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        for (key, value) in labels {
            if let Some(groups) = self.groups_by_label.get(key).and_then(|v| v.get(value)) {
                candidates.extend(groups.iter().map(String::as_str));
            }
        }
        let claims: Vec<Claim<'_>> = candidates
            .into_iter()
            .filter_map(|g| {
                let group = self.groups.get(g).filter(|g| is_live(g))?;
                claim(g, group, name, Some(labels))
            })
            .collect();
        let winner = pick_winner(Some(labels), &claims).map(str::to_owned);
        let names = claims.iter().map(|c| c.name.to_owned()).collect();
        (names, winner)
    }

    /// Existing nodes a live group selects: named ones, and those carrying
    /// every required pair (found from the rarest pair's nodes).
    fn selected_by(&self, group: &NodeGroup) -> BTreeSet<String> {
        let mut selected: BTreeSet<String> = group
            .spec
            .nodes
            .iter()
            .filter(|n| self.nodes.contains_key(*n))
            .cloned()
            .collect();
        if let Some(required) = required_labels(group) {
            let rarest = required
                .iter()
                .map(|(k, v)| self.nodes_by_label.get(k).and_then(|vs| vs.get(v)))
                .min_by_key(|set| set.map_or(0, BTreeSet::len))
                .flatten();
            let matching = rarest.into_iter().flatten().filter(|n| {
                self.nodes
                    .get(*n)
                    .is_some_and(|e| required.iter().all(|(k, v)| e.labels.get(k) == Some(v)))
            });
            selected.extend(matching.cloned());
        }
        selected
    }

    /// Re-resolves node `name` after a group changed; adds to `affected`
    /// the groups whose status entries for it change.
    fn refresh_node(&mut self, name: &str, affected: &mut Groups) {
        let Some(entry) = self.nodes.get(name) else {
            return;
        };
        let (claims, winner) = self.resolve(name, &entry.labels);
        if entry.claims == claims && entry.winner == winner {
            return;
        }
        if entry.winner == winner {
            // Only the groups that gained or lost the claim see a change.
            affected.extend(entry.claims.symmetric_difference(&claims).cloned());
        } else {
            // Every claimant's entry names the winner in its reason.
            affected.extend(entry.claims.union(&claims).cloned());
        }
        for gone in entry.claims.difference(&claims) {
            if let Some(set) = self.claimed.get_mut(gone) {
                set.remove(name);
            }
        }
        for new in claims.difference(&entry.claims) {
            self.claimed
                .entry(new.clone())
                .or_default()
                .insert(name.to_owned());
        }
        if let Some(entry) = self.nodes.get_mut(name) {
            entry.claims = claims;
            entry.winner = winner;
        }
    }
}

/// What membership reads of a group: identity, age, deletion and spec. The
/// status (one entry per selected node) would only cost memory.
pub fn slim(group: &NodeGroup) -> NodeGroup {
    let mut slim = NodeGroup::new(
        group.metadata.name.as_deref().unwrap_or_default(),
        group.spec.clone(),
    );
    slim.metadata.name.clone_from(&group.metadata.name);
    slim.metadata
        .creation_timestamp
        .clone_from(&group.metadata.creation_timestamp);
    slim.metadata
        .deletion_timestamp
        .clone_from(&group.metadata.deletion_timestamp);
    slim
}

/// Whether two versions of a group read the same to membership (a status
/// write, a new finalizer or annotation changes nothing here).
fn same_inputs(a: &NodeGroup, b: &NodeGroup) -> bool {
    a.spec == b.spec
        && a.metadata.creation_timestamp == b.metadata.creation_timestamp
        && a.metadata.deletion_timestamp == b.metadata.deletion_timestamp
}

type PairIndex = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn set_of<'i>(index: &'i mut PairIndex, key: &str, value: &str) -> &'i mut BTreeSet<String> {
    index
        .entry(key.to_owned())
        .or_default()
        .entry(value.to_owned())
        .or_default()
}

/// Removes `name` from a pair's set, dropping emptied levels so the index
/// does not keep every label value ever seen.
fn remove_from(index: &mut PairIndex, key: &str, value: &str, name: &str) {
    let Some(values) = index.get_mut(key) else {
        return;
    };
    if let Some(set) = values.get_mut(value) {
        set.remove(name);
        if set.is_empty() {
            values.remove(value);
        }
    }
    if values.is_empty() {
        index.remove(key);
    }
}

#[cfg(test)]
mod tests;
