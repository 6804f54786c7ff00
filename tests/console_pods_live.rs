//! Issue #12 items 1–4 in the live layer, on the embedded cluster and on a
//! real control plane: the pod, event and node-lease stores publish slim
//! records; a pod is deleted only at the version shown; a pod's log streams
//! through `pods/log` (the embedded cluster makes one up; kwok's nodes run
//! no kubelet, so the real plane's refusal must come back as an error).

mod support;

use std::sync::Arc;
use std::time::Duration;

use edgedeck::console::action::{Effect, WriteOutcome};
use edgedeck::console::live::{EngineConfig, EngineMode, Session, SessionOptions, StoresConfig};
use edgedeck::console::logs::{LogChunk, LogRequest, LogTarget};
use edgedeck::console::model::cluster_events::EventApi;
use edgedeck::console::model::heartbeats::BeatSource;
use edgedeck::console::model::{ConnectionState, Derived, Fleet};
use edgedeck::engine::ObjectKey;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::PATIENCE;
use support::demo::DemoCluster;
use tokio::sync::{mpsc, watch};

fn session(client: Client, context: &str) -> (Session, watch::Receiver<Arc<Fleet>>) {
    let (tx, rx) = watch::channel(Arc::new(Fleet {
        connection: ConnectionState::Connecting {
            step: "starting".into(),
        },
        ..Fleet::default()
    }));
    let session = Session::start(
        client,
        SessionOptions {
            stores: StoresConfig::new(context),
            engine: EngineConfig::new(EngineMode::Off, false, false),
            readonly: false,
        },
        tx,
    );
    (session, rx)
}

async fn fleet_where(
    rx: &mut watch::Receiver<Arc<Fleet>>,
    what: &str,
    ok: impl Fn(&Fleet) -> bool,
) -> Arc<Fleet> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let fleet = rx.borrow_and_update().clone();
        if ok(&fleet) {
            return fleet;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("fleet channel closed waiting for: {what}"),
            Err(_) => panic!(
                "timed out waiting for: {what}; connection {:?}, {} pods, {} events, {} leases",
                fleet.connection,
                fleet.pods.len(),
                fleet.cluster_events.len(),
                fleet.node_leases.len()
            ),
        }
    }
}

const NODE: &str = "bj-edge-01";

async fn create_pod(client: &Client, name: &str, image: &str) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "logs-test"}},
        "spec": {"nodeName": NODE, "containers": [{"name": "web", "image": image}]}
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("pod created")
}

async fn chunks_until_done(
    rx: &mut mpsc::UnboundedReceiver<WriteOutcome>,
    until_lines: usize,
) -> (Vec<String>, Option<String>) {
    let mut lines = Vec::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(WriteOutcome::Log(LogChunk::Lines { lines: l, .. }))) => {
                lines.extend(l);
                if lines.len() >= until_lines {
                    return (lines, None);
                }
            }
            Ok(Some(WriteOutcome::Log(LogChunk::Ended { .. }))) => return (lines, None),
            Ok(Some(WriteOutcome::Log(LogChunk::Failed { error, .. }))) => {
                return (lines, Some(error));
            }
            Ok(Some(other)) => panic!("not a log chunk: {other:?}"),
            Ok(None) => panic!("the log task dropped its channel without an end"),
            Err(_) => panic!(
                "no end of the log after {PATIENCE:?}; {} line(s)",
                lines.len()
            ),
        }
    }
}

fn request(id: u64, pod: &str, follow: bool) -> LogRequest {
    LogRequest {
        id,
        target: LogTarget {
            namespace: "default".into(),
            pod: pod.into(),
            container: "web".into(),
        },
        follow,
        previous: false,
        tail: Some(5),
    }
}

on_both_clusters! {
async fn pods_events_and_heartbeats_arrive_slim_in_the_fleet(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let client = demo.client();
    let (session, mut rx) = session(client.clone(), demo.name());
    create_pod(&client, "watched", "nginx:1.27").await;
    let fleet = fleet_where(&mut rx, "the pod running on its node", |f| {
        f.pods.iter().any(|p| p.name == "watched" && p.node.as_deref() == Some(NODE) && p.status == "Running")
    })
    .await;
    let derived = Derived::compute(&fleet);
    let pod = fleet.pods.iter().position(|p| p.name == "watched").expect("pod");
    assert_eq!(derived.pod_places[pod].group.as_deref(), Some("beijing"));
    assert!(fleet.pods[pod].resource_version.is_some());

    // Leases in kube-node-lease, renewed by the simulator or by kwok as a
    // kubelet would: the heartbeat is read from them.
    let fleet = fleet_where(&mut rx, "node leases", |f| {
        f.node_leases.iter().any(|l| l.node == NODE && l.renewed.is_some())
    })
    .await;
    let derived = Derived::compute(&fleet);
    let node = derived.nodes.iter().position(|n| n.name == NODE).expect("node");
    assert_eq!(derived.beats[node].last.map(|b| b.1), Some(BeatSource::Lease));
    assert_eq!(derived.beats[node].offline_since, None);
    assert!(derived.beats[node].pods >= 1);

    // Events of both APIs, one record per event.
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    core.create(&PostParams::default(), &serde_json::from_value(json!({
        "metadata": {"name": "watched.core"},
        "involvedObject": {"kind": "Pod", "name": "watched", "namespace": "default"},
        "type": "Warning", "reason": "TestWarning", "message": "core event",
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
        "source": {"component": "edgedeck-test"}
    })).expect("event")).await.expect("core event created");
    let v1: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "default");
    v1.create(&PostParams::default(), &serde_json::from_value(json!({
        "metadata": {"name": "watched.v1"},
        "eventTime": "2026-01-01T00:00:01.000000Z",
        "reportingController": "edgedeck.io/test", "reportingInstance": "test-1",
        "action": "Testing", "reason": "TestNormal", "note": "events.k8s.io event", "type": "Normal",
        "regarding": {"kind": "Pod", "name": "watched", "namespace": "default"}
    })).expect("event")).await.expect("events.k8s.io event created");
    let fleet = fleet_where(&mut rx, "both events", |f| {
        ["TestWarning", "TestNormal"].iter().all(|r| f.cluster_events.iter().any(|e| e.reason == *r))
    })
    .await;
    for reason in ["TestWarning", "TestNormal"] {
        let n = fleet.cluster_events.iter().filter(|e| e.reason == reason).count();
        assert_eq!(n, 1, "{reason} listed once (the real plane serves it under both APIs)");
    }
    let v1_event = fleet.cluster_events.iter().find(|e| e.reason == "TestNormal").expect("v1");
    assert!(v1_event.is_about("Pod", "default", "watched"));
    if !demo.is_real() {
        // Stored apart in the embedded cluster, so it came from events.k8s.io.
        assert_eq!(v1_event.api, EventApi::EventsV1);
    }
    let newest = fleet.cluster_events.iter().position(|e| e.reason == "TestNormal");
    let older = fleet.cluster_events.iter().position(|e| e.reason == "TestWarning");
    assert!(newest < older, "newest first");
    session.shutdown().await;
}

