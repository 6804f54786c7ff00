//! The embedded API server under the scale seed (10,000 nodes, 500 node
//! groups, 50 EdgeApplications), in-process, without the fleet simulator so
//! the figures measure the API server alone:
//!
//! - listing 10,000 Nodes through kube::Client (one request, and paged by
//!   500 as kube-runtime's watcher lists);
//! - 1,000 writes (merge patches of 1,000 ConfigMaps, 4 in flight) with no
//!   watcher, and with 10 concurrent watchers that must each receive all
//!   1,000 events: the time from the first write to the last event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use edgedeck::embedded::{self, ClusterOptions, RunningCluster};
use edgedeck::simulation::seed::Seed;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const NODES: usize = 10_000;
const GROUPS: usize = 500;
const APPS: usize = 50;
const WRITES: usize = 1_000;
const WATCHERS: usize = 10;
const IN_FLIGHT: usize = 4;
const NAMESPACE: &str = "fanout";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn start_scale_cluster() -> RunningCluster {
    let initial_objects = edgedeck::console::live::embedded::initial_objects(Seed::Scale {
        nodes: NODES,
        groups: GROUPS,
        apps: APPS,
    })
    .expect("scale seed");
    embedded::start(ClusterOptions {
        initial_objects,
        simulate: false,
        ..ClusterOptions::default()
    })
    .await
    .expect("embedded cluster starts")
}

fn list_nodes(c: &mut Criterion) {
    let rt = runtime();
    // kube::Client spawns its request buffer on the current runtime.
    let _enter = rt.enter();
    let cluster = rt.block_on(start_scale_cluster());
    let client = cluster.client().expect("client");
    let nodes: Api<Node> = Api::all(client);
    let count = rt
        .block_on(nodes.list(&ListParams::default()))
        .expect("list")
        .items
        .len();
    assert_eq!(count, NODES, "the scale seed holds {NODES} nodes");

    let mut group = c.benchmark_group("embedded/list_nodes");
    group.sample_size(10);
    group.bench_function("10000/single_request", |b| {
        b.iter(|| {
            let list = rt
                .block_on(nodes.list(&ListParams::default()))
                .expect("list");
            list.items.len()
        });
    });
    group.bench_function("10000/paged_500", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut params = ListParams::default().limit(500);
                let mut total = 0;
                loop {
                    let page = nodes.list(&params).await.expect("list page");
                    total += page.items.len();
                    match page.metadata.continue_.filter(|c| !c.is_empty()) {
                        Some(token) => params = params.continue_token(&token),
                        None => break total,
                    }
                }
            })
        });
    });
    group.finish();
    rt.block_on(cluster.shutdown());
}

/// 1,000 merge patches, `IN_FLIGHT` at a time, each changing one ConfigMap.
async fn write_all(config_maps: &Api<ConfigMap>, round: u64) {
    stream::iter(0..WRITES)
        .map(|i| {
            let api = config_maps.clone();
            async move {
                let patch = json!({"data": {"round": round.to_string()}});
                api.patch(
                    &format!("cm-{i:04}"),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map(|_| ())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await
        .expect("patch");
}

/// Opens a watch from `resource_version`; resolves with the number of
/// MODIFIED events once it has seen `WRITES` of them.
async fn watch_until_all(
    config_maps: Api<ConfigMap>,
    resource_version: String,
) -> impl std::future::Future<Output = usize> {
    let params = WatchParams::default().timeout(290);
    let stream = config_maps
        .watch(&params, &resource_version)
        .await
        .expect("watch opens");
    async move {
        let mut stream = Box::pin(stream);
        let mut seen = 0;
        while seen < WRITES {
            match stream.next().await {
                Some(Ok(WatchEvent::Modified(_))) => seen += 1,
                Some(Ok(WatchEvent::Error(e))) => panic!("watch error: {e:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("watch stream: {e}"),
                None => panic!("watch ended after {seen} events"),
            }
        }
        seen
    }
}

fn watch_fan_out(c: &mut Criterion) {
    let rt = runtime();
    // kube::Client spawns its request buffer on the current runtime.
    let _enter = rt.enter();
    let cluster = rt.block_on(start_scale_cluster());
    let client = cluster.client().expect("client");
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    rt.block_on(async {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).expect("namespace");
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .expect("create namespace");
        for i in 0..WRITES {
            let cm: ConfigMap = serde_json::from_value(
                json!({"metadata": {"name": format!("cm-{i:04}")}, "data": {"round": "0"}}),
            )
            .expect("configmap");
            config_maps
                .create(&PostParams::default(), &cm)
                .await
                .expect("create configmap");
        }
    });
    let round = Arc::new(std::sync::atomic::AtomicU64::new(1));

    let mut group = c.benchmark_group("embedded/writes_1000");
    group.sample_size(10);
    group.bench_function("no_watchers", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let r = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let start = Instant::now();
                rt.block_on(write_all(&config_maps, r));
                total += start.elapsed();
            }
            total
        });
    });
    group.bench_function("10_watchers_all_events", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let r = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                total += rt.block_on(async {
                    let rv = config_maps
                        .list_metadata(&ListParams::default().limit(1))
                        .await
                        .expect("list")
                        .metadata
                        .resource_version
                        .expect("list resourceVersion");
                    let mut watchers = Vec::new();
                    for _ in 0..WATCHERS {
                        let receive = watch_until_all(config_maps.clone(), rv.clone()).await;
                        watchers.push(tokio::spawn(receive));
                    }
                    let start = Instant::now();
                    write_all(&config_maps, r).await;
                    for w in watchers {
                        assert_eq!(w.await.expect("watcher"), WRITES);
                    }
                    start.elapsed()
                });
            }
            total
        });
    });
    group.finish();
    rt.block_on(cluster.shutdown());
}

criterion_group!(benches, list_nodes, watch_fan_out);
criterion_main!(benches);
