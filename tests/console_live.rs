//! The console's live layer without a terminal, on the embedded cluster and
//! on a real control plane: stores publish fleets, the executor writes (409
//! on a stale resourceVersion), read-only refuses, the engine runs
//! in-process and releases its lease, and a lost connection is reported and
//! recovered (embedded only, see there).

mod support;

use std::sync::Arc;
use std::time::Duration;

use edgedeck::api::{EdgeApplication, NodeGroup};
use edgedeck::console::action::{Effect, WriteOutcome};
use edgedeck::console::edit::{self, EditKind};
use edgedeck::console::live::{
    EngineConfig, EngineMode, Session, SessionOptions, StoreInput, StoresConfig,
};
use edgedeck::console::model::{ConnectionState, Fleet};
use edgedeck::controllers::leader;
use edgedeck::embedded::{ClusterOptions, start};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::demo::{self, DemoCluster};
use support::fleet::fleet_matching;
use tokio::sync::watch;

fn session(
    client: Client,
    context: &str,
    engine: EngineMode,
    readonly: bool,
) -> (Session, watch::Receiver<Arc<Fleet>>) {
    let (tx, rx) = watch::channel(Arc::new(Fleet {
        connection: ConnectionState::Connecting {
            step: "starting".into(),
        },
        ..Fleet::default()
    }));
    let mut engine = EngineConfig::new(engine, readonly, false);
    engine.recheck = Duration::from_millis(500);
    let session = Session::start(
        client,
        SessionOptions {
            stores: StoresConfig::new(context),
            engine,
            readonly,
        },
        tx,
    );
    (session, rx)
}

fn synced(f: &Fleet) -> bool {
    f.connection == ConnectionState::Connected
}

fn app_named<'a>(fleet: &'a Fleet, name: &str) -> &'a EdgeApplication {
    fleet
        .applications
        .iter()
        .find(|a| a.metadata.name.as_deref() == Some(name))
        .expect("demo application present")
}

on_both_clusters! {
async fn a_snapshot_of_the_demo_fleet_arrives(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let (session, mut rx) = session(demo.client(), demo.name(), EngineMode::Off, false);
    let fleet = fleet_matching(&mut rx, "the demo fleet, connected", synced).await;
    assert_eq!(fleet.context, demo.name());
    assert!(fleet.version > 0);
    assert_eq!(fleet.nodes.len(), demo::count("Node"));
    assert_eq!(fleet.node_groups.len(), demo::count("NodeGroup"));
    assert_eq!(fleet.applications.len(), demo::count("EdgeApplication"));
    assert!(!fleet.services.is_empty());
    assert_eq!(fleet.engine, "off (--engine off)");
    assert!(!fleet.controls);

    // A namespace switch is a rebuild with the filter set.
    session.send(StoreInput::Namespace(Some("edge-apps".into())));
    let filtered = fleet_matching(&mut rx, "namespace filter", |f| {
        f.namespace.as_deref() == Some("edge-apps")
    })
    .await;
    assert!(filtered.version > fleet.version);
    session.shutdown().await;
}

async fn a_current_patch_succeeds_and_a_stale_one_conflicts_without_changing_anything(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let client = demo.client();
    let (session, mut rx) = session(client.clone(), demo.name(), EngineMode::Off, false);
    let fleet = fleet_matching(&mut rx, "the demo fleet", |f| {
        synced(f) && !f.applications.is_empty()
    })
    .await;
    let base = app_named(&fleet, "nginx-app").clone();
    let group = base.spec.workload_scope.target_node_groups[0].name.clone();
    let before = edit::effective_replicas(&base, &group);
    let candidate = edit::apply_edit(
        &base,
        &EditKind::Scale {
            group: group.clone(),
            delta: 1,
        },
    )
    .expect("edit");
    let effect = edit::patch_effect(&base, &candidate).expect("effect");
    let executor = session.executor();

    let answered = match executor.write(&effect).await {
        WriteOutcome::Ok { what, written } => {
            assert!(what.starts_with("saved ") && what.contains("nginx-app"), "{what}");
            written.expect("the server's answer, the base of a queued next edit")
        }
        other => panic!("current write: {other:?}"),
    };
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "edge-apps");
    let written = apps.get("nginx-app").await.expect("get");
    assert_eq!(edit::effective_replicas(&answered, &group), before + 1);
    assert_eq!(edit::effective_replicas(&written, &group), before + 1);
    assert_ne!(
        written.metadata.resource_version,
        base.metadata.resource_version
    );

    // The same effect again carries the old resourceVersion: 409.
    match executor.write(&effect).await {
        WriteOutcome::Conflict { current } => {
            assert_eq!(
                current.metadata.resource_version,
                written.metadata.resource_version
            );
            assert_eq!(edit::effective_replicas(&current, &group), before + 1);
        }
        other => panic!("stale write: {other:?}"),
    }
    let after = apps.get("nginx-app").await.expect("get");
    assert_eq!(
        after.metadata.resource_version,
        written.metadata.resource_version
    );
    assert_eq!(edit::effective_replicas(&after, &group), before + 1);
    session.shutdown().await;
}

