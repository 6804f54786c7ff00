//! The embedded cluster through kube-rs (and raw HTTP where kube-rs would
//! hide the detail under test).

use std::time::Duration;

use edgedeck::api::{NodeGroup, NodeGroupSpec, NodeGroupStatus};
use edgedeck::embedded::{ClusterOptions, RunningCluster, start};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::{Value, json};

async fn cluster() -> (RunningCluster, Client) {
    let cluster = start(ClusterOptions::default())
        .await
        .expect("cluster starts");
    let client = cluster.client().expect("client builds");
    (cluster, client)
}

fn cm(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "data": data,
    }))
    .expect("valid configmap")
}

fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "envoy:1"}
                ]}
            }
        }
    }))
    .expect("valid deployment")
}

/// A client built the way users build one: from the emitted kubeconfig,
/// with the token replaced (None removes it).
async fn client_with_token(cluster: &RunningCluster, token: Option<&str>) -> Client {
    let yaml = cluster.kubeconfig_yaml().expect("kubeconfig");
    let yaml = match token {
        Some(t) => yaml.replace(cluster.token(), t),
        None => yaml.replace(&format!("token: {}", cluster.token()), "username: nobody"),
    };
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

/// One raw request; Ok(body) on 2xx, else the Status the server sent.
async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    body: &str,
) -> Result<Value, kube::core::Status> {
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(body.as_bytes().to_vec())
        .expect("request");
    match client.request_text(request).await {
        Ok(text) => Ok(serde_json::from_str(&text).unwrap_or(Value::Null)),
        Err(kube::Error::Api(status)) => Err(*status),
        Err(other) => panic!("transport error: {other:?}"),
    }
}

