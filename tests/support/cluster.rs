//! One interface over the two clusters every suite runs on: the embedded
//! cluster with its fleet simulator, and a real upstream control plane
//! (kube-apiserver, etcd, controller-manager, scheduler, kwok nodes).
//!
//! A test body is written once against [`TestCluster`] and
//! [`on_both_clusters!`](crate::on_both_clusters) makes one test per cluster,
//! named `<test>::embedded` and `<test>::real`, so `cargo test real` runs
//! only the real-cluster half.

use std::path::{Path, PathBuf};

use edgedeck::embedded::{ClusterOptions, RunningCluster, start};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, PostParams};

use super::real::ControlPlane;

enum Backend {
    Embedded(RunningCluster),
    Real(Box<ControlPlane>),
}

pub struct TestCluster {
    backend: Backend,
    client: Client,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// The embedded cluster with the fleet simulator playing kubelet,
    /// scheduler and workload controllers, like the real one below.
    pub async fn embedded() -> TestCluster {
        Self::embedded_with(Vec::new()).await
    }

    /// [`TestCluster::embedded`] started with these objects, as `--embedded`
    /// starts with its seed.
    pub async fn embedded_with(initial_objects: Vec<serde_json::Value>) -> TestCluster {
        let cluster = start(ClusterOptions {
            initial_objects,
            simulate: true,
            ..ClusterOptions::default()
        })
        .await
        .expect("embedded cluster starts");
        let client = cluster.client().expect("client");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        cluster.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        TestCluster {
            backend: Backend::Embedded(cluster),
            client,
            kubeconfig,
            _dir: dir,
        }
    }

    /// A real control plane built from upstream Kubernetes, nodes from kwok.
    pub async fn real() -> TestCluster {
        let plane = ControlPlane::start().await;
        let client = plane.client();
        let kubeconfig = plane.kubeconfig.clone();
        TestCluster {
            backend: Backend::Real(Box::new(plane)),
            client,
            kubeconfig,
            _dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Either cluster, with edgedeck's CRDs installed and established.
    pub async fn with_crds(self) -> TestCluster {
        install_crds(&self.client).await;
        self
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn is_real(&self) -> bool {
        matches!(self.backend, Backend::Real(_))
    }

    pub fn name(&self) -> &'static str {
        match self.backend {
            Backend::Embedded(_) => "embedded",
            Backend::Real(_) => "real",
        }
    }

    pub fn embedded_cluster(&self) -> Option<&RunningCluster> {
        match &self.backend {
            Backend::Embedded(c) => Some(c),
            Backend::Real(_) => None,
        }
    }

    pub fn control_plane_mut(&mut self) -> Option<&mut ControlPlane> {
        match &mut self.backend {
            Backend::Real(p) => Some(p),
            Backend::Embedded(_) => None,
        }
    }

    pub fn control_plane(&self) -> Option<&ControlPlane> {
        match &self.backend {
            Backend::Real(p) => Some(p),
            Backend::Embedded(_) => None,
        }
    }
}

/// Creates edgedeck's CRDs and waits until the API serves them (a real API
/// server takes a moment to establish a new CRD).
pub async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in edgedeck::api::crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    for crd in edgedeck::api::crds() {
        let name = crd.metadata.name.clone().expect("CRD name");
        super::eventually(&format!("CRD {name} established"), || {
            let crds = crds.clone();
            let name = name.clone();
            async move {
                let crd = crds.get(&name).await.ok()?;
                let established = crd
                    .status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True");
                established.then_some(())
            }
        })
        .await;
    }
    // Discovery may lag the Established condition by a beat on a real
    // server; the first list through the new resource proves it is served.
    let client = client.clone();
    super::eventually("EdgeApplications listable", || {
        let client = client.clone();
        async move {
            let apps: Api<edgedeck::api::EdgeApplication> = Api::all(client);
            apps.list(&Default::default()).await.ok().map(|_| ())
        }
    })
    .await;
}

/// Writes each test body once and runs it on both clusters:
///
/// ```ignore
/// on_both_clusters! {
///     async fn pruning_deletes_a_removed_group(cluster) {
///         let client = cluster.client();
///         …
///     }
/// }
/// ```
#[macro_export]
macro_rules! on_both_clusters {
    ($(
        $(#[doc = $doc:literal])*
        async fn $name:ident($cluster:ident) $body:block
    )*) => {
        $(
            $(#[doc = $doc])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($cluster: $crate::support::cluster::TestCluster) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    body($crate::support::cluster::TestCluster::embedded().await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn real() {
                    body($crate::support::cluster::TestCluster::real().await).await
                }
            }
        )*
    };
}
