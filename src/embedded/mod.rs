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
//! - `tls`: CA and server certificate (kubectl needs https to send tokens)
//! - `persist`: write-ahead log, snapshots and credentials of a data directory
//!
//! # Durability
//!
//! Without [`ClusterOptions::data_dir`] everything lives in memory. With it,
//! every change is appended to a write-ahead log and fsynced before the
//! request that made it is answered (and before anyone else can see it), so
//! every acknowledged write survives `kill -9` or a power cut. Starting again
//! on the same directory recovers the objects, and resourceVersions continue
//! after the last recovered one. The watch event window starts empty after a
//! restart: a watch (or list continue token) from before the restart gets 410
//! Gone / Expired and relists, as clients do after an etcd compaction. The
//! token, CA and server certificate are kept in the directory too, so a
//! kubeconfig written earlier stays valid (if the port is the same). Namespace
//! seeding and [`ClusterOptions::initial_objects`] apply only to an empty
//! store, never on a restart.

mod cluster;
mod crd_schema;
mod decode;
mod defaults;
mod discovery;
mod error;
pub mod faults;
mod fieldset;
mod gc;
mod limits;
mod managed;
mod objects;
mod openapi;
mod operations;
mod patch;
mod persist;
mod pod_log;
mod request;
mod resources;
mod selectors;
mod server;
mod simulator;
mod store;
mod table;
mod tls;
mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use error::ApiError;

/// The context (and cluster and user) name of the kubeconfig the embedded
/// cluster writes; the console's header says the same for `--embedded`.
pub const KUBECONFIG_CONTEXT: &str = "edgedeck-embedded";

pub use error::ClusterError;
pub use limits::HttpLimits;
pub use persist::{DEFAULT_COMPACT_BYTES, PersistError};
pub use server::MAX_BODY_BYTES;

use cluster::Cluster;
use store::Store;

/// Options of [`start`].
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Must be a loopback address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// How many changes a watch can resume across before it gets 410 Gone.
    pub event_window: usize,
    /// Keep the cluster's state (and credentials) here; None: memory only.
    pub data_dir: Option<PathBuf>,
    /// With a data directory: log size from which it is compacted into a snapshot.
    pub compact_bytes: u64,
    /// Created in order when the cluster starts with an empty store (a fresh
    /// data directory or none): seed data. CRDs must come before their objects,
    /// namespaces before the objects in them.
    pub initial_objects: Vec<Value>,
    /// Run the fleet simulator (kubelet, scheduler, workload and endpoint
    /// controllers). Off by default so API tests see exactly what they wrote.
    pub simulate: bool,
    /// Timeouts for slow clients and the cap on open watches.
    pub limits: HttpLimits,
    /// Faults to inject (none unless a spec is set); kept across restarts.
    pub faults: Arc<faults::Faults>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            event_window: cluster::DEFAULT_EVENT_WINDOW,
            data_dir: None,
            compact_bytes: DEFAULT_COMPACT_BYTES,
            initial_objects: Vec::new(),
            simulate: false,
            limits: HttpLimits::DEFAULT,
            faults: Arc::default(),
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
    cluster: Arc<Cluster>,
    simulator: Option<Arc<simulator::Simulator>>,
    /// What it was started with, to start it again (see [`RunningCluster::restart`]).
    options: Box<ClusterOptions>,
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
    // Like kube-apiserver's default ServiceCIDR: the range ClusterIPs come from.
    if let Some(info) = registry.find("networking.k8s.io", "v1", "servicecidrs")
        && let Err(error) = operations::create(
            cluster,
            &info,
            None,
            defaults::service_cidr(),
            &Default::default(),
        )
    {
        tracing::warn!(%error, "cannot seed the default ServiceCIDR");
    }
}

