//! An unmodified upstream kube-proxy (iptables mode) reads edgedeck's edge
//! API as one edge node and programs exactly the endpoints traffic closure
//! allows: for a `range-nodegroup` Service, those of the node's own group;
//! for any other Service, all of them. The rules are read back with
//! `iptables-save` inside a network namespace the test makes, on both the
//! embedded cluster and a real control plane.
//!
//! kube-proxy runs in its own network namespace so its rules never touch the
//! machine's; the edge API listens on that namespace's loopback (the socket
//! is made inside it) while its own connections to the cluster stay on the
//! host. Needs root, `ip`, `iptables` and `conntrack` (`.ci/run` installs them).

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use base64::Engine as _;
use edgedeck::api::{EdgeApplication, NodeGroup};
use edgedeck::controllers::{Engine, EngineOptions};
use edgedeck::edge_api::{EdgeTls, TokenMap, serve_tls_on};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::from_yaml_file;
use support::netns::Netns;
use tokio_util::sync::CancellationToken;

/// kube-proxy's first sync after start, and each resync after a change
/// (its minimum sync period is 1 s), plus the engine's relabel and eviction.
const PATIENCE: Duration = Duration::from_secs(60);
const EDGE_PORT: u16 = 16443;

struct KubeProxy {
    child: Child,
    log: PathBuf,
}

impl KubeProxy {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for KubeProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- kube-proxy (last lines) ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

async fn create_node(client: &Client, name: &str, location: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"location": location, "kubernetes.io/hostname": name}}}))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node created");
}

fn service(name: &str, closed: bool) -> Service {
    let annotations = if closed {
        json!({"apps.kubeedge.io/service-topology": "range-nodegroup"})
    } else {
        json!({})
    };
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"selector": {"app": "nginx"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}))
    .expect("service")
}

/// Ready, running nginx pods: IP → node.
async fn pod_ips(client: &Client) -> Vec<(String, String)> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let Ok(list) = pods.list(&ListParams::default().labels("app=nginx")).await else {
        return Vec::new();
    };
    list.items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .filter_map(|p| {
            let ip = p.status.as_ref()?.pod_ip.clone()?;
            let node = p.spec.as_ref()?.node_name.clone()?;
            Some((ip, node))
        })
        .collect()
}

/// The endpoint IPs kube-proxy programmed for `default/<service>`: the
/// DNAT targets of the rules its comments name after the Service.
fn programmed(rules: &str, service: &str) -> BTreeSet<String> {
    let tag = format!("--comment \"default/{service}");
    rules
        .lines()
        .filter(|l| {
            l.split_once(&tag)
                .is_some_and(|(_, rest)| rest.starts_with('"') || rest.starts_with(':'))
        })
        .filter_map(|l| l.split_once("--to-destination ").map(|(_, d)| d))
        .filter_map(|d| d.split_whitespace().next())
        .filter_map(|d| d.rsplit_once(':').map(|(ip, _)| ip.to_owned()))
        .collect()
}

fn ips_on(pods: &[(String, String)], nodes: &[&str]) -> BTreeSet<String> {
    pods.iter()
        .filter(|(_, node)| nodes.contains(&node.as_str()))
        .map(|(ip, _)| ip.clone())
        .collect()
}

/// Waits until kube-proxy's rules for `service` are exactly `want(pods)`,
/// recomputed from the live pods on each try (pods move while it converges).
async fn rules_become(
    ns: &Netns,
    proxy: &mut KubeProxy,
    client: &Client,
    service: &str,
    what: &str,
    want: impl Fn(&[(String, String)]) -> BTreeSet<String>,
) -> BTreeSet<String> {
    let mut last = String::new();
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("kube-proxy exited with {status}:\n{}", proxy.log());
            }
            let pods = pod_ips(client).await;
            let want = want(&pods);
            let rules = ns.exec("iptables-save", &["-t", "nat"]).unwrap_or_default();
            let got = programmed(&rules, service);
            if !want.is_empty() && got == want {
                return got;
            }
            last = format!("want {want:?}, programmed {got:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| {
        panic!("{what}: kube-proxy's rules for {service} never matched: {last}")
    })
}