async fn an_edit_no_engine_reconciles_is_shown_lagging_until_observed(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let apps: Api<EdgeApplication> = Api::namespaced(demo.client(), "edge-apps");
    let (session, mut rx) = session(demo.client(), demo.name(), EngineMode::Off, false);
    let lag_of = |f: &Fleet| f.lagging.iter().find(|l| l.name == "nginx-app").cloned();
    // As an engine would: observe the current generation.
    let observe = |generation: i64| {
        let apps = apps.clone();
        async move {
            let status = json!({"status": {"observedGeneration": generation}});
            apps.patch_status("nginx-app", &PatchParams::default(), &Patch::Merge(&status))
                .await
                .expect("status written")
        }
    };
    let current = apps.get("nginx-app").await.expect("get");
    let caught_up = observe(current.metadata.generation.expect("generation")).await;
    let generation = caught_up.metadata.generation.expect("generation");
    fleet_matching(&mut rx, "nginx-app observed, not lagging", |f| {
        synced(f)
            && lag_of(f).is_none()
            && f.applications.iter().any(|a| {
                a.metadata.name.as_deref() == Some("nginx-app")
                    && a.status.as_ref().and_then(|s| s.observed_generation) == Some(generation)
            })
    })
    .await;

    // A spec change nobody reconciles: lagging once the grace has passed,
    // with nothing else changing in between.
    let edit = json!({"metadata": {"annotations": {"edgedeck.test/touch": "1"}},
                      "spec": {"workloadTemplate": {"manifests": current.spec.workload_template.manifests.iter().map(|m| {
                          let mut m = m.clone();
                          m["metadata"]["labels"]["touched"] = json!("yes");
                          m
                      }).collect::<Vec<_>>()}}});
    let edited = apps
        .patch("nginx-app", &PatchParams::default(), &Patch::Merge(&edit))
        .await
        .expect("spec edited");
    let new_generation = edited.metadata.generation.expect("generation");
    assert!(new_generation > generation);
    let lag = fleet_matching(&mut rx, "nginx-app lagging", |f| lag_of(f).is_some())
        .await
        .lagging
        .iter()
        .find(|l| l.name == "nginx-app")
        .cloned()
        .expect("lag");
    assert_eq!((lag.generation, lag.observed), (new_generation, Some(generation)));

    observe(new_generation).await;
    fleet_matching(&mut rx, "nginx-app caught up again", |f| lag_of(f).is_none()).await;
    session.shutdown().await;
}

async fn readonly_refuses_every_write_and_nothing_changes(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let client = demo.client();
    let (session, mut rx) = session(client.clone(), demo.name(), EngineMode::Auto, true);
    let fleet = fleet_matching(&mut rx, "the demo fleet", |f| {
        synced(f) && !f.applications.is_empty()
    })
    .await;
    assert!(
        fleet.engine.starts_with("off (--readonly"),
        "{}",
        fleet.engine
    );
    let base = app_named(&fleet, "nginx-app").clone();
    let group = base.spec.workload_scope.target_node_groups[0].name.clone();
    let candidate = edit::apply_edit(&base, &EditKind::Scale { group, delta: 1 }).expect("edit");
    let patch = edit::patch_effect(&base, &candidate).expect("effect");
    let create = Effect::Create {
        object: json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": "readonly-probe"}, "spec": {"matchLabels": {"location": "nowhere"}}}),
    };
    let offline = Effect::SetOffline {
        nodes: vec!["hz-edge-01".into()],
        offline: true,
    };
    let executor = session.executor();
    for effect in [&patch, &create, &offline] {
        match executor.write(effect).await {
            WriteOutcome::Failed { error } => assert!(error.contains("read-only"), "{error}"),
            other => panic!("read-only write of {effect:?}: {other:?}"),
        }
    }
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "edge-apps");
    let now = apps.get("nginx-app").await.expect("get");
    assert_eq!(
        now.metadata.resource_version,
        base.metadata.resource_version
    );
    let groups: Api<NodeGroup> = Api::all(client.clone());
    assert!(
        groups
            .get_opt("readonly-probe")
            .await
            .expect("get")
            .is_none()
    );
    // And the engine did not start: nobody holds the lease.
    let lease = EngineConfig::new(EngineMode::Auto, true, false).lease;
    assert_eq!(
        leader::current_holder(&client, &lease)
            .await
            .expect("lease"),
        None
    );
    session.shutdown().await;
}