/// Creates one seed object, finding its resource by apiVersion and kind.
fn create_object(cluster: &Cluster, object: Value) -> Result<(), String> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or("no apiVersion")?;
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("no kind")?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let registry = cluster.registry();
    let info = registry
        .in_group_version(group, version)
        .find(|r| r.kind == kind)
        .cloned()
        .ok_or_else(|| format!("{api_version} {kind} is not served"))?;
    let namespace = info.namespaced.then(|| {
        object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string()
    });
    let status = object.get("status").cloned();
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let opts = operations::WriteOptions::default();
    let mut created = match operations::create(cluster, &info, namespace.as_deref(), object, &opts)
    {
        Ok(created) => created,
        // Seeds list the namespaces every cluster starts with, too.
        Err(ApiError::AlreadyExists(_)) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    // Seeds carry status (node conditions, …) that create drops for resources
    // with a status subresource; write it as the owning controller would.
    if let Some(status) = status
        && info.status_subresource
        && created.get("status") != Some(&status)
        && let Some(map) = created.as_object_mut()
    {
        map.insert("status".into(), status);
        let sub = operations::Subresource::Status;
        operations::update(
            cluster,
            &info,
            namespace.as_deref(),
            &name,
            created,
            sub,
            &opts,
        )
        .map_err(|e| format!("status: {e}"))?;
    }
    Ok(())
}

fn seed_objects(cluster: &Cluster, objects: &[Value]) {
    for object in objects {
        if let Err(error) = create_object(cluster, object.clone()) {
            let name = object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            tracing::warn!(%error, name, "cannot create seed object");
        }
    }
}

/// The store (recovered from the data directory, if any), the credentials,
/// and whether the store starts empty.
fn open_store(opts: &ClusterOptions) -> Result<(Store, persist::Credentials, bool), ClusterError> {
    match &opts.data_dir {
        Some(dir) => {
            let (wal, recovered) = persist::Wal::open(dir, opts.compact_bytes)?;
            let fresh = recovered.rv == 0;
            let credentials = persist::load_or_create_credentials(dir, tls::generate)?;
            Ok((
                Store::persistent(opts.event_window, recovered, wal),
                credentials,
                fresh,
            ))
        }
        None => Ok((Store::new(opts.event_window), tls::generate()?, true)),
    }
}

