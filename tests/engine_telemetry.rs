//! `edgedeck engine` in production (issue #15), through the real binary on
//! both clusters: `/metrics` scraped and parsed, `/readyz` turning unready
//! while the controllers are stalled and ready again after, leader failover
//! between two engines with no duplicate writes, the console reading a
//! remote engine's figures, and the flags' errors.

mod support;

use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use edgedeck::api::EdgeApplication;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::cluster::TestCluster;
use support::fleet::fleet_where;
use support::metrics::{self, Scrape};
use support::proxy::FreezingProxy;
use support::real::free_port;
use support::{eventually, from_yaml_file};

use std::sync::Arc;

use edgedeck::console::engine_stats::{EngineReading, EngineStats, Origin};
use edgedeck::console::live::{EngineConfig, EngineMode, Session, SessionOptions, StoresConfig};
use edgedeck::console::model::Fleet;
use edgedeck::telemetry::Controller;
use edgedeck::telemetry::scrape::MetricsUrl;
use tokio::sync::watch;

/// An `edgedeck engine` child, killed when dropped (also on a failed assertion).
struct EngineProcess {
    child: Child,
    metrics: SocketAddr,
    /// Standard error, JSON lines (`--log-format json`).
    log: tempfile::NamedTempFile,
}

impl EngineProcess {
    fn start(kubeconfig: &Path, extra: &[&str]) -> EngineProcess {
        let metrics: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_edgedeck"));
        command
            .arg("engine")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--metrics-listen", &metrics.to_string()])
            .args(["--log-format", "json"])
            .args(extra)
            .env("RUST_LOG", "info,kube=warn")
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log file"));
        // SAFETY: prctl is async-signal-safe; the engine dies with the test process.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().expect("edgedeck engine starts");
        EngineProcess {
            child,
            metrics,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).expect("engine log")
    }

    async fn scrape(&self) -> Option<Scrape> {
        metrics::scrape(self.metrics).await
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        metrics::get(self.metrics, path).await
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn create_proposal_app(cluster: &TestCluster) -> Api<EdgeApplication> {
    let apps: Api<EdgeApplication> = Api::namespaced(cluster.client(), "default");
    let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");
    apps
}

async fn wait_for_deployment(cluster: &TestCluster, name: &str) -> Deployment {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), "default");
    eventually(&format!("the engine generated {name}"), || async {
        deployments.get_opt(name).await.ok().flatten()
    })
    .await
}

/// Waits until `engine` has nothing queued or in flight, and returns that scrape.
async fn drained(engine: &EngineProcess, what: &str) -> Scrape {
    eventually(what, || async {
        let s = engine.scrape().await?;
        let idle = s.sum("edgedeck_queue_depth", &[]) == 0.0
            && s.sum("edgedeck_reconciles_in_flight", &[]) == 0.0;
        idle.then_some(s)
    })
    .await
}

const APP: &[(&str, &str)] = &[("controller", "edgeapplication")];

