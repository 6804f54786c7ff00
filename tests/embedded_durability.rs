//! Durability of the embedded cluster with a data directory, in process and
//! through the real `edgedeck cluster` binary (kill -9, restart, SIGTERM).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use edgedeck::api::{NodeGroup, NodeGroupSpec};
use edgedeck::embedded::{ClusterOptions, RunningCluster, start};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"value": value},
    }))
    .expect("valid configmap")
}

fn rv_of(meta: &kube::api::ObjectMeta) -> u64 {
    meta.resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("numeric resourceVersion")
}

async fn start_in(dir: &Path) -> RunningCluster {
    start(ClusterOptions {
        data_dir: Some(dir.to_path_buf()),
        ..ClusterOptions::default()
    })
    .await
    .expect("cluster starts")
}

/// The ConfigMaps of `default` and the NodeGroups, whole (uid,
/// creationTimestamp, managedFields, resourceVersion and all), by name.
async fn objects(client: &Client) -> Vec<Value> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut out: Vec<Value> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|c| serde_json::to_value(c).expect("json"))
        .collect();
    let groups: Api<NodeGroup> = Api::all(client.clone());
    if let Ok(list) = groups.list(&ListParams::default()).await {
        out.extend(
            list.items
                .iter()
                .map(|g| serde_json::to_value(g).expect("json")),
        );
    }
    out
}

/// Creates, updates, deletes ConfigMaps and a CRD with one custom object;
/// returns the highest resourceVersion acknowledged.
async fn write_some(client: &Client) -> u64 {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    let mut highest = 0;
    for name in ["a", "b", "c"] {
        let created = api.create(&pp, &cm(name, "1")).await.expect("create");
        highest = highest.max(rv_of(&created.metadata));
    }
    let patched = api
        .patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "2"}})),
        )
        .await
        .expect("patch");
    highest = highest.max(rv_of(&patched.metadata));
    api.delete("c", &DeleteParams::default())
        .await
        .expect("delete");

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in edgedeck::api::crds() {
        // `edgedeck cluster` installs them itself.
        match crds.create(&pp, &crd).await {
            Ok(created) => highest = highest.max(rv_of(&created.metadata)),
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("crd not created: {e}"),
        }
    }
    let groups: Api<NodeGroup> = Api::all(client.clone());
    let group = NodeGroup::new(
        "region-a",
        NodeGroupSpec {
            nodes: vec!["edge-1".into()],
            ..Default::default()
        },
    );
    let created = groups.create(&pp, &group).await.expect("nodegroup created");
    highest = highest.max(rv_of(&created.metadata));
    // The deletion's resourceVersion is the newest; read it from a list.
    let list = api.list(&ListParams::default()).await.expect("list");
    highest.max(
        list.metadata
            .resource_version
            .as_deref()
            .and_then(|rv| rv.parse().ok())
            .expect("list rv"),
    )
}

/// Everything written before is there, identical.
async fn check_written(client: &Client, before: &[Value]) {
    assert_eq!(objects(client).await, before);
    let groups: Api<NodeGroup> = Api::all(client.clone());
    let group = groups
        .get("region-a")
        .await
        .expect("custom object survived");
    assert_eq!(group.spec.nodes, vec!["edge-1"]);
}

async fn next_rv(client: &Client, name: &str) -> u64 {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm(name, "new"))
        .await
        .expect("create after restart");
    rv_of(&created.metadata)
}