/// Starts the API server on `opts.listen` (loopback only) and returns once it accepts connections.
pub async fn start(opts: ClusterOptions) -> Result<RunningCluster, ClusterError> {
    if !opts.listen.ip().is_loopback() {
        return Err(ClusterError::NotLoopback(opts.listen));
    }
    let restarts = opts.faults.spec().and_then(|s| s.restart_every).is_some();
    if restarts && opts.data_dir.is_none() {
        return Err(ClusterError::RestartWithoutDataDir);
    }
    // Recovery reads files; keep it off the async worker threads.
    let (store, credentials, fresh) = {
        let opts = opts.clone();
        let dir = opts.data_dir.clone().unwrap_or_default();
        tokio::task::spawn_blocking(move || open_store(&opts))
            .await
            .map_err(|e| PersistError::Io {
                path: dir,
                source: std::io::Error::other(e),
            })??
    };
    let tls = tls::material(&credentials)?;
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
    let cluster = Arc::new(Cluster::with_store(store));
    if fresh {
        seed_namespaces(&cluster);
        seed_objects(&cluster, &opts.initial_objects);
    }
    let token = credentials.token;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let simulator = opts
        .simulate
        .then(|| Arc::new(simulator::Simulator::new(simulator::demo_config())));
    if let Some(sim) = &simulator {
        tokio::spawn(simulator::run(
            cluster.clone(),
            sim.clone(),
            shutdown_rx.clone(),
        ));
    }
    let state = Arc::new(server::ServerState {
        cluster: cluster.clone(),
        token: token.clone(),
        address: addr.to_string(),
        shutdown: shutdown_rx.clone(),
        simulator: simulator.clone(),
        limits: opts.limits,
        watches: limits::WatchSlots::new(opts.limits.max_watches),
        faults: opts.faults.clone(),
        restartable: opts.data_dir.is_some(),
    });
    let app = server::router(state);
    let task = tokio::spawn(serve(
        listener,
        app,
        tls.server_config.clone(),
        opts.limits,
        shutdown_rx,
    ));
    tracing::info!(%addr, "embedded cluster listening");
    Ok(RunningCluster {
        addr,
        token,
        ca_pem: tls.ca_pem,
        ca_der: tls.ca_der,
        shutdown_tx,
        task: Some(task),
        cluster,
        simulator,
        options: Box::new(ClusterOptions {
            listen: addr,
            ..opts
        }),
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
    limits: HttpLimits,
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
            // A handshake that never completes is a slow client too.
            let Ok(Ok(stream)) =
                tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await
            else {
                return;
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
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
    /// The faults this cluster injects (set or clear them here, or through
    /// `/edgedeck/faults`).
    pub fn faults(&self) -> &Arc<faults::Faults> {
        &self.options.faults
    }

    /// Resolves when the faults want the server restarted (asked through
    /// `/edgedeck/faults/restart`, or the spec's `restart=` period); the
    /// owner then calls [`RunningCluster::restart`].
    pub async fn restart_requested(&self) {
        self.options.faults.restart_due().await;
    }

    /// Stops the server and starts it again on the same address and data
    /// directory, as a restarted kube-apiserver comes back: same objects
    /// and resourceVersions, every connection and watch gone.
    pub async fn restart(self) -> Result<RunningCluster, ClusterError> {
        if self.options.data_dir.is_none() {
            return Err(ClusterError::RestartWithoutDataDir);
        }
        let options = (*self.options).clone();
        // The simulated kubelets that were silent stay silent.
        let offline: Vec<String> = self.offline_nodes().into_iter().collect();
        self.shutdown().await;
        tracing::warn!(addr = %options.listen, "embedded cluster restarting");
        let restarted = start(options).await?;
        if !offline.is_empty()
            && let Some(sim) = &restarted.simulator
        {
            sim.set_offline(&offline, true);
        }
        Ok(restarted)
    }

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

    /// Takes nodes offline (their kubelet goes silent: NotReady after a few
    /// seconds, pods unready, endpoints not ready) or brings them back.
    /// Returns the nodes whose state changed.
    pub fn set_offline(
        &self,
        nodes: &[String],
        offline: bool,
    ) -> Result<Vec<String>, ClusterError> {
        let sim = self.simulator.as_ref().ok_or(ClusterError::NoSimulator)?;
        Ok(sim.set_offline(nodes, offline))
    }

    /// Nodes currently taken offline.
    pub fn offline_nodes(&self) -> std::collections::BTreeSet<String> {
        self.simulator
            .as_ref()
            .map(|s| s.offline())
            .unwrap_or_default()
    }

    /// Whether the fleet simulator runs in this cluster.
    pub fn simulates(&self) -> bool {
        self.simulator.is_some()
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig (context [`KUBECONFIG_CONTEXT`], namespace `default`) with the token.
    pub fn kubeconfig_yaml(&self) -> Result<String, ClusterError> {
        let name = KUBECONFIG_CONTEXT;
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.url(),
                "certificate-authority-data": base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
            }}],
            "users": [{"name": name, "user": {"token": self.token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": "default"}}],
            "current-context": name,
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

    /// Why writes are no longer made durable (None: they are, or no data directory).
    pub fn persistence_failure(&self) -> Option<String> {
        self.cluster.store.persistence_failure()
    }

    /// Resolves once writes can no longer be made durable (a write-ahead log
    /// write failed); the server then refuses writes. Never resolves for a
    /// healthy or memory-only cluster.
    pub async fn persistence_failed(&self) -> String {
        let mut failure = self.cluster.store.subscribe_failure();
        loop {
            if let Some(message) = failure.borrow_and_update().clone() {
                return message;
            }
            if failure.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops accepting requests, ends open watches, waits (briefly) for the
    /// server and closes the data directory (every acknowledged write is
    /// already on disk).
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
        self.cluster.store.close_persistence();
    }
}

impl Drop for RunningCluster {
    fn drop(&mut self) {
        self.shutdown_tx.send_replace(true);
        // Releases the data directory at once, even while connections wind down.
        self.cluster.store.close_persistence();
    }
}
