//! The edge API in front of a test cluster: three nodes in two groups, a
//! closed (range-nodegroup) and an open Service with slices and Endpoints on
//! every node, and a token per node.

use edgedeck::api::{ANNOTATION_SERVICE_TOPOLOGY, LABEL_BELONGING_TO, LABEL_SERVICE_NAME};
use edgedeck::edge_api::{EdgeLimits, EdgeTls, ServeOptions, TokenMap, Tokens, serve_listener};
use k8s_openapi::api::core::v1::{Endpoints, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::cluster::TestCluster;
use super::raw_http::Target;

pub const TOKENS: &str = "\
# edge nodes
tok-hz-1 hz-1
tok-hz-2 hz-2
tok-bj-1 bj-1
";

pub struct Fixture {
    pub cluster: TestCluster,
    pub upstream: Client,
    pub edge_url: String,
    pub addr: std::net::SocketAddr,
    /// The CA of the edge API's certificate (PEM, DER); None over plain http.
    pub ca: Option<(String, Vec<u8>)>,
    pub cancel: CancellationToken,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Fixture {
    /// A client for `/edge/<node>` with `token` (None: no credentials).
    pub fn edge(&self, node: &str, token: Option<&str>) -> Client {
        let uri = format!("{}/edge/{node}", self.edge_url)
            .parse()
            .expect("edge url");
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        if let Some((_, der)) = &self.ca {
            config.root_cert = Some(vec![der.clone()]);
        }
        if let Some(token) = token {
            config.auth_info = serde_json::from_value(json!({"token": token})).expect("auth");
        }
        Client::try_from(config).expect("edge client")
    }

    pub fn node_client(&self, node: &str) -> Client {
        self.edge(node, Some(&format!("tok-{node}")))
    }

    /// Raw HTTP to the edge API with `token`.
    pub fn raw(&self, token: Option<&str>) -> Target {
        Target {
            addr: self.addr,
            ca_pem: self.ca.as_ref().map(|(pem, _)| pem.clone()),
            token: token.map(str::to_owned),
        }
    }
}

/// How the fixture serves the edge API.
pub struct Setup {
    pub tls: bool,
    /// [`TOKENS`] when None.
    pub tokens: Option<Tokens>,
    pub limits: EdgeLimits,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            tls: true,
            tokens: None,
            limits: EdgeLimits::DEFAULT,
        }
    }
}

pub fn node(name: &str, group: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {LABEL_BELONGING_TO: group}},
    }))
    .expect("node")
}

pub fn service(name: &str, closed: bool) -> Service {
    let annotations = if closed {
        json!({ANNOTATION_SERVICE_TOPOLOGY: "range-nodegroup"})
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"ports": [{"port": 80, "protocol": "TCP"}]},
    }))
    .expect("service")
}

/// One endpoint per node, address 10.0.<i>.1.
pub fn slice(name: &str, service: &str, nodes: &[&str]) -> EndpointSlice {
    let endpoints: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"addresses": [format!("10.0.{i}.1")], "nodeName": n, "conditions": {"ready": true}}))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {LABEL_SERVICE_NAME: service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"port": 80, "protocol": "TCP", "name": ""}],
    }))
    .expect("slice")
}

/// `skip_mirror` on the real control plane: the fixture's slices are made by
/// hand, and kube-controller-manager's mirroring controller would otherwise
/// mirror these selector-less Endpoints into a slice of its own at a moment
/// of its choosing, which open watches would see arrive. The embedded
/// simulator has no mirroring controller and reads that label as its
/// endpoints controller's own mark, so it is not set there.
pub fn legacy_endpoints(name: &str, nodes: &[&str], skip_mirror: bool) -> Endpoints {
    let addresses: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"ip": format!("10.1.{i}.1"), "nodeName": n}))
        .collect();
    let labels = if skip_mirror {
        json!({"endpointslice.kubernetes.io/skip-mirror": "true"})
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name, "labels": labels},
        "subsets": [{"addresses": addresses, "ports": [{"port": 80}]}],
    }))
    .expect("endpoints")
}

