//! In-memory object store with one global, monotonic resourceVersion and a
//! bounded event log that watches resume from.
//!
//! Objects are `serde_json::Value`s keyed by resource (group + plural, not
//! version: every served version of a resource shares one stored copy, which
//! is what Kubernetes does for CRDs without conversion) and namespace/name.
//!
//! Every mutation goes through [`Inner::commit`], which assigns the next
//! resourceVersion, updates the table and appends to the event log. With a
//! data directory it also queues a write-ahead log record; [`Store::transaction`]
//! writes and fsyncs the transaction's records before it releases the lock, so
//! nobody (reader, watcher, or the client that made the write) ever sees a
//! change that is not on disk yet.
//!
//! If the log cannot be written, the store keeps serving from memory but
//! records a sticky failure ([`Store::persistence_failure`]): the server then
//! answers every write with 500, as acknowledging it would promise durability.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::watch;

use super::error::ApiError;
use super::persist::{PersistError, Recovered, Wal};

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
    /// Set (under the lock) once changes can no longer be made durable.
    failure: watch::Sender<Option<String>>,
}

struct Inner {
    rv: u64,
    tables: HashMap<ResourceKey, BTreeMap<ObjectKey, Arc<Value>>>,
    /// resourceVersion of the last change per resource (derived state such as
    /// the CRD-backed resource registry is rebuilt only when this moves).
    last_change: HashMap<ResourceKey, u64>,
    log: VecDeque<Arc<StoredEvent>>,
    log_capacity: usize,
    /// Watches may resume from this resourceVersion or later: the rv of the
    /// last event dropped from the log, or the rv the store was recovered at
    /// (events from before a restart are not kept).
    floor: u64,
    /// The write-ahead log, with a data directory (None: memory only, or failed).
    wal: Option<Wal>,
    /// A record that could not be queued in the running transaction.
    wal_error: Option<PersistError>,
}

impl Store {
    /// A memory-only store.
    pub fn new(log_capacity: usize) -> Self {
        Self::build(log_capacity, Recovered::default(), None)
    }

    /// A store recovered from a data directory, logging every change to `wal`.
    pub fn persistent(log_capacity: usize, recovered: Recovered, wal: Wal) -> Self {
        Self::build(log_capacity, recovered, Some(wal))
    }