#[tokio::test]
async fn state_survives_shutdown_and_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    let cluster = start_in(&data).await;
    let token = cluster.token().to_string();
    let ca = cluster.ca_pem().to_string();
    let client = cluster.client().expect("client");
    let highest = write_some(&client).await;
    let before = objects(&client).await;
    assert_eq!(before.len(), 3, "a, b and region-a");
    cluster.shutdown().await;

    let cluster = start_in(&data).await;
    assert_eq!(cluster.token(), token, "the token is kept");
    assert_eq!(cluster.ca_pem(), ca, "the CA is kept");
    let client = cluster.client().expect("client");
    check_written(&client, &before).await;

    // A watch from before the restart cannot resume: 410 Gone, clients relist.
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut stream = api
        .watch(&WatchParams::default(), &(highest - 2).to_string())
        .await
        .expect("watch")
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Error(status))) => assert_eq!(status.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
    // From the recovered head a watch works.
    let mut stream = api
        .watch(&WatchParams::default(), &highest.to_string())
        .await
        .expect("watch")
        .boxed();
    let rv = next_rv(&client, "d").await;
    assert_eq!(rv, highest + 1, "resourceVersions continue");
    match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
        Ok(Some(Ok(WatchEvent::Added(added)))) => {
            assert_eq!(added.metadata.name.as_deref(), Some("d"));
        }
        other => panic!("expected ADDED d, got {other:?}"),
    }
    let before = objects(&client).await;
    // No shutdown: dropping the handle releases the data directory too.
    drop(stream);
    drop(cluster);

    let cluster = start_in(&data).await;
    let client = cluster.client().expect("client");
    check_written(&client, &before).await;
    assert_eq!(next_rv(&client, "e").await, rv + 1);
    cluster.shutdown().await;
}

