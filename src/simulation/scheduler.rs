//! The scheduler: binds pending pods to Ready, schedulable nodes that match
//! their node selector, required node affinity and taints, spreading by
//! fewest pods then node name. Pods that fit nowhere stay Pending with
//! `PodScheduled=False`, reason `Unschedulable` and a message in the
//! scheduler's words.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::Mutation;
use super::nodes::is_ready;
use super::object::{self, Cond, CondStyle};

/// Why a node cannot take a pod; the first failing check is reported.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Misfit {
    NotReady,
    Unschedulable,
    Taint { key: String, value: String },
    Affinity,
}

impl Misfit {
    fn text(&self) -> String {
        match self {
            Misfit::NotReady => "node(s) were not ready".into(),
            Misfit::Unschedulable => "node(s) were unschedulable".into(),
            Misfit::Taint { key, value } => {
                format!("node(s) had untolerated taint {{{key}: {value}}}")
            }
            Misfit::Affinity => "node(s) didn't match Pod's node affinity/selector".into(),
        }
    }
}

/// Whether a pod is bound or could be: not finished and not being deleted.
pub fn is_active(pod: &Value) -> bool {
    !object::is_deleting(pod)
        && !matches!(
            object::str_at(pod, "/status/phase"),
            Some("Succeeded" | "Failed")
        )
}

/// The node a pod is bound to, if any.
pub fn node_name(pod: &Value) -> Option<&str> {
    object::str_at(pod, "/spec/nodeName").filter(|n| !n.is_empty())
}

fn expression_matches(expr: &Value, value_of: &dyn Fn(&str) -> Option<String>) -> bool {
    let Some(key) = expr.get("key").and_then(Value::as_str) else {
        return false;
    };
    let values: Vec<&str> = expr
        .get("values")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let actual = value_of(key);
    let number = |s: &str| s.trim().parse::<i64>().ok();
    match expr.get("operator").and_then(Value::as_str) {
        Some("In") => actual.is_some_and(|a| values.contains(&a.as_str())),
        Some("NotIn") => actual.is_none_or(|a| !values.contains(&a.as_str())),
        Some("Exists") => actual.is_some(),
        Some("DoesNotExist") => actual.is_none(),
        Some(op @ ("Gt" | "Lt")) => {
            let (Some(have), [want]) = (actual.as_deref().and_then(number), values.as_slice())
            else {
                return false;
            };
            let Some(want) = number(want) else {
                return false;
            };
            if op == "Gt" { have > want } else { have < want }
        }
        _ => false,
    }
}

/// One nodeSelectorTerm: all expressions and fields must match; an empty
/// term matches nothing.
pub fn term_matches(term: &Value, node: &Value) -> bool {
    let list = |field: &str| -> Vec<&Value> {
        term.get(field)
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    };
    let (exprs, fields) = (list("matchExpressions"), list("matchFields"));
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let label_of = |k: &str| object::label(node, k).map(str::to_string);
    let field_of = |k: &str| (k == "metadata.name").then(|| object::name(node).to_string());
    exprs.iter().all(|e| expression_matches(e, &label_of))
        && fields.iter().all(|e| {
            e.get("key").and_then(Value::as_str) == Some("metadata.name")
                && expression_matches(e, &field_of)
        })
}

/// `spec.nodeSelector` and the required node affinity of a pod spec
/// (terms ORed, expressions ANDed).
pub fn selector_matches(pod_spec: &Value, node: &Value) -> bool {
    let selector_ok = pod_spec
        .get("nodeSelector")
        .and_then(Value::as_object)
        .is_none_or(|sel| {
            sel.iter().all(|(k, v)| {
                v.as_str()
                    .is_some_and(|v| object::label(node, k) == Some(v))
            })
        });
    if !selector_ok {
        return false;
    }
    match pod_spec.pointer(
        "/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
    ) {
        None | Some(Value::Null) => true,
        Some(Value::Array(terms)) => terms.iter().any(|t| term_matches(t, node)),
        Some(_) => false,
    }
}

