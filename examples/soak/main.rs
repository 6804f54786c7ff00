//! The chaos soak (issue #14, item 2): the demo fleet on the embedded
//! cluster (with a data directory), the engine in this process, random
//! operator actions while the cluster injects faults, and after every
//! round a quiet period (faults off) in which the invariants of
//! `invariants.rs` must come to hold within a bound.
//!
//! ```text
//! cargo run --example soak -- --minutes 30 --seed 1
//! cargo run --example soak -- --steps 40 --seed 7 --faults 'drop-watch=0.3,503=0.1'
//! ```
//!
//! Everything random (actions, their targets, the pauses, the faults of each
//! round) comes from `--seed`, so a failing run can be replayed (up to the
//! interleaving of the engine's own requests). Exit status 1 when any
//! invariant was violated.

mod invariants;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use edgedeck::api::{EdgeApplication, NodeGroup};
use edgedeck::controllers::{Engine, EngineOptions, Outcome};
use edgedeck::embedded::faults::FaultSpec;
use edgedeck::embedded::{ClusterOptions, RunningCluster};
use edgedeck::simulation::seed::{DEMO_NAMESPACE, LABEL_LOCATION, Seed};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Stop after this many minutes (whichever of --minutes and --steps comes first).
    #[arg(long, default_value_t = 5.0)]
    minutes: f64,
    /// Stop after this many operator actions.
    #[arg(long, default_value_t = u64::MAX)]
    steps: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The faults of every round (its seed is replaced by one drawn per round).
    #[arg(
        long,
        default_value = "drop-watch=0.3:5s,409=0.05,429=0.05,500=0.03,503=0.03,delay=0.1:300ms,410=0.5"
    )]
    faults: FaultSpec,
    /// Operator actions per round, between two quiet periods.
    #[arg(long, default_value_t = 6)]
    actions: u32,
    /// How long the invariants may take to hold once the faults stop.
    #[arg(long, default_value_t = 120)]
    converge_secs: u64,
    /// Run without the engine: the invariants must then be violated (a
    /// check of the checks).
    #[arg(long)]
    without_engine: bool,
}

/// An operator's request, tried again through injected errors.
async fn retry<T, F, Fut>(mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    for _ in 0..40 {
        match f().await {
            Ok(value) => return Some(value),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 422 => return None,
            Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
        }
    }
    None
}

struct Operator {
    client: Client,
    rng: StdRng,
    regions: Vec<String>,
    nodes: Vec<String>,
    made: u64,
}

