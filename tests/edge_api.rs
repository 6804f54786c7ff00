//! The edge API (traffic closure per node) on the embedded cluster and on a
//! real control plane,
//! read through kube-rs clients whose server is `http://ADDR/edge/<node>`,
//! exactly as an edge node's kube-proxy would be configured, and kubectl.

mod support;

use std::time::Duration;

use base64::Engine as _;
use edgedeck::api::{ANNOTATION_SERVICE_TOPOLOGY, LABEL_BELONGING_TO};
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube::core::WatchEvent;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Error, ResourceExt};
use serde_json::json;
use support::edge::{
    Fixture, Setup, endpoints_nodes, fixture, fixture_with, names, relabel, slice, slice_nodes,
    slices_seen_by,
};

async fn next_event<S>(stream: &mut S) -> WatchEvent<EndpointSlice>
where
    S: Stream<Item = kube::Result<WatchEvent<EndpointSlice>>> + Unpin,
{
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .expect("stream open")
            .expect("event decodes");
        if !matches!(event, WatchEvent::Bookmark(_)) {
            return event;
        }
    }
}

fn modified(event: WatchEvent<EndpointSlice>) -> (String, Vec<String>) {
    match event {
        WatchEvent::Modified(s) => (s.metadata.name.clone().unwrap_or_default(), slice_nodes(&s)),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
}

fn status_code(error: Error) -> u16 {
    match error {
        Error::Api(status) => status.code,
        other => panic!("expected an API status, got {other:?}"),
    }
}

/// kubectl with a kubeconfig whose server is `http://ADDR/edge/hz-1`.
async fn kubectl(f: &Fixture, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let kubeconfig = dir.join("kubeconfig");
    let ca =
        f.ca.as_ref()
            .map(|(pem, _)| pem.as_str())
            .unwrap_or_default();
    let ca = base64::engine::general_purpose::STANDARD.encode(ca);
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster: {{server: \"{}/edge/hz-1\", certificate-authority-data: {ca}}}\n\
         users:\n- name: hz-1\n  user: {{token: tok-hz-1}}\ncontexts:\n- name: edge\n  context: {{cluster: edge, user: hz-1, namespace: default}}\n\
         current-context: edge\n",
        f.edge_url
    );
    std::fs::write(&kubeconfig, yaml).expect("kubeconfig");
    let mut command = std::process::Command::new("kubectl");
    command
        .env("KUBECONFIG", &kubeconfig)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(args);
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("kubectl runs")
}

on_both_clusters! {
async fn list_and_get_are_filtered_per_node_group(cluster) {
    let f = fixture(cluster).await;
    let hz = f.node_client("hz-1");
    let seen = slices_seen_by(&hz).await;
    assert_eq!(
        seen["web-1"],
        names(&["hz-1", "hz-2"]),
        "closed: hangzhou only"
    );
    assert_eq!(
        seen["api-1"],
        names(&["hz-1", "hz-2", "bj-1"]),
        "open: everything"
    );

    let bj = f.node_client("bj-1");
    let seen = slices_seen_by(&bj).await;
    assert_eq!(seen["web-1"], names(&["bj-1"]));
    assert_eq!(seen["api-1"], names(&["hz-1", "hz-2", "bj-1"]));

    // get, namespaced list and the label selector kube-proxy-style clients use
    let slices: Api<EndpointSlice> = Api::default_namespaced(hz.clone());
    let web = slices.get("web-1").await.expect("get");
    assert_eq!(slice_nodes(&web), names(&["hz-1", "hz-2"]));
    assert!(web.metadata.resource_version.is_some());
    let selected = slices
        .list(
            &ListParams::default()
                .labels("kubernetes.io/service-name=web,!service.kubernetes.io/headless"),
        )
        .await
        .expect("selected list");
    assert_eq!(selected.items.len(), 1);
    assert!(selected.metadata.resource_version.is_some());
    assert_eq!(
        status_code(slices.get("missing").await.expect_err("404")),
        404
    );

    // legacy Endpoints share the Service's name
    let endpoints: Api<Endpoints> = Api::default_namespaced(hz.clone());
    let web = endpoints.get("web").await.expect("web endpoints");
    assert_eq!(endpoints_nodes(&web), names(&["hz-1", "hz-2"]));
    let api = endpoints.get("api").await.expect("api endpoints");
    assert_eq!(endpoints_nodes(&api), names(&["hz-1", "hz-2", "bj-1"]));
}

async fn open_watch_follows_membership_annotation_and_slice_changes(cluster) {
    let f = fixture(cluster).await;
    let hz = f.node_client("hz-1");
    let slices: Api<EndpointSlice> = Api::all(hz.clone());
    let list = slices.list(&ListParams::default()).await.expect("list");
    let rv = list
        .metadata
        .resource_version
        .clone()
        .expect("list version");
    let wp = WatchParams::default().timeout(60);
    let mut events = slices.watch(&wp, &rv).await.expect("watch").boxed();

    // bj-1 joins hangzhou: hz-1 now sees its endpoint of the closed Service
    relabel(&f.upstream, "bj-1", "hangzhou").await;
    assert_eq!(
        modified(next_event(&mut events).await),
        ("web-1".to_string(), names(&["hz-1", "hz-2", "bj-1"]))
    );

    // hz-2 moves to beijing: its endpoint disappears from hz-1's view
    relabel(&f.upstream, "hz-2", "beijing").await;
    assert_eq!(
        modified(next_event(&mut events).await),
        ("web-1".to_string(), names(&["hz-1", "bj-1"]))
    );

    // the annotation goes: everything is visible again
    let services: Api<Service> = Api::default_namespaced(f.upstream.clone());
    let patch = json!({"metadata": {"annotations": {ANNOTATION_SERVICE_TOPOLOGY: null}}});
    services
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("unannotate");
    assert_eq!(
        modified(next_event(&mut events).await),
        ("web-1".to_string(), names(&["hz-1", "hz-2", "bj-1"]))
    );

    // slices themselves: added and deleted
    let upstream_slices: Api<EndpointSlice> = Api::default_namespaced(f.upstream.clone());
    upstream_slices
        .create(&PostParams::default(), &slice("web-2", "web", &["bj-1"]))
        .await
        .expect("create");
    match next_event(&mut events).await {
        WatchEvent::Added(s) => assert_eq!(s.metadata.name.as_deref(), Some("web-2")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    upstream_slices
        .delete("api-1", &DeleteParams::default())
        .await
        .expect("delete");
    match next_event(&mut events).await {
        WatchEvent::Deleted(s) => assert_eq!(s.metadata.name.as_deref(), Some("api-1")),
        other => panic!("expected DELETED, got {other:?}"),
    }
}

async fn reflector_through_the_edge_api_converges(cluster) {
    let f = fixture(cluster).await;
    let bj = f.node_client("bj-1");
    let (reader, writer) = reflector::store::<EndpointSlice>();
    let stream = reflector(
        writer,
        watcher(Api::<EndpointSlice>::all(bj), Default::default()),
    )
    .default_backoff()
    .touched_objects();
    let cancel = f.cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = cancel.cancelled() => {}
            () = stream.for_each(|_| async {}) => {}
        }
    });
    let web_nodes = |reader: &reflector::Store<EndpointSlice>| {
        reader
            .state()
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some("web-1"))
            .map(|s| slice_nodes(s))
    };
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready in time")
        .expect("ready");
    assert_eq!(web_nodes(&reader), Some(names(&["bj-1"])));

    relabel(&f.upstream, "hz-1", "beijing").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while web_nodes(&reader) != Some(names(&["hz-1", "bj-1"])) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reflector still has {:?}",
            web_nodes(&reader)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn watch_from_an_unknown_version_gets_410(cluster) {
    let f = fixture(cluster).await;
    let slices: Api<EndpointSlice> = Api::all(f.node_client("hz-1"));
    // make sure the store is synced before asking
    slices.list(&ListParams::default()).await.expect("list");
    let mut events = slices
        .watch(&WatchParams::default().timeout(10), "1")
        .await
        .expect("watch opens")
        .boxed();
    match tokio::time::timeout(Duration::from_secs(10), events.try_next()).await {
        Ok(Ok(Some(WatchEvent::Error(status)))) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
}

async fn tokens_nodes_and_writes_are_checked(cluster) {
    let f = fixture(cluster).await;
    // a token for hz-1 asking for bj-1's view
    let wrong = f.edge("bj-1", Some("tok-hz-1"));
    let error = Api::<EndpointSlice>::all(wrong)
        .list(&ListParams::default())
        .await
        .expect_err("403");
    assert_eq!(status_code(error), 403);
    // no token, and an unknown one
    for client in [f.edge("hz-1", None), f.edge("hz-1", Some("guess"))] {
        let error = Api::<EndpointSlice>::all(client)
            .list(&ListParams::default())
            .await
            .expect_err("401");
        assert_eq!(status_code(error), 401);
    }
    // writes, filtered or passed through
    let hz = f.node_client("hz-1");
    let error = Api::<EndpointSlice>::default_namespaced(hz.clone())
        .create(&PostParams::default(), &slice("evil", "web", &["hz-1"]))
        .await
        .expect_err("405");
    assert_eq!(status_code(error), 405);
    let error = Api::<Service>::default_namespaced(hz.clone())
        .delete("web", &DeleteParams::default())
        .await
        .expect_err("405");
    assert_eq!(status_code(error), 405);
    // what the engine may read but a node may not
    let error = Api::<Secret>::default_namespaced(hz.clone())
        .list(&ListParams::default())
        .await
        .expect_err("403");
    assert_eq!(status_code(error), 403);
    // an invalid node name
    let error = Api::<Service>::all(f.edge("Not_A_Node", Some("tok-hz-1")))
        .list(&ListParams::default())
        .await
        .expect_err("400 or 403");
    assert!([400, 403].contains(&status_code(error)));
}

async fn services_and_nodes_pass_through_read_only(cluster) {
    let f = fixture(cluster).await;
    let hz = f.node_client("hz-1");
    let services = Api::<Service>::default_namespaced(hz.clone())
        .list(&ListParams::default())
        .await
        .expect("services");
    let mut names: Vec<_> = services
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    names.sort();
    assert!(names.contains(&"web".to_string()) && names.contains(&"api".to_string()));
    let node = Api::<Node>::all(hz.clone())
        .get("hz-1")
        .await
        .expect("node");
    assert_eq!(node.metadata.name.as_deref(), Some("hz-1"));
    // a passthrough watch streams
    let nodes: Api<Node> = Api::all(hz.clone());
    let rv = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .metadata
        .resource_version
        .expect("version");
    let mut events = nodes
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .expect("watch")
        .boxed();
    relabel(&f.upstream, "hz-2", "beijing").await;
    // Node heartbeats (kwok's, on the real cluster) stream too: skip them.
    let relabelled = |n: &Node| {
        n.metadata.name.as_deref() == Some("hz-2")
            && n.labels().get(LABEL_BELONGING_TO).map(String::as_str) == Some("beijing")
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.try_next().await.expect("decodes") {
                Some(WatchEvent::Modified(n)) if relabelled(&n) => break,
                Some(_) => continue,
                None => panic!("the watch ended before the relabel arrived"),
            }
        }
    })
    .await
    .expect("the relabel arrives through the passthrough watch in time");
    // discovery works through the prefix
    let version = hz.apiserver_version().await.expect("version");
    assert!(!version.git_version.is_empty() || !version.major.is_empty());
}

async fn kubectl_reads_the_filtered_view_and_cannot_write(cluster) {
    let f = fixture(cluster).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = kubectl(&f, dir.path(), &["get", "endpointslices", "-o", "json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let web = list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["metadata"]["name"] == "web-1"))
        .expect("web-1 listed");
    let nodes: Vec<_> = web["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| e["nodeName"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(nodes, ["hz-1", "hz-2"]);

    let out = kubectl(&f, dir.path(), &["get", "services"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("web"), "{stdout}");

    let out = kubectl(
        &f,
        dir.path(),
        &["delete", "endpointslice", "web-1", "--wait=false"],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "delete must fail");
    assert!(stderr.contains("read-only"), "{stderr}");
}

async fn plain_http_serves_the_same_views(cluster) {
    let f = fixture_with(
        cluster,
        Setup {
            tls: false,
            ..Setup::default()
        },
    )
    .await;
    assert!(f.edge_url.starts_with("http://"));
    let seen = slices_seen_by(&f.node_client("hz-2")).await;
    assert_eq!(seen["web-1"], names(&["hz-1", "hz-2"]));
    let error = Api::<EndpointSlice>::all(f.edge("hz-2", None))
        .list(&ListParams::default())
        .await
        .expect_err("401");
    assert_eq!(status_code(error), 401);
}

async fn watch_resumed_from_a_recent_version_gets_what_it_missed(cluster) {
    let f = fixture(cluster).await;
    let endpoints: Api<Endpoints> = Api::default_namespaced(f.node_client("hz-1"));
    let rv = endpoints
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("version");
    // changes while no watch is open
    relabel(&f.upstream, "bj-1", "hangzhou").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut events = endpoints
        .watch(&WatchParams::default().timeout(30), &rv)
        .await
        .expect("watch")
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("in time")
        .expect("decodes");
    match event {
        Some(WatchEvent::Modified(e)) => {
            assert_eq!(e.metadata.name.as_deref(), Some("web"));
            assert_eq!(endpoints_nodes(&e), names(&["hz-1", "hz-2", "bj-1"]));
        }
        other => panic!("expected MODIFIED web, got {other:?}"),
    }
}

async fn streaming_list_ends_with_the_initial_events_bookmark(cluster) {
    let f = fixture(cluster).await;
    let (reader, writer) = reflector::store::<Endpoints>();
    let config = watcher::Config::default().streaming_lists();
    let stream = reflector(
        writer,
        watcher(Api::<Endpoints>::all(f.node_client("bj-1")), config),
    )
    .default_backoff()
    .touched_objects();
    let cancel = f.cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = cancel.cancelled() => {}
            () = stream.for_each(|_| async {}) => {}
        }
    });
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready in time")
        .expect("ready");
    let web = reader
        .state()
        .into_iter()
        .find(|e| e.metadata.name.as_deref() == Some("web"))
        .expect("web endpoints");
    assert_eq!(endpoints_nodes(&web), names(&["bj-1"]));
}
}