async fn the_engine_runs_in_process_and_releases_its_lease_on_shutdown(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let client = demo.client();
    let (session, mut rx) = session(client.clone(), demo.name(), EngineMode::Auto, false);
    let fleet = fleet_matching(&mut rx, "our engine leading, with events", |f| {
        f.lease_holder
            .as_deref()
            .is_some_and(|h| h.starts_with("edgedeck-console-"))
            && !f.events.is_empty()
    })
    .await;
    assert!(fleet.engine.contains("in-process"), "{}", fleet.engine);
    // The engine labels nodes into their groups; the stores show it.
    fleet_matching(&mut rx, "nodes labelled by the engine", |f| {
        f.nodes.iter().any(|n| {
            n.metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.contains_key(edgedeck::api::LABEL_BELONGING_TO))
        })
    })
    .await;
    session.shutdown().await;
    let lease = EngineConfig::new(EngineMode::Auto, false, false).lease;
    assert_eq!(
        leader::current_holder(&client, &lease)
            .await
            .expect("lease"),
        None,
        "the lease is released on shutdown"
    );
}

async fn a_cluster_without_the_crds_says_how_to_install_them(cluster) {
    let (session, mut rx) = session(cluster.client(), cluster.name(), EngineMode::Off, false);
    let fleet = fleet_matching(&mut rx, "a partial connection", |f| {
        matches!(f.connection, ConnectionState::Partial { .. })
    })
    .await;
    match &fleet.connection {
        ConnectionState::Partial { problems } => {
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains("NodeGroup CRD not installed")
                        && p.contains("edgedeck crds | kubectl apply -f -")),
                "{problems:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    session.shutdown().await;
}

async fn delete_needs_the_version_shown_and_readonly_never_deletes(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let client = demo.client();
    let groups: Api<NodeGroup> = Api::all(client.clone());
    let shown = groups.get("chengdu").await.expect("chengdu exists");
    let shown_rv = shown
        .metadata
        .resource_version
        .clone()
        .expect("resourceVersion");
    let key =
        edgedeck::engine::ObjectKey::new("apps.kubeedge.io/v1alpha1", "NodeGroup", None, "chengdu");
    let delete = |resource_version: &str| Effect::Delete {
        key: key.clone(),
        resource_version: resource_version.to_owned(),
    };

    // Read-only: refused, still there.
    let (readonly, _rx) = session(client.clone(), demo.name(), EngineMode::Off, true);
    assert!(matches!(
        readonly.executor().write(&delete(&shown_rv)).await,
        WriteOutcome::Failed { .. }
    ));
    assert!(groups.get_opt("chengdu").await.expect("get").is_some());

    // Someone changes the group after it was shown: the delete is refused.
    groups
        .patch(
            "chengdu",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .expect("changed meanwhile");
    let (session, _rx) = session(client.clone(), demo.name(), EngineMode::Off, false);
    match session.executor().write(&delete(&shown_rv)).await {
        WriteOutcome::Failed { error } => assert!(
            error.contains("changed since it was shown; not deleted"),
            "{error}"
        ),
        other => panic!("stale delete: {other:?}"),
    }
    let current = groups.get("chengdu").await.expect("still there");

    // With the version now shown, it goes (finalizers aside: no engine runs here).
    let current_rv = current.metadata.resource_version.expect("resourceVersion");
    match session.executor().write(&delete(&current_rv)).await {
        // Said as it is: never "saved deleted …" (issue #10, item 14).
        WriteOutcome::Ok { what, .. } => assert!(what.starts_with("deleted "), "{what}"),
        other => panic!("current delete: {other:?}"),
    }
    assert!(groups.get_opt("chengdu").await.expect("get").is_none());
}
}

/// The console says it is reconnecting and keeps showing what it last knew.
async fn keeps_the_data_while_reconnecting(rx: &mut watch::Receiver<Arc<Fleet>>, before: &Fleet) {
    let lost = fleet_matching(rx, "reconnecting", |f| {
        matches!(f.connection, ConnectionState::Reconnecting { .. })
    })
    .await;
    assert_eq!(
        lost.nodes.len(),
        before.nodes.len(),
        "last known data is kept"
    );
    assert_eq!(lost.applications.len(), before.applications.len());
}

/// The embedded server stopped and started again on the same port with the
/// same data directory; the real control plane's counterpart follows.
#[tokio::test]
async fn a_lost_connection_keeps_the_data_and_recovers_by_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = ClusterOptions {
        data_dir: Some(dir.path().to_path_buf()),
        initial_objects: demo::objects(),
        ..ClusterOptions::default()
    };
    let cluster = start(options.clone()).await.expect("starts");
    let addr = cluster.addr();
    let (session, mut rx) = session(
        cluster.client().expect("client"),
        "embedded",
        EngineMode::Off,
        false,
    );
    let before = fleet_matching(&mut rx, "the demo fleet", synced).await;
    assert_eq!(before.nodes.len(), demo::count("Node"));
    cluster.shutdown().await;

    keeps_the_data_while_reconnecting(&mut rx, &before).await;

    let _again = start(ClusterOptions {
        listen: addr,
        ..options
    })
    .await
    .expect("restarts on the same port");
    fleet_matching(&mut rx, "connected again", synced).await;
    session.shutdown().await;
}