on_both_clusters! {
    async fn kube_proxy_programs_only_its_groups_endpoints_and_follows_changes(cluster) {
        let cluster = cluster.with_crds().await;
        let client = cluster.client();
        for (name, location) in [("hz-1", "hangzhou"), ("hz-2", "hangzhou"), ("bj-1", "beijing"), ("bj-2", "beijing")] {
            create_node(&client, name, location).await;
        }
        let groups: Api<NodeGroup> = Api::all(client.clone());
        for group in edgedeck::manifests::read_file("examples/proposal/nodegroups.yaml").expect("groups") {
            groups
                .create(&PostParams::default(), &group.decode().expect("a NodeGroup"))
                .await
                .expect("group created");
        }
        let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), "default");
        let app: EdgeApplication = from_yaml_file("examples/proposal/edgeapplication.yaml");
        apps.create(&PostParams::default(), &app).await.expect("app created");
        let services: Api<Service> = Api::namespaced(client.clone(), "default");
        for (name, closed) in [("web-closed", true), ("web-open", false)] {
            services.create(&PostParams::default(), &service(name, closed)).await.expect("service");
        }
        let engine = Engine::spawn(client.clone(), EngineOptions::default());

        // The edge API, listening inside kube-proxy's namespace.
        let ns = Netns::new("edgedeck-kp");
        let listener = tokio::net::TcpListener::from_std(ns.listen(EDGE_PORT)).expect("listener");
        let material = EdgeTls::self_signed(&["127.0.0.1".into()]).expect("tls");
        let tokens = TokenMap::parse("tok-hz-1 hz-1\n").expect("tokens");
        let cancel = CancellationToken::new();
        tokio::spawn(serve_tls_on(listener, client.clone(), tokens, material.tls, cancel.clone()));

        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: edge\n  cluster:\n    server: https://127.0.0.1:{EDGE_PORT}/edge/hz-1\n    certificate-authority-data: {}\nusers:\n- name: hz-1\n  user:\n    token: tok-hz-1\ncontexts:\n- name: edge\n  context: {{cluster: edge, user: hz-1}}\ncurrent-context: edge\n",
            base64::engine::general_purpose::STANDARD.encode(&material.ca_pem),
        )).expect("kubeconfig");
        let log = dir.path().join("kube-proxy.log");
        let out = std::fs::File::create(&log).expect("log");
        let child = ns
            .command(support::real::assets().join("kube-proxy").to_str().expect("path"))
            .args([
                &format!("--kubeconfig={}", kubeconfig.display()),
                "--hostname-override=hz-1",
                "--proxy-mode=iptables",
                "--cluster-cidr=10.244.0.0/16",
                // conntrack limits are host-wide sysctls a namespace cannot set.
                "--conntrack-max-per-core=0",
                "--healthz-bind-address=127.0.0.1:10256",
                "--metrics-bind-address=127.0.0.1:10249",
                "--iptables-min-sync-period=0s",
            ])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("kube-proxy starts");
        let mut proxy = KubeProxy { child, log };

        let hangzhou = rules_become(&ns, &mut proxy, &client, "nginx-service",
            "range-nodegroup Service seen from hangzhou",
            |pods| ips_on(pods, &["hz-1", "hz-2"])).await;
        let all = rules_become(&ns, &mut proxy, &client, "web-open",
            "unannotated Service", |pods| ips_on(pods, &["hz-1", "hz-2", "bj-1", "bj-2"])).await;
        assert_eq!(hangzhou.len(), 2, "both hangzhou replicas: {hangzhou:?}");
        assert_eq!(all.len(), 5, "every replica: {all:?}");
        rules_become(&ns, &mut proxy, &client, "web-closed",
            "a second range-nodegroup Service", |pods| ips_on(pods, &["hz-1", "hz-2"])).await;

        // Removing the annotation opens the Service to every endpoint.
        services
            .patch("web-closed", &PatchParams::default(), &Patch::Merge(&json!({
                "metadata": {"annotations": {"apps.kubeedge.io/service-topology": null}}})))
            .await
            .expect("annotation removed");
        rules_become(&ns, &mut proxy, &client, "web-closed", "annotation removed",
            |pods| ips_on(pods, &["hz-1", "hz-2", "bj-1", "bj-2"])).await;

        // hz-1 moves to beijing: the engine relabels it, and kube-proxy, still
        // hz-1, now gets beijing's endpoints (and any pod on hz-1 itself).
        let nodes: Api<Node> = Api::all(client.clone());
        nodes
            .patch("hz-1", &PatchParams::default(), &Patch::Merge(&json!({
                "metadata": {"labels": {"location": "beijing"}}})))
            .await
            .expect("relabelled");
        let beijing = rules_become(&ns, &mut proxy, &client, "nginx-service", "hz-1 moved to beijing",
            |pods| {
                let hz1_group_nodes = ["hz-1", "bj-1", "bj-2"];
                pods.iter()
                    // Once in beijing, only beijing's pods (and hz-1's own) count.
                    .filter(|(_, node)| hz1_group_nodes.contains(&node.as_str()))
                    .map(|(ip, _)| ip.clone())
                    .collect()
            }).await;
        let pods = pod_ips(&client).await;
        assert!(
            beijing.is_disjoint(&ips_on(&pods, &["hz-2"])),
            "no endpoint of hangzhou's remaining node after the move: {beijing:?}"
        );

        cancel.cancel();
        engine.shutdown().await;
        drop(cluster);
    }
}

#[test]
fn programmed_reads_dnat_targets_of_one_service() {
    let rules = r#"
-A KUBE-SEP-AAA -s 10.244.0.5/32 -m comment --comment "default/nginx-service:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-AAA -p tcp -m comment --comment "default/nginx-service:http" -m tcp -j DNAT --to-destination 10.244.0.5:80
-A KUBE-SEP-BBB -p tcp -m comment --comment "default/nginx-service-2:http" -m tcp -j DNAT --to-destination 10.244.0.6:80
-A KUBE-SEP-CCC -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination 10.244.0.7:80
"#;
    assert_eq!(
        programmed(rules, "nginx-service"),
        BTreeSet::from(["10.244.0.5".to_owned()])
    );
    assert_eq!(
        programmed(rules, "web"),
        BTreeSet::from(["10.244.0.7".to_owned()])
    );
}
