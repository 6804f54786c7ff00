//! Everything behind the terminal, as one task: starts the embedded cluster
//! (with progress) or uses the given client, runs the [`Session`], performs
//! effects, switches context and namespace, and shuts down cleanly (the
//! in-process engine releases its lease).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kube::Client;
use tokio::sync::{mpsc, watch};

use super::ConsoleError;
use super::controls::FleetControls;
use super::embedded;
use super::engine::EngineConfig;
use super::session::{Session, SessionOptions};
use super::stores::{FLEET_WINDOW, StoreInput, StoresConfig};
use crate::console::action::{Effect, WriteOutcome};
use crate::console::model::{ConnectionState, Fleet};
use crate::embedded::{ClusterOptions, RunningCluster};
use crate::simulation::seed::Seed;

/// Name of the embedded cluster's context in the console.
/// The same name the embedded cluster's kubeconfig gives its context.
pub const EMBEDDED_CONTEXT: &str = crate::embedded::KUBECONFIG_CONTEXT;

/// Where the backend gets its cluster.
pub enum Start {
    /// An already configured client (kubeconfig / context).
    Client { client: Client, context: String },
    /// Start the embedded cluster with `seed`, write its kubeconfig to `kubeconfig_out`.
    Embedded { kubeconfig_out: PathBuf, seed: Seed },
}

pub struct BackendConfig {
    pub start: Start,
    /// Kubeconfig used when switching context (None: the default places).
    pub kubeconfig: Option<PathBuf>,
    pub readonly: bool,
    pub engine: EngineConfig,
    pub versions: Arc<AtomicU64>,
}

/// What the terminal loop asks of the backend.
#[derive(Debug)]
pub enum Command {
    Effect(Effect),
    Shutdown,
}

struct Backend {
    kubeconfig: Option<PathBuf>,
    readonly: bool,
    engine: EngineConfig,
    versions: Arc<AtomicU64>,
    fleet: watch::Sender<Arc<Fleet>>,
    results: mpsc::UnboundedSender<WriteOutcome>,
    embedded: Option<Arc<RunningCluster>>,
    controls: Option<Arc<dyn FleetControls>>,
    client: Option<Client>,
    context: String,
    namespace: Option<String>,
    session: Option<Session>,
    /// What the session's client connects to, from the kubeconfig (None for
    /// the embedded cluster, or when it could not be read).
    endpoint: Option<crate::connect::Endpoint>,
    /// The log stream the Logs view shows, if any.
    log_stream: Option<tokio::task::JoinHandle<()>>,
}

/// How often, while the connection is lost, the kubeconfig is read again:
/// a cluster that comes back at another address or with another CA is
/// picked up without restarting the console.
const KUBECONFIG_RECHECK: Duration = Duration::from_secs(5);

/// Runs until [`Command::Shutdown`] (or the command channel closes).
/// Returns an error only when the cluster could not be started at all.
pub async fn run(
    config: BackendConfig,
    mut commands: mpsc::UnboundedReceiver<Command>,
    fleet: watch::Sender<Arc<Fleet>>,
    results: mpsc::UnboundedSender<WriteOutcome>,
) -> Result<(), ConsoleError> {
    let mut backend = Backend {
        kubeconfig: config.kubeconfig,
        readonly: config.readonly,
        engine: config.engine,
        versions: config.versions,
        fleet,
        results,
        embedded: None,
        controls: None,
        client: None,
        context: String::new(),
        namespace: None,
        session: None,
        endpoint: None,
        log_stream: None,
    };
    let started = match config.start {
        Start::Client { client, context } => {
            backend.context = context;
            Ok(client)
        }
        Start::Embedded {
            kubeconfig_out,
            seed,
        } => backend.start_embedded(&kubeconfig_out, seed).await,
    };
    match started {
        Ok(client) => {
            if backend.embedded.is_none() {
                backend.endpoint = backend.kubeconfig_endpoint().await;
            }
            backend.start_session(client);
        }
        Err(e) => {
            backend.stop().await;
            return Err(e);
        }
    }
    let mut recheck = tokio::time::interval(KUBECONFIG_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Effect(effect)) => backend.perform(effect).await,
                Some(Command::Shutdown) | None => break,
            },
            _ = recheck.tick() => backend.follow_kubeconfig().await,
        }
    }
    backend.stop().await;
    Ok(())
}

