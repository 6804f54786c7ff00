//! The engine never stalls silently (issue #14, item 3), on both clusters.
//!
//! An API server that restarts can leave the engine's open connections
//! silent rather than closed (behind a load balancer, or when the host went
//! away): a watch on one delivers nothing more and never fails, a request
//! waiting on one never hears back. The engine then looked healthy — nothing
//! queued, nothing failing — and no edit reached the cluster for minutes
//! (kube's 295 s read timeout). [`FreezingProxy::sever`] does that to every
//! connection open at that moment; new connections reach the server.
//!
//! - Silent watches: every watch must end within its `timeoutSeconds` plus a
//!   slack, or it is cut and started again (`controllers::deadline`).
//! - A reconcile stuck on a silent connection: the watchdog restarts the
//!   controller, says so in an engine event and counts it in the metrics
//!   (`controllers::supervisor`).
//!
//! Both failed before the fix: the edit never arrived within the patience,
//! and no event named the stuck controller.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use edgedeck::api::EdgeApplication;
use edgedeck::controllers::{Engine, EngineEvent, EngineHandle, EngineOptions, Outcome, Source};
use edgedeck::telemetry::Telemetry;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::cluster::TestCluster;
use support::proxy::FreezingProxy;
use support::{eventually_within, from_yaml_file};
use tokio::sync::broadcast;

/// Short enough that the test sees a silent watch replaced in seconds.
const WATCH_TIMEOUT: Duration = Duration::from_secs(3);
/// Well below the 60 s request deadline, so it is the watchdog that acts.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(1);
/// Longer than a silent watch takes to be replaced (timeout + slack), far
/// shorter than kube's read timeout that ended the stall before the fix.
const RECOVERY: Duration = Duration::from_secs(90);

/// A kubeconfig for `cluster` whose server is a [`FreezingProxy`] in front of it.
async fn behind_proxy(cluster: &TestCluster) -> (PathBuf, FreezingProxy) {
    support::proxy::kubeconfig_behind(cluster.kubeconfig(), "severed.kubeconfig").await
}

async fn client_from(path: &PathBuf) -> Client {
    let text = std::fs::read_to_string(path).expect("kubeconfig");
    let kubeconfig = serde_yaml_ng::from_str(&text).expect("kubeconfig yaml");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("client")
}

/// The engine, talking to `cluster` through the proxy only.
async fn engine_behind(
    cluster: &TestCluster,
    watch_timeout: Duration,
) -> (
    EngineHandle,
    broadcast::Receiver<EngineEvent>,
    FreezingProxy,
) {
    let (kubeconfig, proxy) = behind_proxy(cluster).await;
    let options = EngineOptions {
        telemetry: Arc::new(Telemetry::new(PROGRESS_DEADLINE)),
        watch_timeout,
        ..EngineOptions::default()
    };
    let (handle, events) = Engine::spawn_subscribed(client_from(&kubeconfig).await, options);
    (handle, events, proxy)
}

async fn create_app(cluster: &TestCluster) -> Api<EdgeApplication> {
    let apps: Api<EdgeApplication> = Api::namespaced(cluster.client(), "default");
    let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");
    apps
}

async fn beijing_replicas_become(cluster: &TestCluster, replicas: i32, patience: Duration) {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), "default");
    eventually_within(
        patience,
        &format!("nginx-beijing has {replicas} replicas"),
        || async {
            let d = deployments.get_opt("nginx-beijing").await.ok().flatten()?;
            (d.spec?.replicas == Some(replicas)).then_some(())
        },
    )
    .await;
}

async fn set_beijing_replicas(apps: &Api<EdgeApplication>, replicas: i32) {
    let patch = json!([{
        "op": "replace",
        "path": "/spec/workloadScope/targetNodeGroups/1/overriders/replicas",
        "value": replicas,
    }]);
    apps.patch(
        "nginx-app",
        &PatchParams::default(),
        &Patch::Json::<()>(serde_json::from_value(patch).expect("json patch")),
    )
    .await
    .expect("edited");
}

/// The first event `pick` accepts, within `patience`.
async fn event_where(
    events: &mut broadcast::Receiver<EngineEvent>,
    patience: Duration,
    what: &str,
    pick: impl Fn(&EngineEvent) -> bool,
) -> EngineEvent {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(event)) if pick(&event) => return event,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) => panic!("engine gone: {what}"),
            Err(_) => panic!("timed out waiting for: {what}"),
        }
    }
}

on_both_clusters! {
async fn an_edit_reaches_the_cluster_after_the_engines_connections_went_silent(cluster) {
    let cluster = cluster.with_crds().await;
    let (handle, _events, proxy) = engine_behind(&cluster, WATCH_TIMEOUT).await;
    let apps = create_app(&cluster).await;
    beijing_replicas_become(&cluster, 3, support::PATIENCE).await;

    // The API server restarted as far as the engine's connections can tell:
    // its watches hear nothing more, and nothing tells them so.
    proxy.sever();
    set_beijing_replicas(&apps, 5).await;
    beijing_replicas_become(&cluster, 5, RECOVERY).await;
    assert!(!handle.is_finished());
    handle.shutdown().await;
}

async fn a_controller_stuck_on_a_request_that_never_returns_is_restarted_by_the_watchdog(cluster) {
    let cluster = cluster.with_crds().await;
    let (handle, mut events, proxy) = engine_behind(&cluster, edgedeck::controllers::deadline::WATCH_TIMEOUT).await;
    let telemetry = handle.telemetry();
    // In sync first, so every watch is open (not only listed).
    let apps = create_app(&cluster).await;
    beijing_replicas_become(&cluster, 3, support::PATIENCE).await;

    // Requests hang from now on; watch events still arrive. The edit is
    // queued, its reconcile starts and never hears back.
    proxy.freeze(true);
    set_beijing_replicas(&apps, 4).await;
    let event = event_where(
        &mut events,
        support::PATIENCE,
        "the watchdog's event",
        |e| e.source == Source::EdgeApplication && e.to_string().contains("stuck"),
    )
    .await;
    let Outcome::Failed { reason } = &event.outcome else {
        panic!("the watchdog reports a failure: {event}");
    };
    assert!(reason.contains("no reconcile finished"), "{reason}");
    assert!(reason.contains("restarting"), "{reason}");
    assert!(
        telemetry
            .encode()
            .contains("edgedeck_watchdog_restarts_total{controller=\"edgeapplication\"}"),
        "counted in the metrics"
    );
    // The restarted controller picks the work up once requests pass again.
    proxy.freeze(false);
    beijing_replicas_become(&cluster, 4, support::PATIENCE).await;
    handle.shutdown().await;
}
}
