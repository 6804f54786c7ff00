//! Status codes, reasons and Status objects of refused requests: clients
//! switch on `reason` (kube-rs, client-go) and kubectl prints `message`.

use serde_json::{Value, json};

use super::{Body, CONFIGMAPS, DEPLOYMENTS, Pair, assert_same, call, deployment, expect};

/// The Status of a refused request, as the client sees it.
fn status(reply: super::Reply) -> Value {
    json!({"code": reply.code, "status": reply.body})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_answer_the_same_status() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}});
            let created = expect(&c, 201, "POST", CONFIGMAPS, Body::Json(cm.clone())).await;
            let existing = call(&c, "POST", CONFIGMAPS, Body::Json(cm.clone())).await;
            let missing = call(&c, "GET", &format!("{CONFIGMAPS}/nope"), Body::None).await;
            let mut changed = created.clone();
            changed["data"]["x"] = json!("2");
            expect(&c, 200, "PUT", &format!("{CONFIGMAPS}/a"), Body::Json(changed.clone())).await;
            // `changed` still carries the resourceVersion before that update.
            changed["data"]["x"] = json!("3");
            let stale = call(&c, "PUT", &format!("{CONFIGMAPS}/a"), Body::Json(changed)).await;
            let bad_cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}});
            let bad_cm = call(&c, "POST", CONFIGMAPS, Body::Json(bad_cm)).await;
            let mut bad_deploy = deployment("x");
            bad_deploy["metadata"]["name"] = json!("web.");
            let bad_deploy = call(&c, "POST", DEPLOYMENTS, Body::Json(bad_deploy)).await;
            // Services are DNS-1123 labels (1.36 accepts a leading digit).
            let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web.x"},
                "spec": {"ports": [{"port": 80}]}});
            let digit = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web"},
                "spec": {"ports": [{"port": 80}]}});
            let digit = call(&c, "POST", "/api/v1/namespaces/default/services", Body::Json(digit)).await.code;
            let bad_svc = call(&c, "POST", "/api/v1/namespaces/default/services", Body::Json(svc)).await;
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
            let bad_ns = call(&c, "POST", "/api/v1/namespaces", Body::Json(ns)).await;
            let no_ns = call(&c, "POST", "/api/v1/namespaces/nowhere/configmaps", Body::Json(cm)).await;
            json!({
                "create existing": status(existing),
                "get missing": status(missing),
                "update with a stale resourceVersion": status(stale),
                "invalid ConfigMap name": status(bad_cm),
                "invalid Deployment name": status(bad_deploy),
                "invalid Service name": status(bad_svc),
                "Service name with a leading digit": digit,
                "invalid Namespace name": status(bad_ns),
                "create in a missing namespace": status(no_ns),
            })
        })
        .await;
    assert_same("refused requests", &seen);
    let (embedded, _) = &seen;
    assert_eq!(embedded["create existing"]["code"], 409);
    assert_eq!(
        embedded["create existing"]["status"]["reason"],
        "AlreadyExists"
    );
    assert_eq!(embedded["get missing"]["status"]["reason"], "NotFound");
    assert_eq!(
        embedded["update with a stale resourceVersion"]["status"]["reason"],
        "Conflict"
    );
    assert_eq!(embedded["invalid ConfigMap name"]["code"], 422);
    assert_eq!(
        embedded["invalid ConfigMap name"]["status"]["reason"],
        "Invalid"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrongly_typed_field_is_a_bad_request() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let mut bad = deployment("web");
            bad["spec"]["replicas"] = json!("abc");
            let reply = call(&c, "POST", DEPLOYMENTS, Body::Json(bad)).await;
            let message = reply.body["message"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let stored = call(&c, "GET", &format!("{DEPLOYMENTS}/web"), Body::None).await;
            json!({
                "code": reply.code,
                "reason": reply.body["reason"],
                // Go's JSON decoder and serde word the cause differently
                // ("json: cannot unmarshal string into Go struct field
                // DeploymentSpec.spec.replicas of type int32" against
                // "spec.replicas: invalid type: string \"abc\", expected
                // i32"); the start and the field are the same.
                "prefix": message.split(": ").next(),
                "names the field": message.contains("spec.replicas"),
                "stored": stored.code,
            })
        })
        .await;
    assert_same("wrongly typed field", &seen);
    assert_eq!(seen.0["code"], 400);
    assert_eq!(seen.0["reason"], "BadRequest");
    assert_eq!(
        seen.0["prefix"],
        "Deployment in version \"v1\" cannot be handled as a Deployment"
    );
    assert_eq!(seen.0["stored"], 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_validated_against_their_schema() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let app = |name: &str, scope: Value| {
                json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
                    "metadata": {"name": name}, "spec": {"workloadScope": scope}})
            };
            let wrong_type_and_missing_name = app(
                "bad",
                json!({"targetNodeGroups": [{"name": "g", "overriders": {"replicas": "abc"}}, {"overriders": {}}]}),
            );
            let unsupported = app(
                "bad2",
                json!({"targetNodeGroups": [{"name": "g", "overriders": {"imageOverriders": [{"component": "Nope", "operator": "replace"}]}}]}),
            );
            let not_an_object = app("bad3", json!("x"));
            let mut out = json!({});
            for (what, body) in [
                ("wrong type and missing name", wrong_type_and_missing_name),
                ("unsupported enum value", unsupported),
                ("not an object", not_an_object),
            ] {
                out[what] = status(call(&c, "POST", super::APPS, Body::Json(body)).await);
            }
            out
        })
        .await;
    assert_same("schema validation of an EdgeApplication", &seen);
    assert_eq!(seen.0["unsupported enum value"]["code"], 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_finalizer_can_be_added_to_an_object_being_deleted() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let mut app = super::edge_app("held");
            app["metadata"]["finalizers"] = json!(["example.com/hold"]);
            expect(&c, 201, "POST", super::APPS, Body::Json(app)).await;
            let path = format!("{}/held", super::APPS);
            expect(&c, 200, "DELETE", &path, Body::None).await;
            let add = json!({"metadata": {"finalizers": ["example.com/hold", "example.com/late"]}});
            let refused = status(call(&c, "PATCH", &path, Body::Merge(add)).await);
            expect(&c, 200, "PATCH", &path, Body::Merge(json!({"metadata": {"finalizers": null}}))).await;
            json!({"adding a finalizer": refused, "after release": call(&c, "GET", &path, Body::None).await.code})
        })
        .await;
    // kube-apiserver lists the same cause twice (its object-meta and
    // finalizer validations both report it); the embedded server once.
    let causes = |v: &Value| {
        let mut v = v.clone();
        if let Some(list) = v
            .pointer_mut("/adding a finalizer/status/details/causes")
            .and_then(Value::as_array_mut)
        {
            list.dedup();
        }
        v
    };
    assert_same(
        "finalizer added while deleting",
        &(causes(&seen.0), causes(&seen.1)),
    );
    assert_eq!(seen.0["adding a finalizer"]["code"], 422);
    assert_eq!(seen.0["after release"], 404);
}