/// The same on the real control plane: kube-apiserver stopped and started
/// again on its port, etcd and every controller still running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_real_apiserver_keeps_the_data_and_recovers_by_itself() {
    let mut demo = DemoCluster::on(support::cluster::TestCluster::real().await).await;
    let (session, mut rx) = session(demo.client(), "real", EngineMode::Off, false);
    let before = fleet_matching(&mut rx, "the demo fleet", synced).await;
    assert_eq!(before.nodes.len(), demo::count("Node"));
    let plane = demo.control_plane_mut().expect("a real control plane");
    plane.stop_apiserver();

    keeps_the_data_while_reconnecting(&mut rx, &before).await;

    plane.start_apiserver().await;
    fleet_matching(&mut rx, "connected again", synced).await;
    session.shutdown().await;
}

/// The cluster comes back elsewhere (another port, another CA) and the
/// kubeconfig is rewritten to say so, as `edgedeck cluster` or a cloud CLI
/// would: the console follows it without a restart.
#[tokio::test]
async fn a_cluster_that_comes_back_elsewhere_is_followed_through_the_kubeconfig() {
    use edgedeck::console::live::backend::{self, BackendConfig, Command, Start};
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let first = start(ClusterOptions {
        initial_objects: demo::objects(),
        ..ClusterOptions::default()
    })
    .await
    .expect("starts");
    first.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let client = edgedeck::connect::client(Some(&kubeconfig), None)
        .await
        .expect("client");
    let (fleet_tx, mut rx) = watch::channel(Arc::new(Fleet::default()));
    let (results_tx, _results) = tokio::sync::mpsc::unbounded_channel();
    let (commands, commands_rx) = tokio::sync::mpsc::unbounded_channel();
    let context = edgedeck::embedded::KUBECONFIG_CONTEXT.to_owned();
    let running = tokio::spawn(backend::run(
        BackendConfig {
            start: Start::Client { client, context },
            kubeconfig: Some(kubeconfig.clone()),
            readonly: true,
            engine: EngineConfig::new(EngineMode::Off, true, false),
            versions: Arc::new(std::sync::atomic::AtomicU64::new(1)),
        },
        commands_rx,
        fleet_tx,
        results_tx,
    ));
    let before = fleet_matching(&mut rx, "the demo fleet", |f| {
        synced(f) && !f.nodes.is_empty()
    })
    .await;
    assert_eq!(before.nodes.len(), demo::count("Node"));
    first.shutdown().await;

    let moved = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "moved-node", "labels": {"kubernetes.io/hostname": "moved-node"}}});
    let mut objects =
        edgedeck::console::live::embedded::initial_objects(edgedeck::simulation::seed::Seed::Empty)
            .expect("crds");
    objects.push(moved);
    let second = start(ClusterOptions {
        initial_objects: objects,
        ..ClusterOptions::default()
    })
    .await
    .expect("starts elsewhere");
    second
        .write_kubeconfig(&kubeconfig)
        .expect("kubeconfig rewritten");
    fleet_matching(&mut rx, "the cluster followed to its new address", |f| {
        synced(f)
            && f.nodes
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some("moved-node"))
    })
    .await;
    let _ = commands.send(Command::Shutdown);
    running
        .await
        .expect("backend")
        .expect("backend ends cleanly");
    second.shutdown().await;
}
