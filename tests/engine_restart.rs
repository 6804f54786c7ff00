//! The engine across API server outages (issue #10, item 1): after the API
//! server went away and came back twice, an edit to an EdgeApplication must
//! still reach its Deployment, and `status.observedGeneration` must catch
//! up with `generation`.
//!
//! Three ways to lose the API server, each keeping the data:
//! - the embedded cluster in this process, shut down and started again on
//!   the same address and data directory;
//! - `edgedeck cluster --data-dir D --seed demo` as a child process, killed
//!   with SIGKILL and started again the same way (what the issue did);
//! - the real control plane's kube-apiserver stopped and started again,
//!   etcd and the other components still running.
//!
//! Each with the engine without leader election, with the console's lease
//! (short outages: it keeps leading), and with a short lease (it steps down
//! and leads again). Two more tests pin the leader down: it must lead
//! again after an outage even when its controllers never finished a first
//! list, and never wait past its lease for work that does not stop.

mod support;

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgedeck::api::EdgeApplication;
use edgedeck::controllers::{
    Context, Engine, EngineEvent, EngineHandle, EngineOptions, LeaseOptions, edge_application,
    node_group,
};
use edgedeck::embedded::{ClusterOptions, RunningCluster, start};
use edgedeck::simulation::seed::DEMO_NAMESPACE;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::cluster::TestCluster;
use support::demo::{self, DemoCluster};
use support::eventually_within;
use support::real::free_port;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The demo application the test edits, and its first target group.
const APP: &str = "nginx-app";
const DEPLOYMENT: &str = "nginx-hangzhou";

/// How the engine under test runs.
#[derive(Debug, Clone, Copy)]
enum Election {
    /// No leader election (`edgedeck engine` without `--leader-elect`).
    Off,
    /// As the console runs its engine: a 15 s lease renewed every 5 s.
    /// Outages of [`SHORT_OUTAGE`] leave it leading; a slow restart of the
    /// API server may still make it step down.
    Console,
    /// A 3 s lease renewed every second: an outage of [`LONG_OUTAGE`] makes
    /// the leader step down and lead again afterwards.
    Short,
}

impl Election {
    fn options(self, name: &str) -> EngineOptions {
        let lease = match self {
            Election::Short => lease(name),
            Election::Off | Election::Console => LeaseOptions {
                name: name.to_owned(),
                ..LeaseOptions::default()
            },
        };
        EngineOptions {
            leader_elect: !matches!(self, Election::Off),
            lease,
            ..EngineOptions::default()
        }
    }

    fn outage(self) -> Duration {
        match self {
            Election::Short => LONG_OUTAGE,
            Election::Off | Election::Console => SHORT_OUTAGE,
        }
    }
}

/// A 3 s lease renewed every second.
fn lease(name: &str) -> LeaseOptions {
    LeaseOptions {
        name: name.to_owned(),
        duration: Duration::from_secs(3),
        renew_every: Duration::from_secs(1),
        ..LeaseOptions::default()
    }
}

const SHORT_OUTAGE: Duration = Duration::from_secs(2);
/// Longer than [`lease`]: its holder steps down.
const LONG_OUTAGE: Duration = Duration::from_secs(4);

/// How long the engine may take to act on an edit once the API server is
/// back: kube-runtime's watch backoff tops out at 30 s, so a healthy engine
/// is well within this; a stalled one never gets there.
const CATCH_UP: Duration = Duration::from_secs(60);

/// A cluster holding the demo fleet whose API server can be taken away and
/// brought back with its data.
enum Backend {
    InProcess {
        options: Box<ClusterOptions>,
        running: Option<RunningCluster>,
        _dir: tempfile::TempDir,
    },
    Process {
        args: Vec<String>,
        child: Option<Child>,
        dir: tempfile::TempDir,
    },
    Real(Box<DemoCluster>),
}

struct Outages {
    backend: Backend,
    client: Client,
}

impl Outages {
    /// The demo fleet on the embedded cluster in this process.
    async fn in_process() -> Outages {
        Self::in_process_with(ClusterOptions {
            initial_objects: demo::objects(),
            simulate: true,
            ..ClusterOptions::default()
        })
        .await
    }

    async fn in_process_with(options: ClusterOptions) -> Outages {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = ClusterOptions {
            data_dir: Some(dir.path().to_path_buf()),
            ..options
        };
        let running = start(options.clone()).await.expect("starts");
        let options = ClusterOptions {
            listen: running.addr(),
            ..options
        };
        let client = running.client().expect("client");
        Outages {
            backend: Backend::InProcess {
                options: Box::new(options),
                running: Some(running),
                _dir: dir,
            },
            client,
        }
    }

