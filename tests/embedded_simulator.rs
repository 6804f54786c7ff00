//! The embedded cluster's fleet simulator, seen through kube::Client: the
//! scheduler, kubelet and endpoint controller at work, and a region going
//! offline and coming back.

mod support;

use edgedeck::embedded::{ClusterOptions, RunningCluster, start};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use support::eventually;

async fn simulated() -> (RunningCluster, Client) {
    let cluster = start(ClusterOptions {
        simulate: true,
        ..ClusterOptions::default()
    })
    .await
    .expect("cluster starts");
    let client = cluster.client().expect("client");
    let nodes: Api<Node> = Api::all(client.clone());
    for (name, region) in [
        ("hz-1", "hangzhou"),
        ("hz-2", "hangzhou"),
        ("bj-1", "beijing"),
        ("bj-2", "beijing"),
        ("bj-3", "beijing"),
    ] {
        let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"location": region}}}))
        .expect("node");
        nodes
            .create(&PostParams::default(), &node)
            .await
            .expect("node created");
    }
    (cluster, client)
}

fn deployment(name: &str, region: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"nodeSelector": {"location": region},
                                       "containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}]}]}}}}))
    .expect("deployment")
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// (node, ready) of every endpoint in the Service's slices.
async fn endpoints(client: &Client, service: &str) -> Vec<(String, bool)> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let selector = format!("kubernetes.io/service-name={service}");
    let list = slices
        .list(&ListParams::default().labels(&selector))
        .await
        .expect("slices");
    let mut out: Vec<(String, bool)> = list
        .items
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let ready = e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false);
            (e.node_name.clone().unwrap_or_default(), ready)
        })
        .collect();
    out.sort();
    out
}

async fn control(client: &Client, action: &str, body: Value) -> Value {
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/edgedeck/simulator/{action}"))
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .expect("request");
    let text = client
        .request_text(request)
        .await
        .expect("control endpoint answers");
    serde_json::from_str(&text).expect("json answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_pinned_deployment_runs_there_and_goes_unready_when_the_region_is_offline() {
    let (_cluster, client) = simulated().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("web", "hangzhou", 3))
        .await
        .expect("created");
    let service: Service = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}),
    )
    .expect("service");
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &service)
        .await
        .expect("service");

    let running = eventually("3 ready web pods", || async {
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?;
        (list.items.len() == 3 && list.items.iter().all(pod_ready)).then_some(list.items)
    })
    .await;
    for pod in &running {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        assert!(node.starts_with("hz-"), "{node} is not in hangzhou");
        assert!(
            pod.status.as_ref().and_then(|s| s.pod_ip.clone()).is_some(),
            "pod has an IP"
        );
    }
    let status = eventually("deployment status", || async {
        let d = deployments.get("web").await.ok()?;
        let s = d.status?;
        (s.ready_replicas == Some(3)
            && s.updated_replicas == Some(3)
            && s.observed_generation == d.metadata.generation)
            .then_some(s)
    })
    .await;
    assert_eq!(status.available_replicas, Some(3));
    let eps = eventually("endpoints of the ready pods", || async {
        let eps = endpoints(&client, "web").await;
        (eps.len() == 3 && eps.iter().all(|(_, ready)| *ready)).then_some(eps)
    })
    .await;
    assert!(
        eps.iter().all(|(node, _)| node.starts_with("hz-")),
        "{eps:?}"
    );

    let answer = control(
        &client,
        "offline",
        json!({"labels": {"location": "hangzhou"}}),
    )
    .await;
    assert_eq!(answer["selected"], json!(["hz-1", "hz-2"]));

    let nodes: Api<Node> = Api::all(client.clone());
    eventually("hangzhou nodes not ready", || async {
        let node = nodes.get("hz-1").await.ok()?;
        let ready = node
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "Ready")?;
        (ready.status != "True").then_some(())
    })
    .await;
    eventually("pods and endpoints unready", || async {
        let list = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .ok()?;
        let eps = endpoints(&client, "web").await;
        (list.items.iter().all(|p| !pod_ready(p)) && eps.iter().all(|(_, ready)| !ready))
            .then_some(())
    })
    .await;
    let bj = nodes.get("bj-1").await.expect("bj-1");
    assert!(
        bj.status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True"),
        "beijing unaffected"
    );

    control(&client, "online", json!({"nodes": ["hz-1", "hz-2"]})).await;
    eventually("ready again", || async {
        let eps = endpoints(&client, "web").await;
        (eps.len() == 3 && eps.iter().all(|(_, ready)| *ready)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_for_a_region_without_nodes_stay_pending_with_a_reason() {
    let (_cluster, client) = simulated().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("lost", "shanghai", 1))
        .await
        .expect("created");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let message = eventually("an unschedulable pod", || async {
        let list = pods
            .list(&ListParams::default().labels("app=lost"))
            .await
            .ok()?;
        let pod = list.items.into_iter().next()?;
        let status = pod.status?;
        let scheduled = status
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled")?;
        (status.phase.as_deref() == Some("Pending")
            && scheduled.reason.as_deref() == Some("Unschedulable"))
        .then_some(scheduled.message.unwrap_or_default())
    })
    .await;
    assert!(message.starts_with("0/5 nodes are available"), "{message}");
}

/// (reason, type, message) of the Events about `name`'s pods, oldest first.
async fn pod_events(client: &Client, pod_prefix: &str) -> Vec<(String, String, String)> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let Ok(list) = events.list(&ListParams::default()).await else {
        return Vec::new();
    };
    let mut found: Vec<_> = list
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Pod")
                && e.involved_object
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(pod_prefix))
        })
        .map(|e| {
            (
                e.last_timestamp.map(|t| t.0),
                e.reason.unwrap_or_default(),
                e.type_.unwrap_or_default(),
                e.message.unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, r, t, m)| (r, t, m)).collect()
}