/// Code and reason of an answer (messages are worded by different decoders).
fn outcome(reply: super::Reply) -> Value {
    json!({"code": reply.code, "reason": reply.body.get("reason").cloned().unwrap_or(Value::Null)})
}

/// Bodies over 3 MiB are left to `hostile_http.rs`: both servers answer 413
/// before reading them, and a client still writing then sees EPIPE rather
/// than the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_refused_with_the_same_codes() {
    let pair = Pair::start().await;
    let seen = pair
        .observe(|c| async move {
            let raw = |content_type, bytes: &[u8]| Body::Raw(content_type, bytes.to_vec());
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "h"}});
            let deep = format!(
                "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"deep\"}},\"x\":{}{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            );
            let post = |body| call(&c, "POST", CONFIGMAPS, body);
            json!({
                "text/plain": outcome(post(raw("text/plain", cm.to_string().as_bytes())).await),
                "malformed JSON": outcome(post(raw("application/json", b"{not json")).await),
                "malformed YAML": outcome(post(raw("application/yaml", b"metadata: [x")).await),
                "invalid UTF-8": outcome(post(raw("application/json", b"{\"metadata\": {\"name\": \"\xff\"}}")).await),
                "nested 100000 deep": outcome(post(raw("application/json", deep.as_bytes())).await),
                "empty label selector term": outcome(call(&c, "GET", &format!("{CONFIGMAPS}?labelSelector=a,,b"), Body::None).await),
                "unsupported field selector": outcome(call(&c, "GET", &format!("{CONFIGMAPS}?fieldSelector=spec.nodeName%3Dx"), Body::None).await),
                "unknown parameter": call(&c, "GET", &format!("{CONFIGMAPS}?bogus=1"), Body::None).await.code,
                "name %2e%2e": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/%2e%2e"), Body::None).await),
                "name ..": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/.."), Body::None).await),
                "name .": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/."), Body::None).await),
                "name a%2Fb": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/a%2Fb"), Body::None).await),
                "name a%25b": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/a%25b"), Body::None).await),
                "name %ff": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/%ff"), Body::None).await),
                "traversal": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/../../kube-system/configmaps/x"), Body::None).await),
                "encoded traversal": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/..%2F..%2Fkube-system%2Fconfigmaps%2Fx"), Body::None).await),
                "double slash": outcome(call(&c, "GET", "/api/v1/namespaces/default//configmaps", Body::None).await),
                "overlong name": outcome(call(&c, "GET", &format!("{CONFIGMAPS}/{}", "a".repeat(8192)), Body::None).await),
            })
        })
        .await;
    assert_same("hostile input", &seen);
    let (embedded, _) = &seen;
    assert_eq!(embedded["text/plain"]["code"], 415);
    assert_eq!(embedded["name %2e%2e"]["code"], 400);
    // `..` as a namespace: kube-apiserver 1.36 answers 500 InternalError; the
    // embedded server answers what the rule for path segments says, 400
    let dots = pair
        .observe(|c| async move {
            outcome(
                call(
                    &c,
                    "GET",
                    "/api/v1/namespaces/%2e%2e/configmaps",
                    Body::None,
                )
                .await,
            )
        })
        .await;
    assert_eq!(dots.0, json!({"code": 400, "reason": "BadRequest"}));
    assert_eq!(dots.1["code"], 500);
    // A lone UTF-16 surrogate (`"\ud800"`): Go's decoder reads it as U+FFFD
    // and the name is then invalid (422); serde_json refuses the document
    // (400). Either way nothing is stored.
    let surrogate = pair
        .observe(|c| async move {
            let body =
                br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "\ud800"}}"#;
            outcome(
                call(
                    &c,
                    "POST",
                    CONFIGMAPS,
                    Body::Raw("application/json", body.to_vec()),
                )
                .await,
            )
        })
        .await;
    assert_eq!(surrogate.0, json!({"code": 400, "reason": "BadRequest"}));
    assert_eq!(surrogate.1, json!({"code": 422, "reason": "Invalid"}));
}
