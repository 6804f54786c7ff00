//! Hostile input over HTTP against the embedded API server: malformed,
//! truncated, oversized and deeply nested bodies, wrong content types,
//! invalid selectors, traversal in paths, bytes that are not UTF-8, slow
//! clients and too many watches. Each is answered with a Kubernetes `Status`
//! of the right code (or, for a client that never finishes its headers, a
//! closed connection), and none keeps the server from answering others.
//!
//! The edge API's side is in `edge_api_hostile.rs`.

mod support;

use std::time::Duration;

use edgedeck::embedded::{ClusterOptions, HttpLimits, RunningCluster, start};
use serde_json::json;
use support::raw_http::{Target, connect, encode, request, request_bytes};

const LIMITS: HttpLimits = HttpLimits {
    header_timeout: Duration::from_secs(1),
    body_timeout: Duration::from_secs(1),
    max_watches: 3,
};

async fn cluster() -> (RunningCluster, Target) {
    let cluster = start(ClusterOptions {
        limits: LIMITS,
        ..ClusterOptions::default()
    })
    .await
    .expect("embedded cluster starts");
    let target = Target {
        addr: cluster.addr(),
        ca_pem: Some(cluster.ca_pem().to_owned()),
        token: Some(cluster.token().to_owned()),
    };
    (cluster, target)
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const JSON: (&str, &str) = ("Content-Type", "application/json");
const YAML: (&str, &str) = ("Content-Type", "application/yaml");

fn configmap(name: &str) -> Vec<u8> {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}})
        .to_string()
        .into_bytes()
}

/// A normal request still succeeds: the server is not wedged.
async fn still_serves(target: &Target) {
    let response = request(target, "GET", CONFIGMAPS, &[], b"").await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.json()["kind"], "ConfigMapList");
}