fn tolerations_of(pod_spec: &Value) -> &[Value] {
    pod_spec
        .get("tolerations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn tolerates_parts(tolerations: &[Value], key: &str, value: &str, effect: &str) -> bool {
    let s = |v: &'_ Value, f: &str| -> String {
        v.get(f).and_then(Value::as_str).unwrap_or("").to_string()
    };
    tolerations.iter().any(|t| {
        let t_effect = s(t, "effect");
        if !t_effect.is_empty() && t_effect != effect {
            return false;
        }
        let t_key = s(t, "key");
        let exists = s(t, "operator") == "Exists";
        if t_key.is_empty() {
            return exists;
        }
        t_key == key && (exists || s(t, "value") == value)
    })
}

/// Whether `tolerations` tolerate `taint`.
pub fn tolerates(tolerations: &[Value], taint: &Value) -> bool {
    let f = |name: &str| taint.get(name).and_then(Value::as_str).unwrap_or("");
    tolerates_parts(tolerations, f("key"), f("value"), f("effect"))
}

/// The first NoSchedule/NoExecute taint of `node` the pod spec does not tolerate.
pub fn untolerated_taint(pod_spec: &Value, node: &Value) -> Option<(String, String)> {
    let tolerations = tolerations_of(pod_spec);
    node.pointer("/spec/taints")
        .and_then(Value::as_array)?
        .iter()
        .filter(|t| {
            matches!(
                t.get("effect").and_then(Value::as_str),
                Some("NoSchedule" | "NoExecute")
            )
        })
        .find(|t| !tolerates(tolerations, t))
        .map(|t| {
            let s = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or("").to_string();
            (s("key"), s("value"))
        })
}

/// Why `node` cannot run a pod with `pod_spec`, or `None` if it can.
pub fn misfit(pod_spec: &Value, node: &Value) -> Option<Misfit> {
    base_misfit(pod_spec, node)
        .or_else(|| (!selector_matches(pod_spec, node)).then_some(Misfit::Affinity))
}

/// The checks of [`misfit`] that come before the node selector and
/// affinity: they depend on the node and the pod's tolerations only.
fn base_misfit(pod_spec: &Value, node: &Value) -> Option<Misfit> {
    if !is_ready(node) {
        return Some(Misfit::NotReady);
    }
    let unschedulable = node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true);
    if unschedulable
        && !tolerates_parts(
            tolerations_of(pod_spec),
            "node.kubernetes.io/unschedulable",
            "",
            "NoSchedule",
        )
    {
        return Some(Misfit::Unschedulable);
    }
    if let Some((key, value)) = untolerated_taint(pod_spec, node) {
        return Some(Misfit::Taint { key, value });
    }
    None
}

/// Nodes indexed by label and name, so pods pinned by a node selector (the
/// engine's `belonging-to`) or a `metadata.name` field (daemon pods) only
/// look at their candidates, not at the whole fleet.
pub struct NodeIndex<'a> {
    nodes: Vec<&'a Value>,
    by_label: HashMap<(&'a str, &'a str), Vec<usize>>,
    by_name: HashMap<&'a str, usize>,
    /// Per toleration set: every node's [`misfit`] for a pod its selector
    /// excludes, counted. Pods pinned to a group nobody is labelled for yet
    /// would otherwise walk the whole fleet each, every round, for their
    /// Unschedulable message.
    excluded: RefCell<HashMap<String, BTreeMap<Misfit, usize>>>,
}

impl<'a> NodeIndex<'a> {
    pub fn new(nodes: &[&'a Value]) -> NodeIndex<'a> {
        let mut by_label: HashMap<(&'a str, &'a str), Vec<usize>> = HashMap::new();
        let mut by_name = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            by_name.insert(object::name(node), i);
            if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
                for (k, v) in labels {
                    if let Some(v) = v.as_str() {
                        by_label.entry((k.as_str(), v)).or_default().push(i);
                    }
                }
            }
        }
        NodeIndex {
            nodes: nodes.to_vec(),
            by_label,
            by_name,
            excluded: RefCell::default(),
        }
    }

