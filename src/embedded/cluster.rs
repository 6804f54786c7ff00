//! Shared state of one embedded cluster: the store and the resource registry
//! derived from the stored CRDs.

use std::sync::{Arc, Mutex};

use super::resources::{Registry, crd_key};
use super::store::Store;

/// How many committed changes watches can resume across before getting 410 Gone.
pub const DEFAULT_EVENT_WINDOW: usize = 10_000;

pub struct Cluster {
    pub store: Store,
    /// (CRD resourceVersion it was built at, registry).
    registry: Mutex<(u64, Arc<Registry>)>,
}

impl Cluster {
    pub fn with_store(store: Store) -> Cluster {
        Cluster {
            store,
            registry: Mutex::new((0, Arc::new(Registry::build(&[])))),
        }
    }

    /// The current registry, rebuilt first if any CRD changed since last time.
    pub fn registry(&self) -> Arc<Registry> {
        let crd_rv = self.store.last_change(&crd_key());
        let mut cached = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if cached.0 != crd_rv {
            let crds = self.store.snapshot(&crd_key());
            *cached = (crd_rv, Arc::new(Registry::build(&crds)));
        }
        cached.1.clone()
    }
}