#[tokio::test]
async fn malformed_and_truncated_bodies_are_bad_requests() {
    let (_cluster, target) = cluster().await;
    let whole = configmap("whole");
    let cases: Vec<(&str, (&str, &str), Vec<u8>)> = vec![
        ("not JSON", JSON, b"{not json".to_vec()),
        ("truncated JSON", JSON, whole[..whole.len() / 2].to_vec()),
        ("a JSON scalar", JSON, b"42".to_vec()),
        (
            "malformed YAML",
            YAML,
            b"metadata: [unclosed\n  name: x".to_vec(),
        ),
        (
            "truncated YAML",
            YAML,
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x".to_vec(),
        ),
        (
            "invalid UTF-8 in YAML",
            YAML,
            b"metadata:\n  name: \xff\xfe\n".to_vec(),
        ),
        (
            "a lone surrogate",
            JSON,
            br#"{"metadata": {"name": "\ud800"}}"#.to_vec(),
        ),
    ];
    for (what, content_type, body) in cases {
        let response = request(&target, "POST", CONFIGMAPS, &[content_type], &body).await;
        let reason = response.status_failure(400);
        assert_eq!(reason, "BadRequest", "{what}");
    }
    // as kube-apiserver does, bytes that are not UTF-8 in JSON are read as
    // U+FFFD, which no name may hold
    let response = request(
        &target,
        "POST",
        CONFIGMAPS,
        &[JSON],
        b"{\"metadata\": {\"name\": \"\xff\xfe\"}}",
    )
    .await;
    assert_eq!(response.status_failure(422), "Invalid");
    // a body shorter than its Content-Length, then the client stops sending
    let mut connection = connect(&target).await;
    let mut bytes = encode(&target, "POST", CONFIGMAPS.as_bytes(), &[JSON], &whole);
    bytes.truncate(bytes.len() - 10);
    assert!(connection.write(&bytes).await);
    match connection.response().await {
        Some(response) => {
            assert_eq!(response.status_failure(408), "Timeout");
        }
        None => panic!("a truncated body gets a Status, not a silent close"),
    }
    still_serves(&target).await;
    let names = request(&target, "GET", CONFIGMAPS, &[], b"").await.json();
    assert_eq!(names["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let (_cluster, target) = cluster().await;
    let body = configmap("typed");
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "image/png",
        "application/vnd.kubernetes.protobuf",
    ] {
        let response = request(
            &target,
            "POST",
            CONFIGMAPS,
            &[("Content-Type", content_type)],
            &body,
        )
        .await;
        assert_eq!(
            response.status_failure(415),
            "UnsupportedMediaType",
            "{content_type}"
        );
    }
    let created = request(&target, "POST", CONFIGMAPS, &[JSON], &body).await;
    assert_eq!(created.status, 201);
    // a patch with a content type that names no patch format
    let patch = br#"{"data": {"a": "c"}}"#;
    for content_type in ["application/json", "text/plain"] {
        let response = request(
            &target,
            "PATCH",
            &format!("{CONFIGMAPS}/typed"),
            &[("Content-Type", content_type)],
            patch,
        )
        .await;
        assert_eq!(
            response.status_failure(415),
            "UnsupportedMediaType",
            "{content_type}"
        );
    }
    // no content type at all is read as JSON, as kube-apiserver does
    let response = request(&target, "POST", CONFIGMAPS, &[], &configmap("untyped")).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let (_cluster, target) = cluster().await;
    let limit = edgedeck::embedded::MAX_BODY_BYTES;
    // declared too large: refused before a byte of the body is read
    let mut connection = connect(&target).await;
    let head = format!(
        "POST {CONFIGMAPS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        target.token.as_deref().unwrap_or_default(),
        limit + 1
    );
    assert!(connection.write(head.as_bytes()).await);
    let response = connection
        .response()
        .await
        .expect("an answer without the body");
    assert_eq!(response.status_failure(413), "RequestEntityTooLarge");
    // chunked, so the size shows only while reading; one byte over the
    // limit and no more, so that the server has read all that was sent when
    // it answers (unread bytes at close would reset the connection and could
    // take the answer with them)
    let big = vec![b'x'; limit + 1];
    let mut connection = connect(&target).await;
    let head = format!(
        "POST {CONFIGMAPS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        target.token.as_deref().unwrap_or_default(),
    );
    assert!(connection.write(head.as_bytes()).await);
    for chunk in big.chunks(256 * 1024) {
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(chunk);
        framed.extend_from_slice(b"\r\n");
        assert!(
            connection.write(&framed).await,
            "the server reads up to the limit"
        );
    }
    let response = connection.response().await.expect("an answer");
    assert_eq!(response.status_failure(413), "RequestEntityTooLarge");
    still_serves(&target).await;
}

#[tokio::test]
async fn deep_nesting_is_refused_without_a_crash() {
    let (_cluster, target) = cluster().await;
    let depth = 100_000;
    let json_bomb = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"deep\"}},\"x\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let response = request(&target, "POST", CONFIGMAPS, &[JSON], json_bomb.as_bytes()).await;
    assert_eq!(response.status_failure(400), "BadRequest");
    let yaml_bomb = format!(
        "metadata:\n  name: deep\nx: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let response = request(&target, "POST", CONFIGMAPS, &[YAML], yaml_bomb.as_bytes()).await;
    assert_eq!(response.status_failure(400), "BadRequest");
    // the same through a patch body
    request(&target, "POST", CONFIGMAPS, &[JSON], &configmap("target")).await;
    let response = request(
        &target,
        "PATCH",
        &format!("{CONFIGMAPS}/target"),
        &[("Content-Type", "application/merge-patch+json")],
        format!("{{\"x\":{}{}}}", "{\"a\":".repeat(depth), "}".repeat(depth)).as_bytes(),
    )
    .await;
    assert_eq!(response.status_failure(400), "BadRequest");
    still_serves(&target).await;
}

#[tokio::test]
async fn invalid_selectors_are_400_and_unknown_parameters_are_ignored() {
    let (_cluster, target) = cluster().await;
    for query in [
        "labelSelector=a%20in%20(",
        "labelSelector=a,,b",
        "labelSelector=%3D%3Dx",
        "labelSelector=a%3D%ff",
        "fieldSelector=spec.nodeName%3Dx",
        "fieldSelector=metadata.name",
        "limit=-x",
        "timeoutSeconds=soon&watch=true",
        "resourceVersion=abc&watch=true",
    ] {
        let response = request(&target, "GET", &format!("{CONFIGMAPS}?{query}"), &[], b"").await;
        assert_eq!(response.status, 400, "{query}");
        assert_eq!(response.status_failure(400), "BadRequest", "{query}");
    }
    // like kube-apiserver, parameters it does not know are ignored
    let response = request(
        &target,
        "GET",
        &format!("{CONFIGMAPS}?bogus=1&pretty=true&x%00y=%ff"),
        &[],
        b"",
    )
    .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    // the longest timeout there is opens a watch like any other
    let mut watch = connect(&target).await;
    let path = format!("{CONFIGMAPS}?watch=true&timeoutSeconds={}", u64::MAX);
    assert!(
        watch
            .write(&encode(&target, "GET", path.as_bytes(), &[], b""))
            .await
    );
    assert_eq!(watch.head().await.expect("watch head").status, 200);
    request(&target, "POST", CONFIGMAPS, &[JSON], &configmap("seen")).await;
    assert!(watch.read_until("\"seen\"").await, "the watch streams");
    still_serves(&target).await;
}

#[tokio::test]
async fn paths_cannot_traverse_and_bad_names_are_refused() {
    let (_cluster, target) = cluster().await;
    let secret = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "secret", "namespace": "kube-system"}});
    let created = request(
        &target,
        "POST",
        "/api/v1/namespaces/kube-system/configmaps",
        &[JSON],
        secret.to_string().as_bytes(),
    )
    .await;
    assert_eq!(created.status, 201);
    // names that could move the path elsewhere are refused, decoded or not
    // (kube-apiserver decodes the path first, too)
    for path in [
        "/api/v1/namespaces/default/configmaps/..",
        "/api/v1/namespaces/default/configmaps/.",
        "/api/v1/namespaces/default/configmaps/%2e%2e",
        "/api/v1/namespaces/default/configmaps/a%25b",
        "/api/v1/namespaces/%2e%2e/configmaps",
        "/api/v1/namespaces/%2E%2E/configmaps/secret",
    ] {
        let response = request(&target, "GET", path, &[], b"").await;
        assert_eq!(response.status_failure(400), "BadRequest", "{path}");
    }
    // and traversal reaches nothing: another namespace's object stays out of reach
    for path in [
        "/api/v1/namespaces/default/configmaps/../../kube-system/configmaps/secret",
        "/api/v1/namespaces/default/configmaps/..%2F..%2Fkube-system%2Fconfigmaps%2Fsecret",
        "/api/v1/namespaces/default/../kube-system/configmaps/secret",
        "/api/v1/namespaces/default/configmaps/%2e%2e/%2e%2e/kube-system/configmaps/secret",
        "/api/v1/namespaces/default//configmaps/secret",
        "//api/v1/namespaces/kube-system/configmaps/secret",
        "/api/v1/namespaces/default/configmaps/secret",
    ] {
        let response = request(&target, "GET", path, &[], b"").await;
        assert_eq!(response.status_failure(404), "NotFound", "{path}");
    }
    // what an overlong or non-UTF-8 name in a path reaches: nothing
    let long = format!("{CONFIGMAPS}/{}", "a".repeat(8 * 1024));
    let response = request(&target, "GET", &long, &[], b"").await;
    assert_eq!(response.status_failure(404), "NotFound");
    // a path past what the HTTP layer reads at all is refused there (414)
    let huge = format!("{CONFIGMAPS}/{}", "a".repeat(128 * 1024));
    let response = request(&target, "GET", &huge, &[], b"").await;
    assert_eq!(response.status, 414);
    // and so are headers past it (431)
    let big = "b".repeat(1024 * 1024);
    let response = request(&target, "GET", CONFIGMAPS, &[("X-Big", &big)], b"").await;
    assert_eq!(response.status, 431);
    let response = request(&target, "GET", &format!("{CONFIGMAPS}/%ff%fe"), &[], b"").await;
    assert_eq!(response.status_failure(404), "NotFound");
    // raw bytes that are not UTF-8 never reach a handler
    let mut raw = CONFIGMAPS.as_bytes().to_vec();
    raw.extend_from_slice(b"/\xff\xfe");
    let response = request_bytes(&target, "GET", &raw, &[], b"").await;
    assert_eq!(response.status, 400);
    // names that are not DNS subdomains or too long are invalid on create
    for name in ["..", ".", "a/b", "%2e%2e", "A", &"a".repeat(254)] {
        let response = request(&target, "POST", CONFIGMAPS, &[JSON], &configmap(name)).await;
        assert_eq!(response.status_failure(422), "Invalid", "{name:?}");
    }
    still_serves(&target).await;
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_blocks_nobody() {
    let (_cluster, target) = cluster().await;
    // headers a byte at a time, never finished
    let mut slow = connect(&target).await;
    let dribble = tokio::spawn(async move {
        for byte in b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if !slow.write(&[*byte]).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    // a body that trickles after complete headers
    let mut trickle = connect(&target).await;
    let body = configmap("slow");
    let head = encode(&target, "POST", CONFIGMAPS.as_bytes(), &[JSON], &body);
    let head_len = head.len() - body.len();
    assert!(trickle.write(&head[..head_len]).await);
    let trickled = tokio::spawn(async move {
        for byte in &body[..body.len() / 2] {
            if !trickle.write(&[*byte]).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        trickle.response().await
    });
    // and a crowd that connects and sends nothing at all
    let mut crowd = Vec::new();
    for _ in 0..100 {
        crowd.push(
            tokio::net::TcpStream::connect(target.addr)
                .await
                .expect("connect"),
        );
    }
    // while they all hold their connections, others are served
    for _ in 0..3 {
        still_serves(&target).await;
    }
    let cut_off = tokio::time::timeout(Duration::from_secs(30), dribble)
        .await
        .expect("the dribbling client is cut off in time")
        .expect("join");
    assert!(
        cut_off,
        "the server closes a connection whose headers never end"
    );
    let response = tokio::time::timeout(Duration::from_secs(30), trickled)
        .await
        .expect("the trickling body is cut off in time")
        .expect("join")
        .expect("a Status for a body that does not arrive");
    assert_eq!(response.status_failure(408), "Timeout");
    still_serves(&target).await;
}

#[tokio::test]
async fn watches_beyond_the_cap_get_429_with_retry_after() {
    let (_cluster, target) = cluster().await;
    let watch = format!("{CONFIGMAPS}?watch=true&timeoutSeconds=60");
    let mut open = Vec::new();
    for _ in 0..LIMITS.max_watches {
        let mut connection = connect(&target).await;
        assert!(
            connection
                .write(&encode(&target, "GET", watch.as_bytes(), &[], b""))
                .await
        );
        let head = connection.head().await.expect("watch head");
        assert_eq!(head.status, 200);
        open.push(connection);
    }
    let refused = request(&target, "GET", &watch, &[], b"").await;
    assert_eq!(refused.status_failure(429), "TooManyRequests");
    let retry: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry >= 1);
    // lists and gets are not watches: still served
    still_serves(&target).await;
    // an idle watch outlives the header timeout: a streaming answer is not a
    // request being read
    tokio::time::sleep(LIMITS.header_timeout * 3).await;
    request(&target, "POST", CONFIGMAPS, &[JSON], &configmap("late")).await;
    for connection in &mut open {
        assert!(
            connection.read_until("\"late\"").await,
            "the watch is still open"
        );
    }
    // a closed watch frees its place
    drop(open.pop());
    support::eventually("a watch place frees up", || {
        let target = target.clone();
        let watch = watch.clone();
        async move {
            let mut connection = connect(&target).await;
            connection
                .write(&encode(&target, "GET", watch.as_bytes(), &[], b""))
                .await;
            (connection.head().await?.status == 200).then_some(())
        }
    })
    .await;
}
