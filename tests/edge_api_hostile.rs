//! Hostile input over HTTP against the edge API: slow clients over plain
//! http and TLS, bodies sent to a read-only API, invalid selectors and
//! parameters, paths that are not UTF-8 or far too long, and more watches
//! than a token may hold. Each gets a Kubernetes `Status` with the right
//! code (a client that never finishes its headers or handshake: a closed
//! connection), and none keeps other clients from being served.
//!
//! On the embedded cluster only: what is tested is the edge API's own HTTP
//! surface, which answers all of this before the cluster behind it is
//! asked anything. `edge_api_security.rs` and `edge_api.rs` run on both.

mod support;

use std::time::Duration;

use edgedeck::edge_api::EdgeLimits;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use support::cluster::TestCluster;
use support::edge::{Fixture, Setup, fixture_with, slice};
use support::raw_http::{Target, connect, encode, request, request_bytes};

const LIMITS: EdgeLimits = EdgeLimits {
    header_timeout: Duration::from_secs(1),
    watches_per_token: 2,
    ..EdgeLimits::DEFAULT
};

const SLICES: &str = "/edge/hz-1/apis/discovery.k8s.io/v1/endpointslices";

async fn edge(tls: bool) -> Fixture {
    let cluster = TestCluster::embedded().await;
    fixture_with(
        cluster,
        Setup {
            tls,
            limits: LIMITS,
            ..Setup::default()
        },
    )
    .await
}

async fn still_serves(target: &Target) {
    let response = request(target, "GET", SLICES, &[], b"").await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.json()["kind"], "EndpointSliceList");
}