async fn a_pod_is_deleted_only_at_the_version_shown(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let client = demo.client();
    let (session, _rx) = session(client.clone(), demo.name());
    let pod = create_pod(&client, "doomed", "nginx:1.27").await;
    let key = ObjectKey::new("v1", "Pod", Some("default"), "doomed");
    let executor = session.executor();
    let stale = executor
        .write(&Effect::Delete { key: key.clone(), resource_version: "1".into() })
        .await;
    assert!(
        matches!(&stale, WriteOutcome::Failed { error } if error.contains("changed since it was shown")),
        "a stale delete is refused: {stale:?}"
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    assert!(pods.get("doomed").await.is_ok(), "still there after the stale delete");
    // The kubelet (simulator or kwok) writes status until the pod is ready;
    // the version shown is the one after that.
    let current = support::eventually("the pod ready", || {
        let pods = pods.clone();
        async move {
            let p = pods.get("doomed").await.ok()?;
            let ready = p.status.as_ref()?.conditions.as_ref()?.iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            ready.then_some(p)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let current = pods.get("doomed").await.unwrap_or(current);
    let rv = current.metadata.resource_version.clone().or(pod.metadata.resource_version).expect("rv");
    match executor.write(&Effect::Delete { key, resource_version: rv }).await {
        WriteOutcome::Ok { what, .. } => assert!(what.contains("doomed"), "{what}"),
        other => panic!("a current delete: {other:?}"),
    }
    session.shutdown().await;
}

async fn a_pods_log_streams_or_the_clusters_refusal_is_shown(cluster) {
    let demo = DemoCluster::on(cluster).await;
    let client = demo.client();
    create_pod(&client, "talker", "nginx:1.27").await;
    create_pod(&client, "crasher", "nginx:broken").await;
    // Logs are served once the pod is bound; wait for it to run.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    support::eventually("the pods running", || {
        let pods = pods.clone();
        async move {
            for name in ["talker", "crasher"] {
                let p = pods.get(name).await.ok()?;
                p.status?.phase.filter(|p| p == "Running" || p == "Pending")?;
            }
            Some(())
        }
    })
    .await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = edgedeck::console::live::logs::spawn(client.clone(), request(1, "talker", false), tx.clone());
    let (lines, error) = chunks_until_done(&mut rx, usize::MAX).await;
    task.abort();
    if demo.is_real() {
        // kwok's nodes have no kubelet: the API server's answer, in its words.
        let error = error.expect("the real plane cannot serve kwok pods' logs");
        assert!(!error.is_empty());
        assert!(lines.is_empty(), "{lines:?}");
    } else {
        assert_eq!(error, None);
        // Just started: the log so far, at most the 5 lines asked for.
        assert!((1..=5).contains(&lines.len()), "tailLines=5: {lines:?}");
        assert!(lines[0].contains("starting nginx:1.27 in pod talker"), "{lines:?}");

        // Followed, new lines keep coming.
        let task = edgedeck::console::live::logs::spawn(client.clone(), request(2, "talker", true), tx.clone());
        let (lines, error) = tokio::time::timeout(Duration::from_secs(15), chunks_until_done(&mut rx, lines.len() + 2))
            .await
            .expect("a followed log grows");
        task.abort();
        assert_eq!(error, None);
        assert!(lines.iter().any(|l| l.contains("\"GET ")), "nginx's access lines: {lines:?}");

        // A broken image's container logs its crash.
        let task = edgedeck::console::live::logs::spawn(client.clone(), request(3, "crasher", false), tx.clone());
        let (lines, _) = chunks_until_done(&mut rx, usize::MAX).await;
        task.abort();
        assert!(lines.iter().any(|l| l.contains("FATAL")), "{lines:?}");

        // A container the pod does not have: the kubelet's refusal.
        let mut r = request(4, "talker", false);
        r.target.container = "nope".into();
        let task = edgedeck::console::live::logs::spawn(client.clone(), r, tx.clone());
        let (_, error) = chunks_until_done(&mut rx, usize::MAX).await;
        task.abort();
        assert!(error.is_some_and(|e| e.contains("container nope is not valid")));
    }
}
}
