//! Edge API security on the embedded cluster and on a real control plane:
//! a node's token reads that node's view and nothing else, however the path
//! is spelled; tokens rotate and are revoked without a restart; TLS is
//! required unless explicitly disabled; Secrets, ConfigMaps and writes never
//! get through; and one node over its rate limit does not slow the others.
//!
//! Requests are written by hand (`support::raw_http`) so that `..`, `//`
//! and percent-encodings reach the server exactly as sent.

mod support;

use std::path::Path;

use edgedeck::edge_api::{EdgeLimits, Tokens};
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, PostParams, WatchParams};
use serde_json::{Value, json};
use support::edge::{Setup, fixture, fixture_with, names};
use support::raw_http::{Response, Target, connect, request};

const SLICES: &str = "apis/discovery.k8s.io/v1/endpointslices";

/// The nodes of `web-1`'s endpoints in a list answer.
fn web_nodes(list: &Value) -> Option<Vec<String>> {
    let web = list["items"]
        .as_array()?
        .iter()
        .find(|i| i["metadata"]["name"] == "web-1")?;
    Some(
        web["endpoints"]
            .as_array()?
            .iter()
            .filter_map(|e| e["nodeName"].as_str().map(str::to_owned))
            .collect(),
    )
}

fn status_of(error: kube::Error) -> u16 {
    match error {
        kube::Error::Api(status) => status.code,
        other => panic!("expected an API status, got {other:?}"),
    }
}

/// Replaces the token file in one step, as a Secret volume update does.
fn replace_tokens(path: &Path, text: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, text).expect("write tokens");
    std::fs::rename(&next, path).expect("replace tokens");
}

async fn ends(mut stream: impl futures::Stream + Unpin, what: &str) {
    tokio::time::timeout(support::PATIENCE, async {
        while stream.next().await.is_some() {}
    })
    .await
    .unwrap_or_else(|_| panic!("{what} did not end"));
}