async fn slow_clients_are_cut_off_and_block_nobody(tls: bool) {
    let f = edge(tls).await;
    let hz = f.raw(Some("tok-hz-1"));
    let mut dribbling = connect(&hz).await;
    let dribble = tokio::spawn(async move {
        for byte in b"GET /edge/hz-1/api HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if !dribbling.write(&[*byte]).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    // connected, but never a byte of a request (or of a TLS handshake)
    let mut silent = tokio::net::TcpStream::connect(f.addr)
        .await
        .expect("connect");
    // and a crowd of them
    let mut crowd = Vec::new();
    for _ in 0..100 {
        crowd.push(
            tokio::net::TcpStream::connect(f.addr)
                .await
                .expect("connect"),
        );
    }
    for _ in 0..3 {
        still_serves(&hz).await;
    }
    let cut_off = tokio::time::timeout(Duration::from_secs(30), dribble)
        .await
        .expect("the dribbling client is cut off in time")
        .expect("join");
    assert!(cut_off, "headers that never end close the connection");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::AsyncReadExt::read(&mut silent, &mut byte),
    )
    .await
    .expect("the silent connection is closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "closed, not answered");
    still_serves(&hz).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_over_plain_http() {
    slow_clients_are_cut_off_and_block_nobody(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_over_tls() {
    slow_clients_are_cut_off_and_block_nobody(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_outlives_the_header_timeout() {
    let f = edge(true).await;
    let hz = f.raw(Some("tok-hz-1"));
    let mut watch = connect(&hz).await;
    let path = format!("{SLICES}?watch=true&timeoutSeconds=120");
    assert!(
        watch
            .write(&encode(&hz, "GET", path.as_bytes(), &[], b""))
            .await
    );
    assert_eq!(watch.head().await.expect("watch head").status, 200);
    // idle for several header timeouts: a streaming answer is not a request being read
    tokio::time::sleep(LIMITS.header_timeout * 3).await;
    Api::<EndpointSlice>::default_namespaced(f.upstream.clone())
        .create(&PostParams::default(), &slice("late", "api", &["hz-1"]))
        .await
        .expect("created upstream");
    let seen = watch.read_until("\"late\"").await;
    assert!(seen, "the watch is still open and gets the new slice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_refused_without_being_read() {
    let f = edge(true).await;
    let hz = f.raw(Some("tok-hz-1"));
    // a declared body far past any limit: answered before a byte of it
    let mut connection = connect(&hz).await;
    let head = format!(
        "POST {SLICES} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer tok-hz-1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        1u64 << 40
    );
    assert!(connection.write(head.as_bytes()).await);
    let response = connection.response().await.expect("an answer");
    assert_eq!(response.status_failure(405), "MethodNotAllowed");
    for (content_type, body) in [
        ("application/json", b"{not json".as_slice()),
        ("application/yaml", b"a: [unclosed".as_slice()),
        ("text/plain", b"hello".as_slice()),
        ("application/json", b"{\"a\": \"\xff\xfe\"}".as_slice()),
    ] {
        for method in ["POST", "PUT", "PATCH"] {
            let response =
                request(&hz, method, SLICES, &[("Content-Type", content_type)], body).await;
            assert_eq!(
                response.status_failure(405),
                "MethodNotAllowed",
                "{method} {content_type}"
            );
        }
    }
    // a body on a read is ignored
    let response = request(
        &hz,
        "GET",
        SLICES,
        &[("Content-Type", "text/plain")],
        b"\xff garbage",
    )
    .await;
    assert_eq!(response.status, 200);
    still_serves(&hz).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_selectors_and_parameters_are_400_unknown_ones_ignored() {
    let f = edge(true).await;
    let hz = f.raw(Some("tok-hz-1"));
    for query in [
        "labelSelector=a%20in%20(",
        "labelSelector=a,,b",
        "labelSelector=%3D%3Dx",
        "labelSelector=a%3D%ff",
        "labelSelector=a%3D%3Db%3Dc",
        "fieldSelector=spec.nodeName%3Dx",
        "fieldSelector=metadata.name",
        "watch=yes",
        "timeoutSeconds=-1&watch=true",
        "timeoutSeconds=99999999999999999999999&watch=true",
        "allowWatchBookmarks=maybe&watch=true",
    ] {
        let response = request(&hz, "GET", &format!("{SLICES}?{query}"), &[], b"").await;
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(response.status_failure(400), "BadRequest", "{query}");
    }
    for query in [
        "bogus=1",
        "pretty=true&limit=1",
        "x%00y=%ff",
        "continue=garbage",
    ] {
        let response = request(&hz, "GET", &format!("{SLICES}?{query}"), &[], b"").await;
        assert_eq!(response.status, 200, "{query}");
    }
    // the longest timeout there is opens a watch like any other
    let mut watch = connect(&hz).await;
    let path = format!("{SLICES}?watch=true&timeoutSeconds={}", u64::MAX);
    assert!(
        watch
            .write(&encode(&hz, "GET", path.as_bytes(), &[], b""))
            .await
    );
    assert_eq!(watch.head().await.expect("watch head").status, 200);
    assert!(watch.read_until("ADDED").await, "the watch streams");
    still_serves(&hz).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_paths_get_a_status_and_never_a_crash() {
    let f = edge(true).await;
    let hz = f.raw(Some("tok-hz-1"));
    let ns = "/edge/hz-1/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
    for (path, code) in [
        (format!("{ns}/%ff%fe"), 400),
        (format!("{ns}/caf%C3%A9"), 400),
        (format!("{ns}/{}", "a".repeat(8 * 1024)), 404),
        (format!("/edge/{}/api", "a".repeat(300)), 400),
        (format!("/edge/{}/api", "a.".repeat(200)), 400),
        (format!("{ns}/web-1/status"), 403),
        ("/edge/hz-1/api/v1/%00".to_owned(), 400),
    ] {
        let response = request(&hz, "GET", &path, &[], b"").await;
        response.status_failure(code);
    }
    // bytes that are not UTF-8 never reach a handler: the HTTP layer refuses them
    let mut raw = ns.as_bytes().to_vec();
    raw.extend_from_slice(b"/\xff\xfe");
    assert_eq!(request_bytes(&hz, "GET", &raw, &[], b"").await.status, 400);
    let huge = format!("{ns}/{}", "a".repeat(128 * 1024));
    assert_eq!(request(&hz, "GET", &huge, &[], b"").await.status, 414);
    let big = "b".repeat(1024 * 1024);
    let response = request(&hz, "GET", SLICES, &[("X-Big", &big)], b"").await;
    assert_eq!(response.status, 431);
    // a token header that is not visible ASCII is no token
    let response = request(
        &Target {
            token: None,
            ..hz.clone()
        },
        "GET",
        SLICES,
        &[("Authorization", "Bearer tok-hz-1\u{e9}")],
        b"",
    )
    .await;
    assert_eq!(response.status_failure(401), "Unauthorized");
    still_serves(&hz).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_beyond_a_tokens_cap_get_429_and_others_keep_theirs() {
    let f = edge(true).await;
    let hz = f.raw(Some("tok-hz-1"));
    let watch = |path: &str| format!("{path}?watch=true&timeoutSeconds=120");
    // filtered and passed-through watches count alike
    let mut open = Vec::new();
    for path in [SLICES, "/edge/hz-1/api/v1/nodes"] {
        let mut connection = connect(&hz).await;
        assert!(
            connection
                .write(&encode(&hz, "GET", watch(path).as_bytes(), &[], b""))
                .await
        );
        assert_eq!(connection.head().await.expect("head").status, 200, "{path}");
        open.push(connection);
    }
    let refused = request(&hz, "GET", &watch("/edge/hz-1/api/v1/endpoints"), &[], b"").await;
    assert_eq!(refused.status_failure(429), "TooManyRequests");
    let retry: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(retry >= 1);
    // lists are not watches, and another node's watches are its own
    still_serves(&hz).await;
    let bj = f.raw(Some("tok-bj-1"));
    let mut other = connect(&bj).await;
    let path = watch("/edge/bj-1/apis/discovery.k8s.io/v1/endpointslices");
    assert!(
        other
            .write(&encode(&bj, "GET", path.as_bytes(), &[], b""))
            .await
    );
    assert_eq!(other.head().await.expect("head").status, 200);
    // a watch that ends gives its place back
    drop(open.pop());
    support::eventually("hz-1's watch place frees up", || {
        let hz = hz.clone();
        let path = watch(SLICES);
        async move {
            let mut connection = connect(&hz).await;
            connection
                .write(&encode(&hz, "GET", path.as_bytes(), &[], b""))
                .await;
            (connection.head().await?.status == 200).then_some(())
        }
    })
    .await;
}
