//! End to end: `E` through `$EDITOR`, and the config file, with the real
//! `edgedeck` binary in tmux (see `console_e2e.rs` for the clusters).
//!
//! The editor is a shell script run on the file as `kubectl edit` runs one.
//! Its first run writes a value the API server would refuse; the console
//! must reopen it with the reason as a `#` comment on top, and the second
//! run fixes it. The saved result is read back with kubectl.

mod support;

use serde_json::Value;
use support::cluster::TestCluster;
use support::demo::DemoCluster;
use support::kubectl::Kubectl;
use support::tmux::Console;

const NS: &str = "edge-apps";
const APP: &str = "nginx-app";

/// Refuses once (replicas: many), then sets beijing's replicas to 4; every
/// run is logged with the file's comment header, for the test to read.
const EDITOR: &str = r#"#!/bin/sh
log="$(dirname "$0")/calls"
grep '^#' "$1" >> "$log"
echo '---' >> "$log"
if grep -q 'did not save' "$1"; then
  sed -i -e 's/replicas: many/replicas: 4/' "$1"
else
  sed -i -e '/- name: beijing$/,/replicas:/ s/replicas: [0-9]*/replicas: many/' "$1"
fi
"#;

struct Run {
    console: Console,
    kubectl: Kubectl,
    dir: tempfile::TempDir,
    _cluster: Option<DemoCluster>,
}

async fn start(cluster: TestCluster, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let editor = dir.path().join("editor.sh");
    std::fs::write(&editor, EDITOR).expect("editor script");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let editor = editor.to_str().expect("utf-8").to_owned();
    let env = [("EDITOR", editor.as_str())];
    let (console, demo) = if cluster.is_real() {
        let demo = DemoCluster::on(cluster).await;
        (
            Console::with_env(Some(demo.kubeconfig()), args, &env),
            Some(demo),
        )
    } else {
        drop(cluster);
        (Console::with_env(None, args, &env), None)
    };
    let kubectl = Kubectl::with_kubeconfig(console.kubeconfig().await);
    console.wait_for(&["Regions [6]", "● connected"]).await;
    Run {
        console,
        kubectl,
        dir,
        _cluster: demo,
    }
}

async fn app_json(kubectl: &Kubectl) -> Value {
    let out = kubectl
        .ok(&["get", "edgeapplication", "-n", NS, APP, "-o", "json"])
        .await;
    serde_json::from_str(&out).expect("EdgeApplication JSON")
}

fn beijing_replicas(app: &Value) -> Option<i64> {
    app.pointer("/spec/workloadScope/targetNodeGroups")?
        .as_array()?
        .iter()
        .find(|t| t["name"] == "beijing")?
        .pointer("/overriders/replicas")?
        .as_i64()
}

async fn open_in_editor(console: &Console) {
    console.keys(&["2"]);
    console.wait_for(&["Applications [2]", APP]).await;
    console.keys(&["E"]);
}

