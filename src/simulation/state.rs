//! The in-memory overlay [`super::step`] runs controllers on, and the net
//! diff it returns. [`apply`] is the same semantics over a plain list, for
//! tests and for drivers that keep objects in a `Vec`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::object;
use super::{Mutation, ObjectRef, World};

/// The kinds the simulator reads and writes, in the order mutations are returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Node,
    Deployment,
    StatefulSet,
    DaemonSet,
    Pod,
    Service,
    EndpointSlice,
    Endpoints,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Node,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Pod,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Endpoints,
    ];

    pub fn of(object: &Value) -> Option<Kind> {
        Kind::from_parts(object::api_version(object), object::kind(object))
    }

    pub fn from_parts(api_version: &str, kind: &str) -> Option<Kind> {
        Some(match (api_version, kind) {
            ("v1", "Node") => Kind::Node,
            ("v1", "Pod") => Kind::Pod,
            ("apps/v1", "Deployment") => Kind::Deployment,
            ("apps/v1", "StatefulSet") => Kind::StatefulSet,
            ("apps/v1", "DaemonSet") => Kind::DaemonSet,
            ("v1", "Service") => Kind::Service,
            ("discovery.k8s.io/v1", "EndpointSlice") => Kind::EndpointSlice,
            ("v1", "Endpoints") => Kind::Endpoints,
            _ => return None,
        })
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Node | Kind::Pod | Kind::Service | Kind::Endpoints => "v1",
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet => "apps/v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Endpoints => "Endpoints",
        }
    }
}

type Key = (String, String);

fn key(object: &Value) -> Key {
    (
        object::namespace(object).to_string(),
        object::name(object).to_string(),
    )
}

pub(super) struct State<'a> {
    original: BTreeMap<Kind, BTreeMap<Key, &'a Value>>,
    current: BTreeMap<Kind, BTreeMap<Key, Cow<'a, Value>>>,
    /// Objects deleted during the step (a later create of the same name is a new object).
    deleted: BTreeSet<(Kind, Key)>,
}

