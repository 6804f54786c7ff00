//! `--embedded`: the embedded cluster with the demo fleet, started inside
//! the console. The seed (CRDs first, then the seed's objects) is shared
//! with `edgedeck cluster`.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::controls::FleetControls;
use super::paths::create_private_dir;
use crate::embedded::RunningCluster;
use crate::simulation::seed::Seed;

/// The edgedeck CRDs, then the seed's objects: what an embedded cluster starts with.
pub fn initial_objects(seed: Seed) -> Result<Vec<Value>, String> {
    let mut objects = crate::api::crds()
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot serialise the CRDs: {e}"))?;
    objects.extend(seed.objects());
    Ok(objects)
}

/// Writes the cluster's kubeconfig (mode 0600) to `path`, creating its directory.
pub fn write_kubeconfig(cluster: &RunningCluster, path: &Path) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    cluster.write_kubeconfig(path).map_err(|e| e.to_string())
}

impl FleetControls for RunningCluster {
    fn set_offline(&self, nodes: &[String], offline: bool) -> Result<(), String> {
        RunningCluster::set_offline(self, nodes, offline)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn offline(&self) -> std::collections::BTreeSet<String> {
        self.offline_nodes()
    }
}

/// The simulator's node controls of a running embedded cluster (None when
/// it runs without the fleet simulator).
pub fn fleet_controls(cluster: &Arc<RunningCluster>) -> Option<Arc<dyn FleetControls>> {
    cluster
        .simulates()
        .then(|| Arc::clone(cluster) as Arc<dyn FleetControls>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crds_come_before_the_demo_objects() {
        let objects = initial_objects(Seed::Demo).expect("objects");
        let kinds: Vec<&str> = objects
            .iter()
            .filter_map(|o| o.get("kind").and_then(Value::as_str))
            .collect();
        assert_eq!(
            kinds[..2],
            ["CustomResourceDefinition", "CustomResourceDefinition"]
        );
        assert!(kinds.contains(&"NodeGroup"));
        assert!(kinds.contains(&"EdgeApplication"));
        let first_group = kinds.iter().position(|k| *k == "NodeGroup");
        assert!(first_group > Some(1));
    }
}