on_both_clusters! {
async fn metrics_are_scraped_and_a_reconcile_moves_the_counters(cluster) {
    let cluster = cluster.with_crds().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "secret-a node-a\n").expect("tokens");
    let edge: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("address");
    let engine = EngineProcess::start(
        cluster.kubeconfig(),
        &[
            "--edge-api-listen",
            &edge.to_string(),
            "--edge-api-tokens",
            tokens.to_str().expect("utf-8"),
            "--edge-api-plain-http",
        ],
    );
    let first = drained(&engine, "the engine serves /metrics, idle").await;
    // One edge API list by node-a (in no group), so its families have a series.
    eventually("the edge API lists node-a's EndpointSlices", || async {
        let path = "/edge/node-a/apis/discovery.k8s.io/v1/endpointslices";
        let answer = metrics::get_with(edge, path, "Authorization: Bearer secret-a\r\n").await?;
        (answer.0 == 200).then_some(())
    })
    .await;

    for (name, kind) in [
        ("edgedeck_reconciles_total", "counter"),
        ("edgedeck_reconcile_duration_seconds", "histogram"),
        ("edgedeck_queue_depth", "gauge"),
        ("edgedeck_queue_oldest_seconds", "gauge"),
        ("edgedeck_reconciles_in_flight", "gauge"),
        ("edgedeck_objects_owned", "gauge"),
        ("edgedeck_controller_stalled", "gauge"),
        ("edgedeck_leader", "gauge"),
        ("edgedeck_build_info", "gauge"),
    ] {
        assert_eq!(
            first.types.get(name).map(String::as_str),
            Some(kind),
            "# TYPE of {name}"
        );
    }
    let edge_scrape = engine.scrape().await.expect("metrics");
    for (name, kind) in [
        ("edgedeck_edge_api_requests_total", "counter"),
        ("edgedeck_edge_api_sent_bytes_total", "counter"),
        ("edgedeck_edge_api_filter_duration_seconds", "histogram"),
    ] {
        assert_eq!(
            edge_scrape.types.get(name).map(String::as_str),
            Some(kind),
            "# TYPE of {name}"
        );
    }
    assert!(
        edge_scrape.sum(
            "edgedeck_edge_api_requests_total",
            &[("group", "none"), ("code", "200")]
        ) >= 1.0,
        "node-a is in no group: labelled none, never by node name"
    );
    assert!(edge_scrape.sum("edgedeck_edge_api_sent_bytes_total", &[("group", "none")]) > 0.0);
    assert_eq!(first.sum("edgedeck_leader", &[]), 1.0, "no election: it leads");
    assert_eq!(
        first.sum("edgedeck_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    let before = first.sum("edgedeck_reconciles_total", APP);

    create_proposal_app(&cluster).await;
    wait_for_deployment(&cluster, "nginx-beijing").await;
    let after = drained(&engine, "the reconcile of nginx-app done").await;
    assert!(
        after.sum("edgedeck_reconciles_total", APP) > before,
        "reconciles of edgeapplication moved from {before}"
    );
    assert!(after.sum("edgedeck_reconcile_duration_seconds_count", APP) > 0.0);
    assert!(
        after.sum(
            "edgedeck_api_writes_total",
            &[("resource", "deployments"), ("verb", "apply")]
        ) >= 2.0,
        "both groups' Deployments were applied"
    );
    assert_eq!(
        after.types.get("edgedeck_api_writes_total").map(String::as_str),
        Some("counter")
    );
    eventually("nginx-app owns its 2 Deployments and Service, per its status", || async {
        let s = engine.scrape().await?;
        (s.sum("edgedeck_objects_owned", APP) == 3.0).then_some(())
    })
    .await;
    assert_eq!(engine.get("/healthz").await.map(|r| r.0), Some(200));
}

async fn readyz_fails_while_the_controllers_are_stalled_and_recovers(cluster) {
    let cluster = cluster.with_crds().await;
    let (kubeconfig, proxy) = behind_proxy(&cluster).await;
    let engine = EngineProcess::start(&kubeconfig, &["--progress-deadline", "2s"]);
    eventually("/readyz answers 200", || async {
        (engine.get("/readyz").await?.0 == 200).then_some(())
    })
    .await;

    // Every request the engine sends from now on hangs; the watch of
    // EdgeApplications still delivers, so the new app is queued, its
    // reconcile starts, and nothing comes back.
    proxy.freeze(true);
    create_proposal_app(&cluster).await;
    let body = eventually("/readyz answers 503 naming the stall", || async {
        let (code, body) = engine.get("/readyz").await?;
        (code == 503).then_some(body)
    })
    .await;
    assert!(body.contains("edgeapplication: stalled"), "{body}");
    let stalled = engine.scrape().await.expect("metrics while stalled");
    assert_eq!(stalled.sum("edgedeck_controller_stalled", APP), 1.0);
    assert_eq!(engine.get("/healthz").await.map(|r| r.0), Some(200), "alive all along");

    proxy.freeze(false);
    eventually("/readyz answers 200 again", || async {
        (engine.get("/readyz").await?.0 == 200).then_some(())
    })
    .await;
    wait_for_deployment(&cluster, "nginx-beijing").await;
}

async fn the_console_shows_a_remote_engines_figures_and_says_when_it_is_gone(cluster) {
    let cluster = cluster.with_crds().await;
    let mut engine = EngineProcess::start(cluster.kubeconfig(), &[]);
    let url: MetricsUrl = format!("http://{}", engine.metrics).parse().expect("url");
    let (tx, mut rx) = watch::channel(Arc::new(Fleet::default()));
    let mut config = EngineConfig::new(EngineMode::Off, false, true);
    config.remote_metrics = Some(url.clone());
    let session = Session::start(
        cluster.client(),
        SessionOptions {
            stores: StoresConfig::new("remote-engine"),
            engine: config,
            readonly: false,
        },
        tx,
    );
    let remote = |f: &Fleet| match &f.engine_stats {
        Some(EngineReading::Figures(stats)) => Some(stats.clone()),
        _ => None,
    };
    let reconciles = |stats: &EngineStats| {
        stats
            .controllers
            .iter()
            .find(|c| c.controller == Controller::EdgeApplication)
            .map_or(0, |c| c.reconciles)
    };
    let first = fleet_where(&mut rx, "the remote engine's figures", |f| remote(f)).await;
    assert_eq!(first.origin, Origin::Remote(url.to_string()));
    assert!(first.leading, "an engine without election leads");
    assert_eq!(first.controllers.len(), 2);

    create_proposal_app(&cluster).await;
    wait_for_deployment(&cluster, "nginx-beijing").await;
    let after = fleet_where(&mut rx, "the app's reconciles, counted remotely", |f| {
        remote(f).filter(|s| reconciles(s) > reconciles(&first) && s.writes > first.writes)
    })
    .await;
    assert!(after.controllers.iter().all(|c| !c.stalled));

    engine.kill();
    let gone = fleet_where(&mut rx, "the engine said to be unreachable", |f| {
        match &f.engine_stats {
            Some(EngineReading::Unreachable { url, error }) => Some((url.clone(), error.clone())),
            _ => None,
        }
    })
    .await;
    assert_eq!(gone.0, url.to_string());
    assert!(gone.1.contains("cannot connect"), "{}", gone.1);
    session.shutdown().await;
}

async fn the_standby_takes_over_when_the_leader_dies_with_no_duplicate_writes(cluster) {
    let cluster = cluster.with_crds().await;
    let elect = |identity: &'static str| {
        [
            "--leader-elect",
            "--lease-namespace",
            "default",
            "--lease-duration",
            "3s",
            "--identity",
            identity,
        ]
    };
    let mut engines = [
        ("engine-a", EngineProcess::start(cluster.kubeconfig(), &elect("engine-a"))),
        ("engine-b", EngineProcess::start(cluster.kubeconfig(), &elect("engine-b"))),
    ];
    let leases: Api<Lease> = Api::namespaced(cluster.client(), "default");
    let holder = || async {
        let lease = leases.get_opt("edgedeck-engine").await.ok().flatten()?;
        lease.spec?.holder_identity
    };
    let first = eventually("one engine holds the lease", holder).await;
    let (leader, standby) = if first == "engine-a" { (0, 1) } else { (1, 0) };

    create_proposal_app(&cluster).await;
    wait_for_deployment(&cluster, "nginx-beijing").await;
    wait_for_deployment(&cluster, "nginx-hangzhou").await;
    drained(&engines[leader].1, "the leader reconciled nginx-app").await;
    let waiting = engines[standby].1.scrape().await.expect("standby metrics");
    assert_eq!(waiting.sum("edgedeck_leader", &[]), 0.0);
    // Its only write may be a lost race to create the Lease (a 409) when
    // both engines started at once; nothing else.
    let lease_writes = waiting.sum("edgedeck_api_writes_total", &[("resource", "leases")]);
    assert!(lease_writes <= 1.0, "{lease_writes} Lease writes by the standby");
    assert_eq!(
        waiting.sum("edgedeck_api_writes_total", &[]) - lease_writes,
        0.0,
        "a standby writes nothing but that"
    );
    assert_eq!(engines[standby].1.get("/readyz").await.map(|r| r.0), Some(200));

    engines[leader].1.kill();
    let successor = engines[standby].0;
    eventually("the standby holds the lease", || async {
        (holder().await? == successor).then_some(())
    })
    .await;
    let engine = &engines[standby].1;
    let took_over = eventually("the new leader reconciled everything", || async {
        let s = engine.scrape().await?;
        let done = s.sum("edgedeck_leader", &[]) == 1.0
            && s.sum("edgedeck_reconciles_total", APP) >= 1.0
            && s.sum("edgedeck_queue_depth", &[]) == 0.0
            && s.sum("edgedeck_reconciles_in_flight", &[]) == 0.0;
        done.then_some(s)
    })
    .await;
    for resource in ["deployments", "services", "nodes"] {
        assert_eq!(
            took_over.sum("edgedeck_api_writes_total", &[("resource", resource)]),
            0.0,
            "the new leader found {resource} in sync and wrote none again"
        );
    }

    // It converges new work, writing each change once: beijing (the
    // second target) scaled, hangzhou untouched.
    let apps: Api<EdgeApplication> = Api::namespaced(cluster.client(), "default");
    let scale: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/workloadScope/targetNodeGroups/1/name", "value": "beijing"},
        {"op": "replace", "path": "/spec/workloadScope/targetNodeGroups/1/overriders/replicas", "value": 5}
    ]))
    .expect("patch");
    apps.patch("nginx-app", &PatchParams::default(), &Patch::Json::<()>(scale))
        .await
        .expect("scaled");
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), "default");
    eventually("nginx-beijing scaled to 5 by the new leader", || async {
        let d = deployments.get("nginx-beijing").await.ok()?;
        (d.spec?.replicas == Some(5)).then_some(())
    })
    .await;
    let after = drained(engine, "the new leader settled").await;
    assert_eq!(
        after.sum(
            "edgedeck_api_writes_total",
            &[("resource", "deployments"), ("verb", "apply")]
        ),
        1.0,
        "the one changed Deployment applied once"
    );
    let log = engines[standby].1.log();
    for line in log.lines().filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("--log-format json writes JSON lines ({e}): {line}"));
        assert!(value.get("level").is_some(), "{line}");
    }
    assert!(log.contains("leader is engine-"), "{log}");
}
}

/// A kubeconfig for `cluster` whose server is a [`FreezingProxy`] in front of it.
async fn behind_proxy(cluster: &TestCluster) -> (PathBuf, FreezingProxy) {
    support::proxy::kubeconfig_behind(cluster.kubeconfig(), "proxied.kubeconfig").await
}

#[test]
fn metrics_flags_fail_clearly() {
    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["engine", "--metrics-listen", "localhost-9090"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid value 'localhost-9090' for '--metrics-listen <ADDR>'"),
        "{stderr}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["engine", "--metrics-listen", &addr])
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr} for metrics")),
        "the port is checked before the cluster: {stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["engine", "--progress-deadline", "soon"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration like 15s or 2m"));
}
