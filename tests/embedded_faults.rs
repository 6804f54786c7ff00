//! Fault injection in the embedded cluster (issue #14, item 1), over raw
//! HTTP: each fault kind answers as a real API server under that fault
//! would, the control endpoint sets, reports and clears faults, a restart
//! keeps the data directory, and `edgedeck cluster --faults` refuses a bad
//! spec clearly. Embedded only: the real control plane has no such switch
//! (the soak and `engine_watchdog` drive the engine through both).

mod support;

use std::process::Command;
use std::time::Duration;

use edgedeck::embedded::{ClusterOptions, RunningCluster, start};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::raw_http::{self, Target};

async fn cluster(options: ClusterOptions) -> (RunningCluster, Target) {
    let cluster = start(options).await.expect("starts");
    let target = Target {
        addr: cluster.addr(),
        ca_pem: Some(cluster.ca_pem().to_owned()),
        token: Some(cluster.token().to_owned()),
    };
    (cluster, target)
}

async fn set_faults(target: &Target, spec: &str) -> raw_http::Response {
    let body = json!({ "spec": spec }).to_string();
    raw_http::request(
        target,
        "PUT",
        "/edgedeck/faults",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

async fn get(target: &Target, path: &str) -> raw_http::Response {
    raw_http::request(target, "GET", path, &[], b"").await
}

const CONFIGMAP: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#;

async fn create_configmap(target: &Target) -> raw_http::Response {
    raw_http::request(
        target,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[("Content-Type", "application/json")],
        CONFIGMAP.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn each_error_fault_answers_with_its_kubernetes_status() {
    let (_cluster, target) = cluster(ClusterOptions::default()).await;

    assert_eq!(set_faults(&target, "seed=1,429=1").await.status, 200);
    let throttled = get(&target, "/api/v1/namespaces").await;
    assert_eq!(throttled.status_failure(429), "TooManyRequests");
    assert_eq!(throttled.header("Retry-After"), Some("1"));
    assert_eq!(throttled.json()["details"]["retryAfterSeconds"], 1);

    set_faults(&target, "500=100%").await;
    assert_eq!(
        get(&target, "/api/v1/namespaces").await.status_failure(500),
        "InternalError"
    );
    set_faults(&target, "503=1").await;
    assert_eq!(
        get(&target, "/apis/apps/v1/deployments")
            .await
            .status_failure(503),
        "ServiceUnavailable"
    );

    // A conflict only ever answers a write.
    set_faults(&target, "409=1").await;
    assert_eq!(get(&target, "/api/v1/namespaces").await.status, 200);
    assert_eq!(
        create_configmap(&target).await.status_failure(409),
        "Conflict"
    );

    // Gone only answers a watch resuming from a resourceVersion.
    set_faults(&target, "410=1").await;
    let resumed = get(&target, "/api/v1/configmaps?watch=true&resourceVersion=1").await;
    assert_eq!(resumed.status_failure(410), "Expired");
    assert_eq!(get(&target, "/api/v1/configmaps").await.status, 200);

    // The control endpoint itself is never faulted, and counts by kind.
    let report = get(&target, "/edgedeck/faults").await.json();
    assert_eq!(report["spec"], "seed=0,410=1");
    for kind in ["429", "500", "503", "409", "410"] {
        assert_eq!(report["injected"][kind], 1, "{kind}: {report}");
    }
    assert_eq!(report["injected"]["drop-watch"], 0);

    let cleared = raw_http::request(&target, "DELETE", "/edgedeck/faults", &[], b"").await;
    assert_eq!(cleared.json()["spec"], serde_json::Value::Null);
    assert_eq!(
        create_configmap(&target).await.status,
        201,
        "no faults after clearing"
    );
}

#[tokio::test]
async fn a_bad_spec_on_the_control_endpoint_is_a_400_naming_the_problem() {
    let (_cluster, target) = cluster(ClusterOptions::default()).await;
    let refused = set_faults(&target, "503=0.1,drop-watch=often").await;
    assert_eq!(refused.status_failure(400), "BadRequest");
    let message = refused.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("drop-watch=often"), "{message}");
    assert_eq!(
        get(&target, "/edgedeck/faults").await.json()["spec"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn a_delayed_request_is_held_while_other_requests_are_served() {
    let (_cluster, target) = cluster(ClusterOptions::default()).await;
    // seed=1 draws a hold of well over a minute out of the hour.
    set_faults(&target, "seed=1,delay=1:1h").await;
    let held = tokio::spawn({
        let target = target.clone();
        async move { get(&target, "/api/v1/namespaces").await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!held.is_finished(), "the request is held");
    let report = get(&target, "/edgedeck/faults").await.json();
    assert_eq!(report["injected"]["delay"], 1, "{report}");
    held.abort();
}

#[tokio::test]
async fn a_dropped_watch_is_cut_mid_stream() {
    let (_cluster, target) = cluster(ClusterOptions::default()).await;
    set_faults(&target, "seed=4,drop-watch=1:1s").await;
    let mut watch = raw_http::connect(&target).await;
    watch
        .write(&raw_http::encode(
            &target,
            "GET",
            b"/api/v1/configmaps?watch=true&timeoutSeconds=600",
            &[],
            b"",
        ))
        .await;
    let head = watch.head().await.expect("the watch starts");
    assert_eq!(head.status, 200);
    // Within its second instead of the ten minutes it asked for.
    assert!(watch.closed_by_server().await, "the watch was cut");
    let report = get(&target, "/edgedeck/faults").await.json();
    assert_eq!(report["injected"]["drop-watch"], 1, "{report}");
}

#[tokio::test]
async fn a_restart_keeps_the_data_directory_and_the_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, target) = cluster(ClusterOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..ClusterOptions::default()
    })
    .await;
    let client = running.client().expect("client");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = configmaps
        .create(
            &PostParams::default(),
            &serde_json::from_str(CONFIGMAP).expect("cm"),
        )
        .await
        .expect("created");

    let asked = raw_http::request(&target, "POST", "/edgedeck/faults/restart", &[], b"").await;
    assert_eq!(asked.status, 200);
    tokio::time::timeout(support::PATIENCE, running.restart_requested())
        .await
        .expect("the restart is due");
    let addr = running.addr();
    let restarted = running.restart().await.expect("restarts");
    assert_eq!(restarted.addr(), addr);

    let kept = support::eventually("the restarted server answers", || async {
        configmaps.get("c").await.ok()
    })
    .await;
    assert_eq!(kept.metadata.uid, created.metadata.uid);
    let report = get(&target, "/edgedeck/faults").await.json();
    assert_eq!(report["injected"]["restart"], 1, "{report}");
}

#[tokio::test]
async fn without_a_data_directory_a_restart_is_refused() {
    let (_cluster, target) = cluster(ClusterOptions::default()).await;
    let refused = raw_http::request(&target, "POST", "/edgedeck/faults/restart", &[], b"").await;
    assert_eq!(refused.status_failure(400), "BadRequest");
    assert!(String::from_utf8_lossy(&refused.body).contains("--data-dir"));
}

fn cluster_with_faults(spec: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["cluster", "--listen", "127.0.0.1:0", "--faults", spec])
        .output()
        .expect("runs")
}

#[test]
fn a_malformed_faults_flag_is_a_clear_usage_error() {
    let out = cluster_with_faults("429=2");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--faults"), "{stderr}");
    assert!(stderr.contains("invalid fault spec"), "{stderr}");
    assert!(stderr.contains("between 0 and 1"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = cluster_with_faults("teapot=1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault \"teapot\""));
}

#[test]
fn periodic_restarts_without_a_data_directory_are_refused_at_start() {
    let out = cluster_with_faults("restart=1m");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a data directory"), "{stderr}");
}