#[tokio::test]
async fn compaction_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = || ClusterOptions {
        data_dir: Some(dir.path().to_path_buf()),
        // Every write compacts: a snapshot plus an empty log.
        compact_bytes: 1,
        ..ClusterOptions::default()
    };
    let cluster = start(options()).await.expect("starts");
    let client = cluster.client().expect("client");
    let highest = write_some(&client).await;
    let before = objects(&client).await;
    assert!(dir.path().join("snapshot").exists());
    drop(cluster);

    let cluster = start(options()).await.expect("restarts");
    let client = cluster.client().expect("client");
    check_written(&client, &before).await;
    assert!(next_rv(&client, "d").await > highest);
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_torn_last_record_is_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = start_in(dir.path()).await;
    let client = cluster.client().expect("client");
    let highest = write_some(&client).await;
    let before = objects(&client).await;
    cluster.shutdown().await;

    // A crash in the middle of an append: a header promising more than was written.
    let log = dir.path().join("wal.log");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("log");
    file.write_all(&500u32.to_le_bytes()).expect("write");
    file.write_all(&[0xAB; 4]).expect("write");
    file.write_all(br#"{"rv":99,"group":"","res"#)
        .expect("write");
    drop(file);

    let cluster = start_in(dir.path()).await;
    let client = cluster.client().expect("client");
    check_written(&client, &before).await;
    let rv = next_rv(&client, "d").await;
    assert_eq!(rv, highest + 1);
    let before = objects(&client).await;
    cluster.shutdown().await;

    // The tail was truncated, so the write after it is intact too.
    let cluster = start_in(dir.path()).await;
    let client = cluster.client().expect("client");
    check_written(&client, &before).await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn corruption_in_the_middle_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = start_in(dir.path()).await;
    let client = cluster.client().expect("client");
    write_some(&client).await;
    cluster.shutdown().await;

    let log = dir.path().join("wal.log");
    let mut bytes = std::fs::read(&log).expect("log");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xFF;
    std::fs::write(&log, &bytes).expect("write");
    let error = start(ClusterOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..ClusterOptions::default()
    })
    .await
    .err()
    .expect("refuses to start")
    .to_string();
    assert!(error.contains("wal.log"), "{error}");
    assert!(error.contains("offset"), "{error}");

    // The binary says the same in one line and exits 1.
    let output = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["cluster", "--listen", "127.0.0.1:0", "--seed", "empty"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "off")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("wal.log") && stderr.contains("offset"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_memory_only_cluster_starts_empty_every_time() {
    for _ in 0..2 {
        let cluster = start(ClusterOptions::default()).await.expect("starts");
        let client = cluster.client().expect("client");
        assert!(objects(&client).await.is_empty());
        next_rv(&client, "a").await;
        assert!(cluster.persistence_failure().is_none());
        cluster.shutdown().await;
    }
}

// ---------------------------------------------------------------------------
// The binary

/// A running `edgedeck cluster`, its URL and kubeconfig path.
struct Process {
    child: Child,
    url: String,
    kubeconfig: PathBuf,
    stderr: PathBuf,
}

fn spawn(data: &Path, kubeconfig: &Path, listen: &str, stderr: &Path) -> Process {
    let log = std::fs::File::create(stderr).expect("stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["cluster", "--listen", listen, "--seed", "empty"])
        .arg("--data-dir")
        .arg(data)
        .arg("--kubeconfig-out")
        .arg(kubeconfig)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    let mut path = None;
    while path.is_none() {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!(
                "edgedeck cluster ended early: {}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        };
        if let Some(u) = line.strip_prefix("server: ") {
            url = Some(u.to_string());
        } else if let Some(p) = line.strip_prefix("kubeconfig: ") {
            path = Some(PathBuf::from(p));
        }
    }
    let kubeconfig_printed = path.expect("kubeconfig line");
    assert_eq!(kubeconfig_printed, kubeconfig);
    Process {
        child,
        url: url.expect("server line"),
        kubeconfig: kubeconfig_printed,
        stderr: stderr.to_path_buf(),
    }
}

async fn client_from(kubeconfig: &Path) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn binary_survives_kill_9_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let kubeconfig = dir.path().join("kube").join("config");
    let stderr = dir.path().join("stderr.log");

    let mut first = spawn(&data, &kubeconfig, "127.0.0.1:0", &stderr);
    assert!(first.url.starts_with("https://127.0.0.1:"), "{}", first.url);
    let client = client_from(&first.kubeconfig).await;
    let highest = write_some(&client).await;
    let before = objects(&client).await;
    // kill -9: no chance to flush anything.
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("reaped");

    // Same port, same data: the kubeconfig (and client) from before keep working.
    let port = first.url.rsplit(':').next().expect("port");
    let listen = format!("127.0.0.1:{port}");
    let mut second = spawn(&data, &kubeconfig, &listen, &stderr);
    assert_eq!(second.url, first.url);
    check_written(&client, &before).await;
    let rv = next_rv(&client, "after-kill").await;
    assert_eq!(rv, highest + 1, "resourceVersions continue after kill -9");
    let before = objects(&client).await;

    // A second cluster on the same data directory is refused.
    let output = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["cluster", "--listen", "127.0.0.1:0", "--seed", "empty"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--kubeconfig-out")
        .arg(dir.path().join("other"))
        .env("RUST_LOG", "off")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("in use"), "{message}");

    signal(&second.child, "-TERM");
    let status = wait_with_timeout(&mut second.child, Duration::from_secs(15));
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&second.stderr).unwrap_or_default()
    );

    // A new port: the kubeconfig is rewritten, the token stays.
    let token = |path: &Path| {
        let text = std::fs::read_to_string(path).expect("kubeconfig");
        text.lines()
            .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_string))
            .expect("token line")
    };
    let old_token = token(&kubeconfig);
    let mut third = spawn(&data, &kubeconfig, "127.0.0.1:0", &stderr);
    assert_eq!(token(&third.kubeconfig), old_token);
    let client = client_from(&third.kubeconfig).await;
    check_written(&client, &before).await;
    assert_eq!(next_rv(&client, "third").await, highest + 2);

    signal(&third.child, "-INT");
    let status = wait_with_timeout(&mut third.child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn binary_rejects_bad_arguments_in_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").expect("write");
    for (args, expected) in [
        (vec!["--listen", "0.0.0.0:0"], "only listens on loopback"),
        (
            vec!["--data-dir", not_a_dir.to_str().expect("utf-8")],
            "file",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
            .args(["cluster", "--seed", "empty", "--kubeconfig-out"])
            .arg(dir.path().join("kubeconfig"))
            .args(&args)
            .env("RUST_LOG", "off")
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
