//! The embedded API server against a real kube-apiserver (v1.36, with etcd,
//! controller-manager, scheduler and kwok): each test sends the same requests
//! to both and checks that they answer the same, field by field where the
//! answer is deterministic. Where they differ on purpose, the test asserts
//! each side's behaviour and says why (the README lists these).
//!
//! One test binary, one topic per module under `tests/conformance/`.

mod support;

#[path = "conformance/apply.rs"]
mod apply;
#[path = "conformance/defaults.rs"]
mod defaults;
#[path = "conformance/deletion.rs"]
mod deletion;
#[path = "conformance/errors.rs"]
mod errors;
#[path = "conformance/generation.rs"]
mod generation;
#[path = "conformance/watch.rs"]
mod watch;

use std::future::Future;

use kube::Client;
use serde_json::Value;
use support::cluster::TestCluster;

/// An embedded and a real cluster, both with edgedeck's CRDs.
pub struct Pair {
    pub embedded: TestCluster,
    pub real: TestCluster,
}

impl Pair {
    pub async fn start() -> Pair {
        let (embedded, real) = tokio::join!(
            async { TestCluster::embedded().await.with_crds().await },
            async { TestCluster::real().await.with_crds().await },
        );
        Pair { embedded, real }
    }

    /// Runs `scenario` on both clusters at once: (embedded, real).
    pub async fn observe<F, Fut>(&self, scenario: F) -> (Value, Value)
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = Value>,
    {
        tokio::join!(
            scenario(self.embedded.client()),
            scenario(self.real.client())
        )
    }
}

/// Asserts the two observations are equal, listing where they are not.
#[track_caller]
pub fn assert_same(what: &str, (embedded, real): &(Value, Value)) {
    if std::env::var_os("CONFORMANCE_SHOW").is_some() {
        eprintln!("{what}, on both:\n{}", pretty(real));
    }
    let mut found = Vec::new();
    differences(embedded, real, "", &mut found);
    assert!(
        found.is_empty(),
        "{what}: the embedded server differs from kube-apiserver at\n{}\n--- embedded\n{}",
        found.join("\n"),
        pretty(embedded)
    );
}

fn differences(embedded: &Value, real: &Value, path: &str, out: &mut Vec<String>) {
    match (embedded, real) {
        (Value::Object(e), Value::Object(r)) => {
            for key in e.keys().chain(r.keys().filter(|k| !e.contains_key(*k))) {
                let here = format!("{path}/{key}");
                match (e.get(key), r.get(key)) {
                    (Some(a), Some(b)) => differences(a, b, &here, out),
                    (a, b) => {
                        out.push(format!("  {here}: embedded {} | real {}", show(a), show(b)))
                    }
                }
            }
        }
        (Value::Array(e), Value::Array(r)) if e.len() == r.len() => {
            for (i, (a, b)) in e.iter().zip(r).enumerate() {
                differences(a, b, &format!("{path}/{i}"), out);
            }
        }
        (a, b) if a != b => out.push(format!("  {path}: embedded {a} | real {b}")),
        _ => {}
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(absent)".into(), Value::to_string)
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// A request body and how it is sent.
pub enum Body {
    None,
    Json(Value),
    Merge(Value),
    Apply(Value),
    /// Bytes as they are, with this Content-Type.
    Raw(&'static str, Vec<u8>),
}

/// One HTTP exchange: status code and JSON body (a string if not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub body: Value,
}

/// Sends a raw request, whatever its status: both servers are asked the
/// same bytes, so the comparison covers status codes and Status objects.
pub async fn call(client: &Client, method: &str, path: &str, body: Body) -> Reply {
    let (content_type, bytes) = match body {
        Body::None => ("application/json", Vec::new()),
        Body::Json(v) => ("application/json", v.to_string().into_bytes()),
        Body::Merge(v) => ("application/merge-patch+json", v.to_string().into_bytes()),
        Body::Apply(v) => ("application/apply-patch+yaml", v.to_string().into_bytes()),
        Body::Raw(content_type, bytes) => (content_type, bytes),
    };
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(kube::client::Body::from(bytes))
        .expect("request");
    let response = client.send(request).await.expect("request sent");
    let code = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect_bytes()
        .await
        .expect("response body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply { code, body }
}

/// [`call`] that must answer `code`.
pub async fn expect(client: &Client, code: u16, method: &str, path: &str, body: Body) -> Value {
    let reply = call(client, method, path, body).await;
    assert_eq!(
        reply.code,
        code,
        "{method} {path} answered {}:\n{}",
        reply.code,
        pretty(&reply.body)
    );
    reply.body
}

pub const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
pub const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
pub const APPS: &str = "/apis/apps.kubeedge.io/v1alpha1/namespaces/default/edgeapplications";

/// A minimal Deployment (no defaults written by the client).
pub fn deployment(name: &str) -> Value {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
}

/// A minimal EdgeApplication.
pub fn edge_app(name: &str) -> Value {
    serde_json::json!({"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
        "metadata": {"name": name},
        "spec": {"workloadScope": {"targetNodeGroups": [{"name": "hangzhou"}]}}})
}

/// managedFields without the times: (manager, operation, subresource, fieldsV1), sorted.
pub fn managed(object: &Value) -> Value {
    let mut entries: Vec<Value> = object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| {
                    serde_json::json!([
                        e["manager"],
                        e["operation"],
                        e.get("subresource").cloned().unwrap_or(Value::Null),
                        e["fieldsV1"]
                    ])
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort_by_key(|e| e.to_string());
    Value::Array(entries)
}