impl<'a> State<'a> {
    pub fn new(world: &World<'a>) -> State<'a> {
        let mut original: BTreeMap<Kind, BTreeMap<Key, &'a Value>> = BTreeMap::new();
        for kind in Kind::ALL {
            let map = original.entry(kind).or_default();
            for object in world.list(kind) {
                map.insert(key(object), *object);
            }
        }
        let current = original
            .iter()
            .map(|(kind, objects)| {
                (
                    *kind,
                    objects
                        .iter()
                        .map(|(k, v)| (k.clone(), Cow::Borrowed(*v)))
                        .collect(),
                )
            })
            .collect();
        State {
            original,
            current,
            deleted: BTreeSet::new(),
        }
    }

    /// The current objects of `kind`, sorted by namespace and name.
    pub fn list(&self, kind: Kind) -> Vec<&Value> {
        self.current
            .get(&kind)
            .map(|m| m.values().map(|v| v.as_ref()).collect())
            .unwrap_or_default()
    }

    /// Applies mutations; true if any object changed.
    pub fn apply(&mut self, mutations: Vec<Mutation>) -> bool {
        let mut changed = false;
        for mutation in mutations {
            match mutation {
                Mutation::Create(object) | Mutation::Replace(object) => {
                    let Some(kind) = Kind::of(&object) else {
                        continue;
                    };
                    let map = self.current.entry(kind).or_default();
                    let k = key(&object);
                    if map.get(&k).map(|v| v.as_ref()) != Some(&object) {
                        map.insert(k, Cow::Owned(object));
                        changed = true;
                    }
                }
                Mutation::Delete(r) => {
                    let Some(kind) = Kind::from_parts(&r.api_version, &r.kind) else {
                        continue;
                    };
                    let k = (r.namespace.unwrap_or_default(), r.name);
                    if let Some(map) = self.current.get_mut(&kind)
                        && map.remove(&k).is_some()
                    {
                        changed = true;
                        self.deleted.insert((kind, k));
                    }
                }
            }
        }
        changed
    }

    /// Net mutations from the original world to the current state. An object
    /// deleted and created again under the same name (a StatefulSet pod being
    /// replaced) comes out as Delete followed by Create, never as Replace.
    pub fn diff(&self) -> Vec<Mutation> {
        let mut out = Vec::new();
        let empty_orig = BTreeMap::new();
        let empty_cur = BTreeMap::new();
        for kind in Kind::ALL {
            let orig = self.original.get(&kind).unwrap_or(&empty_orig);
            let cur = self.current.get(&kind).unwrap_or(&empty_cur);
            // Merge both key sets in order.
            let mut keys: Vec<&Key> = orig.keys().chain(cur.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let delete = || {
                    Mutation::Delete(ObjectRef {
                        api_version: kind.api_version().to_string(),
                        kind: kind.kind().to_string(),
                        namespace: (!k.0.is_empty()).then(|| k.0.clone()),
                        name: k.1.clone(),
                    })
                };
                let recreated = self.deleted.contains(&(kind, k.clone()));
                match (orig.get(k), cur.get(k)) {
                    (Some(_), None) => out.push(delete()),
                    (Some(_), Some(v)) if recreated => {
                        // Deleted and created again under the same name: a new object.
                        out.push(delete());
                        out.push(Mutation::Create(v.as_ref().clone()));
                    }
                    (None, Some(v)) => out.push(Mutation::Create(v.as_ref().clone())),
                    (Some(o), Some(Cow::Owned(v))) if *o != v => {
                        out.push(Mutation::Replace(v.clone()));
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// Applies mutations to a plain list of objects the way a store would
/// (without assigning uids or versions): Create/Replace put the object by
/// kind, namespace and name (replacing one already there), Delete removes it.
/// Order of the remaining objects is kept; new ones are appended.
pub fn apply(objects: &mut Vec<Value>, mutations: &[Mutation]) {
    let ident = |v: &Value| {
        (
            object::kind(v).to_string(),
            object::namespace(v).to_string(),
            object::name(v).to_string(),
        )
    };
    let mut slots: Vec<Option<Value>> = std::mem::take(objects).into_iter().map(Some).collect();
    let mut index: BTreeMap<(String, String, String), usize> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.as_ref().map(|v| (ident(v), i)))
        .collect();
    for mutation in mutations {
        let target = mutation.target();
        match mutation {
            Mutation::Create(v) | Mutation::Replace(v) => match index.get(&target) {
                Some(&i) => slots[i] = Some(v.clone()),
                None => {
                    index.insert(target, slots.len());
                    slots.push(Some(v.clone()));
                }
            },
            Mutation::Delete(_) => {
                if let Some(i) = index.remove(&target) {
                    slots[i] = None;
                }
            }
        }
    }
    *objects = slots.into_iter().flatten().collect();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, v: i64) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}, "v": v})
    }

    #[test]
    fn diff_is_net() {
        let (a, b) = (pod("a", 1), pod("b", 1));
        let world = World::from_objects([&a, &b]);
        let mut state = State::new(&world);
        // Change and revert: nothing. Create then delete: nothing.
        state.apply(vec![Mutation::Replace(pod("a", 2))]);
        state.apply(vec![Mutation::Replace(pod("a", 1))]);
        state.apply(vec![Mutation::Create(pod("c", 1))]);
        state.apply(vec![Mutation::delete(&pod("c", 1))]);
        assert!(state.diff().is_empty());
        // Delete and create again under the same name: a new object.
        state.apply(vec![Mutation::delete(&b)]);
        assert!(!state.apply(vec![Mutation::Replace(pod("a", 1))]));
        state.apply(vec![Mutation::Create(pod("b", 7))]);
        let diff = state.diff();
        assert_eq!(diff.len(), 2);
        assert!(
            matches!(&diff[0], Mutation::Delete(r) if r.name == "b" && r.namespace.as_deref() == Some("ns"))
        );
        assert_eq!(diff[1], Mutation::Create(pod("b", 7)));
        // apply() on a list follows the same sequence.
        let mut list = vec![a.clone(), b.clone()];
        apply(&mut list, &diff);
        assert_eq!(list, vec![a, pod("b", 7)]);
    }

    #[test]
    fn kinds_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(
                Kind::from_parts(kind.api_version(), kind.kind()),
                Some(kind)
            );
        }
        assert_eq!(
            Kind::of(&json!({"apiVersion": "v1", "kind": "ConfigMap"})),
            None
        );
    }
}