on_both_clusters! {
async fn a_token_never_reads_another_nodes_view(cluster) {
    let f = fixture(cluster).await;
    let hz = f.raw(Some("tok-hz-1"));
    let own = request(&hz, "GET", &format!("/edge/hz-1/{SLICES}"), &[], b"").await;
    assert_eq!(own.status, 200);
    let hangzhou = names(&["hz-1", "hz-2"]);
    assert_eq!(web_nodes(&own.json()), Some(hangzhou.clone()));

    let bj_path = format!("/edge/bj-1/{SLICES}");
    for (path, code) in [
        (bj_path.clone(), 403),
        (format!("{bj_path}/"), 403),
        (format!("{bj_path}?watch=true"), 403),
        ("/edge/bj-1".to_owned(), 403),
        ("/edge/bj-1/".to_owned(), 403),
        (format!("/edge/hz-1/../bj-1/{SLICES}"), 400),
        (format!("/edge/hz-1/./../bj-1/{SLICES}"), 400),
        (format!("/edge/hz-1/%2e%2e/bj-1/{SLICES}"), 400),
        (format!("/edge/hz-1/%2E%2E/bj-1/{SLICES}"), 400),
        (format!("/edge/hz-1%2F..%2Fbj-1/{SLICES}"), 400),
        (format!("/edge/hz-1%2fbj-1/{SLICES}"), 400),
        (format!("/edge/bj-1%00/{SLICES}"), 400),
        (format!("/edge/BJ-1/{SLICES}"), 400),
        (format!("/edge//bj-1/{SLICES}"), 400),
        (format!("/edge/./bj-1/{SLICES}"), 400),
        (format!("/edge/hz-1//{SLICES}"), 400),
        ("/edge/hz-1/apis//discovery.k8s.io/v1/endpointslices".to_owned(), 400),
        (format!("//edge/bj-1/{SLICES}"), 404),
        (format!("/Edge/bj-1/{SLICES}"), 404),
        (format!("/{SLICES}"), 404),
        // absolute-form request targets name the path too
        (format!("http://hz-1/edge/bj-1/{SLICES}"), 403),
    ] {
        let response = request(&hz, "GET", &path, &[], b"").await;
        response.status_failure(code);
        assert!(web_nodes(&response.json()).is_none(), "{path}");
    }
    // parameters that look like they choose a node are no more than unknown
    // parameters: the view stays the token's
    for query in ["node=bj-1", "nodeName=bj-1", "node=bj-1&node=hz-1", "edge=bj-1", "as=bj-1"] {
        let path = format!("/edge/hz-1/{SLICES}?{query}");
        let response = request(&hz, "GET", &path, &[], b"").await;
        assert_eq!(response.status, 200, "{query}");
        assert_eq!(web_nodes(&response.json()), Some(hangzhou.clone()), "{query}");
    }
    let trailing = request(&hz, "GET", &format!("/edge/hz-1/{SLICES}/"), &[], b"").await;
    assert_eq!(web_nodes(&trailing.json()), Some(hangzhou.clone()));
    // and bj-1's own token sees its own, different view
    let bj = request(&f.raw(Some("tok-bj-1")), "GET", &bj_path, &[], b"").await;
    assert_eq!(web_nodes(&bj.json()), Some(names(&["bj-1"])));

    // TLS is what the fixture serves: a plain-http request gets no answer
    let mut plain = connect(&Target { ca_pem: None, ..hz.clone() }).await;
    plain
        .write(format!("GET /edge/hz-1/{SLICES} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok-hz-1\r\n\r\n").as_bytes())
        .await;
    assert!(plain.head().await.is_none(), "no HTTP answer over plain TCP");
}

async fn tokens_rotate_and_are_revoked_without_a_restart(cluster) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tokens");
    std::fs::write(&path, "tok-hz-1 hz-1\ntok-bj-1 bj-1\n").expect("tokens");
    let tokens = Tokens::watch_file(&path).expect("valid token file");
    let f = fixture_with(cluster, Setup { tokens: Some(tokens), ..Setup::default() }).await;
    let old = f.node_client("hz-1");
    let slices: Api<EndpointSlice> = Api::all(old.clone());
    slices.list(&ListParams::default()).await.expect("the first token works");
    // watches of the token about to be revoked, filtered and passed through
    let filtered = slices
        .watch(&WatchParams::default().timeout(290), "0")
        .await
        .expect("filtered watch")
        .boxed();
    let nodes: Api<Node> = Api::all(old.clone());
    let rv = nodes
        .list(&ListParams::default())
        .await
        .expect("nodes")
        .metadata
        .resource_version
        .expect("version");
    let passed = nodes
        .watch(&WatchParams::default().timeout(290), &rv)
        .await
        .expect("passthrough watch")
        .boxed();

    // hz-1's token is rotated; bj-1's stays
    replace_tokens(&path, "tok-hz-1-next hz-1\ntok-bj-1 bj-1\n");
    let error = slices.list(&ListParams::default()).await.expect_err("revoked");
    assert_eq!(status_of(error), 401, "refused from the next request on");
    let rotated = f.edge("hz-1", Some("tok-hz-1-next"));
    Api::<EndpointSlice>::all(rotated.clone())
        .list(&ListParams::default())
        .await
        .expect("the new token works without a restart");
    Api::<EndpointSlice>::all(f.node_client("bj-1"))
        .list(&ListParams::default())
        .await
        .expect("other tokens are untouched");
    ends(filtered, "the revoked token's filtered watch").await;
    ends(passed, "the revoked token's passthrough watch").await;

    // a broken file keeps what was loaded last
    replace_tokens(&path, "tok-hz-1-next hz-1 and a typo\n");
    Api::<EndpointSlice>::all(rotated.clone())
        .list(&ListParams::default())
        .await
        .expect("still the tokens last loaded");
    // an edit in place is seen as well
    std::fs::write(&path, "tok-bj-1 bj-1\n").expect("edit in place");
    let error = Api::<EndpointSlice>::all(rotated)
        .list(&ListParams::default())
        .await
        .expect_err("revoked");
    assert_eq!(status_of(error), 401);
}