    fn build(log_capacity: usize, recovered: Recovered, wal: Option<Wal>) -> Self {
        let (head, _) = watch::channel(recovered.rv);
        let (failure, _) = watch::channel(None);
        Store {
            inner: Mutex::new(Inner {
                rv: recovered.rv,
                tables: recovered.tables,
                last_change: recovered.last_change,
                log: VecDeque::new(),
                log_capacity: log_capacity.max(1),
                floor: recovered.rv,
                wal,
                wal_error: None,
            }),
            head,
            failure,
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
        if after != before
            && let Some(failure) = guard.make_durable()
        {
            // Still under the lock: no later write can be acknowledged unseen.
            self.failure.send_replace(Some(failure));
        }
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

    /// Why changes are no longer being made durable (None: they are, or the
    /// store is memory-only).
    pub fn persistence_failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Changes to [`Store::persistence_failure`].
    pub fn subscribe_failure(&self) -> watch::Receiver<Option<String>> {
        self.failure.subscribe()
    }

    /// Closes the write-ahead log (releasing the data directory); later
    /// writes are refused by the server. A no-op for memory-only stores.
    pub fn close_persistence(&self) {
        let mut guard = self.lock();
        if let Some(mut wal) = guard.wal.take() {
            if let Err(error) = wal.flush() {
                tracing::error!(%error, "cannot flush the write-ahead log");
            }
            drop(wal);
            self.failure
                .send_replace(Some("the embedded cluster is shutting down".into()));
        }
    }
}

impl Inner {
    fn check_resumable(&self, rv: u64) -> Result<(), TooOld> {
        if rv < self.floor {
            return Err(TooOld {
                requested: rv,
                oldest: self.floor,
            });
        }
        Ok(())
    }

    /// Writes and fsyncs the running transaction's log records; compacts the
    /// log when it grew large. Returns why persistence failed, if it did (the
    /// log is then abandoned: appending after a partial record would corrupt it).
    fn make_durable(&mut self) -> Option<String> {
        let wal = self.wal.as_mut()?;
        let written = match self.wal_error.take() {
            Some(error) => Err(error),
            None => wal.flush(),
        };
        if let Err(error) = written {
            tracing::error!(%error, "cannot write the write-ahead log; refusing further writes");
            self.wal = None;
            return Some(format!("cannot persist the change: {error}"));
        }
        if wal.wants_compaction()
            && let Err(error) = wal.compact(self.rv, &self.tables)
        {
            tracing::warn!(%error, "cannot compact the write-ahead log; keeping the old one");
        }
        None
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
        if let Some(wal) = &mut self.wal
            && self.wal_error.is_none()
        {
            let logged = match kind {
                EventType::Deleted => None,
                EventType::Added | EventType::Modified => Some(&*object),
            };
            if let Err(error) = wal.record(self.rv, resource, key, logged) {
                self.wal_error = Some(error);
            }
        }
        self.log.push_back(Arc::new(StoredEvent {
            rv: self.rv,
            resource: resource.clone(),
            kind,
            object: object.clone(),
            previous,
        }));
        while self.log.len() > self.log_capacity {
            if let Some(dropped) = self.log.pop_front() {
                self.floor = dropped.rv;
            }
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

    /// Objects of `resource` after `after` (from the first when None), in
    /// key order, within `namespace` (None = all). Lazy, so a page of a list
    /// reads only the entries it returns instead of the whole table.
    pub fn list_after<'t>(
        &'t self,
        resource: &ResourceKey,
        namespace: Option<&'t str>,
        after: Option<&ObjectKey>,
    ) -> impl Iterator<Item = (&'t ObjectKey, &'t Arc<Value>)> + 't {
        let first = namespace.map(|ns| ObjectKey::new(ns, ""));
        let start = match (after, first) {
            // A token from before the namespace starts reads from its first key.
            (Some(after), Some(first)) if *after < first => Bound::Included(first),
            (Some(after), _) => Bound::Excluded(after.clone()),
            (None, Some(first)) => Bound::Included(first),
            (None, None) => Bound::Unbounded,
        };
        self.inner
            .tables
            .get(resource)
            .into_iter()
            .flat_map(move |table| table.range((start.clone(), Bound::Unbounded)))
            .take_while(move |(key, _)| namespace.is_none_or(|ns| key.namespace == ns))
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
    fn a_recovered_store_continues_and_refuses_older_watches() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = ObjectKey::new("default", "a");
        {
            let (wal, recovered) = Wal::open(dir.path(), 1 << 20).expect("opens");
            let store = Store::persistent(100, recovered, wal);
            for _ in 0..3 {
                store.transaction(|t| t.put(&pods(), &key, json!({"metadata": {"name": "a"}})));
            }
            store.transaction(|t| t.remove(&pods(), &ObjectKey::new("default", "missing")));
            assert_eq!(store.current_rv(), 3);
        }
        let (wal, recovered) = Wal::open(dir.path(), 1 << 20).expect("reopens");
        let store = Store::persistent(100, recovered, wal);
        assert_eq!(store.current_rv(), 3);
        assert_eq!(store.last_change(&pods()), 3);
        assert!(
            store.check_resumable(2).is_err(),
            "events before the restart are gone"
        );
        assert!(store.events_since(&pods(), 3).is_ok());
        let stored = store
            .transaction(|t| t.get(&pods(), &key))
            .expect("recovered");
        assert_eq!(stored["metadata"]["resourceVersion"], "3");
        let next = store
            .transaction(|t| t.remove(&pods(), &key))
            .expect("existed");
        assert_eq!(next["metadata"]["resourceVersion"], "4");
        assert!(store.persistence_failure().is_none());
    }

    #[test]
    fn a_failed_log_write_is_sticky() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, recovered) = Wal::open(dir.path(), 1 << 20).expect("opens");
        wal.break_for_test().expect("breaks");
        let store = Store::persistent(100, recovered, wal);
        let failures = store.subscribe_failure();
        assert!(store.persistence_failure().is_none());
        store.transaction(|t| t.put(&pods(), &ObjectKey::new("default", "a"), json!({})));
        let failure = store.persistence_failure().expect("failed");
        assert!(failure.contains("wal.log"), "{failure}");
        assert!(failures.has_changed().expect("open"));
        // Later writes still work in memory, but the failure stays.
        store.transaction(|t| t.put(&pods(), &ObjectKey::new("default", "b"), json!({})));
        assert_eq!(store.persistence_failure(), Some(failure));
        // Only the failed write's frame could have been cut short; nothing follows it.
        let log = std::fs::read(dir.path().join("wal.log")).expect("log");
        assert_eq!(log, b"edgedeck-wal v1\n");
    }

    #[test]
    fn closing_persistence_releases_the_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, recovered) = Wal::open(dir.path(), 1 << 20).expect("opens");
        let store = Store::persistent(100, recovered, wal);
        store.transaction(|t| t.put(&pods(), &ObjectKey::new("default", "a"), json!({})));
        store.close_persistence();
        assert!(store.persistence_failure().is_some());
        let (_wal, recovered) = Wal::open(dir.path(), 1 << 20).expect("unlocked");
        assert_eq!(recovered.rv, 1);
        // A memory-only store has nothing to close and never fails.
        let memory = Store::new(10);
        memory.close_persistence();
        assert!(memory.persistence_failure().is_none());
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

    #[test]
    fn list_after_resumes_after_the_key_within_the_namespace() {
        let store = Store::new(10);
        store.transaction(|t| {
            for (ns, name) in [("a", "x"), ("b", "x"), ("b", "y"), ("b", "z"), ("c", "x")] {
                t.put(&pods(), &ObjectKey::new(ns, name), json!({}));
            }
        });
        let after = |ns: Option<&str>, key: Option<ObjectKey>| -> Vec<String> {
            store.transaction(|t| {
                t.list_after(&pods(), ns, key.as_ref())
                    .map(|(k, _)| format!("{}/{}", k.namespace, k.name))
                    .collect()
            })
        };
        assert_eq!(after(Some("b"), None), ["b/x", "b/y", "b/z"]);
        assert_eq!(
            after(Some("b"), Some(ObjectKey::new("b", "x"))),
            ["b/y", "b/z"]
        );
        // A key outside the namespace, before or after it.
        assert_eq!(
            after(Some("b"), Some(ObjectKey::new("a", "x"))),
            ["b/x", "b/y", "b/z"]
        );
        assert!(after(Some("b"), Some(ObjectKey::new("c", ""))).is_empty());
        assert_eq!(after(None, Some(ObjectKey::new("b", "z"))), ["c/x"]);
        assert!(after(Some("nope"), None).is_empty());
    }
}
