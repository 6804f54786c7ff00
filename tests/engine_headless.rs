//! `edgedeck engine` as an operator runs it: the real binary against the
//! embedded cluster and a real control plane, reconciling, serving the edge API, and stopping on SIGTERM.

mod support;

use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use edgedeck::api::EdgeApplication;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, PostParams};
use support::real::free_port;
use support::{eventually, from_yaml_file};

fn engine(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .arg("engine")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("edgedeck engine starts")
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    child.wait().expect("engine exits")
}

on_both_clusters! {
async fn engine_reconciles_serves_the_edge_api_and_stops_on_sigterm(cluster) {
    let cluster = cluster.with_crds().await;
    let client = cluster.client();
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = cluster.kubeconfig().to_owned();

    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let (cert_file, key_file, tokens_file) = (
        dir.path().join("tls.crt"),
        dir.path().join("tls.key"),
        dir.path().join("tokens"),
    );
    std::fs::write(&cert_file, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).expect("write key");
    std::fs::write(&tokens_file, "# token node\nsecret-a node-a\n").expect("write tokens");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");

    let mut child = engine(&[
        "--kubeconfig",
        kubeconfig.to_str().expect("utf-8"),
        "--edge-api-listen",
        &listen,
        "--edge-api-tokens",
        tokens_file.to_str().expect("utf-8"),
        "--edge-api-tls-cert",
        cert_file.to_str().expect("utf-8"),
        "--edge-api-tls-key",
        key_file.to_str().expect("utf-8"),
    ]);

    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
    let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
    apps.create(&PostParams::default(), &app)
        .await
        .expect("app created");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    eventually("the engine process generated nginx-beijing", || async {
        deployments.get_opt("nginx-beijing").await.ok().flatten()
    })
    .await;

    // An edge node reads its filtered view with its token, over TLS.
    let ca = base64::engine::general_purpose::STANDARD.encode(cert.cert.pem());
    let edge_slices = |token: &str| {
        let edge_kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster: {{server: \"https://{listen}/edge/node-a\", certificate-authority-data: {ca}}}\n\
             users:\n- name: node-a\n  user: {{token: {token}}}\ncontexts:\n- name: edge\n  context: {{cluster: edge, user: node-a}}\ncurrent-context: edge\n"
        );
        async move {
            let config = kube::Config::from_custom_kubeconfig(
                kube::config::Kubeconfig::from_yaml(&edge_kubeconfig).expect("edge kubeconfig"),
                &Default::default(),
            )
            .await
            .expect("edge config");
            Api::<EndpointSlice>::all(kube::Client::try_from(config).expect("edge client"))
        }
    };
    let slices = edge_slices("secret-a").await;
    eventually("edge API answers node-a", || async {
        slices.list(&ListParams::default()).await.ok()
    })
    .await;

    // The token is rotated in the file, as a Secret volume update does it:
    // the running engine refuses the old one and accepts the new one.
    let next = dir.path().join("tokens.next");
    std::fs::write(&next, "secret-b node-a\n").expect("write tokens");
    std::fs::rename(&next, &tokens_file).expect("rotate tokens");
    match slices.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 401),
        other => panic!("the revoked token must get 401, got {other:?}"),
    }
    edge_slices("secret-b")
        .await
        .list(&ListParams::default())
        .await
        .expect("the rotated token works without a restart");

    let status = terminate(&mut child);
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
}
}

#[test]
fn edge_api_flags_are_checked_before_anything_starts() {
    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args(["engine", "--edge-api-listen", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--edge-api-tokens"));

    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "only-a-token\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args([
            "engine",
            "--edge-api-listen",
            "127.0.0.1:0",
            "--edge-api-tokens",
        ])
        .arg(&tokens)
        .arg("--edge-api-plain-http")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("edge API tokens") && stderr.contains("tokens:1: expected `TOKEN NODE`"),
        "{stderr}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .args([
            "engine",
            "--edge-api-listen",
            "127.0.0.1:0",
            "--edge-api-tokens",
        ])
        .arg(&tokens)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--edge-api-tls-cert"));
}
