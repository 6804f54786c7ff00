//! Server-side apply and field ownership. The engine applies every
//! generated object with `force` as manager `edgedeck` and relies on a
//! re-apply removing what it no longer generates (a dropped env override, a
//! removed label); other managers' fields must survive it.

use serde_json::{Value, json};

use super::{Body, CONFIGMAPS, DEPLOYMENTS, Pair, assert_same, call, expect, managed};

fn cm(data: Value, labels: Value) -> Body {
    Body::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "owned", "labels": labels}, "data": data}))
}

/// A Status's causes in a stable order (kube-apiserver's follow map order).
fn sorted_causes(status: &Value) -> Value {
    let mut causes = status
        .pointer("/details/causes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    causes.sort_by_key(|c| c.to_string());
    Value::Array(causes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appliers_conflict_over_fields_and_force_takes_them() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let path = |manager: &str, force: bool| {
                format!("{CONFIGMAPS}/owned?fieldManager={manager}&force={force}")
            };
            let mut out = json!({});
            let alpha = expect(&c, 201, "PATCH", &path("alpha", false),
                cm(json!({"x": "1", "y": "1", "z": "1"}), json!({"k": "v"}))).await;
            out["alpha applied"] = managed(&alpha);
            let edit = expect(&c, 200, "PATCH", &format!("{CONFIGMAPS}/owned?fieldManager=kubectl-edit"),
                Body::Merge(json!({"data": {"x": "9"}}))).await;
            out["an update takes the field it changed"] = managed(&edit);
            // The same value as live: shared, not a conflict.
            let gamma = expect(&c, 200, "PATCH", &path("gamma", false), cm(json!({"z": "1"}), json!({}))).await;
            out["gamma shares z"] = managed(&gamma);
            let refused = call(&c, "PATCH", &path("beta", false),
                cm(json!({"x": "2", "y": "2", "z": "2"}), json!({"k": "w"}))).await;
            out["conflict"] = json!({"code": refused.code, "reason": refused.body["reason"],
                "message": refused.body["message"], "causes": sorted_causes(&refused.body)});
            let one = call(&c, "PATCH", &path("beta", false), cm(json!({"y": "2"}), json!({}))).await;
            out["one conflict"] = json!({"code": one.code, "message": one.body["message"]});
            let forced = expect(&c, 200, "PATCH", &path("beta", true),
                cm(json!({"x": "2", "y": "2", "z": "2"}), json!({"k": "w"}))).await;
            out["forced"] = json!({"data": forced["data"], "labels": forced["metadata"]["labels"], "managed": managed(&forced)});
            // alpha owns nothing now; its entry is gone and a re-apply removes nothing of beta's.
            let again = expect(&c, 200, "PATCH", &path("alpha", false), cm(json!({}), json!({}))).await;
            out["alpha re-applies nothing"] = json!({"data": again["data"], "managed": managed(&again)});
            out
        })
        .await;
    assert_same("apply conflicts", &seen);
    assert_eq!(seen.0["conflict"]["code"], 409);
    assert_eq!(seen.0["conflict"]["reason"], "Conflict");
    assert_eq!(
        seen.0["one conflict"]["message"],
        "Apply failed with 1 conflict: conflict with \"alpha\": .data.y"
    );
    assert_eq!(
        seen.0["forced"]["data"],
        json!({"x": "2", "y": "2", "z": "2"})
    );
}

/// What the engine does to a generated Deployment when an override goes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reapply_removes_only_what_its_manager_dropped() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let generated = |env: Value, labels: Value, resources: Value| {
                Body::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "gen", "labels": labels},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "gen"}},
                        "template": {"metadata": {"labels": {"app": "gen"}},
                            "spec": {"nodeSelector": {"group": "hangzhou"},
                                "containers": [{"name": "c", "image": "nginx:1.25", "args": ["-v"],
                                    "env": env, "resources": resources, "ports": [{"containerPort": 80}]}]}}}}))
            };
            let apply = format!("{DEPLOYMENTS}/gen?fieldManager=edgedeck&force=true");
            let first = expect(&c, 201, "PATCH", &apply, generated(
                json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
                json!({"app": "gen", "override": "yes"}),
                json!({"limits": {"cpu": "500m"}}),
            )).await;
            // Someone else adds an env var and a label with kubectl.
            let mut edited = first.clone();
            edited["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array_mut().expect("env").push(json!({"name": "USER", "value": "u"}));
            edited["metadata"]["labels"]["team"] = json!("ops");
            expect(&c, 200, "PUT", &format!("{DEPLOYMENTS}/gen?fieldManager=kubectl-edit"), Body::Json(edited)).await;
            let second = expect(&c, 200, "PATCH", &apply, generated(
                json!([{"name": "A", "value": "1"}]),
                json!({"app": "gen"}),
                json!({}),
            )).await;
            let container = &second["spec"]["template"]["spec"]["containers"][0];
            let edgedeck = second["metadata"]["managedFields"].as_array().expect("managed")
                .iter().find(|e| e["manager"] == "edgedeck").cloned().unwrap_or_default();
            json!({
                "first apply owns": first["metadata"]["managedFields"][0]["fieldsV1"],
                "env": container["env"], "resources": container["resources"],
                "labels": second["metadata"]["labels"],
                "generation": [first["metadata"]["generation"], second["metadata"]["generation"]],
                "second apply owns": edgedeck["fieldsV1"],
            })
        })
        .await;
    assert_same("re-applying a generated Deployment", &seen);
    assert_eq!(
        seen.0["env"],
        json!([{"name": "A", "value": "1"}, {"name": "USER", "value": "u"}])
    );
    assert_eq!(seen.0["labels"], json!({"app": "gen", "team": "ops"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_records_its_manager() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "m", "labels": {"a": "1"}}, "data": {"x": "1"}});
            let created = expect(&c, 201, "POST", &format!("{CONFIGMAPS}?fieldManager=creator"), Body::Json(cm)).await;
            let patched = expect(&c, 200, "PATCH", &format!("{CONFIGMAPS}/m?fieldManager=patcher"),
                Body::Merge(json!({"data": {"y": "2", "x": null}, "metadata": {"annotations": {"n": "1"}}}))).await;
            let anonymous = expect(&c, 200, "PATCH", &format!("{CONFIGMAPS}/m"),
                Body::Merge(json!({"data": {"z": "3"}}))).await;
            let deployment = expect(&c, 201, "POST", DEPLOYMENTS, Body::Json(super::deployment("d"))).await;
            let empty = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "empty"}});
            let empty = expect(&c, 201, "POST", CONFIGMAPS, Body::Json(empty)).await;
            let app = expect(&c, 201, "POST", super::APPS, Body::Json(super::edge_app("a"))).await;
            let status = expect(&c, 200, "PATCH", &format!("{}/a/status?fieldManager=engine", super::APPS),
                Body::Merge(json!({"status": {"available": "0/1"}}))).await;
            json!({
                "create": managed(&created), "merge patch": managed(&patched),
                "without fieldManager": managed(&anonymous), "Deployment create": managed(&deployment),
                "nothing set": managed(&empty), "custom resource": managed(&app), "status": managed(&status),
            })
        })
        .await;
    assert_same("managedFields of updates", &seen);
    assert_eq!(seen.0["nothing set"], json!([]));
}