#[tokio::test]
async fn crud_through_kube_client() {
    let (cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let created = cms
        .create(&PostParams::default(), &cm("one", json!({"a": "1"})))
        .await
        .expect("create");
    let meta = &created.metadata;
    assert!(meta.uid.is_some());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let rv1: u64 = meta
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("numeric rv");

    let err = cms
        .create(&PostParams::default(), &cm("one", json!({})))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );

    let mut generated = cm("", json!({}));
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let generated = cms
        .create(&PostParams::default(), &generated)
        .await
        .expect("generateName");
    assert!(
        generated
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("gen-") && n.len() == 9)
    );

    let mut replaced = cms.get("one").await.expect("get");
    replaced.data = Some([("a".to_string(), "2".to_string())].into());
    let replaced = cms
        .replace("one", &PostParams::default(), &replaced)
        .await
        .expect("replace");
    let rv2: u64 = replaced
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("rv");
    assert!(rv2 > rv1);
    assert_eq!(
        replaced.metadata.generation,
        Some(2),
        "data is outside metadata/status"
    );

    let merged = cms
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "3"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(merged.data.as_ref().map(|d| d.len()), Some(2));

    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "remove", "path": "/data/a"}])).expect("patch ops");
    let patched = cms
        .patch("one", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .expect("json patch");
    assert_eq!(
        patched.data,
        Some([("b".to_string(), "3".to_string())].into())
    );

    let applied = cms
        .patch(
            "applied",
            &PatchParams::apply("tests"),
            &Patch::Apply(cm("applied", json!({"x": "1"}))),
        )
        .await
        .expect("apply creates");
    assert_eq!(
        applied
            .data
            .as_ref()
            .and_then(|d| d.get("x"))
            .map(String::as_str),
        Some("1")
    );
    let managers: Vec<String> = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, vec!["tests"]);
    let applied = cms
        .patch(
            "applied",
            &PatchParams::apply("tests"),
            &Patch::Apply(cm("applied", json!({"y": "2"}))),
        )
        .await
        .expect("apply applies");
    // As on kube-apiserver: a field its manager no longer applies goes
    // (x was this manager's alone), the newly applied one is there.
    let data = applied.data.unwrap_or_default();
    assert_eq!(data.keys().collect::<Vec<_>>(), vec!["y"]);

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web"))
        .await
        .expect("deployment");
    let strategic = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}
    ]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(strategic))
        .await
        .expect("strategic patch");
    let spec = patched
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    assert_eq!(spec.containers.len(), 2, "containers merged by name");
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:2"));
    assert_eq!(
        spec.containers[0].env.as_ref().map(Vec::len),
        Some(2),
        "env merged by name"
    );
    assert_eq!(patched.metadata.generation, Some(2));

    cms.delete("one", &DeleteParams::default())
        .await
        .expect("delete");
    let err = cms.get("one").await.expect_err("gone");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404 && s.reason == "NotFound"),
        "{err:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn list_filters_and_pages() {
    let (cluster, client) = cluster().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, tier, node) in [
        ("a", "front", "edge-1"),
        ("b", "back", "edge-2"),
        ("c", "front", ""),
        ("d", "db", "edge-1"),
    ] {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"tier": tier}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        if !node.is_empty() {
            pod["spec"]["nodeName"] = json!(node);
        }
        pods.create(
            &PostParams::default(),
            &serde_json::from_value(pod).expect("pod"),
        )
        .await
        .expect("create pod");
    }
    let names = |list: kube::core::ObjectList<Pod>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect()
    };
    let cases = [
        ("tier=front", vec!["a", "c"]),
        ("tier==front", vec!["a", "c"]),
        ("tier!=front", vec!["b", "d"]),
        ("tier in (back,db)", vec!["b", "d"]),
        ("tier notin (back,db)", vec!["a", "c"]),
        ("tier", vec!["a", "b", "c", "d"]),
        ("!tier", vec![]),
    ];
    for (selector, expected) in cases {
        let got = names(
            pods.list(&ListParams::default().labels(selector))
                .await
                .expect(selector),
        );
        assert_eq!(got, expected, "{selector}");
    }
    let on_node = names(
        pods.list(&ListParams::default().fields("spec.nodeName=edge-1"))
            .await
            .expect("fields"),
    );
    assert_eq!(on_node, vec!["a", "d"]);
    let by_name = names(
        pods.list(&ListParams::default().fields("metadata.name=b"))
            .await
            .expect("fields"),
    );
    assert_eq!(by_name, vec!["b"]);

    let first = pods
        .list(&ListParams::default().limit(3))
        .await
        .expect("page 1");
    let token = first.metadata.continue_.clone().expect("continue token");
    assert_eq!(first.items.len(), 3);
    let second = pods
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(names(second.clone()), vec!["d"]);
    assert!(second.metadata.continue_.is_none());
    assert_eq!(first.metadata.remaining_item_count, Some(1));

    // With a selector a page fills from the matching items only; as on
    // kube-apiserver the count of what remains is left out.
    let mut fronts = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().labels("tier=front").limit(1);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = pods.list(&params).await.expect("selected page");
        assert!(page.items.len() <= 1);
        assert_eq!(page.metadata.remaining_item_count, None);
        fronts.extend(names(page.clone()));
        match page.metadata.continue_ {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(fronts, vec!["a", "c"]);

    let all: Api<Pod> = Api::all(client.clone());
    assert_eq!(
        all.list(&ListParams::default())
            .await
            .expect("all namespaces")
            .items
            .len(),
        4
    );
    let err = pods
        .list(&ListParams::default().labels("tier in front"))
        .await
        .expect_err("bad selector");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 400),
        "{err:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn concurrent_updates_from_one_version_conflict_once() {
    let (cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let base = cms
        .create(&PostParams::default(), &cm("race", json!({"v": "0"})))
        .await
        .expect("create");
    let mut a = base.clone();
    a.data = Some([("v".to_string(), "a".to_string())].into());
    let mut b = base.clone();
    b.data = Some([("v".to_string(), "b".to_string())].into());
    let pp = PostParams::default();
    let (ra, rb) = tokio::join!(cms.replace("race", &pp, &a), cms.replace("race", &pp, &b));
    let results = [ra, rb];
    let conflicts = results
        .iter()
        .filter(
            |r| matches!(r, Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "Conflict"),
        )
        .count();
    assert_eq!(conflicts, 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    cluster.shutdown().await;
}

#[tokio::test]
async fn watcher_and_reflector_follow_changes_in_order() {
    let (cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("before", json!({})))
        .await
        .expect("create");

    let (reader, writer) = reflector::store::<ConfigMap>();
    let config = watcher::Config::default().labels("app=web");
    let mut events = reflector(writer, watcher(cms.clone(), config))
        .applied_objects()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .expect("initial event in time")
        .expect("no watch error")
        .expect("stream open");
    assert_eq!(first.metadata.name.as_deref(), Some("before"));

    for i in 0..3 {
        cms.patch(
            "before",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"i": i.to_string()}})),
        )
        .await
        .expect("patch");
    }
    cms.create(&PostParams::default(), &cm("after", json!({})))
        .await
        .expect("create");
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let cm = tokio::time::timeout(Duration::from_secs(10), events.try_next())
            .await
            .expect("event in time")
            .expect("no watch error")
            .expect("stream open");
        let i = cm
            .data
            .as_ref()
            .and_then(|d| d.get("i"))
            .cloned()
            .unwrap_or_default();
        seen.push(format!("{}:{i}", cm.metadata.name.unwrap_or_default()));
    }
    assert_eq!(seen, vec!["before:0", "before:1", "before:2", "after:"]);
    assert_eq!(reader.state().len(), 2);

    cms.delete("after", &DeleteParams::default())
        .await
        .expect("delete");
    tokio::time::timeout(Duration::from_secs(10), async {
        while reader.state().len() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // the reflector only updates while the stream is polled
            let _ = tokio::time::timeout(Duration::from_millis(20), events.next()).await;
        }
    })
    .await
    .expect("reflector sees the delete");
    cluster.shutdown().await;
}