    async fn process() -> Outages {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let args = vec![
            "cluster".to_owned(),
            "--listen".to_owned(),
            format!("127.0.0.1:{}", free_port()),
            "--data-dir".to_owned(),
            data.to_string_lossy().into_owned(),
            "--kubeconfig-out".to_owned(),
            dir.path().join("kubeconfig").to_string_lossy().into_owned(),
            "--seed".to_owned(),
            "demo".to_owned(),
        ];
        let child = spawn_cluster(&args, dir.path());
        let client = client_from(&dir.path().join("kubeconfig")).await;
        let outages = Outages {
            backend: Backend::Process {
                args,
                child: Some(child),
                dir,
            },
            client,
        };
        outages.wait_until_served().await;
        outages
    }

    async fn real() -> Outages {
        let demo = DemoCluster::on(TestCluster::real().await).await;
        let client = demo.client();
        Outages {
            backend: Backend::Real(Box::new(demo)),
            client,
        }
    }

    fn client(&self) -> Client {
        self.client.clone()
    }

    fn name(&self) -> &'static str {
        match self.backend {
            Backend::InProcess { .. } => "embedded (in process)",
            Backend::Process { .. } => "embedded (edgedeck cluster, SIGKILL)",
            Backend::Real(_) => "real",
        }
    }

    async fn stop(&mut self) {
        match &mut self.backend {
            Backend::InProcess { running, .. } => {
                if let Some(running) = running.take() {
                    running.shutdown().await;
                }
            }
            Backend::Process { child, .. } => {
                if let Some(mut child) = child.take() {
                    child.kill().expect("SIGKILL");
                    child.wait().expect("reaped");
                }
            }
            Backend::Real(demo) => demo
                .control_plane_mut()
                .expect("a real control plane")
                .stop_apiserver(),
        }
    }

    async fn start(&mut self) {
        match &mut self.backend {
            Backend::InProcess {
                options, running, ..
            } => {
                *running = Some(start((**options).clone()).await.expect("restarts"));
            }
            Backend::Process { args, child, dir } => {
                *child = Some(spawn_cluster(args, dir.path()));
            }
            Backend::Real(demo) => {
                demo.control_plane_mut()
                    .expect("a real control plane")
                    .start_apiserver()
                    .await
            }
        }
        self.wait_until_served().await;
    }

    async fn wait_until_served(&self) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        eventually_within(Duration::from_secs(60), "the API server answers", || {
            let nodes = nodes.clone();
            async move { nodes.list(&Default::default()).await.ok().map(|_| ()) }
        })
        .await;
    }

    /// The API server away for `outage`, then back.
    async fn outage(&mut self, outage: Duration) {
        self.stop().await;
        tokio::time::sleep(outage).await;
        self.start().await;
    }
}

impl Drop for Outages {
    fn drop(&mut self) {
        if let Backend::Process {
            child: Some(child), ..
        } = &mut self.backend
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_cluster(args: &[String], dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("cluster.log"))
        .expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgedeck"));
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
    // SAFETY: prctl is async-signal-safe; the cluster dies with the test.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command.spawn().expect("edgedeck cluster starts")
}

async fn client_from(kubeconfig: &Path) -> Client {
    // Parsed in the probe: the file may be caught half written.
    let config = eventually_within(Duration::from_secs(60), "the kubeconfig written", || {
        let text = std::fs::read_to_string(kubeconfig).unwrap_or_default();
        let parsed = serde_yaml_ng::from_str::<kube::config::Kubeconfig>(&text).ok();
        async move { parsed.filter(|c| !c.clusters.is_empty()) }
    })
    .await;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("client")
}

/// `RUST_LOG=kube_runtime=debug,edgedeck=debug` shows what the engine and
/// its watches did, interleaved with the test's output.
fn trace_if_asked() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// Every engine event, kept for the failure message.
#[derive(Clone, Default)]
struct EventLog(Arc<Mutex<Vec<String>>>);

impl EventLog {
    fn follow(&self, mut events: broadcast::Receiver<EngineEvent>) {
        let log = self.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            loop {
                let line = match events.recv().await {
                    Ok(event) => event.to_string(),
                    Err(broadcast::error::RecvError::Lagged(n)) => format!("({n} events lost)"),
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let at = started.elapsed().as_secs_f32();
                if let Ok(mut lines) = log.0.lock() {
                    lines.push(format!("{at:7.2}s {line}"));
                }
            }
        });
    }