on_both_clusters! {
async fn e_edits_through_the_editor_reopening_it_with_the_reason_then_saves(cluster) {
    let run = start(cluster, &[]).await;
    let (console, kubectl) = (&run.console, &run.kubectl);
    let before = app_json(kubectl).await;
    assert_ne!(beijing_replicas(&before), Some(4));
    open_in_editor(console).await;
    let diff = console
        .wait_for(&["Diff: spec (YAML)", "+       replicas: 4"])
        .await;
    assert!(diff.contains("Deployment edge-apps/nginx-beijing"), "{diff}");
    let calls = std::fs::read_to_string(run.dir.path().join("calls")).expect("editor log");
    let runs: Vec<&str> = calls.split("---\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(runs.len(), 2, "refused once, reopened once: {calls}");
    // (The engine's status writes move the resourceVersion on; the number
    // itself is checked in the App's tests.)
    assert!(runs[0].contains("at resourceVersion "), "{calls}");
    assert!(runs[1].starts_with("# edgedeck did not save this edit:"), "{calls}");
    assert!(runs[1].contains("replicas"), "the reason names the field: {calls}");
    // Nothing was written before the preview's `y` (status writes do not
    // move the generation; a spec write does).
    let unsaved = app_json(kubectl).await;
    assert_eq!(unsaved["metadata"]["generation"], before["metadata"]["generation"]);
    assert_eq!(unsaved["spec"], before["spec"]);

    console.keys(&["y"]);
    console
        .wait_for(&["✓ saved EdgeApplication edge-apps/nginx-app"])
        .await;
    let after = app_json(kubectl).await;
    assert_eq!(beijing_replicas(&after), Some(4), "{after}");
    assert_eq!(
        after["spec"]["workloadTemplate"], before["spec"]["workloadTemplate"],
        "only the edited field changed"
    );
}

async fn an_editor_closed_unchanged_writes_nothing(cluster) {
    let run = start(cluster, &[]).await;
    let (console, kubectl) = (&run.console, &run.kubectl);
    // This editor changes nothing.
    std::fs::write(run.dir.path().join("editor.sh"), "#!/bin/sh\ntrue\n").expect("editor");
    let before = app_json(kubectl).await;
    open_in_editor(console).await;
    console.wait_for(&["Edit cancelled, no changes made"]).await;
    let after = app_json(kubectl).await;
    assert_eq!(after["metadata"]["generation"], before["metadata"]["generation"]);
    assert_eq!(after["spec"], before["spec"]);
}

async fn read_only_refuses_the_editor(cluster) {
    let run = start(cluster, &["--readonly"]).await;
    open_in_editor(&run.console).await;
    run.console.wait_for(&["⊘ read-only"]).await;
    assert!(!run.dir.path().join("calls").exists(), "the editor never ran");
}
}

/// A config file the console refuses names the file and the line, on
/// standard error, before any terminal is needed.
#[test]
fn a_bad_config_file_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("edgedeck");
    std::fs::create_dir_all(&config).expect("dir");
    for (text, line, words) in [
        ("theme: dark\nmouse: yes please\n", 2, "mouse"),
        ("theme: dark\nkeyz: {}\n", 2, "unknown field `keyz`"),
        ("keys:\n  quit_now: q\n", 2, "unknown action \"quit_now\""),
        ("keys:\n  help: j\n", 2, "key j would be both"),
    ] {
        std::fs::write(config.join("config.yaml"), text).expect("config");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgedeck"))
            .env("XDG_CONFIG_HOME", dir.path())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text:?} was accepted");
        let at = format!("{}:{line}: ", config.join("config.yaml").display());
        assert!(stderr.contains(&at), "{text:?}: {stderr}");
        assert!(stderr.contains(words), "{text:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// `--no-mouse`, or `mouse: false` in the config file, keep the terminal's
/// mouse (its own text selection): the console then asks for no mouse
/// reports. By default it does.
#[tokio::test]
async fn no_mouse_and_the_config_file_leave_the_mouse_to_the_terminal() {
    let with_mouse = Console::with_env(None, &[], &[]);
    with_mouse.wait_for(&["Regions [6]"]).await;
    assert_eq!(with_mouse.pane_mouse_mode(), "1");
    drop(with_mouse);

    let flag = Console::with_env(None, &["--no-mouse"], &[]);
    flag.wait_for(&["Regions [6]"]).await;
    assert_eq!(
        flag.pane_mouse_mode(),
        "0",
        "mouse reports asked for with --no-mouse"
    );
    drop(flag);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("edgedeck")).expect("dir");
    std::fs::write(
        dir.path().join("edgedeck/config.yaml"),
        "mouse: false\ntheme: light\n",
    )
    .expect("config");
    let config = dir.path().to_str().expect("utf-8");
    let from_file = Console::with_env(None, &[], &[("XDG_CONFIG_HOME", config)]);
    from_file.wait_for(&["Regions [6]"]).await;
    assert_eq!(
        from_file.pane_mouse_mode(),
        "0",
        "mouse: false in the config"
    );
}