#[tokio::test]
async fn watch_from_compacted_version_gets_410_event() {
    let cluster = start(ClusterOptions {
        event_window: 3,
        ..Default::default()
    })
    .await
    .expect("starts");
    let client = cluster.client().expect("client");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..6 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .expect("create");
    }
    let mut stream = cms
        .watch(&kube::api::WatchParams::default(), "1")
        .await
        .expect("watch starts")
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("in time")
        .expect("one event")
        .expect("decodes");
    match event {
        kube::api::WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected 410 error event, got {other:?}"),
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn crd_created_at_runtime_is_served_with_status_subresource() {
    let (cluster, client) = cluster().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in edgedeck::api::crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("crd created");
    }
    let established = crds.get("nodegroups.apps.kubeedge.io").await.expect("crd");
    let conditions = established
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
    );

    let groups: Api<NodeGroup> = Api::all(client.clone());
    let mut ng = NodeGroup::new(
        "region-a",
        NodeGroupSpec {
            nodes: vec!["edge-1".into()],
            ..Default::default()
        },
    );
    ng.status = Some(NodeGroupStatus {
        members: Some(9),
        ..Default::default()
    });
    let created = groups
        .create(&PostParams::default(), &ng)
        .await
        .expect("nodegroup created");
    assert!(created.status.is_none(), "status is dropped on create");

    let with_status = groups
        .patch_status(
            "region-a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"members": 1}, "spec": {"nodes": []}})),
        )
        .await
        .expect("status patch");
    assert_eq!(with_status.status.and_then(|s| s.members), Some(1));
    assert_eq!(
        with_status.spec.nodes,
        vec!["edge-1"],
        "the status endpoint ignores spec"
    );
    assert_eq!(with_status.metadata.generation, Some(1));

    let spec_patch = json!({"spec": {"nodes": ["edge-2"]}, "status": {"members": 5}});
    let updated = groups
        .patch(
            "region-a",
            &PatchParams::default(),
            &Patch::Merge(spec_patch),
        )
        .await
        .expect("spec patch");
    assert_eq!(
        updated.status.and_then(|s| s.members),
        Some(1),
        "the main endpoint ignores status"
    );
    assert_eq!(updated.metadata.generation, Some(2));

    let err = groups
        .patch(
            "region-a",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {}})),
        )
        .await
        .expect_err("no strategic merge for custom resources");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 415),
        "{err:?}"
    );

    let applied = groups
        .patch(
            "region-b",
            &PatchParams::apply("tests").force(),
            &Patch::Apply(
                json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
                                 "spec": {"matchLabels": {"zone": "b"}}}),
            ),
        )
        .await
        .expect("apply creates a custom object");
    assert_eq!(applied.metadata.name.as_deref(), Some("region-b"));
    assert_eq!(
        groups
            .list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        2
    );

    crds.delete("nodegroups.apps.kubeedge.io", &DeleteParams::default())
        .await
        .expect("crd deleted");
    let err = groups
        .list(&ListParams::default())
        .await
        .expect_err("no longer served");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held)
        .await
        .expect("create");

    let pending = cms
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete accepted");
    let marked = pending
        .left()
        .expect("object is returned while finalizers remain");
    assert!(marked.metadata.deletion_timestamp.is_some());
    let still_there = cms.get("held").await.expect("still present");
    assert!(still_there.metadata.deletion_timestamp.is_some());

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("finalizer removed");
    let err = cms
        .get("held")
        .await
        .expect_err("gone once finalizers are empty");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn dependents_are_garbage_collected() {
    let (cluster, client) = cluster().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner = cms
        .create(&PostParams::default(), &cm("owner", json!({})))
        .await
        .expect("owner");
    let owner_ref = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
        "uid": owner.metadata.uid.clone().expect("uid"), "controller": true}]);
    for name in ["dep-1", "dep-2", "orphan-me"] {
        let mut dep = cm(name, json!({}));
        dep.metadata.owner_references =
            Some(serde_json::from_value(owner_ref.clone()).expect("refs"));
        cms.create(&PostParams::default(), &dep)
            .await
            .expect("dependent");
    }
    cms.delete("owner", &DeleteParams::background())
        .await
        .expect("delete owner");
    for name in ["dep-1", "dep-2", "orphan-me"] {
        assert!(
            cms.get_opt(name).await.expect("get").is_none(),
            "{name} collected"
        );
    }

    let owner = cms
        .create(&PostParams::default(), &cm("owner2", json!({})))
        .await
        .expect("owner");
    let mut dep = cm("kept", json!({}));
    dep.metadata.owner_references = Some(
        serde_json::from_value(
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2",
            "uid": owner.metadata.uid.clone().expect("uid")}]),
        )
        .expect("refs"),
    );
    cms.create(&PostParams::default(), &dep)
        .await
        .expect("dependent");
    cms.delete("owner2", &DeleteParams::orphan())
        .await
        .expect("orphan delete");
    let kept = cms.get("kept").await.expect("orphaned dependent survives");
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );

    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "scratch"}})).expect("ns"),
        )
        .await
        .expect("namespace");
    let scratch: Api<ConfigMap> = Api::namespaced(client.clone(), "scratch");
    scratch
        .create(&PostParams::default(), &cm("inside", json!({})))
        .await
        .expect("inside");
    namespaces
        .delete("scratch", &DeleteParams::default())
        .await
        .expect("delete namespace");
    assert!(cms.get_opt("inside").await.expect("get").is_none());
    let err = scratch
        .create(&PostParams::default(), &cm("late", json!({})))
        .await
        .expect_err("namespace gone");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn deployment_scale_subresource() {
    let (cluster, client) = cluster().await;
    let deployments: Api<Deployment> = Api::namespaced(client, "default");
    deployments
        .create(&PostParams::default(), &deployment("web"))
        .await
        .expect("create");
    let scale = deployments.get_scale("web").await.expect("scale");
    assert_eq!(
        scale.spec.and_then(|s| s.replicas),
        Some(1),
        "replicas defaulted"
    );
    let scaled = deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale patch");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(3));
    let d = deployments.get("web").await.expect("get");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(3));
    cluster.shutdown().await;
}

