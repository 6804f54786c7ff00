//! Shared plumbing for integration tests: an embedded cluster with the CRDs
//! installed, and bounded polling for things that happen asynchronously.
#![allow(dead_code)] // each test crate uses a different subset

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use edgedeck::controllers::{Context, EngineEvent};
use edgedeck::embedded::{ClusterOptions, RunningCluster, start};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, PostParams};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub mod cluster;
pub mod demo;
pub mod edge;
pub mod fleet;
pub mod kubectl;
pub mod metrics;
pub mod netns;
pub mod proxy;
pub mod raw_http;
pub mod real;
pub mod tmux;

/// How long an asynchronous effect may take before the test gives up. A
/// bound for a hung test, not a performance assertion: effects are expected
/// within a fraction of it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A fresh embedded cluster on a free loopback port, with both CRDs applied.
pub async fn cluster_with_crds() -> (RunningCluster, Client) {
    let cluster = start(ClusterOptions::default())
        .await
        .expect("embedded cluster starts");
    let client = cluster.client().expect("client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in edgedeck::api::crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    (cluster, client)
}

/// Runs one controller (`edge_application::run`, `node_group::run`) alone
/// until the returned token is cancelled, with the engine's event stream
/// (every write it makes is reported there).
pub fn run_controller<Fut>(
    client: &Client,
    run: impl FnOnce(Arc<Context>, CancellationToken) -> Fut,
) -> (CancellationToken, broadcast::Receiver<EngineEvent>)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let (events, receiver) = broadcast::channel(1024);
    let ctx = Arc::new(Context::new(client.clone(), events));
    let cancel = CancellationToken::new();
    tokio::spawn(run(ctx, cancel.clone()));
    (cancel, receiver)
}

/// Waits until `api` no longer has the object `name` (pruned, deleted).
pub async fn eventually_gone<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    eventually(&format!("{name} gone"), || async {
        api.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await;
}

/// Polls `probe` until it returns Some, or panics after [`PATIENCE`] naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(PATIENCE, what, probe).await
}

/// [`eventually`] with another bound, for effects that wait on a periodic
/// loop of someone else's (kube-controller-manager's garbage collector finds
/// a new CRD only on its 30 s discovery resync).
pub async fn eventually_within<T, F, Fut>(patience: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads one YAML file into a typed object.
pub fn from_yaml_file<T: DeserializeOwned>(path: &str) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
