//! Staged rollouts on the embedded cluster and on a real control plane:
//! the simulator's (and kwok's) crash-looping `broken` images, and the
//! Rollout controller driving an EdgeApplication wave by wave.

mod support;

use edgedeck::api::{
    EdgeApplication, EdgeApplicationSpec, GroupRolloutState, NodeGroup, Rollout, RolloutPhase,
    RolloutSpec, RolloutStatus, WaveSpec,
};
use edgedeck::controllers::{Engine, EngineHandle, EngineOptions};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::{eventually, eventually_within};

const GROUPS: [&str; 3] = ["chengdu", "hangzhou", "shanghai"];
/// A broken wave must give up well within the tests' patience.
const SHORT_DEADLINE: u32 = 20;

async fn create_node(client: &Client, name: &str, group: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"location": group}}}))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node created");
}

fn container_status<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod.pointer("/status/containerStatuses")?
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

on_both_clusters! {
async fn a_broken_image_crash_loops_and_never_becomes_ready(cluster) {
    let client = cluster.client();
    create_node(&client, "node-a", "chengdu").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, image) in [("bad", "reg.io/web:broken"), ("good", "reg.io/web:1")] {
        let pod: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"nodeName": "node-a", "containers": [
                {"name": "web", "image": image}, {"name": "side", "image": "busybox:1"}]}}))
        .expect("pod");
        pods.create(&PostParams::default(), &pod).await.expect("pod created");
    }
    let get = |name: &'static str| {
        let pods = pods.clone();
        async move { serde_json::to_value(pods.get(name).await.ok()?).ok() }
    };
    eventually("the good pod Ready", || async {
        let pod = get("good").await?;
        let ready = pod.pointer("/status/conditions")?.as_array()?.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        ready.then_some(())
    })
    .await;
    let first = eventually("the bad pod crash-looping", || async {
        let pod = get("bad").await?;
        let web = container_status(&pod, "web")?;
        (web.pointer("/state/waiting/reason")? == "CrashLoopBackOff").then(|| pod.clone())
    })
    .await;
    let restarts = |pod: &Value| container_status(pod, "web").and_then(|c| c["restartCount"].as_i64());
    let before = restarts(&first).expect("a restart count");
    assert!(before >= 1, "a crash loop has restarted: {first}");
    let later = eventually("the restart count grows", || async {
        let pod = get("bad").await?;
        (restarts(&pod)? > before).then_some(pod)
    })
    .await;
    assert_eq!(later.pointer("/status/phase"), Some(&json!("Running")));
    let ready = later.pointer("/status/conditions").and_then(Value::as_array).and_then(|cs| {
        cs.iter().find(|c| c["type"] == "Ready").map(|c| c["status"].clone())
    });
    assert_eq!(ready, Some(json!("False")), "never Ready: {later}");
    let side = container_status(&later, "side").expect("sidecar status");
    assert_eq!(side["ready"], true, "the other container runs: {later}");
    assert_eq!(container_status(&later, "web").unwrap()["ready"], false);
}
}

fn app_spec(image: &str) -> EdgeApplicationSpec {
    serde_json::from_value(json!({
        "workloadTemplate": {"manifests": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {"labels": {"app": "web"}},
                 "spec": {"containers": [{"name": "web", "image": image,
                   "env": [{"name": "MODE", "value": image}]}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}]},
        "workloadScope": {"targetNodeGroups": GROUPS.iter().map(|g| json!({"name": g})).collect::<Vec<_>>()}
    }))
    .expect("spec")
}

/// Three groups of one node each, the application on `nginx:1.0` Available
/// everywhere, and the engine running.
async fn fleet(client: &Client) -> (Api<EdgeApplication>, EngineHandle) {
    let groups: Api<NodeGroup> = Api::all(client.clone());
    for (i, g) in GROUPS.iter().enumerate() {
        create_node(client, &format!("node-{i}"), g).await;
        let group: NodeGroup = serde_json::from_value(json!({
            "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": g}, "spec": {"matchLabels": {"location": g}}}))
        .expect("group");
        groups
            .create(&PostParams::default(), &group)
            .await
            .expect("group created");
    }
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    let app = EdgeApplication::new("web", app_spec("nginx:1.0"));
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");
    let engine = Engine::spawn(client.clone(), EngineOptions::default());
    eventually("the application Available in every group", || async {
        let app = apps.get_status("web").await.ok()?;
        let status = app.status?;
        let (ready, total) = status
            .available?
            .split_once('/')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))?;
        (ready == total && status.groups.len() == GROUPS.len()).then_some(())
    })
    .await;
    (apps, engine)
}

fn waves() -> Vec<WaveSpec> {
    GROUPS
        .iter()
        .map(|g| WaveSpec {
            groups: vec![g.to_string()],
            ..WaveSpec::default()
        })
        .collect()
}

async fn start(client: &Client, spec: RolloutSpec) -> Api<Rollout> {
    let rollouts: Api<Rollout> = Api::namespaced(client.clone(), "default");
    rollouts
        .create(&PostParams::default(), &Rollout::new("web-rollout", spec))
        .await
        .expect("rollout created");
    rollouts
}