#[tokio::test]
async fn http_errors_are_status_objects() {
    let (cluster, client) = cluster().await;

    let anonymous = client_with_token(&cluster, None).await;
    let status = raw(&anonymous, "GET", "/api/v1/namespaces", "")
        .await
        .expect_err("no token");
    assert_eq!((status.code, status.reason.as_str()), (401, "Unauthorized"));
    let wrong = client_with_token(&cluster, Some("wrong")).await;
    let status = raw(&wrong, "GET", "/api/v1/namespaces", "")
        .await
        .expect_err("wrong token");
    assert_eq!(status.code, 401);
    let right = client_with_token(&cluster, Some(cluster.token())).await;
    raw(&right, "GET", "/api/v1/namespaces", "")
        .await
        .expect("the emitted kubeconfig works");

    let status = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "{not json",
    )
    .await
    .expect_err("400");
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));

    let wrong_kind = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#;
    let status = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        wrong_kind,
    )
    .await
    .expect_err("400");
    assert_eq!(status.code, 400);

    let huge = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"x":"{}"}}}}"#,
        "a".repeat(3 << 20)
    );
    let status = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &huge,
    )
    .await
    .expect_err("413");
    assert_eq!(
        (status.code, status.reason.as_str()),
        (413, "RequestEntityTooLarge")
    );

    let status = raw(&client, "GET", "/apis/nope/v1/things", "")
        .await
        .expect_err("404");
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));

    let ns = raw(&client, "GET", "/api/v1/namespaces/default", "")
        .await
        .expect("still serving");
    assert_eq!(ns["status"]["phase"], "Active");
    cluster.shutdown().await;
}

#[tokio::test]
async fn refuses_non_loopback_and_writes_private_kubeconfig() {
    let err = start(ClusterOptions {
        listen: "0.0.0.0:0".parse().expect("addr"),
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("loopback"), "{err}");

    let (cluster, _client) = cluster().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&path).expect("written");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(cluster.token()) && text.contains(&cluster.url()));
    cluster.shutdown().await;
}

#[tokio::test]
async fn yaml_bodies_are_accepted_and_malformed_yaml_is_a_400() {
    let (_cluster, client) = cluster().await;
    let send = |body: &'static str| {
        let client = client.clone();
        async move {
            let request = axum::http::Request::builder()
                .method("POST")
                .uri("/api/v1/namespaces/default/configmaps")
                .header("Content-Type", "application/yaml")
                .body(body.as_bytes().to_vec())
                .expect("request");
            client.request_text(request).await
        }
    };
    let created =
        send("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n")
            .await
            .expect("a YAML body creates the object");
    assert!(created.contains("from-yaml"), "{created}");

    match send("apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n").await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 400, "{status:?}");
            assert_eq!(status.reason, "BadRequest", "{status:?}");
        }
        other => panic!("malformed YAML: {other:?}"),
    }
    // Still serving.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    assert!(cms.get_opt("from-yaml").await.expect("get").is_some());
}