/// hz-1, hz-2 in hangzhou, bj-1 in beijing; Service `web` closed
/// (range-nodegroup), `api` open; each with a slice and Endpoints on all
/// three. The edge API serves https with a throwaway CA.
pub async fn fixture(cluster: TestCluster) -> Fixture {
    fixture_with(cluster, Setup::default()).await
}

pub async fn fixture_with(cluster: TestCluster, setup: Setup) -> Fixture {
    let upstream = cluster.client();
    let is_real = cluster.is_real();
    let pp = PostParams::default();
    let nodes: Api<Node> = Api::all(upstream.clone());
    for (name, group) in [
        ("hz-1", "hangzhou"),
        ("hz-2", "hangzhou"),
        ("bj-1", "beijing"),
    ] {
        nodes.create(&pp, &node(name, group)).await.expect("node");
    }
    let services: Api<Service> = Api::default_namespaced(upstream.clone());
    services
        .create(&pp, &service("web", true))
        .await
        .expect("web");
    services
        .create(&pp, &service("api", false))
        .await
        .expect("api");
    let slices: Api<EndpointSlice> = Api::default_namespaced(upstream.clone());
    let all = ["hz-1", "hz-2", "bj-1"];
    slices
        .create(&pp, &slice("web-1", "web", &all))
        .await
        .expect("slice");
    slices
        .create(&pp, &slice("api-1", "api", &all))
        .await
        .expect("slice");
    let endpoints: Api<Endpoints> = Api::default_namespaced(upstream.clone());
    for name in ["web", "api"] {
        endpoints
            .create(&pp, &legacy_endpoints(name, &all, is_real))
            .await
            .expect("endpoints");
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let tokens = setup
        .tokens
        .unwrap_or_else(|| TokenMap::parse(TOKENS).expect("tokens").into());
    let cancel = CancellationToken::new();
    let mut options = ServeOptions::new(tokens).with_limits(setup.limits);
    let (edge_url, ca) = if setup.tls {
        let material = EdgeTls::self_signed(&["127.0.0.1".into()]).expect("tls");
        options = options.with_tls(material.tls);
        (
            format!("https://{addr}"),
            Some((material.ca_pem, material.ca_der)),
        )
    } else {
        (format!("http://{addr}"), None)
    };
    tokio::spawn(serve_listener(
        listener,
        upstream.clone(),
        options,
        cancel.clone(),
    ));
    Fixture {
        cluster,
        upstream,
        edge_url,
        addr,
        ca,
        cancel,
    }
}

pub fn slice_nodes(slice: &EndpointSlice) -> Vec<String> {
    slice
        .endpoints
        .iter()
        .filter_map(|e| e.node_name.clone())
        .collect()
}

pub fn endpoints_nodes(endpoints: &Endpoints) -> Vec<String> {
    endpoints
        .subsets
        .iter()
        .flatten()
        .flat_map(|s| s.addresses.iter().flatten())
        .filter_map(|a| a.node_name.clone())
        .collect()
}

pub fn names(nodes: &[&str]) -> Vec<String> {
    nodes.iter().map(|n| n.to_string()).collect()
}

/// Moves `node` to `group` upstream.
pub async fn relabel(upstream: &Client, node: &str, group: &str) {
    let nodes: Api<Node> = Api::all(upstream.clone());
    let patch = json!({"metadata": {"labels": {LABEL_BELONGING_TO: group}}});
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("relabel");
}

/// What `client` lists of EndpointSlices: slice name → endpoint nodes.
pub async fn slices_seen_by(client: &Client) -> std::collections::BTreeMap<String, Vec<String>> {
    let api: Api<EndpointSlice> = Api::all(client.clone());
    let list = api.list(&ListParams::default()).await.expect("list");
    list.items
        .iter()
        .map(|s| (s.metadata.name.clone().unwrap_or_default(), slice_nodes(s)))
        .collect()
}