impl Backend {
    /// Publishes the current fleet again with another connection state (data kept).
    fn publish_state(&self, connection: ConnectionState) {
        let mut fleet = (**self.fleet.borrow()).clone();
        fleet.version = self.versions.fetch_add(1, Ordering::Relaxed) + 1;
        fleet.connection = connection;
        fleet.context = self.context.clone();
        self.fleet.send_replace(Arc::new(fleet));
    }

    fn progress(&self, step: impl Into<String>) {
        let step = step.into();
        tracing::info!("{step}");
        self.publish_state(ConnectionState::Connecting { step });
    }

    async fn start_embedded(
        &mut self,
        kubeconfig_out: &std::path::Path,
        seed: Seed,
    ) -> Result<Client, ConsoleError> {
        self.context = EMBEDDED_CONTEXT.into();
        self.progress("starting embedded cluster…");
        let initial_objects = embedded::initial_objects(seed).map_err(ConsoleError::Embedded)?;
        self.progress(format!(
            "starting embedded cluster: seeding {} objects…",
            initial_objects.len()
        ));
        let cluster = crate::embedded::start(ClusterOptions {
            initial_objects,
            simulate: true,
            ..ClusterOptions::default()
        })
        .await
        .map_err(|e| ConsoleError::Embedded(e.to_string()))?;
        tracing::info!(url = %cluster.url(), "embedded cluster started");
        self.progress(format!(
            "embedded cluster at {}: writing kubeconfig {}…",
            cluster.url(),
            kubeconfig_out.display()
        ));
        if let Err(e) = embedded::write_kubeconfig(&cluster, kubeconfig_out) {
            tracing::warn!(error = %e, "cannot write the embedded kubeconfig");
            let _ = self.results.send(WriteOutcome::Error {
                message: format!("cannot write the kubeconfig: {e}"),
            });
        }
        let client = cluster
            .client()
            .map_err(|e| ConsoleError::Embedded(e.to_string()))?;
        let cluster = Arc::new(cluster);
        self.controls = embedded::fleet_controls(&cluster);
        self.embedded = Some(cluster);
        Ok(client)
    }

    fn start_session(&mut self, client: Client) {
        let controls = if self.context == EMBEDDED_CONTEXT {
            self.controls.clone()
        } else {
            None
        };
        let stores = StoresConfig {
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            controls,
            window: FLEET_WINDOW,
            versions: self.versions.clone(),
        };
        self.progress(format!("connecting to {}…", self.context));
        self.session = Some(Session::start(
            client.clone(),
            SessionOptions {
                stores,
                engine: self.engine.clone(),
                readonly: self.readonly,
            },
            self.fleet.clone(),
        ));
        self.client = Some(client);
    }

    async fn perform(&mut self, effect: Effect) {
        match effect {
            Effect::Quit => {}
            Effect::SwitchNamespace(ns) => {
                self.namespace = ns.clone();
                if let Some(s) = &self.session {
                    s.send(StoreInput::Namespace(ns));
                }
            }
            Effect::SwitchContext(name) => self.switch_context(name).await,
            Effect::StreamLogs(request) => {
                if let Some(old) = self.log_stream.take() {
                    old.abort();
                }
                match &self.client {
                    Some(client) => {
                        self.log_stream = Some(super::logs::spawn(
                            client.clone(),
                            request,
                            self.results.clone(),
                        ));
                    }
                    None => {
                        let _ = self.results.send(WriteOutcome::Log(
                            crate::console::logs::LogChunk::Failed {
                                id: request.id,
                                error: "not connected".into(),
                            },
                        ));
                    }
                }
            }
            Effect::StopLogs => {
                if let Some(old) = self.log_stream.take() {
                    old.abort();
                }
            }
            write => {
                let Some(session) = &self.session else {
                    let _ = self.results.send(WriteOutcome::Failed {
                        error: "not connected".into(),
                    });
                    return;
                };
                let executor = session.executor();
                let results = self.results.clone();
                let refresh = session.input();
                tokio::spawn(async move {
                    let outcome = executor.write(&write).await;
                    if matches!(write, Effect::SetOffline { .. }) {
                        let _ = refresh.send(StoreInput::Refresh);
                    }
                    let _ = results.send(outcome);
                });
            }
        }
    }

