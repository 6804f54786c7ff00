//! The engine against a live cluster: kube-runtime controllers that fetch,
//! call the pure engine, and write back. The console and `edgedeck engine`
//! both start it with [`Engine::spawn`].

pub mod cluster;
pub mod deadline;
pub mod edge_application;
pub mod events;
pub mod leader;
pub mod node_group;
pub mod rollout;
pub mod served_schema;
pub mod supervisor;

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use events::{EngineEvent, Outcome, Source};
pub use leader::LeaseOptions;
use supervisor::{Restarts, supervise};

use crate::telemetry::{self, Telemetry};

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Act only while holding the lease, so one engine writes at a time.
    pub leader_elect: bool,
    pub lease: LeaseOptions,
    /// Engine events kept for slow subscribers; older ones are dropped for them.
    pub event_capacity: usize,
    /// Where the engine records its metrics and progress (shared with
    /// `/metrics` and the console).
    pub telemetry: Arc<Telemetry>,
    /// How long each controller watch lasts before the server ends it and
    /// it starts again: also how soon a watch gone silent is noticed
    /// (see [`deadline`]).
    pub watch_timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            leader_elect: false,
            lease: LeaseOptions::default(),
            event_capacity: 1024,
            telemetry: Arc::default(),
            watch_timeout: deadline::WATCH_TIMEOUT,
        }
    }
}

/// What every controller shares.
pub struct Context {
    pub client: Client,
    events: broadcast::Sender<EngineEvent>,
    pub telemetry: Arc<Telemetry>,
    /// See [`EngineOptions::watch_timeout`].
    pub watch_timeout: Duration,
}

impl Context {
    pub fn new(client: Client, events: broadcast::Sender<EngineEvent>) -> Self {
        Self::with_telemetry(client, events, Arc::default())
    }

    pub fn with_telemetry(
        client: Client,
        events: broadcast::Sender<EngineEvent>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Context {
            client,
            events,
            telemetry,
            watch_timeout: deadline::WATCH_TIMEOUT,
        }
    }

    /// How the controllers watch (see [`deadline::watch_config`]).
    pub fn watch_config(&self) -> kube::runtime::watcher::Config {
        deadline::watch_config(self.watch_timeout)
    }

    /// Publishes an event; having no subscriber is fine.
    pub fn emit(&self, event: EngineEvent) {
        match &event.outcome {
            Outcome::Failed { reason } => {
                tracing::warn!(source = %event.source, object = %event.object, %reason, "reconcile failed")
            }
            _ => tracing::debug!(%event, "engine event"),
        }
        let _ = self.events.send(event);
    }
}

pub struct Engine;

impl Engine {
    /// Starts every controller on the current tokio runtime.
    pub fn spawn(client: Client, options: EngineOptions) -> EngineHandle {
        Self::spawn_subscribed(client, options).0
    }

    /// [`Engine::spawn`] with a subscription taken before anything runs.
    /// On a multi-threaded runtime the engine may emit before the caller's
    /// [`EngineHandle::subscribe`] comes back, and some events are reported
    /// once only (a lease failure repeats silently): this receiver misses
    /// none of them.
    pub fn spawn_subscribed(
        client: Client,
        options: EngineOptions,
    ) -> (EngineHandle, broadcast::Receiver<EngineEvent>) {
        let (events, first) = broadcast::channel(options.event_capacity.max(1));
        let telemetry = options.telemetry.clone();
        let client =
            telemetry::client::metered(deadline::with_deadlines(client), telemetry.clone());
        let mut ctx = Context::with_telemetry(client, events.clone(), telemetry.clone());
        ctx.watch_timeout = options.watch_timeout;
        let ctx = Arc::new(ctx);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(ctx, options, cancel.clone()));
        let handle = EngineHandle {
            events,
            cancel,
            task,
            telemetry,
        };
        (handle, first)
    }
}

async fn run(ctx: Arc<Context>, options: EngineOptions, cancel: CancellationToken) {
    ctx.emit(EngineEvent::new(
        Source::Engine,
        "",
        Outcome::Lifecycle {
            message: "started".into(),
        },
    ));
    if options.leader_elect {
        let work_ctx = ctx.clone();
        leader::lead(ctx.clone(), options.lease, cancel, move |leading| {
            controllers(work_ctx.clone(), leading)
        })
        .await;
    } else {
        controllers(ctx.clone(), cancel).await;
    }
    ctx.emit(EngineEvent::new(
        Source::Engine,
        "",
        Outcome::Lifecycle {
            message: "stopped".into(),
        },
    ));
}

/// Runs every controller until `cancel` fires, each restarted should it
/// end before that: one controller ending must not leave the engine
/// half-running with nobody noticing.
async fn controllers(ctx: Arc<Context>, cancel: CancellationToken) {
    let restarts = Restarts::default();
    ctx.telemetry.set_leading(true);
    tokio::join!(
        supervise(
            ctx.clone(),
            Source::NodeGroup,
            cancel.clone(),
            restarts.clone(),
            node_group::run,
        ),
        supervise(
            ctx.clone(),
            Source::EdgeApplication,
            cancel.clone(),
            restarts.clone(),
            edge_application::run,
        ),
        supervise(ctx.clone(), Source::Rollout, cancel, restarts, rollout::run),
    );
    ctx.telemetry.set_leading(false);
}

/// A running engine.
pub struct EngineHandle {
    events: broadcast::Sender<EngineEvent>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
    telemetry: Arc<Telemetry>,
}

impl EngineHandle {
    /// The engine's metrics and progress, as `/metrics` serves them.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        self.telemetry.clone()
    }

    /// A stream of engine events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops every controller (and gives up the lease) and waits for them.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "engine task ended abnormally");
        }
    }
}