    fn mark(&self, what: &str) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!("-------- {what}"));
        }
    }

    fn dump(&self) -> String {
        self.0
            .lock()
            .map(|l| l.join("\n"))
            .unwrap_or_else(|_| "(event log poisoned)".into())
    }
}

fn engine(client: Client, election: Election, log: &EventLog) -> EngineHandle {
    let (handle, events) =
        Engine::spawn_subscribed(client, election.options("edgedeck-restart-test"));
    log.follow(events);
    handle
}

async fn replicas(deployments: &Api<Deployment>) -> Option<i32> {
    let d = deployments.get_opt(DEPLOYMENT).await.ok()??;
    d.spec?.replicas
}

/// Scales the application's first group to `replicas` and waits until the
/// Deployment follows and the status describes the new generation.
async fn edit_reaches_the_cluster(client: &Client, replicas_wanted: i32, log: &EventLog) {
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), DEMO_NAMESPACE);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), DEMO_NAMESPACE);
    let patch: json_patch::Patch = serde_json::from_value(json!([{
        "op": "replace",
        "path": "/spec/workloadScope/targetNodeGroups/0/overriders/replicas",
        "value": replicas_wanted,
    }]))
    .expect("json patch");
    apps.patch(APP, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .expect("replicas patched");
    log.mark(&format!("patched replicas to {replicas_wanted}"));
    let caught_up = tokio::time::timeout(CATCH_UP, async {
        loop {
            let app = apps.get(APP).await.ok();
            let generation = app.as_ref().and_then(|a| a.metadata.generation);
            let observed = app
                .as_ref()
                .and_then(|a| a.status.as_ref())
                .and_then(|s| s.observed_generation);
            if replicas(&deployments).await == Some(replicas_wanted)
                && generation.is_some()
                && observed == generation
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    if caught_up.is_err() {
        let app = apps.get(APP).await.ok();
        panic!(
            "the engine did not act on the edit within {CATCH_UP:?}: generation {:?}, \
             observedGeneration {:?}, {DEPLOYMENT} replicas {:?}\nengine events:\n{}",
            app.as_ref().and_then(|a| a.metadata.generation),
            app.as_ref()
                .and_then(|a| a.status.as_ref())
                .and_then(|s| s.observed_generation),
            replicas(&deployments).await,
            log.dump()
        );
    }
}

/// The scenario of the issue: the engine in sync, the API server lost and
/// back twice, then an edit.
async fn engine_follows_edits_after_two_outages(mut cluster: Outages, election: Election) {
    trace_if_asked();
    let began = std::time::Instant::now();
    let log = EventLog::default();
    let client = cluster.client();
    let handle = engine(client.clone(), election, &log);
    edit_reaches_the_cluster(&client, 5, &log).await;
    for (round, replicas) in [(1, 6), (2, 7)] {
        log.mark(&format!("outage {round}"));
        cluster.outage(election.outage()).await;
        log.mark(&format!("back from outage {round}"));
        assert!(!handle.is_finished(), "the engine ended by itself");
        edit_reaches_the_cluster(&client, replicas, &log).await;
    }
    eprintln!(
        "{} (election {election:?}): took {:?}",
        cluster.name(),
        began.elapsed()
    );
    tokio::time::timeout(Duration::from_secs(30), handle.shutdown())
        .await
        .expect("the engine shuts down");
}

macro_rules! scenario {
    ($name:ident, $make:expr, $election:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            engine_follows_edits_after_two_outages($make.await, $election).await
        }
    };
}

scenario!(
    in_process_without_election,
    Outages::in_process(),
    Election::Off
);
scenario!(
    in_process_console_lease,
    Outages::in_process(),
    Election::Console
);
scenario!(
    in_process_short_lease,
    Outages::in_process(),
    Election::Short
);
scenario!(killed_without_election, Outages::process(), Election::Off);
scenario!(killed_console_lease, Outages::process(), Election::Console);
scenario!(killed_short_lease, Outages::process(), Election::Short);
scenario!(real_without_election, Outages::real(), Election::Off);
scenario!(real_console_lease, Outages::real(), Election::Console);
scenario!(real_short_lease, Outages::real(), Election::Short);

/// Waits until the Lease is renewed twice by `identity`: its holder is
/// alive, whatever happened before.
async fn renewing(client: &Client, lease: &LeaseOptions, log: &EventLog) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), &lease.namespace);
    let mut seen = std::collections::BTreeSet::new();
    let renewed = tokio::time::timeout(CATCH_UP, async {
        loop {
            if let Ok(Some(l)) = leases.get_opt(&lease.name).await
                && let Some(spec) = l.spec
                && spec.holder_identity.as_deref() == Some(lease.identity.as_str())
                && let Some(at) = spec.renew_time
            {
                seen.insert(at.0);
                if seen.len() >= 2 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        renewed.is_ok(),
        "{} did not renew its lease within {CATCH_UP:?} of the API server's return\nengine events:\n{}",
        lease.identity,
        log.dump()
    );
}

/// The permanent stall: a leader whose controllers never finished a first
/// list (here the CRDs are missing, so they cannot) loses the API server
/// for longer than its lease. It steps down and must, once the server is
/// back, lead again — and reconcile once the CRDs appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_controllers_never_listed_leads_again_after_an_outage() {
    trace_if_asked();
    let mut cluster = Outages::in_process_with(ClusterOptions::default()).await;
    let client = cluster.client();
    let lease = LeaseOptions {
        identity: "restart-test-engine".into(),
        ..lease("edgedeck-never-listed")
    };
    let log = EventLog::default();
    let (handle, events) = Engine::spawn_subscribed(
        client.clone(),
        EngineOptions {
            leader_elect: true,
            lease: lease.clone(),
            ..EngineOptions::default()
        },
    );
    log.follow(events);
    renewing(&client, &lease, &log).await;
    log.mark("outage");
    cluster.outage(LONG_OUTAGE).await;
    log.mark("back");
    renewing(&client, &lease, &log).await;

    support::cluster::install_crds(&client).await;
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    let app: EdgeApplication = support::from_yaml_file("examples/proposal/edgeapplication.yaml");
    apps.create(&Default::default(), &app)
        .await
        .expect("app created");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let generated = tokio::time::timeout(CATCH_UP, async {
        while deployments
            .get_opt("nginx-hangzhou")
            .await
            .ok()
            .flatten()
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        generated.is_ok(),
        "nothing generated once the CRDs appeared\nengine events:\n{}",
        log.dump()
    );
    tokio::time::timeout(Duration::from_secs(30), handle.shutdown())
        .await
        .expect("the engine shuts down");
}

/// The leader's own guarantee, whatever its work does: work that ignores
/// its cancel is dropped when the lease runs out, and the elector goes on
/// renewing or following instead of waiting for it forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_never_waits_past_its_lease_for_work_that_does_not_stop() {
    trace_if_asked();
    let mut cluster = Outages::in_process_with(ClusterOptions::default()).await;
    let client = cluster.client();
    let lease = LeaseOptions {
        identity: "stubborn-work".into(),
        ..lease("edgedeck-stubborn-work")
    };
    let log = EventLog::default();
    let (events, receiver) = broadcast::channel(256);
    log.follow(receiver);
    let ctx = Arc::new(Context::new(client.clone(), events));
    let cancel = CancellationToken::new();
    let elector = tokio::spawn(edgedeck::controllers::leader::lead(
        ctx,
        lease.clone(),
        cancel.clone(),
        |_ignored: CancellationToken| std::future::pending::<()>(),
    ));
    renewing(&client, &lease, &log).await;
    log.mark("outage");
    cluster.outage(LONG_OUTAGE).await;
    log.mark("back");
    renewing(&client, &lease, &log).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(30), elector)
        .await
        .expect("the elector stops on cancel")
        .expect("no panic");
}

/// A controller cancelled before its first list ever completed (the API
/// server went away right after the engine took the lease) must still stop:
/// the leader waits for its controllers before it tries for the lease again.
/// (With nothing listed, nothing is in flight: they stop at once.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_stop_when_cancelled_before_their_first_list() {
    // Nothing listens on this port: every list and watch fails.
    let url = format!("https://127.0.0.1:{}", free_port());
    let client = Client::try_from(kube::Config::new(url.parse().expect("url"))).expect("client");
    let (events, _keep) = broadcast::channel(64);
    let ctx = Arc::new(Context::new(client, events));

    let cancel = CancellationToken::new();
    let groups = tokio::spawn(node_group::run(ctx.clone(), cancel.clone()));
    let apps = tokio::spawn(edge_application::run(ctx, cancel.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    cancel.cancel();
    let mut hung = Vec::new();
    for (name, task) in [("nodegroup", groups), ("edgeapplication", apps)] {
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(ended) => ended.expect("controller task"),
            Err(_) => hung.push(name),
        }
    }
    assert!(
        hung.is_empty(),
        "still running 10 s after their cancel: {hung:?}"
    );
}
