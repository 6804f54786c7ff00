//! The demo fleet that `edgedeck --embedded` starts with, on either cluster:
//! suites that show or edit it (the console's) run one body on both.
//!
//! - Embedded: a cluster started with the demo seed and the fleet
//!   simulator, exactly as the console's `--embedded` starts its own.
//! - Real: [`TestCluster::real`], then the seed loaded through the API like
//!   `edgedeck seed demo --with-nodes` (CRDs included), its Nodes handed to
//!   kwok, which runs them and their pods.
//!
//! Either way the fleet is there and every demo node Ready before the test
//! body sees it, so a test never races the load.

use std::path::Path;

use edgedeck::console::live::embedded::initial_objects;
use edgedeck::embedded::RunningCluster;
use edgedeck::simulation::load::{LoadOptions, Nodes, load};
use edgedeck::simulation::seed::Seed;
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use super::cluster::TestCluster;

/// A cluster holding the demo fleet; dropping it stops the cluster.
pub struct DemoCluster {
    cluster: TestCluster,
    client: Client,
}

/// The demo seed with edgedeck's CRDs first: what `--embedded` starts with.
pub fn objects() -> Vec<Value> {
    initial_objects(Seed::Demo).expect("demo objects")
}

/// How many objects of `kind` the demo seed has.
pub fn count(kind: &str) -> usize {
    Seed::Demo
        .objects()
        .iter()
        .filter(|o| o.get("kind").and_then(Value::as_str) == Some(kind))
        .count()
}

fn node_names() -> Vec<String> {
    Seed::Demo
        .objects()
        .iter()
        .filter(|o| o["kind"] == "Node")
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

impl DemoCluster {
    /// The demo fleet on a cluster of `cluster`'s kind. An embedded
    /// `cluster` (empty, as [`on_both_clusters!`](crate::on_both_clusters)
    /// makes it) is replaced by one started with the seed, because that is
    /// how `--embedded` gets its fleet; a real one gets the seed loaded.
    pub async fn on(cluster: TestCluster) -> DemoCluster {
        let demo = if cluster.is_real() {
            DemoCluster::real(cluster).await
        } else {
            drop(cluster);
            DemoCluster::embedded().await
        };
        demo.wait_for_ready_nodes().await;
        demo
    }

    async fn embedded() -> DemoCluster {
        let cluster = TestCluster::embedded_with(objects()).await;
        DemoCluster {
            client: cluster.client(),
            cluster,
        }
    }

    async fn real(cluster: TestCluster) -> DemoCluster {
        let client = cluster.client();
        let options = LoadOptions {
            nodes: Nodes::Kwok,
            ..LoadOptions::default()
        };
        load(&client, objects(), &options)
            .await
            .unwrap_or_else(|e| panic!("loading the demo fleet onto the real cluster: {e}"));
        DemoCluster { cluster, client }
    }

    /// Every demo node Ready: the simulator or kwok has taken them over.
    async fn wait_for_ready_nodes(&self) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let names = node_names();
        super::eventually(
            &format!("the {} demo nodes Ready on {}", names.len(), self.name()),
            || {
                let nodes = nodes.clone();
                let names = names.clone();
                async move {
                    for name in &names {
                        let node = nodes.get_opt(name).await.ok()??;
                        let ready = node
                            .status?
                            .conditions?
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True");
                        if !ready {
                            return None;
                        }
                    }
                    Some(())
                }
            },
        )
        .await;
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn kubeconfig(&self) -> &Path {
        self.cluster.kubeconfig()
    }

    pub fn is_real(&self) -> bool {
        self.cluster.is_real()
    }

    pub fn name(&self) -> &'static str {
        self.cluster.name()
    }

    pub fn control_plane_mut(&mut self) -> Option<&mut super::real::ControlPlane> {
        self.cluster.control_plane_mut()
    }

    pub fn embedded_cluster(&self) -> Option<&RunningCluster> {
        self.cluster.embedded_cluster()
    }
}
