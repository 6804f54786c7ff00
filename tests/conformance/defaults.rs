//! Server-side defaulting and the pruning of custom resources: what a client
//! reads back differs from what it wrote, the same way on both servers.

use serde_json::{Value, json};

use super::{APPS, Body, DEPLOYMENTS, Pair, assert_same, deployment, expect};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_are_defaulted_alike() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let template = |app: &str, image: &str| {
                json!({"metadata": {"labels": {"app": app}},
                       "spec": {"containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]}})
            };
            let apps = "/apis/apps/v1/namespaces/default";
            let mut recreate = deployment("recreate");
            recreate["spec"]["strategy"] = json!({"type": "Recreate"});
            let objects = [
                ("Deployment", DEPLOYMENTS.to_string(), deployment("web")),
                ("Deployment, Recreate", DEPLOYMENTS.to_string(), recreate),
                ("Deployment, untagged image", DEPLOYMENTS.to_string(), json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "latest"}, "spec": {"selector": {"matchLabels": {"app": "latest"}}, "template": template("latest", "nginx")}})),
                ("StatefulSet", format!("{apps}/statefulsets"), json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "metadata": {"name": "st"}, "spec": {"selector": {"matchLabels": {"app": "st"}}, "template": template("st", "nginx:1.25")}})),
                ("DaemonSet", format!("{apps}/daemonsets"), json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                    "metadata": {"name": "ds"}, "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": template("ds", "nginx:1.25")}})),
                ("ReplicaSet", format!("{apps}/replicasets"), json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"app": "rs"}}, "template": template("rs", "nginx:1.25")}})),
            ];
            let mut out = json!({});
            for (what, path, body) in objects {
                out[what] = expect(&c, 201, "POST", &path, Body::Json(body)).await["spec"].take();
            }
            // Defaults come back after a write that drops them, too.
            let dropped = json!({"spec": {"strategy": null, "revisionHistoryLimit": null}});
            let patched = expect(&c, 200, "PATCH", &format!("{DEPLOYMENTS}/web"), Body::Merge(dropped)).await;
            out["Deployment after dropping defaults"] =
                json!([patched["spec"]["strategy"], patched["spec"]["revisionHistoryLimit"]]);
            out
        })
        .await;
    assert_same("defaulted workload specs", &seen);
    let web = &seen.0["Deployment"];
    assert_eq!(web["replicas"], 1);
    assert_eq!(
        web["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_gets_a_cluster_ip_and_defaults() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}});
            let path = "/api/v1/namespaces/default/services";
            let mut created = expect(&c, 201, "POST", path, Body::Json(svc)).await;
            let spec = created["spec"].as_object_mut().expect("spec");
            // Both allocate from 10.96.0.0/12 but not the same address: the
            // embedded server takes the lowest free one, kube-apiserver a random one.
            let ip = spec.remove("clusterIP").unwrap_or(Value::Null);
            let ips = spec.remove("clusterIPs").unwrap_or(Value::Null);
            let in_range = ip
                .as_str()
                .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok())
                .is_some_and(|a| a.octets()[0] == 10 && (a.octets()[1] & 0xf0) == 96);
            json!({"spec": spec, "status": created["status"], "clusterIP in 10.96.0.0/12": in_range,
                   "clusterIPs is [clusterIP]": ips == json!([ip])})
        })
        .await;
    assert_same("defaulted Service", &seen);
    assert_eq!(seen.0["clusterIP in 10.96.0.0/12"], true);
    assert_eq!(seen.0["clusterIPs is [clusterIP]"], true);
    assert_eq!(seen.0["spec"]["ports"][0]["targetPort"], 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_pruned_and_defaulted_by_their_schema() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let app = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
                "metadata": {"name": "typo"}, "topLevelJunk": true,
                "spec": {"bogus": 1,
                         "workloadScope": {"targetNodeGroups": [{"name": "hangzhou", "overrider": {"replicas": 3},
                                           "overriders": {"replicas": 2, "unknown": "x"}}]},
                         "workloadTemplate": {"manifests": [{"apiVersion": "v1", "kind": "ConfigMap",
                                              "metadata": {"name": "m", "whatever": 1}, "data": {"k": "v"}, "extra": {"kept": true}}]}}});
            let created = expect(&c, 201, "POST", APPS, Body::Json(app)).await;
            // Nulls of non-nullable fields go before defaulting fills them.
            let empty = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
                "metadata": {"name": "empty"}, "spec": {"workloadScope": null}});
            let defaulted = expect(&c, 201, "POST", APPS, Body::Json(empty)).await;
            let status = json!({"status": {"available": "1/1", "observedGeneration": 1, "notInSchema": "x"}});
            let written = expect(&c, 200, "PATCH", &format!("{APPS}/typo/status"), Body::Merge(status)).await;
            let ng = json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
                "metadata": {"name": "hangzhou"}, "spec": {"matchLabels": {"location": "hangzhou"}, "size": 3}});
            let group = expect(&c, 201, "POST", "/apis/apps.kubeedge.io/v1alpha1/nodegroups", Body::Json(ng)).await;
            let mut keys: Vec<&String> = created.as_object().expect("object").keys().collect();
            keys.sort();
            json!({"top-level fields": keys, "spec": created["spec"], "defaulted spec": defaulted["spec"],
                   "status": written["status"], "NodeGroup spec": group["spec"]})
        })
        .await;
    assert_same("pruned and defaulted custom resources", &seen);
    assert_eq!(
        seen.0["spec"]["workloadScope"]["targetNodeGroups"],
        json!([{"name": "hangzhou", "overriders": {"replicas": 2}}])
    );
    assert_eq!(
        seen.0["spec"]["workloadTemplate"]["manifests"][0]["extra"],
        json!({"kept": true})
    );
}
