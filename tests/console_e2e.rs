//! End to end: the real `edgedeck` binary in a pseudo-terminal (tmux),
//! driven by keys, checked on the screen and through unmodified kubectl, on
//! both clusters: `edgedeck --embedded` (kubectl through the kubeconfig the
//! console writes), and `edgedeck --kubeconfig` on a real control plane with
//! the demo fleet loaded, where the console's in-process engine (`--engine
//! auto`, nobody else holds the lease) rolls it out and kube-controller-manager,
//! the scheduler and kwok run it.
//!
//! The keys, from the start screen: `2` applications, `enter` on nginx-app
//! (the first row), `j` to its second target group (shanghai, which has no
//! replicas override, so the field starts empty), `e` the override form,
//! type `5` into Replicas, `ctrl-s` the diff preview, `y` save.

mod support;

use serde_json::Value;
use support::PATIENCE;
use support::cluster::TestCluster;
use support::demo::DemoCluster;
use support::kubectl::Kubectl;
use support::tmux::{Console, row};

const NS: &str = "edge-apps";
const APP: &str = "nginx-app";

/// The console on the demo fleet, connected, with kubectl for the same
/// cluster. Fields drop in order: the console quits before its cluster goes.
struct Run {
    console: Console,
    kubectl: Kubectl,
    _cluster: Option<DemoCluster>,
}

/// On embedded, the console starts its own cluster (`--embedded`), so the
/// empty one `cluster` stands for is not used; on real, the console is
/// pointed at the control plane once the demo fleet is loaded there.
async fn start(cluster: TestCluster, args: &[&str]) -> Run {
    // The context the console names: its own for --embedded, the current
    // context of the control plane's kubeconfig on real.
    let (console, demo, context) = if cluster.is_real() {
        let demo = DemoCluster::on(cluster).await;
        let console = Console::with_kubeconfig(demo.kubeconfig(), args);
        (console, Some(demo), "ctx real")
    } else {
        drop(cluster);
        (Console::embedded(args), None, "ctx edgedeck-embedded")
    };
    let kubectl = Kubectl::with_kubeconfig(console.kubeconfig().await);
    // Five regions and (ungrouped) with control-01 on both: the real
    // cluster has no Node of its own (no kubelet), only the demo's.
    console
        .wait_for(&["Regions [6]", "● connected", context])
        .await;
    Run {
        console,
        kubectl,
        _cluster: demo,
    }
}

async fn app_json(kubectl: &Kubectl) -> Value {
    let out = kubectl
        .ok(&["get", "edgeapplication", "-n", NS, APP, "-o", "json"])
        .await;
    serde_json::from_str(&out).expect("EdgeApplication JSON")
}

/// The overriders of one target group.
fn overriders<'a>(app: &'a Value, group: &str) -> &'a Value {
    app.pointer("/spec/workloadScope/targetNodeGroups")
        .and_then(Value::as_array)
        .and_then(|targets| targets.iter().find(|t| t["name"] == group))
        .map(|t| &t["overriders"])
        .unwrap_or_else(|| panic!("{group} is not a target of {APP}: {app}"))
}

/// `spec.replicas` of a generated Deployment, if it exists.
async fn deployment_replicas(kubectl: &Kubectl, name: &str) -> Option<i64> {
    let out = kubectl
        .run(&["get", "deployment", "-n", NS, name, "-o", "json"])
        .await;
    if !out.ok {
        return None;
    }
    let d: Value = serde_json::from_str(&out.stdout).ok()?;
    d.pointer("/spec/replicas").and_then(Value::as_i64)
}