    /// The Unschedulable message for a pod that fits none of `candidates`
    /// (None: every node was a candidate). Equal to walking every node with
    /// [`misfit`]: a node outside the candidates fails the selector, so its
    /// reason is its [`base_misfit`] or else the affinity, counted once per
    /// toleration set; only the candidates are looked at per pod.
    fn unschedulable_message(&self, spec: &Value, candidates: Option<&[usize]>) -> String {
        let Some(candidates) = candidates else {
            return unschedulable_message(spec, &self.nodes);
        };
        if self.nodes.is_empty() {
            return unschedulable_message(spec, &self.nodes);
        }
        let key = object::canonical(&json!(spec.get("tolerations")));
        let mut counts = self
            .excluded
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                let mut counts = BTreeMap::new();
                for node in &self.nodes {
                    let why = base_misfit(spec, node).unwrap_or(Misfit::Affinity);
                    *counts.entry(why).or_default() += 1;
                }
                counts
            })
            .clone();
        for node in candidates.iter().filter_map(|&i| self.nodes.get(i)) {
            let excluded = base_misfit(spec, node).unwrap_or(Misfit::Affinity);
            if let Some(n) = counts.get_mut(&excluded) {
                *n = n.saturating_sub(1);
            }
            if let Some(why) = misfit(spec, node) {
                *counts.entry(why).or_default() += 1;
            }
        }
        let texts = counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(why, n)| (why.text(), n));
        format_unschedulable(self.nodes.len(), texts)
    }

    /// Indexes of the nodes that can possibly fit (the smallest list the
    /// node selector or `metadata.name` fields allow), or `None` for "any".
    fn candidates(&self, spec: &Value) -> Option<Vec<usize>> {
        let by_selector = spec
            .get("nodeSelector")
            .and_then(Value::as_object)
            .filter(|s| !s.is_empty())
            .and_then(|selector| {
                selector
                    .iter()
                    .map(|(k, v)| {
                        v.as_str()
                            .and_then(|v| self.by_label.get(&(k.as_str(), v)))
                            .map(Vec::as_slice)
                            .unwrap_or(&[])
                    })
                    .min_by_key(|l| l.len())
                    .map(<[usize]>::to_vec)
            });
        let by_name = self.name_candidates(spec);
        match (by_selector, by_name) {
            (Some(a), Some(b)) => Some(if a.len() <= b.len() { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// Nodes named by `matchFields metadata.name In` in every required term.
    fn name_candidates(&self, spec: &Value) -> Option<Vec<usize>> {
        let terms = spec
            .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
            .and_then(Value::as_array)?;
        let mut out = Vec::new();
        for term in terms {
            let names = term
                .get("matchFields")
                .and_then(Value::as_array)?
                .iter()
                .find(|f| {
                    f.get("key").and_then(Value::as_str) == Some("metadata.name")
                        && f.get("operator").and_then(Value::as_str) == Some("In")
                })?
                .get("values")
                .and_then(Value::as_array)?;
            out.extend(
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(|n| self.by_name.get(n).copied()),
            );
        }
        out.sort_unstable();
        out.dedup();
        Some(out)
    }
}

/// Picks the node for `pod`: among nodes that fit, the one with the fewest
/// pods (`load`), then the smallest name. `Err` carries the Unschedulable message.
pub fn schedule(
    pod: &Value,
    nodes: &[&Value],
    load: &BTreeMap<String, usize>,
) -> Result<String, String> {
    schedule_indexed(pod, &NodeIndex::new(nodes), load)
}

/// [`schedule`] over a prepared index.
pub fn schedule_indexed(
    pod: &Value,
    index: &NodeIndex<'_>,
    load: &BTreeMap<String, usize>,
) -> Result<String, String> {
    let empty = json!({});
    let spec = pod.get("spec").unwrap_or(&empty);
    let candidates = index.candidates(spec);
    let nodes: Box<dyn Iterator<Item = &Value>> = match &candidates {
        Some(list) => Box::new(list.iter().filter_map(|&i| index.nodes.get(i).copied())),
        None => Box::new(index.nodes.iter().copied()),
    };
    let mut best: Option<(usize, &str)> = None;
    for node in nodes {
        if misfit(spec, node).is_none() {
            let name = object::name(node);
            let candidate = (load.get(name).copied().unwrap_or(0), name);
            if best.is_none_or(|b| candidate < b) {
                best = Some(candidate);
            }
        }
    }
    match best {
        Some((_, name)) => Ok(name.to_string()),
        None => Err(index.unschedulable_message(spec, candidates.as_deref())),
    }
}

/// `0/N nodes are available: …` with every node's first failing check.
fn unschedulable_message(spec: &Value, nodes: &[&Value]) -> String {
    if nodes.is_empty() {
        return "0/0 nodes are available: no nodes available to schedule pods.".into();
    }
    let mut misfits: BTreeMap<String, usize> = BTreeMap::new();
    for node in nodes {
        if let Some(why) = misfit(spec, node) {
            *misfits.entry(why.text()).or_default() += 1;
        }
    }
    format_unschedulable(nodes.len(), misfits)
}

fn format_unschedulable(
    nodes: usize,
    misfits: impl IntoIterator<Item = (String, usize)>,
) -> String {
    let mut merged: BTreeMap<String, usize> = BTreeMap::new();
    for (text, n) in misfits {
        *merged.entry(text).or_default() += n;
    }
    let mut reasons: Vec<String> = merged
        .iter()
        .map(|(text, n)| format!("{n} {text}"))
        .collect();
    reasons.sort();
    format!("0/{nodes} nodes are available: {}.", reasons.join(", "))
}

/// Pods bound to each node (active pods only).
pub fn node_load(pods: &[&Value]) -> BTreeMap<String, usize> {
    let mut load = BTreeMap::new();
    for pod in pods.iter().filter(|p| is_active(p)) {
        if let Some(node) = node_name(pod) {
            *load.entry(node.to_string()).or_default() += 1;
        }
    }
    load
}

/// Binds every unbound active pod that fits somewhere and marks the others
/// Unschedulable (only when that changes something).
pub fn schedule_pending(pods: &[&Value], nodes: &[&Value], now: Timestamp) -> Vec<Mutation> {
    let mut load = node_load(pods);
    let now_text = object::rfc3339(now);
    let index = NodeIndex::new(nodes);
    // Pods with the same constraints fail for the same reasons: compute once.
    let mut failures: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for pod in pods {
        if node_name(pod).is_some() || !is_active(pod) || !pod.is_object() {
            continue;
        }
        let mut next = (*pod).clone();
        let mut conditions = object::conditions_of(pod);
        let constraints = pod.get("spec").map(|spec| {
            object::canonical(&json!([
                spec.get("nodeSelector"),
                spec.get("affinity"),
                spec.get("tolerations")
            ]))
        });
        let known = constraints.as_ref().and_then(|c| failures.get(c)).cloned();
        let decision = match known {
            Some(message) => Err(message),
            None => schedule_indexed(pod, &index, &load),
        };
        if let (Err(message), Some(c)) = (&decision, constraints) {
            failures.insert(c, message.clone());
        }
        match decision {
            Ok(node) => {
                *load.entry(node.clone()).or_default() += 1;
                if let Some(spec) = object::map_mut(&mut next, "spec") {
                    spec.insert("nodeName".into(), json!(node));
                }
                conditions
                    .retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
                let cond = Cond {
                    type_: "PodScheduled",
                    status: "True",
                    reason: None,
                    message: None,
                };
                object::set_condition(&mut conditions, &cond, &now_text, CondStyle::Pod);
            }
            Err(message) => {
                let cond = Cond {
                    type_: "PodScheduled",
                    status: "False",
                    reason: Some("Unschedulable"),
                    message: Some(&message),
                };
                object::set_condition(&mut conditions, &cond, &now_text, CondStyle::Pod);
            }
        }
        if let Some(status) = object::map_mut(&mut next, "status") {
            status.insert("phase".into(), json!("Pending"));
            status.insert("conditions".into(), Value::Array(conditions));
        }
        if next != **pod {
            out.push(Mutation::Replace(next));
        }
    }
    out
}

#[cfg(test)]
mod tests;