// The Events view of the demo is only as good as what the cluster records:
// the kubelet's, the scheduler's and the node controller's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_records_events_like_the_scheduler_and_kubelet() {
    let (_cluster, client) = simulated().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let mut broken = deployment("crashy", "hangzhou", 1);
    broken
        .spec
        .as_mut()
        .expect("spec")
        .template
        .spec
        .as_mut()
        .expect("pod spec")
        .containers[0]
        .image = Some("nginx:broken".into());
    for d in [
        deployment("web", "hangzhou", 1),
        broken,
        deployment("lost", "shanghai", 1),
    ] {
        deployments
            .create(&PostParams::default(), &d)
            .await
            .expect("created");
    }
    let reasons = |events: &[(String, String, String)]| -> Vec<String> {
        events.iter().map(|(r, _, _)| r.clone()).collect()
    };
    let web = eventually("web's pod scheduled and started", || async {
        let events = pod_events(&client, "web-").await;
        reasons(&events)
            .contains(&"Started".to_string())
            .then_some(events)
    })
    .await;
    assert_eq!(reasons(&web), ["Scheduled", "Started"], "{web:?}");
    assert!(
        web[0].2.starts_with("Successfully assigned default/web-"),
        "{web:?}"
    );

    let crashy = eventually("crashy backing off", || async {
        let events = pod_events(&client, "crashy-").await;
        events
            .iter()
            .any(|(r, _, _)| r == "BackOff")
            .then_some(events)
    })
    .await;
    let backoff = crashy
        .iter()
        .find(|(r, _, _)| r == "BackOff")
        .expect("BackOff");
    assert_eq!(backoff.1, "Warning");
    assert!(
        !reasons(&crashy).contains(&"Started".to_string()),
        "{crashy:?}"
    );

    let lost = eventually("lost unschedulable", || async {
        let events = pod_events(&client, "lost-").await;
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(lost[0].0, "FailedScheduling");
    assert!(lost[0].2.starts_with("0/5 nodes are available"), "{lost:?}");
}

#[tokio::test]
async fn without_the_simulator_controls_say_so() {
    let cluster = start(ClusterOptions::default())
        .await
        .expect("cluster starts");
    assert!(cluster.set_offline(&["x".into()], true).is_err());
    let client = cluster.client().expect("client");
    let request = axum::http::Request::builder()
        .method("GET")
        .uri("/edgedeck/simulator")
        .body(Vec::new())
        .expect("request");
    let err = client.request_text(request).await.expect_err("refused");
    assert!(
        err.to_string().contains("without the fleet simulator"),
        "{err}"
    );
}
