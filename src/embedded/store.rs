//! In-memory object store with one global, monotonic resourceVersion and a
//! bounded event log that watches resume from.
//!
//! Objects are `serde_json::Value`s keyed by resource (group + plural, not
//! version: every served version of a resource shares one stored copy, which
//! is what Kubernetes does for CRDs without conversion) and namespace/name.
//!
//! Every mutation goes through [`Inner::commit`], which assigns the next
//! resourceVersion, updates the table and appends to the event log. That is the
//! single place a write-ahead log for `--data-dir` will hook into.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::watch;

use super::error::ApiError;

/// A served resource, independent of version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    pub group: String,
    pub resource: String,
}

impl ResourceKey {
    pub fn new(group: &str, resource: &str) -> Self {
        ResourceKey {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

/// One object of a resource. `namespace` is empty for cluster-scoped objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One committed change. `previous` lets filtered watches turn a change that
/// moves an object out of (into) their selector into DELETED (ADDED).
#[derive(Debug)]
pub struct StoredEvent {
    pub rv: u64,
    pub resource: ResourceKey,
    pub kind: EventType,
    pub object: Arc<Value>,
    pub previous: Option<Arc<Value>>,
}

/// The single kind of change the store knows about.
enum Mutation {
    Put(Value),
    Remove,
}

/// Events older than the log window cannot be replayed: the watcher must relist.
#[derive(Debug, Clone, Copy)]
pub struct TooOld {
    pub requested: u64,
    pub oldest: u64,
}

impl From<TooOld> for ApiError {
    fn from(e: TooOld) -> Self {
        ApiError::Gone {
            requested: e.requested,
            oldest: e.oldest,
        }
    }
}

pub struct Store {
    inner: Mutex<Inner>,
    /// Latest committed resourceVersion; watchers wait on changes of it and
    /// then read the log, so a slow watcher can never miss events silently.
    head: watch::Sender<u64>,
}

struct Inner {
    rv: u64,
    tables: HashMap<ResourceKey, BTreeMap<ObjectKey, Arc<Value>>>,
    /// resourceVersion of the last change per resource (derived state such as
    /// the CRD-backed resource registry is rebuilt only when this moves).
    last_change: HashMap<ResourceKey, u64>,
    log: VecDeque<Arc<StoredEvent>>,
    log_capacity: usize,
}

impl Store {
    pub fn new(log_capacity: usize) -> Self {
        let (head, _) = watch::channel(0);
        Store {
            inner: Mutex::new(Inner {
                rv: 0,
                tables: HashMap::new(),
                last_change: HashMap::new(),
                log: VecDeque::new(),
                log_capacity: log_capacity.max(1),
            }),
            head,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied commit
        // (commit does not panic), so the data is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with exclusive access; all reads inside see one consistent state
    /// and all writes become visible to watchers together when `f` returns.
    pub fn transaction<R>(&self, f: impl FnOnce(&mut Txn<'_>) -> R) -> R {
        let mut guard = self.lock();
        let before = guard.rv;
        let mut txn = Txn { inner: &mut guard };
        let result = f(&mut txn);
        let after = guard.rv;
        drop(guard);
        if after != before {
            self.head.send_replace(after);
        }
        result
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Oldest resourceVersion a watch may still resume from.
    pub fn check_resumable(&self, rv: u64) -> Result<(), TooOld> {
        self.lock().check_resumable(rv)
    }

    /// Events of `resource` committed after `rv`, and the head they reach to.
    pub fn events_since(
        &self,
        resource: &ResourceKey,
        rv: u64,
    ) -> Result<(Vec<Arc<StoredEvent>>, u64), TooOld> {
        let inner = self.lock();
        inner.check_resumable(rv)?;
        let events = match inner.log.front() {
            None => Vec::new(),
            Some(first) => {
                // resourceVersions in the log are consecutive, so the start is an index.
                let skip = usize::try_from(rv.saturating_add(1).saturating_sub(first.rv))
                    .unwrap_or(usize::MAX);
                inner
                    .log
                    .iter()
                    .skip(skip)
                    .filter(|e| &e.resource == resource)
                    .cloned()
                    .collect()
            }
        };
        Ok((events, inner.rv))
    }

    /// resourceVersion of the last change to `resource` (0 if never changed).
    pub fn last_change(&self, resource: &ResourceKey) -> u64 {
        self.lock().last_change.get(resource).copied().unwrap_or(0)
    }

    /// All objects of `resource` (any namespace), outside of a transaction.
    pub fn snapshot(&self, resource: &ResourceKey) -> Vec<Arc<Value>> {
        self.lock()
            .tables
            .get(resource)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }
}

impl Inner {
    fn check_resumable(&self, rv: u64) -> Result<(), TooOld> {
        match self.log.front() {
            Some(first) if rv.saturating_add(1) < first.rv => Err(TooOld {
                requested: rv,
                oldest: first.rv.saturating_sub(1),
            }),
            _ => Ok(()),
        }
    }

    /// The one function every change goes through.
    fn commit(
        &mut self,
        resource: &ResourceKey,
        key: &ObjectKey,
        mutation: Mutation,
    ) -> Option<Arc<Value>> {
        let table = self.tables.entry(resource.clone()).or_default();
        let previous = table.get(key).cloned();
        let (kind, object) = match mutation {
            Mutation::Put(mut object) => {
                self.rv += 1;
                set_resource_version(&mut object, self.rv);
                let object = Arc::new(object);
                table.insert(key.clone(), object.clone());
                let kind = if previous.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (kind, object)
            }
            Mutation::Remove => {
                let removed = table.remove(key)?;
                self.rv += 1;
                // Like etcd, the DELETED event carries the deletion's revision.
                let mut object = (*removed).clone();
                set_resource_version(&mut object, self.rv);
                (EventType::Deleted, Arc::new(object))
            }
        };
        self.last_change.insert(resource.clone(), self.rv);
        self.log.push_back(Arc::new(StoredEvent {
            rv: self.rv,
            resource: resource.clone(),
            kind,
            object: object.clone(),
            previous,
        }));
        while self.log.len() > self.log_capacity {
            self.log.pop_front();
        }
        Some(object)
    }
}

fn set_resource_version(object: &mut Value, rv: u64) {
    if let Some(obj) = object.as_object_mut() {
        let metadata = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(metadata) = metadata.as_object_mut() {
            metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
    }
}

/// Exclusive access to the store for the duration of one request.
pub struct Txn<'a> {
    inner: &'a mut Inner,
}

impl Txn<'_> {
    pub fn current_rv(&self) -> u64 {
        self.inner.rv
    }

    pub fn get(&self, resource: &ResourceKey, key: &ObjectKey) -> Option<Arc<Value>> {
        self.inner.tables.get(resource)?.get(key).cloned()
    }

    /// Objects of `resource`, sorted by namespace then name; `namespace` None = all.
    pub fn list(
        &self,
        resource: &ResourceKey,
        namespace: Option<&str>,
    ) -> Vec<(ObjectKey, Arc<Value>)> {
        let Some(table) = self.inner.tables.get(resource) else {
            return Vec::new();
        };
        match namespace {
            None => table.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(ns) => {
                let start = ObjectKey::new(ns, "");
                table
                    .range(start..)
                    .take_while(|(k, _)| k.namespace == ns)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
        }
    }

    /// Every stored object (for garbage collection across resources).
    pub fn all(&self) -> Vec<(ResourceKey, ObjectKey, Arc<Value>)> {
        let mut out = Vec::new();
        for (resource, table) in &self.inner.tables {
            for (key, obj) in table {
                out.push((resource.clone(), key.clone(), obj.clone()));
            }
        }
        out
    }

    /// Stores `object` (create or replace), returning it with its new resourceVersion.
    pub fn put(&mut self, resource: &ResourceKey, key: &ObjectKey, object: Value) -> Arc<Value> {
        match self.inner.commit(resource, key, Mutation::Put(object)) {
            Some(stored) => stored,
            // Put always stores; this arm only exists because commit is shared with Remove.
            None => Arc::new(Value::Null),
        }
    }

    /// Removes the object, returning its final state (None if it did not exist).
    pub fn remove(&mut self, resource: &ResourceKey, key: &ObjectKey) -> Option<Arc<Value>> {
        self.inner.commit(resource, key, Mutation::Remove)
    }

    /// Removes every object of a resource (its CRD went away).
    pub fn remove_all(&mut self, resource: &ResourceKey) {
        let keys: Vec<ObjectKey> = self
            .inner
            .tables
            .get(resource)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        for key in keys {
            self.remove(resource, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> ResourceKey {
        ResourceKey::new("", "pods")
    }

    #[test]
    fn resource_versions_are_monotonic_and_logged() {
        let store = Store::new(100);
        let key = ObjectKey::new("default", "a");
        let first = store.transaction(|t| t.put(&pods(), &key, json!({"metadata": {"name": "a"}})));
        let second =
            store.transaction(|t| t.put(&pods(), &key, json!({"metadata": {"name": "a"}})));
        assert_eq!(first["metadata"]["resourceVersion"], "1");
        assert_eq!(second["metadata"]["resourceVersion"], "2");
        let (events, head) = store.events_since(&pods(), 0).expect("resumable");
        assert_eq!(head, 2);
        assert_eq!(
            events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![EventType::Added, EventType::Modified]
        );
        let deleted = store
            .transaction(|t| t.remove(&pods(), &key))
            .expect("existed");
        assert_eq!(deleted["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn old_versions_are_gone_once_the_log_wraps() {
        let store = Store::new(2);
        for i in 0..5 {
            let key = ObjectKey::new("default", &format!("p{i}"));
            store.transaction(|t| t.put(&pods(), &key, json!({})));
        }
        assert!(store.events_since(&pods(), 1).is_err());
        let (events, _) = store.events_since(&pods(), 3).expect("in window");
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn list_by_namespace_is_sorted_and_scoped() {
        let store = Store::new(10);
        store.transaction(|t| {
            t.put(&pods(), &ObjectKey::new("b", "x"), json!({}));
            t.put(&pods(), &ObjectKey::new("a", "z"), json!({}));
            t.put(&pods(), &ObjectKey::new("a", "y"), json!({}));
        });
        let names: Vec<String> = store.transaction(|t| {
            t.list(&pods(), Some("a"))
                .into_iter()
                .map(|(k, _)| k.name)
                .collect()
        });
        assert_eq!(names, vec!["y", "z"]);
        assert_eq!(store.transaction(|t| t.list(&pods(), None).len()), 3);
    }
}