/// Polls kubectl until the Deployment has `want` replicas.
async fn deployment_has(kubectl: &Kubectl, name: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = deployment_replicas(kubectl, name).await;
        if got == Some(want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Deployment {NS}/{name}: wanted {want} replicas, last seen {got:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `2`, `enter`: the detail of nginx-app, once the engine has rolled it out
/// (its shanghai row ready), so the form starts from a settled object.
async fn open_app_detail(console: &Console, settled: bool) {
    console.keys(&["2"]);
    console.wait_for(&["Applications [2]", APP]).await;
    console.keys(&["Enter"]);
    console
        .wait_for(&["App edge-apps/nginx-app", "Target groups [5]"])
        .await;
    if settled {
        console
            .wait_until("shanghai rolled out (✓ 2/2)", |s| {
                row(s, "│shanghai ").is_some_and(|r| r.contains("✓ 2/2"))
                    && row(s, "nginx-shanghai").is_some_and(|r| r.contains("✓ Available"))
            })
            .await;
    }
}

/// `j`, `e`: the override form of shanghai; types `5` into Replicas.
async fn form_with_five_replicas(console: &Console) {
    console.keys(&["j", "e"]);
    let form = console
        .wait_for(&["Overrides of shanghai in edge-apps/nginx-app", "Replicas ("])
        .await;
    assert!(
        !form.contains("││5 "),
        "the Replicas field should start empty:\n{form}"
    );
    console.type_text("5");
    console.wait_for(&["││5 "]).await;
}

/// `ctrl-s`: the diff preview shows shanghai's Deployment going 2 → 5.
async fn preview(console: &Console) {
    console.keys(&["C-s"]);
    let diff = console
        .wait_for(&[
            "Diff: overrides of shanghai",
            "+       replicas: 5",
            "~ Deployment edge-apps/nginx-shanghai",
        ])
        .await;
    assert!(diff.contains("-   replicas: 2"), "{diff}");
    assert!(diff.contains("+   replicas: 5"), "{diff}");
}

on_both_clusters! {
async fn form_edit_changes_the_generated_deployment(cluster) {
    let run = start(cluster, &[]).await;
    let (console, kubectl) = (&run.console, &run.kubectl);
    deployment_has(kubectl, "nginx-shanghai", 2).await;
    deployment_has(kubectl, "nginx-beijing", 2).await;

    open_app_detail(console, true).await;
    form_with_five_replicas(console).await;
    preview(console).await;
    console.keys(&["y"]);
    console
        .wait_for(&["✓ saved EdgeApplication edge-apps/nginx-app"])
        .await;

    let app = app_json(kubectl).await;
    assert_eq!(overriders(&app, "shanghai")["replicas"], 5, "{app}");
    deployment_has(kubectl, "nginx-shanghai", 5).await;
    // Only that group changed.
    assert_eq!(overriders(&app, "beijing")["replicas"], 2, "{app}");
    assert_eq!(
        deployment_replicas(kubectl, "nginx-beijing").await,
        Some(2)
    );
    // The console shows the new desired count.
    console
        .wait_until("shanghai wanting 5 replicas", |s| {
            row(s, "│shanghai ").is_some_and(|r| r.contains("/5") && r.contains("replicas=5"))
        })
        .await;
}

async fn readonly_refuses_the_same_keys_and_writes_nothing(cluster) {
    let run = start(cluster, &["--readonly"]).await;
    let (console, kubectl) = (&run.console, &run.kubectl);
    console.wait_for(&["⊘ read-only"]).await;
    let before = app_json(kubectl).await;

    open_app_detail(console, false).await;
    // Writing keys are shown disabled.
    console.wait_for(&["e overrides ⊘", "+ scale+ ⊘"]).await;
    console.keys(&["j", "e"]);
    let refused = console
        .wait_for(&["⊘ read-only: editing is disabled (started with --readonly)"])
        .await;
    assert!(!refused.contains("Overrides of shanghai"), "{refused}");
    // The rest of the sequence, then `?` (help) to know they were all handled.
    console.type_text("5");
    console.keys(&["C-s", "y", "?"]);
    let screen = console.wait_for(&["› Help"]).await;
    assert!(!screen.contains("saved"), "{screen}");

    let after = app_json(kubectl).await;
    assert_eq!(
        after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
        "the EdgeApplication was written"
    );
    assert_eq!(after["spec"], before["spec"]);
    assert!(overriders(&after, "shanghai").get("replicas").is_none());
}
}

/// Opens the form, lets another writer change beijing's replicas with
/// kubectl, and waits until the console says the object changed underneath
/// the open form. Returns the EdgeApplication as the other writer left it.
async fn changed_underneath(console: &Console, kubectl: &Kubectl) -> Value {
    open_app_detail(console, true).await;
    form_with_five_replicas(console).await;

    // Meanwhile, someone else changes the same EdgeApplication.
    let patch = r#"[{"op":"test","path":"/spec/workloadScope/targetNodeGroups/2/name","value":"beijing"},
                    {"op":"replace","path":"/spec/workloadScope/targetNodeGroups/2/overriders/replicas","value":3}]"#;
    kubectl
        .ok(&[
            "patch",
            "edgeapplication",
            "-n",
            NS,
            APP,
            "--type=json",
            "-p",
            patch,
        ])
        .await;
    let theirs = app_json(kubectl).await;
    assert_eq!(overriders(&theirs, "beijing")["replicas"], 3);
    console
        .wait_for(&[
            "nginx-app changed on the server while you edit it",
            "Overrides of shanghai in edge-apps/nginx-app",
        ])
        .await;
    theirs
}

on_both_clusters! {
async fn a_change_underneath_the_form_is_shown_and_the_save_keeps_both(cluster) {
    let run = start(cluster, &[]).await;
    let (console, kubectl) = (&run.console, &run.kubectl);
    let theirs = changed_underneath(console, kubectl).await;

    // The preview is against their object: only my change shows.
    preview(console).await;
    let diff = console.wait_for(&["Diff: overrides of shanghai"]).await;
    assert!(!diff.contains("nginx-beijing"), "only my change: {diff}");
    console.keys(&["y"]);
    console
        .wait_for(&["✓ saved EdgeApplication edge-apps/nginx-app"])
        .await;

    let now = app_json(kubectl).await;
    assert_eq!(overriders(&now, "shanghai")["replicas"], 5, "{now}");
    assert_eq!(overriders(&now, "beijing")["replicas"], 3, "{now}");
    assert_eq!(
        now["spec"]["workloadTemplate"], theirs["spec"]["workloadTemplate"],
        "{now}"
    );
    deployment_has(kubectl, "nginx-shanghai", 5).await;
    deployment_has(kubectl, "nginx-beijing", 3).await;
}

async fn a_changed_form_asks_before_discarding_and_discard_writes_nothing(cluster) {
    let run = start(cluster, &[]).await;
    let (console, kubectl) = (&run.console, &run.kubectl);
    let theirs = changed_underneath(console, kubectl).await;

    console.keys(&["Escape"]);
    console.wait_for(&["Discard your changes?"]).await;
    console.keys(&["y"]);
    let screen = console.wait_for(&["discarded your edit"]).await;
    assert!(!screen.contains("Overrides of shanghai"), "{screen}");

    let now = app_json(kubectl).await;
    assert_eq!(now["spec"], theirs["spec"]);
    assert_eq!(
        now["metadata"]["generation"],
        theirs["metadata"]["generation"]
    );
    assert!(overriders(&now, "shanghai").get("replicas").is_none());
    // The other writer's change is what the engine rolls out.
    deployment_has(kubectl, "nginx-beijing", 3).await;
    assert_eq!(
        deployment_replicas(kubectl, "nginx-shanghai").await,
        Some(2)
    );
}
}