impl Operator {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.rng.random_range(0..items.len())])
    }

    fn apps(&self) -> Api<EdgeApplication> {
        Api::namespaced(self.client.clone(), DEMO_NAMESPACE)
    }

    async fn list_apps(&self) -> Vec<EdgeApplication> {
        let apps = self.apps();
        let lp = ListParams::default();
        retry(|| apps.list(&lp))
            .await
            .map(|l| l.items)
            .unwrap_or_default()
    }

    async fn list_groups(&self) -> Vec<NodeGroup> {
        let groups: Api<NodeGroup> = Api::all(self.client.clone());
        let lp = ListParams::default();
        retry(|| groups.list(&lp))
            .await
            .map(|l| l.items)
            .unwrap_or_default()
    }

    /// One random action; returns its name.
    async fn act(&mut self, running: &RunningCluster) -> &'static str {
        match self.rng.random_range(0..9u32) {
            0 | 1 => self.scale().await,
            2 | 3 => self.relabel().await,
            4 => self.create_group().await,
            5 => self.delete_soak_group().await,
            6 => self.create_app().await,
            7 => self.delete_soak_app().await,
            _ => self.region_offline(running),
        }
    }

    /// A target's replicas, read-modify-write with the resourceVersion.
    async fn scale(&mut self) -> &'static str {
        let apps = self.list_apps().await;
        let Some(app) = self.pick(&apps).cloned() else {
            return "scale (no app)";
        };
        let mut value = serde_json::to_value(&app).unwrap_or_default();
        let Some(targets) = value
            .pointer_mut("/spec/workloadScope/targetNodeGroups")
            .and_then(Value::as_array_mut)
        else {
            return "scale (no target)";
        };
        if targets.is_empty() {
            return "scale (no target)";
        }
        let i = self.rng.random_range(0..targets.len());
        let replicas = self.rng.random_range(0..5);
        targets[i]["overriders"]["replicas"] = json!(replicas);
        let Ok(edited) = serde_json::from_value::<EdgeApplication>(value) else {
            return "scale (undecodable)";
        };
        let api = self.apps();
        let name = app.name_any();
        let pp = PostParams::default();
        retry(|| api.replace(&name, &pp, &edited)).await;
        "scale"
    }

    async fn relabel(&mut self) -> &'static str {
        let nodes = self.nodes.clone();
        let regions = self.regions.clone();
        let (Some(node), Some(region)) = (self.pick(&nodes), self.pick(&regions)) else {
            return "relabel (no node)";
        };
        let api: Api<Node> = Api::all(self.client.clone());
        let patch = Patch::Merge(json!({"metadata": {"labels": {LABEL_LOCATION: region}}}));
        let pp = PatchParams::default();
        retry(|| api.patch(node, &pp, &patch)).await;
        "relabel"
    }

    async fn create_group(&mut self) -> &'static str {
        self.made += 1;
        let regions = self.regions.clone();
        let nodes = self.nodes.clone();
        let region = self.pick(&regions).cloned().unwrap_or_default();
        let named = self.pick(&nodes).cloned().unwrap_or_default();
        let group: NodeGroup = match serde_json::from_value(json!({
            "apiVersion": "apps.kubeedge.io/v1alpha1",
            "kind": "NodeGroup",
            "metadata": {"name": format!("soak-{}", self.made)},
            "spec": {"matchLabels": {LABEL_LOCATION: region}, "nodes": [named]},
        })) {
            Ok(group) => group,
            Err(_) => return "create group (undecodable)",
        };
        let api: Api<NodeGroup> = Api::all(self.client.clone());
        let pp = PostParams::default();
        retry(|| api.create(&pp, &group)).await;
        "create group"
    }

    async fn delete_soak_group(&mut self) -> &'static str {
        let groups: Vec<String> = self
            .list_groups()
            .await
            .iter()
            .map(ResourceExt::name_any)
            .filter(|n| n.starts_with("soak-"))
            .collect();
        let Some(name) = self.pick(&groups).cloned() else {
            return "delete group (none)";
        };
        let api: Api<NodeGroup> = Api::all(self.client.clone());
        let dp = DeleteParams::default();
        retry(|| api.delete(&name, &dp)).await;
        "delete group"
    }

    /// A copy of an app, targeting one to three random groups.
    async fn create_app(&mut self) -> &'static str {
        self.made += 1;
        let apps = self.list_apps().await;
        let groups: Vec<String> = self
            .list_groups()
            .await
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        let Some(template) = self.pick(&apps).cloned() else {
            return "create app (no template)";
        };
        let mut value = serde_json::to_value(&template).unwrap_or_default();
        let name = format!("soak-app-{}", self.made);
        let mut targets = Vec::new();
        for _ in 0..self.rng.random_range(1..4) {
            if let Some(group) = self.pick(&groups) {
                let replicas = self.rng.random_range(0..4);
                targets.push(json!({"name": group, "overriders": {"replicas": replicas}}));
            }
        }
        targets.dedup_by(|a, b| a["name"] == b["name"]);
        value["metadata"] = json!({"name": name, "namespace": DEMO_NAMESPACE});
        value["spec"]["workloadScope"] = json!({"targetNodeGroups": targets});
        // Manifest names must not clash with the template's objects.
        if let Some(manifests) = value
            .pointer_mut("/spec/workloadTemplate/manifests")
            .and_then(Value::as_array_mut)
        {
            for m in manifests {
                let old = m
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("m");
                m["metadata"]["name"] = json!(format!("{old}-{}", self.made));
            }
        }
        if let Some(map) = value.as_object_mut() {
            map.remove("status");
        }
        let Ok(app) = serde_json::from_value::<EdgeApplication>(value) else {
            return "create app (undecodable)";
        };
        let api = self.apps();
        let pp = PostParams::default();
        retry(|| api.create(&pp, &app)).await;
        "create app"
    }

    async fn delete_soak_app(&mut self) -> &'static str {
        let apps: Vec<String> = self
            .list_apps()
            .await
            .iter()
            .map(ResourceExt::name_any)
            .filter(|n| n.starts_with("soak-app-"))
            .collect();
        let Some(name) = self.pick(&apps).cloned() else {
            return "delete app (none)";
        };
        let api = self.apps();
        let dp = DeleteParams::default();
        retry(|| api.delete(&name, &dp)).await;
        "delete app"
    }

    /// A region's kubelets go silent, or come back.
    fn region_offline(&mut self, running: &RunningCluster) -> &'static str {
        let nodes = self.nodes.clone();
        let Some(node) = self.pick(&nodes).cloned() else {
            return "offline (no node)";
        };
        let offline = !running.offline_nodes().contains(&node);
        if running.set_offline(&[node], offline).is_err() {
            return "offline (no simulator)";
        }
        if offline {
            "take offline"
        } else {
            "bring online"
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let dir = tempfile_dir();
    let initial_objects =
        edgedeck::console::live::embedded::initial_objects(Seed::Demo).expect("the demo seed");
    let faults = Arc::new(edgedeck::embedded::faults::Faults::default());
    let mut running = edgedeck::embedded::start(ClusterOptions {
        data_dir: Some(dir.clone()),
        initial_objects,
        simulate: true,
        faults: faults.clone(),
        ..ClusterOptions::default()
    })
    .await
    .expect("the embedded cluster starts");
    let client = running.client().expect("client");
    let engine =
        (!args.without_engine).then(|| Engine::spawn(client.clone(), EngineOptions::default()));
    let stuck = Arc::new(AtomicU64::new(0));
    if let Some(engine) = &engine {
        let mut events = engine.subscribe();
        let stuck = stuck.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let Outcome::Failed { reason } = &event.outcome
                    && reason.contains("stuck")
                {
                    stuck.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let nodes: Vec<Node> = Api::<Node>::all(client.clone())
        .list(&ListParams::default().labels(LABEL_LOCATION))
        .await
        .expect("nodes")
        .items;
    let mut regions: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.labels().get(LABEL_LOCATION).cloned())
        .collect();
    regions.sort();
    regions.dedup();
    let mut operator = Operator {
        client: client.clone(),
        rng: StdRng::seed_from_u64(args.seed),
        regions,
        nodes: nodes.iter().map(ResourceExt::name_any).collect(),
        made: 0,
    };

    let began = Instant::now();
    let until = began + Duration::from_secs_f64(args.minutes * 60.0);
    let (mut steps, mut rounds, mut restarts) = (0u64, 0u64, 0u64);
    let mut actions: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut violations: Vec<String> = Vec::new();
    let mut longest = Duration::ZERO;
    while Instant::now() < until && steps < args.steps {
        rounds += 1;
        faults.set(Some(FaultSpec {
            seed: operator.rng.random(),
            ..args.faults.clone()
        }));
        for _ in 0..args.actions {
            if Instant::now() >= until || steps >= args.steps {
                break;
            }
            steps += 1;
            // Now and then the API server restarts, keeping its data.
            let action = if operator.rng.random_range(0..12u32) == 0 {
                running.faults().request_restart();
                running.restart_requested().await;
                running = match running.restart().await {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("soak: the cluster did not restart: {e}");
                        return std::process::ExitCode::FAILURE;
                    }
                };
                restarts += 1;
                "restart the API server"
            } else {
                operator.act(&running).await
            };
            *actions.entry(action).or_default() += 1;
            let pause = operator.rng.random_range(50..1500);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        // Quiet period: no more faults; everything must come right.
        faults.set(None);
        let quiet = Instant::now();
        let bound = Duration::from_secs(args.converge_secs);
        let last = loop {
            let found = match invariants::Live::read(&client).await {
                Ok(live) => invariants::violations(&live),
                Err(e) => vec![format!("cannot read the fleet: {e}")],
            };
            if found.is_empty() || quiet.elapsed() > bound {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let took = quiet.elapsed();
        longest = longest.max(took);
        eprintln!(
            "round {rounds}: {steps} steps, converged in {:.1}s{}",
            took.as_secs_f64(),
            if last.is_empty() {
                String::new()
            } else {
                format!(", {} VIOLATIONS", last.len())
            }
        );
        for v in &last {
            eprintln!("  violation: {v}");
        }
        violations.extend(last);
    }

    let injected = faults.injected();
    println!(
        "soak: seed {} for {:.1} min",
        args.seed,
        began.elapsed().as_secs_f64() / 60.0
    );
    println!("faults spec: {}", args.faults);
    println!("steps: {steps} in {rounds} rounds ({restarts} API server restarts)");
    println!("actions: {actions:?}");
    println!(
        "faults injected: {injected:?} (total {})",
        injected.values().sum::<u64>()
    );
    println!("watchdog restarts: {}", stuck.load(Ordering::Relaxed));
    println!("invariant violations: {}", violations.len());
    println!(
        "longest time to converge after a round of faults: {:.1}s",
        longest.as_secs_f64()
    );
    if let Some(engine) = engine {
        engine.shutdown().await;
    }
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    if violations.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// A fresh data directory (the dev-dependency `tempfile` is not for examples' runtime).
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("edgedeck-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