fn rollout_to(image: &str) -> RolloutSpec {
    RolloutSpec {
        edge_application: "web".into(),
        target: app_spec(image),
        waves: waves(),
        soak_seconds: Some(1),
        progress_deadline_seconds: Some(120),
        ..RolloutSpec::default()
    }
}

async fn status_when(
    rollouts: &Api<Rollout>,
    what: &str,
    done: impl Fn(&RolloutStatus) -> bool,
) -> RolloutStatus {
    status_of(rollouts, "web-rollout", what, done).await
}

async fn status_of(
    rollouts: &Api<Rollout>,
    name: &str,
    what: &str,
    done: impl Fn(&RolloutStatus) -> bool,
) -> RolloutStatus {
    eventually(what, || async {
        let status = rollouts.get_status(name).await.ok()?.status?;
        done(&status).then_some(status)
    })
    .await
}

/// The image each group's Deployment runs, once its controller has caught up.
async fn images(client: &Client) -> Vec<(String, String)> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut out = Vec::new();
    for g in GROUPS {
        let d = deployments
            .get(&format!("web-{g}"))
            .await
            .expect("deployment");
        let image = d
            .spec
            .and_then(|s| s.template.spec)
            .map(|p| p.containers[0].image.clone());
        out.push((g.to_owned(), image.flatten().unwrap_or_default()));
    }
    out
}

fn all(image: &str) -> Vec<(String, String)> {
    GROUPS
        .iter()
        .map(|g| (g.to_string(), image.to_owned()))
        .collect()
}