async fn secrets_configmaps_and_writes_never_get_through(cluster) {
    // a hundred requests in a row: above the default burst, which is tested below
    let limits = EdgeLimits {
        burst: 1000,
        ..EdgeLimits::DEFAULT
    };
    let f = fixture_with(cluster, Setup { limits, ..Setup::default() }).await;
    let pp = PostParams::default();
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db"},
        "stringData": {"password": "hunter2-secret"},
    }))
    .expect("secret");
    Api::<Secret>::default_namespaced(f.upstream.clone())
        .create(&pp, &secret)
        .await
        .expect("secret created");
    let config: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"key": "confidential-value"},
    }))
    .expect("configmap");
    Api::<ConfigMap>::default_namespaced(f.upstream.clone())
        .create(&pp, &config)
        .await
        .expect("configmap created");
    let hz = f.raw(Some("tok-hz-1"));
    let leaks = |response: &Response| {
        let body = String::from_utf8_lossy(&response.body).into_owned();
        // the Secret's value as stored (base64) and as given, the ConfigMap's value
        ["aHVudGVyMi1zZWNyZXQ=", "hunter2-secret", "confidential-value"]
            .iter()
            .any(|value| body.contains(value))
    };
    let ns = "/edge/hz-1/api/v1/namespaces/default";
    for (path, code) in [
        ("/edge/hz-1/api/v1/secrets".to_owned(), 403),
        (format!("{ns}/secrets"), 403),
        (format!("{ns}/secrets/db"), 403),
        (format!("{ns}/secrets?watch=true"), 403),
        ("/edge/hz-1/api/v1/watch/secrets".to_owned(), 403),
        ("/edge/hz-1/api/v1/configmaps".to_owned(), 403),
        (format!("{ns}/configmaps"), 403),
        (format!("{ns}/configmaps/cfg"), 403),
        (format!("{ns}/configmaps?watch=1"), 403),
        (format!("{ns}/pods"), 403),
        (format!("{ns}/serviceaccounts/default/token"), 403),
        (format!("{ns}/services/web/proxy"), 403),
        ("/edge/hz-1/api/v1/nodes/hz-1/proxy/configz".to_owned(), 403),
        (format!("{ns}/services/web/../../secrets/db"), 400),
        (format!("{ns}/services/%2e%2e/secrets/db"), 400),
        (format!("{ns}/services/web%2F..%2F..%2Fsecrets%2Fdb"), 400),
        (format!("{ns}/services//secrets"), 400),
    ] {
        let response = request(&hz, "GET", &path, &[], b"").await;
        response.status_failure(code);
        assert!(!leaks(&response), "{path}");
    }
    // what does pass through carries none of it either
    for path in [format!("{ns}/services"), "/edge/hz-1/api/v1/namespaces/default".to_owned()] {
        let response = request(&hz, "GET", &path, &[], b"").await;
        assert_eq!(response.status, 200, "{path}");
        assert!(!leaks(&response), "{path}");
    }

    // every write, to whatever path, is 405 and changes nothing
    let body = json!({"metadata": {"name": "evil", "labels": {"pwned": "true"}}}).to_string();
    let content_types = [
        ("POST", "application/json"),
        ("PUT", "application/json"),
        ("PATCH", "application/merge-patch+json"),
        ("PATCH", "application/apply-patch+yaml"),
        ("DELETE", "application/json"),
    ];
    for (method, content_type) in content_types {
        for path in [
            "/edge/hz-1/apis/discovery.k8s.io/v1/namespaces/default/endpointslices".to_owned(),
            "/edge/hz-1/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-1".to_owned(),
            format!("{ns}/endpoints/web"),
            format!("{ns}/services"),
            format!("{ns}/services/web"),
            "/edge/hz-1/api/v1/nodes/hz-1".to_owned(),
            format!("{ns}/secrets"),
            format!("{ns}/configmaps/cfg"),
            format!("{ns}/events"),
        ] {
            let response = request(&hz, method, &path, &[("Content-Type", content_type)], body.as_bytes()).await;
            assert_eq!(response.status_failure(405), "MethodNotAllowed", "{method} {path}");
        }
    }
    let services: Api<Service> = Api::default_namespaced(f.upstream.clone());
    assert!(services.get_opt("web").await.expect("get").is_some(), "web kept");
    assert!(services.get_opt("evil").await.expect("get").is_none(), "nothing created");
    let node = Api::<Node>::all(f.upstream.clone()).get("hz-1").await.expect("node");
    assert!(!node.metadata.labels.unwrap_or_default().contains_key("pwned"));
    let slice = Api::<EndpointSlice>::default_namespaced(f.upstream.clone())
        .get("web-1")
        .await
        .expect("slice kept");
    assert_eq!(slice.endpoints.len(), 3, "upstream unfiltered and unchanged");
    let config = Api::<ConfigMap>::default_namespaced(f.upstream.clone())
        .get("cfg")
        .await
        .expect("configmap kept");
    assert_eq!(config.metadata.labels, None);
}

