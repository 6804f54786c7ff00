//! Which request paths the edge API serves, and how.
//!
//! Every path is `/edge/<node>/<kubernetes path>`. The Kubernetes path is
//! classified against an allowlist:
//!
//! - EndpointSlices (`discovery.k8s.io/v1`) and Endpoints (core `v1`) are
//!   [`Route::Filtered`]: served from the engine's stores, filtered for the node.
//! - Discovery documents (`/api`, `/apis/...`, `/version`, `/openapi/...`,
//!   health checks) and the resources kube-proxy reads besides those
//!   (`services`, `nodes`, `namespaces`, `networking.k8s.io` `servicecidrs`)
//!   are [`Route::Passthrough`], read-only, with the engine's credentials.
//! - Everything else is [`RouteError::NotServed`] (403). The engine's
//!   credentials can read far more (Secrets, Pods, …) than an edge node
//!   should; an allowlist keeps a node token from borrowing them. Subresources
//!   (`services/x/proxy`, `nodes/x/proxy`, …) are refused for the same reason,
//!   and any other version of EndpointSlices/Endpoints is refused rather than
//!   passed through unfiltered.
//!
//! The upstream path is rebuilt from validated segments, never copied from
//! the request, so `..` or encoded slashes cannot smuggle another path.

/// The two kinds served from the stores, filtered per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilteredKind {
    EndpointSlices,
    Endpoints,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Filtered {
        kind: FilteredKind,
        namespace: Option<String>,
        name: Option<String>,
    },
    /// Forward to the cluster at this path (query string kept as sent).
    Passthrough { path: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RouteError {
    #[error("the edge API serves only /edge/<node>/...")]
    NotEdge,
    #[error("{0:?} is not a valid node name (DNS-1123 subdomain)")]
    InvalidNode(String),
    #[error("invalid path segment {0:?}")]
    InvalidSegment(String),
    #[error("the edge API does not serve {0}")]
    NotServed(String),
    #[error("the server could not find the requested resource")]
    NotFound,
}

/// Splits `/edge/<node>/<rest>` into the node and the segments of `<rest>`.
///
/// A single trailing slash is ignored; empty segments (`//`), `.` and `..`
/// and characters outside `[A-Za-z0-9._-]` (which includes any
/// percent-encoding) are refused.
pub(crate) fn split_edge_path(path: &str) -> Result<(&str, Vec<&str>), RouteError> {
    let rest = path.strip_prefix("/edge/").ok_or(RouteError::NotEdge)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut segments = rest.split('/');
    let node = segments.next().unwrap_or_default();
    if !is_dns_subdomain(node) {
        return Err(RouteError::InvalidNode(node.to_owned()));
    }
    let segments: Vec<&str> = segments.collect();
    if let Some(bad) = segments.iter().find(|s| !valid_segment(s)) {
        return Err(RouteError::InvalidSegment((*bad).to_owned()));
    }
    Ok((node, segments))
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Classifies the Kubernetes path below `/edge/<node>`.
pub(crate) fn route(segments: &[&str]) -> Result<Route, RouteError> {
    let passthrough = || Route::Passthrough {
        path: format!("/{}", segments.join("/")),
    };
    let not_served = || RouteError::NotServed(format!("/{}", segments.join("/")));
    match segments {
        [] => Err(not_served()),
        ["version"] | ["api"] | ["api", _] | ["apis"] | ["apis", _] => Ok(passthrough()),
        ["openapi", ..] | ["healthz", ..] | ["livez", ..] | ["readyz", ..] => Ok(passthrough()),
        ["apis", _, _] => Ok(passthrough()),
        ["api", version, rest @ ..] => resource("", version, rest, passthrough, not_served),
        ["apis", group, version, rest @ ..] => {
            resource(group, version, rest, passthrough, not_served)
        }
        _ => Err(not_served()),
    }
}

/// The parts of `[namespaces/<ns>/]<resource>[/<name>]`.
fn resource(
    group: &str,
    version: &str,
    rest: &[&str],
    passthrough: impl Fn() -> Route,
    not_served: impl Fn() -> RouteError,
) -> Result<Route, RouteError> {
    let (namespace, resource, name) = match rest {
        ["namespaces", namespace, resource] => (Some(*namespace), *resource, None),
        ["namespaces", namespace, resource, name] => (Some(*namespace), *resource, Some(*name)),
        [resource] => (None, *resource, None),
        [resource, name] => (None, *resource, Some(*name)),
        // subresources, legacy /watch/ paths and anything deeper
        _ => return Err(not_served()),
    };
    let filtered = match (group, version, resource) {
        ("discovery.k8s.io", "v1", "endpointslices") => Some(FilteredKind::EndpointSlices),
        ("", "v1", "endpoints") => Some(FilteredKind::Endpoints),
        (_, _, "endpointslices" | "endpoints") => return Err(not_served()),
        _ => None,
    };
    if let Some(kind) = filtered {
        // A namespaced resource has no cluster-scoped object path.
        if namespace.is_none() && name.is_some() {
            return Err(RouteError::NotFound);
        }
        return Ok(Route::Filtered {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        });
    }
    let allowed = matches!(
        (group, version, resource),
        ("", "v1", "services" | "nodes" | "namespaces") | ("networking.k8s.io", _, "servicecidrs")
    );
    if allowed {
        Ok(passthrough())
    } else {
        Err(not_served())
    }
}

/// Kubernetes `IsDNS1123Subdomain`: node names must be one.
pub(crate) fn is_dns_subdomain(name: &str) -> bool {
    crate::api::validate_name(name, crate::api::NameRule::Subdomain).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(path: &str) -> Result<Route, RouteError> {
        let (_, segments) = split_edge_path(path)?;
        route(&segments)
    }

    fn filtered(kind: FilteredKind, namespace: Option<&str>, name: Option<&str>) -> Route {
        Route::Filtered {
            kind,
            namespace: namespace.map(String::from),
            name: name.map(String::from),
        }
    }

    fn passthrough(path: &str) -> Route {
        Route::Passthrough { path: path.into() }
    }

    #[test]
    fn splits_node_and_segments() {
        assert_eq!(
            split_edge_path("/edge/hz-1/api/v1/services"),
            Ok(("hz-1", vec!["api", "v1", "services"]))
        );
        assert_eq!(
            split_edge_path("/edge/hz-1/api/"),
            Ok(("hz-1", vec!["api"]))
        );
        assert_eq!(
            split_edge_path("/edge/node.example.com"),
            Ok(("node.example.com", vec![]))
        );
        assert_eq!(
            split_edge_path("/api/v1/services"),
            Err(RouteError::NotEdge)
        );
        assert_eq!(split_edge_path("/edge"), Err(RouteError::NotEdge));
    }

    #[test]
    fn refuses_invalid_node_names_and_segments() {
        for node in ["", "HZ-1", "-a", "a-", "a..b", "a_b", "a%2Fb"] {
            assert_eq!(
                split_edge_path(&format!("/edge/{node}/api")),
                Err(RouteError::InvalidNode(node.into())),
                "{node}"
            );
        }
        let long = "a".repeat(254);
        assert!(matches!(
            split_edge_path(&format!("/edge/{long}/api")),
            Err(RouteError::InvalidNode(_))
        ));
        for bad in ["..", ".", "a%2F", ""] {
            assert_eq!(
                split_edge_path(&format!("/edge/n/api/v1/{bad}/x")),
                Err(RouteError::InvalidSegment(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn dns_subdomain_rules() {
        assert!(is_dns_subdomain("a"));
        assert!(is_dns_subdomain("edge-1.hz.example"));
        assert!(is_dns_subdomain("0abc"));
        assert!(is_dns_subdomain(&"a".repeat(253)));
        assert!(!is_dns_subdomain(&"a".repeat(254)));
        assert!(!is_dns_subdomain("a."));
        assert!(!is_dns_subdomain(".a"));
        assert!(!is_dns_subdomain("a b"));
        assert!(!is_dns_subdomain("ä"));
    }

    #[test]
    fn routes_endpoint_slices_and_endpoints_to_the_filter() {
        use FilteredKind::*;
        assert_eq!(
            routed("/edge/n/apis/discovery.k8s.io/v1/endpointslices"),
            Ok(filtered(EndpointSlices, None, None))
        );
        assert_eq!(
            routed("/edge/n/apis/discovery.k8s.io/v1/namespaces/edge/endpointslices"),
            Ok(filtered(EndpointSlices, Some("edge"), None))
        );
        assert_eq!(
            routed("/edge/n/apis/discovery.k8s.io/v1/namespaces/edge/endpointslices/web-x"),
            Ok(filtered(EndpointSlices, Some("edge"), Some("web-x")))
        );
        assert_eq!(
            routed("/edge/n/api/v1/endpoints"),
            Ok(filtered(Endpoints, None, None))
        );
        assert_eq!(
            routed("/edge/n/api/v1/namespaces/default/endpoints/kubernetes"),
            Ok(filtered(Endpoints, Some("default"), Some("kubernetes")))
        );
        assert_eq!(
            routed("/edge/n/api/v1/endpoints/kubernetes"),
            Err(RouteError::NotFound)
        );
    }

    #[test]
    fn never_passes_endpoints_through_unfiltered() {
        for path in [
            "/edge/n/apis/discovery.k8s.io/v1beta1/endpointslices",
            "/edge/n/apis/example.com/v1/endpointslices",
            "/edge/n/api/v2/endpoints",
            "/edge/n/api/v1/namespaces/a/endpoints/b/status",
            "/edge/n/api/v1/watch/namespaces/a/endpoints",
        ] {
            assert!(
                matches!(routed(path), Err(RouteError::NotServed(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn passes_discovery_and_kube_proxy_reads_through() {
        for (path, upstream) in [
            ("/edge/n/version", "/version"),
            ("/edge/n/api", "/api"),
            ("/edge/n/api/v1", "/api/v1"),
            ("/edge/n/apis", "/apis"),
            ("/edge/n/apis/discovery.k8s.io", "/apis/discovery.k8s.io"),
            (
                "/edge/n/apis/discovery.k8s.io/v1",
                "/apis/discovery.k8s.io/v1",
            ),
            (
                "/edge/n/openapi/v3/apis/apps/v1",
                "/openapi/v3/apis/apps/v1",
            ),
            ("/edge/n/healthz", "/healthz"),
            ("/edge/n/api/v1/services", "/api/v1/services"),
            (
                "/edge/n/api/v1/namespaces/a/services/web",
                "/api/v1/namespaces/a/services/web",
            ),
            ("/edge/n/api/v1/nodes/n", "/api/v1/nodes/n"),
            (
                "/edge/n/api/v1/namespaces/kube-system",
                "/api/v1/namespaces/kube-system",
            ),
            (
                "/edge/n/apis/networking.k8s.io/v1/servicecidrs",
                "/apis/networking.k8s.io/v1/servicecidrs",
            ),
        ] {
            assert_eq!(routed(path), Ok(passthrough(upstream)), "{path}");
        }
    }

    #[test]
    fn refuses_other_resources_and_subresources() {
        for path in [
            "/edge/n",
            "/edge/n/api/v1/secrets",
            "/edge/n/api/v1/namespaces/a/secrets/b",
            "/edge/n/api/v1/namespaces/a/pods",
            "/edge/n/apis/apps/v1/deployments",
            "/edge/n/api/v1/namespaces/a/services/web/proxy",
            "/edge/n/api/v1/nodes/n/proxy",
            "/edge/n/api/v1/nodes/n/proxy/metrics",
            "/edge/n/metrics",
        ] {
            assert!(
                matches!(routed(path), Err(RouteError::NotServed(_))),
                "{path}"
            );
        }
    }
}