async fn patch_rollout(rollouts: &Api<Rollout>, patch: Value) {
    rollouts
        .patch(
            "web-rollout",
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .expect("rollout patched");
}

on_both_clusters! {
async fn a_three_wave_rollout_completes_with_exactly_a_direct_edit(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (apps, engine) = fleet(&client).await;
    let rollouts = start(&client, rollout_to("nginx:1.1")).await;
    let done = status_when(&rollouts, "rollout Completed", |s| s.phase == RolloutPhase::Completed).await;
    assert_eq!(done.waves, [["chengdu"], ["hangzhou"], ["shanghai"]]);
    assert!(done.groups.iter().all(|g| g.state == GroupRolloutState::Healthy), "{done:?}");
    let app = apps.get("web").await.expect("app");
    assert_eq!(app.spec, app_spec("nginx:1.1"), "the final spec is the direct edit");
    eventually("every group runs nginx:1.1", || async {
        (images(&client).await == all("nginx:1.1")).then_some(())
    })
    .await;
    engine.shutdown().await;
}

async fn a_broken_wave_pauses_leaves_the_others_alone_and_abort_restores_them(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (apps, engine) = fleet(&client).await;
    let before = apps.get("web").await.expect("app").spec;
    let rollouts = start(&client, RolloutSpec {
        progress_deadline_seconds: Some(SHORT_DEADLINE),
        ..rollout_to("nginx:broken")
    })
    .await;
    let paused = status_when(&rollouts, "rollout Paused", |s| s.phase == RolloutPhase::Paused).await;
    assert_eq!(paused.current_wave, 0);
    let chengdu = paused.groups.iter().find(|g| g.name == "chengdu").expect("chengdu");
    assert_eq!(chengdu.state, GroupRolloutState::Failed, "{paused:?}");
    assert!(chengdu.reason.is_some(), "a reason per group: {paused:?}");
    assert!(paused.message.as_deref().unwrap_or_default().contains("chengdu:"), "{paused:?}");
    let now = images(&client).await;
    assert_eq!(now[0].1, "nginx:broken");
    assert_eq!(&now[1..], &all("nginx:1.0")[1..], "later waves untouched");

    patch_rollout(&rollouts, json!({"spec": {"abort": true}})).await;
    status_when(&rollouts, "rollout Aborted", |s| s.phase == RolloutPhase::Aborted).await;
    assert_eq!(apps.get("web").await.expect("app").spec, before, "abort restores exactly");
    eventually("every group back on nginx:1.0", || async {
        (images(&client).await == all("nginx:1.0")).then_some(())
    })
    .await;
    engine.shutdown().await;
}

async fn an_engine_restart_mid_rollout_resumes_where_it_was(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (apps, engine) = fleet(&client).await;
    let rollouts = start(&client, RolloutSpec {
        promotion: edgedeck::api::Promotion::Manual,
        ..rollout_to("nginx:1.1")
    })
    .await;
    let waiting = status_when(&rollouts, "wave 0 waiting for promotion", |s| {
        s.phase == RolloutPhase::WaitingForPromotion
    })
    .await;
    engine.shutdown().await;
    patch_rollout(&rollouts, json!({"spec": {"approvedWaves": 1}})).await;
    let engine = Engine::spawn(client.clone(), EngineOptions::default());
    let second = status_when(&rollouts, "wave 1 waiting for promotion", |s| {
        s.phase == RolloutPhase::WaitingForPromotion && s.current_wave == 1
    })
    .await;
    assert_eq!(second.original, waiting.original, "the original survives the restart");
    eventually("chengdu and hangzhou on nginx:1.1, shanghai not", || async {
        let want = vec![
            ("chengdu".to_owned(), "nginx:1.1".to_owned()),
            ("hangzhou".to_owned(), "nginx:1.1".to_owned()),
            ("shanghai".to_owned(), "nginx:1.0".to_owned()),
        ];
        (images(&client).await == want).then_some(())
    })
    .await;
    patch_rollout(&rollouts, json!({"spec": {"approvedWaves": 2}})).await;
    status_when(&rollouts, "rollout Completed", |s| s.phase == RolloutPhase::Completed).await;
    assert_eq!(apps.get("web").await.expect("app").spec, app_spec("nginx:1.1"));
    engine.shutdown().await;
}

async fn a_hand_edit_during_a_rollout_pauses_it_with_a_reason(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (apps, engine) = fleet(&client).await;
    let rollouts = start(&client, RolloutSpec {
        promotion: edgedeck::api::Promotion::Manual,
        ..rollout_to("nginx:1.1")
    })
    .await;
    status_when(&rollouts, "wave 0 waiting for promotion", |s| {
        s.phase == RolloutPhase::WaitingForPromotion
    })
    .await;
    let patch = json!([{"op": "add", "path": "/spec/workloadScope/targetNodeGroups/2/overriders",
        "value": {"replicas": 2}}]);
    let patch: json_patch::Patch = serde_json::from_value(patch).expect("patch");
    apps.patch("web", &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .expect("hand edit");
    let paused = status_when(&rollouts, "rollout Paused", |s| s.phase == RolloutPhase::Paused).await;
    let message = paused.message.unwrap_or_default();
    assert!(message.contains("edited during the rollout"), "{message}");
    assert!(message.contains("targetNodeGroups/2"), "{message}");
    patch_rollout(&rollouts, json!({"spec": {"approvedWaves": 2}})).await;
    // Approving more waves is a spec change but no resume: still paused,
    // and the hand edit stays.
    let still = eventually_within(std::time::Duration::from_secs(30), "the approval observed", || async {
        let r = rollouts.get_status("web-rollout").await.ok()?;
        let status = r.status?;
        (status.observed_generation == r.metadata.generation).then_some(status)
    })
    .await;
    let app = apps.get("web").await.expect("app");
    assert_eq!(app.spec.workload_scope.target_node_groups[2].overriders.replicas, Some(2));
    assert_eq!(still.current_wave, 0);
    engine.shutdown().await;
}
}

fn edgedeck(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .arg("rollout")
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .expect("run edgedeck rollout");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

on_both_clusters! {
async fn the_cli_starts_shows_promotes_and_aborts_a_rollout(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let (apps, engine) = fleet(&client).await;
    let before = apps.get("web").await.expect("app").spec;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("web.yaml");
    let edited = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
        "metadata": {"name": "web"}, "spec": app_spec("nginx:1.1")});
    std::fs::write(&file, serde_json::to_string(&edited).unwrap()).expect("file");
    let kc = cluster.kubeconfig().to_owned();
    let file = file.to_str().unwrap();
    let (ok, text) = edgedeck(&kc, &["start", "web", "-f", file, "--wave", "chengdu",
        "--wave", "1", "--wave", "100%", "--manual", "--soak", "1"]);
    assert!(ok, "{text}");
    let (ok, text) = edgedeck(&kc, &["start", "web", "-f", file]);
    assert!(!ok && text.contains("still running"), "a second start is refused: {text}");
    let rollouts: Api<Rollout> = Api::namespaced(client.clone(), "default");
    status_of(&rollouts, "web", "wave 0 healthy", |s| s.phase == RolloutPhase::WaitingForPromotion).await;
    let (ok, text) = edgedeck(&kc, &["status", "web"]);
    assert!(ok && text.contains("WaitingForPromotion") && text.contains("chengdu"), "{text}");
    let (ok, text) = edgedeck(&kc, &["promote", "web"]);
    assert!(ok, "{text}");
    status_of(&rollouts, "web", "wave 1 healthy", |s| {
        s.phase == RolloutPhase::WaitingForPromotion && s.current_wave == 1
    })
    .await;
    let (ok, text) = edgedeck(&kc, &["abort", "web"]);
    assert!(ok, "{text}");
    status_of(&rollouts, "web", "aborted", |s| s.phase == RolloutPhase::Aborted).await;
    assert_eq!(apps.get("web").await.expect("app").spec, before);
    let (ok, text) = edgedeck(&kc, &["undo", "web", "--soak", "1"]);
    assert!(ok, "{text}");
    status_of(&rollouts, "web", "undo completed", |s| s.phase == RolloutPhase::Completed).await;
    assert_eq!(apps.get("web").await.expect("app").spec, before, "undo of an abort is a no-op");
    engine.shutdown().await;
}
}
