//! End to end (issue #12): the real `edgedeck` binary in tmux opens a
//! region's pods with `p`, streams a pod's log with `l` (on the real
//! control plane kwok runs no kubelet, so the console must show the API
//! server's refusal plainly), and finds an event with `/` in `:events`.
//! The event is created with unmodified kubectl, so both clusters have it.

mod support;

use support::demo::DemoCluster;
use support::kubectl::Kubectl;
use support::tmux::{Console, row};

const EVENT: &str = r#"
apiVersion: v1
kind: Event
metadata:
  name: e2e-probe
  namespace: edge-apps
involvedObject:
  kind: Pod
  name: somewhere
  namespace: edge-apps
type: Warning
reason: ProbeFromE2E
message: the e2e test left this event
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
source:
  component: edgedeck-e2e
"#;

on_both_clusters! {
async fn a_regions_pods_a_pods_log_and_an_event_found_with_slash(cluster) {
    let real = cluster.is_real();
    let (console, _demo) = if real {
        let demo = DemoCluster::on(cluster).await;
        (Console::with_kubeconfig(demo.kubeconfig(), &[]), Some(demo))
    } else {
        drop(cluster);
        (Console::embedded(&[]), None)
    };
    let kubectl = Kubectl::with_kubeconfig(console.kubeconfig().await);
    console.wait_for(&["Regions [6]", "● connected"]).await;

    // beijing is the first region; p lists its pods once the engine's
    // nginx-beijing runs there.
    console.keys(&["p"]);
    console
        .wait_until("nginx-beijing pods running in Pods of beijing", |s| {
            s.contains("Pods of beijing")
                && row(s, "nginx-beijing-").is_some_and(|r| r.contains("Running"))
        })
        .await;
    console.keys(&["/"]);
    console.type_text("nginx-beijing");
    console.keys(&["Enter"]);
    console.keys(&["l"]);
    if real {
        console
            .wait_until("the log's refusal, plainly", |s| {
                s.contains("Logs edge-apps/nginx-beijing-") && s.contains("✗") && s.contains("failed")
            })
            .await;
    } else {
        console
            .wait_until("log lines streaming", |s| {
                s.contains("Logs edge-apps/nginx-beijing-")
                    && s.contains("streaming")
                    && s.contains("\"GET ")
            })
            .await;
    }
    console.keys(&["Escape"]);
    console.wait_for(&["Pods of beijing"]).await;

    let file = kubectl.file("event.yaml", EVENT);
    kubectl.ok(&["create", "-f", file.to_str().unwrap_or_default()]).await;
    console.keys(&[":"]);
    console.type_text("events");
    console.keys(&["Enter"]);
    console.wait_for(&["Events (newest first)"]).await;
    console.keys(&["/"]);
    console.type_text("ProbeFromE2E");
    console.keys(&["Enter"]);
    let s = console
        // The whole filter typed first: under load the console can draw a
        // frame while only "Pr" of it has arrived.
        .wait_until("the event, alone", |s| {
            s.contains("/ProbeFromE2E")
                && row(s, "⚠ Warning ProbeFromE2E")
                    .is_some_and(|r| r.contains("the e2e test left this event"))
        })
        .await;
    let rows = s
        .lines()
        .filter(|l| l.contains("⚠ Warning") || l.contains(" Normal "))
        .count();
    assert_eq!(rows, 1, "the filter leaves one row:\n{s}");
}
}
