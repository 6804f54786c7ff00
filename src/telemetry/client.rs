//! Counting the engine's writes where they leave the process: a kube
//! [`Client`] whose every request passes through [`Metered`], which counts
//! the writing ones by resource and verb (`edgedeck_api_writes_total`).
//!
//! Counting at the client rather than at each call site means nothing is
//! missed (server-side applies, status patches, label patches, evictions,
//! prunes, Events, Lease renewals alike) and the controllers stay as they are.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request, Response, header};
use kube::Client;
use kube::client::Body;

use super::{Telemetry, WriteLabels};

/// `client`, with its writes counted into `telemetry`.
pub fn metered(client: Client, telemetry: Arc<Telemetry>) -> Client {
    let namespace = client.default_namespace().to_owned();
    Client::new(Metered { client, telemetry }, namespace)
}

#[derive(Clone)]
struct Metered {
    client: Client,
    telemetry: Arc<Telemetry>,
}

impl tower::Service<Request<Body>> for Metered {
    type Response = Response<Body>;
    type Error = kube::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, kube::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The inner client buffers; readiness is checked when it sends.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if let Some(labels) = write_labels(request.method(), request.uri().path(), content_type) {
            self.telemetry.wrote(&labels);
        }
        let client = self.client.clone();
        Box::pin(async move { client.send(request).await })
    }
}

/// The verb and resource of a write request; `None` for reads. The
/// resource is the path's plural, with its subresource (`pods/eviction`,
/// `nodegroups/status`), as kube-apiserver labels `apiserver_request_total`.
fn write_labels(method: &Method, path: &str, content_type: Option<&str>) -> Option<WriteLabels> {
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::DELETE => "delete",
        Method::PATCH if content_type.is_some_and(|c| c.starts_with("application/apply-patch")) => {
            "apply"
        }
        Method::PATCH => "patch",
        _ => return None,
    };
    Some(WriteLabels {
        resource: resource_of(path),
        verb,
    })
}

/// `/api/v1/namespaces/ns/pods/p/eviction` → `pods/eviction`;
/// `/apis/apps/v1/namespaces/ns/deployments/d` → `deployments`;
/// `/api/v1/namespaces/ns` → `namespaces`.
fn resource_of(path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return "other".to_owned(),
    };
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    match rest {
        [resource] | [resource, _] => (*resource).to_owned(),
        [resource, _, sub, ..] => format!("{resource}/{sub}"),
        [] => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(
        method: Method,
        path: &str,
        content_type: Option<&str>,
    ) -> Option<(String, &'static str)> {
        write_labels(&method, path, content_type).map(|l| (l.resource, l.verb))
    }

    #[test]
    fn writes_are_named_by_resource_and_verb() {
        assert_eq!(
            labels(
                Method::PATCH,
                "/apis/apps/v1/namespaces/default/deployments/nginx-beijing",
                Some("application/apply-patch+yaml")
            ),
            Some(("deployments".into(), "apply"))
        );
        assert_eq!(
            labels(
                Method::PATCH,
                "/apis/apps.kubeedge.io/v1alpha1/nodegroups/beijing/status",
                Some("application/merge-patch+json")
            ),
            Some(("nodegroups/status".into(), "patch"))
        );
        assert_eq!(
            labels(
                Method::POST,
                "/api/v1/namespaces/default/pods/p/eviction",
                None
            ),
            Some(("pods/eviction".into(), "create"))
        );
        assert_eq!(
            labels(
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/edgedeck-engine",
                None
            ),
            Some(("leases".into(), "update"))
        );
        assert_eq!(
            labels(Method::POST, "/api/v1/namespaces/default/events", None),
            Some(("events".into(), "create"))
        );
        assert_eq!(
            labels(Method::DELETE, "/api/v1/namespaces/edge", None),
            Some(("namespaces".into(), "delete"))
        );
    }

    #[test]
    fn reads_are_not_writes() {
        assert_eq!(labels(Method::GET, "/api/v1/nodes", None), None);
        assert_eq!(labels(Method::HEAD, "/api/v1/nodes", None), None);
    }

    #[test]
    fn odd_paths_stay_one_label() {
        assert_eq!(resource_of("/version"), "other");
        assert_eq!(resource_of("/apis/apps/v1"), "other");
    }
}