    /// What the kubeconfig says the current context connects to.
    async fn kubeconfig_endpoint(&self) -> Option<crate::connect::Endpoint> {
        crate::connect::config(self.kubeconfig.as_deref(), Some(&self.context))
            .await
            .ok()
            .map(|c| crate::connect::Endpoint::from(&c))
    }

    /// While the connection is lost, reads the kubeconfig again; when it now
    /// names another address or CA, reconnects there.
    async fn follow_kubeconfig(&mut self) {
        if self.embedded.is_some() || self.endpoint.is_none() {
            return;
        }
        let lost = matches!(
            self.fleet.borrow().connection,
            ConnectionState::Reconnecting { .. } | ConnectionState::Stale
        );
        if !lost {
            return;
        }
        let Ok(config) =
            crate::connect::config(self.kubeconfig.as_deref(), Some(&self.context)).await
        else {
            return;
        };
        let now = crate::connect::Endpoint::from(&config);
        if self.endpoint.as_ref() == Some(&now) {
            return;
        }
        let client = match Client::try_from(config) {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!(error = %e, "the kubeconfig changed but gives no client");
                return;
            }
        };
        tracing::info!(url = %now.url, "the kubeconfig names another endpoint; reconnecting there");
        if let Some(session) = self.session.take() {
            session.shutdown().await;
        }
        self.progress(format!(
            "the kubeconfig now names {}: reconnecting…",
            now.url
        ));
        self.endpoint = Some(now);
        self.start_session(client);
    }

    async fn switch_context(&mut self, name: String) {
        if name == self.context && self.session.is_some() {
            let _ = self.results.send(WriteOutcome::Done {
                message: format!("already on context {name}"),
            });
            return;
        }
        let embedded = self.embedded.is_some() && name == EMBEDDED_CONTEXT;
        if !embedded
            && let Some(why) = crate::connect::missing_context(self.kubeconfig.as_deref(), &name)
        {
            let _ = self.results.send(WriteOutcome::Error {
                message: format!("cannot switch to context {name}: {why}"),
            });
            return;
        }
        self.progress(format!("switching to context {name}…"));
        if let Some(session) = self.session.take() {
            session.shutdown().await;
        }
        let client = match (&self.embedded, name.as_str()) {
            (Some(cluster), EMBEDDED_CONTEXT) => cluster.client().map_err(|e| e.to_string()),
            _ => crate::connect::client(self.kubeconfig.as_deref(), Some(&name))
                .await
                .map_err(|e| e.to_string()),
        };
        match client {
            Ok(client) => {
                self.context = name;
                self.endpoint = if embedded {
                    None
                } else {
                    self.kubeconfig_endpoint().await
                };
                self.start_session(client);
            }
            Err(error) => {
                tracing::warn!(context = %name, %error, "cannot switch context");
                let _ = self.results.send(WriteOutcome::Error {
                    message: format!("cannot switch to context {name}: {error}"),
                });
                if let Some(client) = self.client.clone() {
                    self.start_session(client);
                }
            }
        }
    }

    /// Engine first (releases the lease), then watches, then the embedded cluster.
    async fn stop(&mut self) {
        if let Some(old) = self.log_stream.take() {
            old.abort();
        }
        if let Some(session) = self.session.take() {
            session.shutdown().await;
        }
        self.controls = None;
        if let Some(cluster) = self.embedded.take() {
            match Arc::try_unwrap(cluster) {
                Ok(cluster) => cluster.shutdown().await,
                Err(shared) => drop(shared), // dropping stops the server too
            }
        }
    }
}
