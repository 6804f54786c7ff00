//! Lists and watches: what kube-runtime's reflectors (the engine's and the
//! console's stores) are built on.

use edgedeck::embedded::{ClusterOptions, start};
use kube::Client;
use serde_json::{Value, json};

use super::{APPS, Body, CONFIGMAPS, Pair, assert_same, call, edge_app, expect};

/// The events of a watch that ends by itself (`timeoutSeconds`), in order.
async fn events(c: &Client, query: &str) -> Vec<Value> {
    let reply = call(c, "GET", &format!("{APPS}?watch=1&{query}"), Body::None).await;
    assert_eq!(reply.code, 200, "watch {query}: {}", reply.body);
    let text = match &reply.body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a watch event is JSON"))
        .collect()
}

/// An event as (type, name or bookmark annotations).
fn summary(event: &Value) -> Value {
    let object = &event["object"];
    match event["type"].as_str() {
        Some("BOOKMARK") => json!(["BOOKMARK", object["metadata"].get("annotations")]),
        Some("ERROR") => json!(["ERROR", object["code"], object["reason"]]),
        other => json!([other, object["metadata"]["name"]]),
    }
}

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("resourceVersion")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_items_of_built_in_kinds_carry_no_type() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            expect(&c, 201, "POST", APPS, Body::Json(edge_app("a"))).await;
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
            expect(&c, 201, "POST", CONFIGMAPS, Body::Json(cm)).await;
            let mut out = json!({});
            for (what, path) in [("ConfigMapList", CONFIGMAPS), ("EdgeApplicationList", APPS)] {
                let list = expect(&c, 200, "GET", path, Body::None).await;
                let item = list["items"].as_array().and_then(|items| items.iter().find(|i| i["metadata"]["name"] == "a")).cloned().unwrap_or_default();
                out[what] = json!({"list": [list["apiVersion"], list["kind"]], "item": [item.get("apiVersion"), item.get("kind")]});
            }
            out
        })
        .await;
    assert_same("list shapes", &seen);
    assert_eq!(seen.0["ConfigMapList"]["item"], json!([null, null]));
    assert_eq!(
        seen.0["EdgeApplicationList"]["item"],
        json!(["apps.kubeedge.io/v1alpha1", "EdgeApplication"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_after_a_resource_version_and_ends_replays_with_a_bookmark() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let a = expect(&c, 201, "POST", APPS, Body::Json(edge_app("a"))).await;
            let path = format!("{APPS}/a");
            expect(&c, 200, "PATCH", &path, Body::Merge(json!({"metadata": {"labels": {"x": "1"}}}))).await;
            expect(&c, 201, "POST", APPS, Body::Json(edge_app("b"))).await;
            expect(&c, 200, "DELETE", &path, Body::None).await;
            let resumed = events(&c, &format!("resourceVersion={}&timeoutSeconds=2", rv(&a))).await;
            let list_rv = rv(&expect(&c, 200, "GET", APPS, Body::None).await);
            let streaming = events(&c, "allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=2").await;
            let legacy = events(&c, "allowWatchBookmarks=true&timeoutSeconds=2").await;
            let plain = events(&c, "timeoutSeconds=2").await;
            let end = streaming.last().cloned().unwrap_or_default();
            json!({
                "resumed": resumed.iter().map(summary).collect::<Vec<_>>(),
                "sendInitialEvents": streaming.iter().map(summary).collect::<Vec<_>>(),
                "initial events end at a list made before, or later": rv(&end["object"]) >= list_rv,
                "no resourceVersion, bookmarks allowed": legacy.iter().map(summary).collect::<Vec<_>>(),
                "no resourceVersion, no bookmarks": plain.iter().map(summary).collect::<Vec<_>>(),
            })
        })
        .await;
    assert_same("watch replays", &seen);
    assert_eq!(
        seen.0["resumed"],
        json!([["MODIFIED", "a"], ["ADDED", "b"], ["DELETED", "a"]])
    );
    let end = json!(["BOOKMARK", {"k8s.io/initial-events-end": "true"}]);
    assert_eq!(seen.0["sendInitialEvents"], json!([["ADDED", "b"], end]));
    assert_eq!(
        seen.0["no resourceVersion, no bookmarks"],
        json!([["ADDED", "b"]])
    );
}

/// A watch from a version the server no longer keeps gets an ERROR event
/// with 410 Expired, and the client relists. The real server forgets by etcd
/// compaction and the watch cache's window, which a test cannot force; but
/// its watch cache for a CRD starts when the CRD is established, so version
/// 1 is already too old there. The embedded server keeps its last N changes
/// (10 000 by default): it runs with a window of 16 here, and both are sent
/// the same requests, which are more changes than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_forgotten_version_is_gone() {
    let (embedded, real) = tokio::join!(
        async {
            let cluster = start(ClusterOptions {
                event_window: 16,
                ..ClusterOptions::default()
            })
            .await
            .expect("embedded cluster starts");
            let client = cluster.client().expect("client");
            crate::support::cluster::install_crds(&client).await;
            (cluster, client)
        },
        async {
            crate::support::cluster::TestCluster::real()
                .await
                .with_crds()
                .await
        }
    );
    let scenario = |c: Client| async move {
        for i in 0..20 {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}});
            expect(&c, 201, "POST", CONFIGMAPS, Body::Json(cm)).await;
        }
        let gone = events(&c, "resourceVersion=1&timeoutSeconds=2").await;
        let status = gone
            .first()
            .map(|e| e["object"].clone())
            .unwrap_or_default();
        let message = status["message"].as_str().unwrap_or_default();
        json!({
            "events": gone.iter().map(summary).collect::<Vec<_>>(),
            // The oldest version kept, in parentheses, is each server's own.
            "message": message.split(" (").next(),
            "status": status["status"],
        })
    };
    let seen = tokio::join!(scenario(embedded.1.clone()), scenario(real.client()));
    assert_same("watch from a forgotten version", &seen);
    assert_eq!(seen.0["events"], json!([["ERROR", 410, "Expired"]]));
    assert_eq!(seen.0["message"], "too old resource version: 1");
}

/// Periodic bookmarks differ: the embedded server sends one every 5 s to a
/// watch that allows them, carrying the store's latest version even when the
/// watched resource did not change; kube-apiserver's watch cache only sends
/// one whose version is newer than the watch has seen (then 2 s before the
/// watch times out, or about once a minute), so on this quiet resource it
/// sends none. Both are valid places to resume from, and kube-runtime only
/// records their version, so this documents the difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_bookmarks_come_at_each_servers_own_pace() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let head = rv(&expect(&c, 200, "GET", APPS, Body::None).await);
            let quiet = events(&c, &format!("allowWatchBookmarks=true&resourceVersion={head}&timeoutSeconds=8")).await;
            let versions_not_older = quiet.iter().all(|e| rv(&e["object"]) >= head);
            json!({"events": quiet.iter().map(summary).collect::<Vec<_>>(), "versions not older than the start": versions_not_older})
        })
        .await;
    assert_eq!(seen.0["events"], json!([["BOOKMARK", null]]), "embedded");
    assert_eq!(seen.1["events"], json!([]), "real");
    assert_eq!(seen.0["versions not older than the start"], true);
}
