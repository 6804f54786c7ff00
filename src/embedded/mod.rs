//! Embedded Kubernetes-compatible API server on loopback.
//!
//! The narrow interface is [`start`] → [`RunningCluster`]: a URL, a bearer
//! token, a kubeconfig for kubectl, a ready `kube::Client`, and shutdown.
//! Everything else in this module is private machinery:
//!
//! - `store`: objects, the global resourceVersion and the watch event log
//! - `resources`: which resources are served (built-ins + runtime CRDs)
//! - `operations`, `defaults`, `gc`, `patch`, `selectors`: API semantics
//! - `server`, `request`, `watch`, `table`, `discovery`: the HTTP surface
//! - `tls`: per-run CA and server certificate (kubectl needs https to send tokens)

mod cluster;
mod defaults;
mod discovery;
mod error;
mod gc;
mod objects;
mod openapi;
mod operations;
mod patch;
mod request;
mod resources;
mod selectors;
mod server;
mod store;
mod table;
mod tls;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use tokio::task::JoinHandle;

pub use error::ClusterError;

use cluster::Cluster;

/// Options of [`start`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Must be a loopback address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How many changes a watch can resume across before it gets 410 Gone.
    pub event_window: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            event_window: cluster::DEFAULT_EVENT_WINDOW,
        }
    }
}

/// A running embedded cluster. Dropping it stops the server as well;
/// [`RunningCluster::shutdown`] also waits for it to finish.
pub struct RunningCluster {
    addr: SocketAddr,
    token: String,
    ca_pem: String,
    ca_der: Vec<u8>,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// 32 random bytes, hex-encoded.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn seed_namespaces(cluster: &Cluster) {
    let registry = cluster.registry();
    let Some(info) = registry.find("", "v1", "namespaces") else {
        return;
    };
    for key in defaults::initial_namespaces() {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": key.name}});
        if let Err(error) = operations::create(cluster, &info, None, body, &Default::default()) {
            tracing::warn!(%error, namespace = %key.name, "cannot seed namespace");
        }
    }
}

/// Starts the API server on `opts.listen` (loopback only) and returns once it accepts connections.
pub async fn start(opts: ClusterOptions) -> Result<RunningCluster, ClusterError> {
    if !opts.listen.ip().is_loopback() {
        return Err(ClusterError::NotLoopback(opts.listen));
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ClusterError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ClusterError::Bind {
        addr: opts.listen,
        source,
    })?;
    let cluster = Arc::new(Cluster::new(opts.event_window));
    seed_namespaces(&cluster);
    let token = new_token();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(server::ServerState {
        cluster,
        token: token.clone(),
        address: addr.to_string(),
        shutdown: shutdown_rx.clone(),
    });
    let app = server::router(state);
    let tls = tls::generate()?;
    let task = tokio::spawn(serve(listener, app, tls.server_config.clone(), shutdown_rx));
    tracing::info!(%addr, "embedded cluster listening");
    Ok(RunningCluster {
        addr,
        token,
        ca_pem: tls.ca_pem,
        ca_der: tls.ca_der,
        shutdown_tx,
        task: Some(task),
    })
}

/// Resolves once shutdown was requested (or the cluster handle is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard wait_for returns is not Send; drop it before returning.
    let _ = stop.wait_for(|stopped| *stopped).await.map(|_| ());
}

/// Accepts TLS connections until shutdown; each connection ends gracefully
/// (in-flight requests finish, open watches are ended by the same signal).
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Arc<rustls::ServerConfig>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    tracing::warn!(%error, "embedded API server: accept failed");
                    continue;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        let acceptor = acceptor.clone();
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
                }
            }
        });
    }
}

impl RunningCluster {
    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// PEM of the per-run CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig (context `edgedeck`, namespace `default`) with the token.
    pub fn kubeconfig_yaml(&self) -> Result<String, ClusterError> {
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "edgedeck", "cluster": {
                "server": self.url(),
                "certificate-authority-data": base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
            }}],
            "users": [{"name": "edgedeck", "user": {"token": self.token}}],
            "contexts": [{"name": "edgedeck", "context": {"cluster": "edgedeck", "user": "edgedeck", "namespace": "default"}}],
            "current-context": "edgedeck",
            "preferences": {},
        });
        Ok(serde_yaml_ng::to_string(&config)?)
    }

    /// Writes the kubeconfig with mode 0600 (it holds the token).
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), ClusterError> {
        use std::io::Write as _;
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let yaml = self.kubeconfig_yaml()?;
        let err = |source| ClusterError::WriteKubeconfig {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        // An existing file keeps its old mode on open; tighten it explicitly.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        file.write_all(yaml.as_bytes()).map_err(err)
    }

    /// A kube client for this cluster (bearer token, trusting the per-run CA).
    pub fn client(&self) -> Result<kube::Client, ClusterError> {
        let uri = self
            .url()
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| ClusterError::Client(e.to_string()))?;
        let mut config = kube::Config::new(uri);
        config.default_namespace = "default".into();
        config.root_cert = Some(vec![self.ca_der.clone()]);
        config.auth_info = serde_json::from_value(json!({"token": self.token}))
            .map_err(|e| ClusterError::Client(e.to_string()))?;
        kube::Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))
    }

    /// Stops accepting requests, ends open watches and waits (briefly) for the server.
    pub async fn shutdown(mut self) {
        self.shutdown_tx.send_replace(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        self.shutdown_tx.send_replace(true);
    }
}