async fn one_node_over_its_rate_limit_does_not_starve_the_others(cluster) {
    // a refill this slow cannot top a bucket up during the test
    let limits = EdgeLimits {
        requests_per_second: 0.01,
        burst: 5,
        ..EdgeLimits::DEFAULT
    };
    let f = fixture_with(cluster, Setup { limits, ..Setup::default() }).await;
    let noisy = f.raw(Some("tok-hz-1"));
    let path = format!("/edge/hz-1/{SLICES}");
    let mut served = 0;
    let refused = loop {
        let response = request(&noisy, "GET", &path, &[], b"").await;
        if response.status != 200 {
            break response;
        }
        served += 1;
        assert!(served <= limits.burst, "the burst is a limit");
    };
    assert_eq!(served, limits.burst);
    assert_eq!(refused.status_failure(429), "TooManyRequests");
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry_after > 1, "an empty bucket refills in ~100 s here: {retry_after}");
    assert_eq!(refused.json()["details"]["retryAfterSeconds"], retry_after);
    // requests for another node's view count against the same token
    let other = request(&noisy, "GET", &format!("/edge/bj-1/{SLICES}"), &[], b"").await;
    assert_eq!(other.status_failure(429), "TooManyRequests");
    // the other nodes are served all the while, each from its own bucket
    for node in ["bj-1", "hz-2"] {
        let quiet = f.raw(Some(&format!("tok-{node}")));
        for _ in 0..limits.burst {
            let response = request(&quiet, "GET", &format!("/edge/{node}/{SLICES}"), &[], b"").await;
            assert_eq!(response.status, 200, "{node}");
        }
    }
    // and so are requests without a valid token: 401, not 429
    let stranger = request(&f.raw(Some("nope")), "GET", &path, &[], b"").await;
    assert_eq!(stranger.status_failure(401), "Unauthorized");
    let still = request(&noisy, "GET", &path, &[], b"").await;
    assert_eq!(still.status_failure(429), "TooManyRequests");
}
}

/// The binary refuses to serve the edge API without a certificate unless
/// `--edge-api-plain-http` says so: tokens would travel in the clear.
#[test]
fn the_engine_requires_tls_for_the_edge_api_unless_plain_http_is_asked_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "tok-hz-1 hz-1\n").expect("tokens");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["engine", "--kubeconfig"])
        .arg(dir.path().join("no-kubeconfig"))
        .args(["--edge-api-listen", "127.0.0.1:0", "--edge-api-tokens"])
        .arg(&tokens)
        .output()
        .expect("edgedeck runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--edge-api-tls-cert") && stderr.contains("--edge-api-plain-http"),
        "{stderr}"
    );
    // a certificate with plain http is a contradiction clap refuses
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args([
            "engine",
            "--edge-api-listen",
            "127.0.0.1:0",
            "--edge-api-tokens",
        ])
        .arg(&tokens)
        .args([
            "--edge-api-plain-http",
            "--edge-api-tls-cert",
            "c",
            "--edge-api-tls-key",
            "k",
        ])
        .output()
        .expect("edgedeck runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
    // limits of zero would refuse every request: refused up front
    for (flag, value) in [
        ("--edge-api-qps", "0"),
        ("--edge-api-burst", "0"),
        ("--edge-api-qps", "NaN"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_edgedeck"))
            .args([
                "engine",
                "--edge-api-listen",
                "127.0.0.1:0",
                "--edge-api-tokens",
            ])
            .arg(&tokens)
            .args(["--edge-api-plain-http", flag, value])
            .output()
            .expect("edgedeck runs");
        assert!(!output.status.success(), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(flag),
            "{flag}"
        );
    }
}
