//! Keeping the controllers running, and stopping them in bounded time.
//!
//! A controller runs until the engine stops it; nothing else may end it
//! quietly, and stopping it must not hang. Both happened (issue #10):
//!
//! - **Ending by itself.** A controller whose stream ended, or that
//!   panicked, was simply gone while the other one and the leader went on:
//!   the engine looked alive and did nothing. [`supervise`] reports such an
//!   end as a failure and starts the controller again, with backoff.
//! - **Never stopping.** kube-runtime's applier holds every reconcile until
//!   its store's first list is done, and keeps holding after its input
//!   ends: a controller cancelled before that list (the API server went
//!   away just after it started) never returned. The leader waits for its
//!   controllers before it renews or tries again, so it waited forever,
//!   neither leading nor following. Each controller's `run` therefore goes
//!   through [`until_cancelled`], which gives it [`STOP_GRACE`] to finish
//!   its in-flight reconciles (none before the first list: no grace then,
//!   see [`grace_for`]) and then drops it; reconciles are
//!   level-triggered, so one cut short is simply done again by whoever runs
//!   next. The leader keeps its own, shorter, bound (see `leader`).
//!
//! Failed watches are reported through [`report_applier`]; each watch has
//! its own backoff, so one failing watch never holds back the others.
//!
//! - **Stuck without ending.** A controller can also stop moving while it
//!   runs: a reconcile waiting for an answer on a connection that went
//!   silent when the API server restarted, a wedged applier. The engine
//!   looked alive (only `/readyz` said "stalled") until someone restarted
//!   it. [`supervise`] therefore watches each controller's progress (the
//!   telemetry's queue and reconciles): one that owes work and finished no
//!   reconcile for [`Restarts::stuck_deadlines`] progress deadlines is
//!   stopped (dropped after [`WATCHDOG_GRACE`]) and started again at once,
//!   with a warning in the log, a `Failed` engine event saying why, and
//!   `edgedeck_watchdog_restarts_total` counted. Requests themselves have
//!   deadlines too (see `deadline`), so this is the net under that net.

use std::any::Any;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use kube::Resource;
use kube::runtime::controller::{Action, Error as ApplierError, ReconcileRequest};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Context, EngineEvent, Outcome, Source};
use crate::telemetry::{Controller, ErrorReason};

/// How long a cancelled controller may take to finish its in-flight reconciles.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Restart delays: doubling from `first` up to `max`; a controller that ran
/// for `healthy` before it ended starts again from `first`.
#[derive(Debug, Clone)]
pub struct Restarts {
    pub first: Duration,
    pub max: Duration,
    pub healthy: Duration,
    /// A controller that owes work and finished no reconcile for this many
    /// progress deadlines is restarted by the watchdog. More than one, so
    /// `/readyz` reports the stall before the engine acts on it.
    pub stuck_deadlines: u32,
}

impl Default for Restarts {
    fn default() -> Self {
        Restarts {
            first: Duration::from_secs(1),
            max: Duration::from_secs(60),
            healthy: Duration::from_secs(300),
            stuck_deadlines: 2,
        }
    }
}

impl Restarts {
    /// How long a controller may be stalled before the watchdog restarts it.
    fn stuck_after(&self, ctx: &Context) -> Duration {
        ctx.telemetry
            .progress_deadline()
            .saturating_mul(self.stuck_deadlines.max(1))
    }

    /// The delay before restart number `attempt` (1 = the first) in a row.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// How a controller future ended under [`until_cancelled`].
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It returned by itself, before any cancel.
    Returned,
    /// It was cancelled and returned within the grace period.
    Cancelled,
    /// It was cancelled and did not return within `grace`: dropped.
    Dropped { grace: Duration },
}

impl Stopped {
    /// Logs a drop that cut in-flight work short (one with no grace cut nothing).
    pub fn log(&self, controller: Source) {
        if let Stopped::Dropped { grace } = self
            && !grace.is_zero()
        {
            tracing::warn!(%controller, "controller did not stop within {grace:?} of its cancel; dropped it");
        }
    }
}

/// Drives `controller` until it ends. Once `cancel` fires it has `grace()`
/// (asked then) to finish in-flight work; then it is dropped, which stops it
/// (it must not leave detached tasks behind).
pub async fn until_cancelled(
    controller: impl Future<Output = ()>,
    cancel: &CancellationToken,
    grace: impl FnOnce() -> Duration,
) -> Stopped {
    tokio::pin!(controller);
    tokio::select! {
        () = &mut controller => {
            return if cancel.is_cancelled() { Stopped::Cancelled } else { Stopped::Returned };
        }
        () = cancel.cancelled() => {}
    }
    let grace = grace();
    match tokio::time::timeout(grace, controller).await {
        Ok(()) => Stopped::Cancelled,
        Err(_) => Stopped::Dropped { grace },
    }
}

/// The grace of an applier over `store`: none before the store's first
/// list, since the applier runs no reconcile until then, else [`STOP_GRACE`].
pub fn grace_for<K>(store: &Store<K>) -> Duration
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    match store.wait_until_ready().now_or_never() {
        Some(_) => STOP_GRACE,
        None => Duration::ZERO,
    }
}

/// A watch that failed; it is retried with its own backoff.
#[derive(Debug, thiserror::Error)]
#[error("watching {resource}: {source}")]
pub struct WatchError {
    pub resource: &'static str,
    #[source]
    pub source: watcher::Error,
}

/// Emits what an applier reports besides reconcile results (each
/// controller's error policy emits those): a failed watch, a stopped runner.
pub fn report_applier<K, E>(
    ctx: &Context,
    source: Source,
    result: Result<(ObjectRef<K>, Action), ApplierError<E, WatchError>>,
) where
    K: Resource,
    E: std::error::Error + 'static,
{
    let reason = match result {
        Ok(_) | Err(ApplierError::ReconcilerFailed(..)) => return,
        // Deleted between trigger and reconcile: nothing to do.
        Err(ApplierError::ObjectNotFound(obj)) => {
            tracing::debug!(%obj, controller = %source, "object gone before reconcile");
            if let Some(c) = source.controller() {
                ctx.telemetry
                    .dequeued(c, obj.namespace.as_deref(), &obj.name);
            }
            return;
        }
        Err(ApplierError::QueueError(e)) => {
            if let Some(c) = source.controller() {
                ctx.telemetry.watch_restarted(c, e.resource);
            }
            e.to_string()
        }
        Err(ApplierError::RunnerError(e)) => format!("{source} controller runner failed: {e}"),
    };
    ctx.emit(EngineEvent::new(source, "", Outcome::Failed { reason }));
}

/// Marks each object a watch triggers as queued (see `telemetry`).
pub fn mark_queued<K>(
    ctx: &Context,
    controller: Controller,
) -> impl Fn(&Result<ReconcileRequest<K>, WatchError>) + Send + use<K>
where
    K: Resource,
    K::DynamicType: Eq + Hash,
{
    let telemetry = ctx.telemetry.clone();
    move |request| {
        if let Ok(request) = request {
            let obj = &request.obj_ref;
            telemetry.queued(controller, obj.namespace.as_deref(), &obj.name);
        }
    }
}

/// Runs one reconcile of `object`, measured: duration, result, and its
/// error's [`ErrorReason`] label.
pub async fn measured<K, E>(
    ctx: &Context,
    controller: Controller,
    object: &K,
    reconcile: impl Future<Output = Result<Action, E>>,
) -> Result<Action, E>
where
    K: Resource,
    E: ErrorReason,
{
    let meta = object.meta();
    let name = meta.name.as_deref().unwrap_or_default();
    let guard = ctx
        .telemetry
        .reconcile(controller, meta.namespace.as_deref(), name);
    let result = reconcile.await;
    guard.finished(result.as_ref().err().map(ErrorReason::reason));
    result
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Runs the controller `run` makes until `cancel` fires, starting it again
/// (after [`Restarts::delay`]) whenever it returns or panics before that.
/// Every unexpected end is emitted as a failure of `source`, and every
/// restart as a lifecycle event, so an operator sees both. `run` must
/// return soon after its cancel (see [`until_cancelled`]).
pub async fn supervise<F, Fut>(
    ctx: Arc<Context>,
    source: Source,
    cancel: CancellationToken,
    restarts: Restarts,
    run: F,
) where
    F: Fn(Arc<Context>, CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut attempt = 0u32;
    let controller = source.controller();
    let stopped = || {
        if let Some(c) = controller {
            ctx.telemetry.controller_stopped(c);
        }
    };
    loop {
        let started = Instant::now();
        if let Some(c) = controller {
            ctx.telemetry.controller_started(c);
        }
        let run_cancel = cancel.child_token();
        let running = AssertUnwindSafe(run(ctx.clone(), run_cancel.clone())).catch_unwind();
        tokio::pin!(running);
        let ended = tokio::select! {
            ended = &mut running => Ended::Itself(ended),
            stuck = watch_progress(&ctx, controller, restarts.stuck_after(&ctx)) => {
                run_cancel.cancel();
                // Whatever hangs would hang its grace too: drop it soon.
                let _ = tokio::time::timeout(WATCHDOG_GRACE, &mut running).await;
                Ended::Stuck(stuck)
            }
        };
        if cancel.is_cancelled() {
            stopped();
            return;
        }
        let (why, delay) = match ended {
            Ended::Stuck(why) => {
                if let Some(c) = controller {
                    ctx.telemetry.watchdog_restarted(c);
                }
                // It was given the whole stuck time already: restart at once.
                (format!("stuck: {why}"), Duration::ZERO)
            }
            Ended::Itself(ended) => {
                let why = match ended {
                    Ok(()) => "it ended by itself".to_owned(),
                    Err(panic) => format!("it panicked: {}", panic_message(panic.as_ref())),
                };
                attempt = if started.elapsed() >= restarts.healthy {
                    1
                } else {
                    attempt.saturating_add(1)
                };
                (why, restarts.delay(attempt))
            }
        };
        ctx.emit(EngineEvent::new(
            source,
            "",
            Outcome::Failed {
                reason: format!("{source} controller stopped ({why}); restarting in {delay:?}"),
            },
        ));
        tokio::select! {
            () = cancel.cancelled() => {
                stopped();
                return;
            }
            () = tokio::time::sleep(delay) => {}
        }
        ctx.emit(EngineEvent::new(
            source,
            "",
            Outcome::Lifecycle {
                message: format!("{source} controller restarted"),
            },
        ));
    }
}

/// How one run of a supervised controller ended.
enum Ended {
    /// It returned, or panicked.
    Itself(Result<(), Box<dyn Any + Send>>),
    /// The watchdog found it stuck, for this reason, and stopped it.
    Stuck(String),
}

/// How long a controller the watchdog stops gets to finish before it is dropped.
const WATCHDOG_GRACE: Duration = Duration::from_secs(1);

/// Resolves with the reason once `controller` is stuck for `after`: it
/// owes work and finished no reconcile (the telemetry's progress watch).
/// A controller without telemetry is never found stuck.
async fn watch_progress(ctx: &Context, controller: Option<Controller>, after: Duration) -> String {
    let Some(controller) = controller else {
        return std::future::pending().await;
    };
    let every = (after / 8).clamp(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        tokio::time::sleep(every).await;
        if let Some(why) = ctx.telemetry.stuck(controller, after) {
            tracing::warn!(%controller, %why, "watchdog: controller stuck, restarting it");
            return why;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use k8s_openapi::api::core::v1::ConfigMap;
    use tokio::sync::broadcast;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn context() -> (Arc<Context>, broadcast::Receiver<EngineEvent>) {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let (events, receiver) = broadcast::channel(64);
        (Arc::new(Context::new(client, events)), receiver)
    }

    fn quick() -> Restarts {
        Restarts {
            first: 10 * MS,
            max: 40 * MS,
            healthy: Duration::from_secs(60),
            stuck_deadlines: 2,
        }
    }

    #[test]
    fn restart_delays_double_up_to_the_maximum() {
        let r = quick();
        let delays: Vec<Duration> = (1..=5).map(|a| r.delay(a)).collect();
        assert_eq!(delays, [10 * MS, 20 * MS, 40 * MS, 40 * MS, 40 * MS]);
        assert_eq!(r.delay(0), 10 * MS);
        assert_eq!(r.delay(u32::MAX), 40 * MS);
    }

    #[tokio::test]
    async fn a_controller_that_ignores_its_cancel_is_dropped_after_the_grace() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let stopped = until_cancelled(std::future::pending(), &cancel, || 20 * MS).await;
        assert_eq!(stopped, Stopped::Dropped { grace: 20 * MS });
    }

    #[tokio::test]
    async fn a_controller_that_stops_on_its_cancel_is_cancelled_not_dropped() {
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let controller = async move { token.cancelled().await };
        cancel.cancel();
        let stopped = until_cancelled(controller, &cancel, || Duration::from_secs(5)).await;
        assert_eq!(stopped, Stopped::Cancelled);
    }

    #[tokio::test]
    async fn a_controller_that_returns_without_a_cancel_says_so() {
        let cancel = CancellationToken::new();
        let stopped = until_cancelled(async {}, &cancel, || Duration::from_secs(5)).await;
        assert_eq!(stopped, Stopped::Returned);
    }

    #[test]
    fn no_grace_before_the_first_list_as_nothing_can_be_in_flight() {
        let (store, mut writer) = kube::runtime::reflector::store::<ConfigMap>();
        assert_eq!(grace_for(&store), Duration::ZERO);
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        assert_eq!(grace_for(&store), STOP_GRACE);
    }

    #[tokio::test]
    async fn a_controller_that_ends_or_panics_is_reported_and_restarted() {
        let (ctx, mut events) = context();
        let cancel = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let supervisor = tokio::spawn(supervise(
            ctx,
            Source::EdgeApplication,
            cancel.clone(),
            quick(),
            move |_, token: CancellationToken| {
                let run = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    match run {
                        0 => {}
                        1 => panic!("lost the plot"),
                        _ => token.cancelled().await,
                    }
                }
            },
        ));
        let mut seen = Vec::new();
        while seen.len() < 4 {
            let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
                .await
                .expect("an event in time")
                .expect("event");
            seen.push(event.to_string());
        }
        assert!(seen[0].contains("ended by itself"), "{seen:?}");
        assert!(seen[0].contains("restarting in 10ms"), "{seen:?}");
        assert!(seen[1].contains("edgeapplication controller restarted"));
        assert!(seen[2].contains("panicked: lost the plot"), "{seen:?}");
        assert!(seen[2].contains("restarting in 20ms"), "{seen:?}");
        assert!(seen[3].contains("restarted"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(events.is_empty(), "the third run keeps going");
        assert_eq!(runs.load(Ordering::SeqCst), 3);

        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), supervisor)
            .await
            .expect("the supervisor stops on cancel")
            .expect("no panic");
        assert_eq!(runs.load(Ordering::SeqCst), 3, "not restarted after cancel");
    }

    #[tokio::test]
    async fn a_controller_stuck_with_work_is_restarted_by_the_watchdog_and_says_so() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let (events, mut receiver) = broadcast::channel(64);
        let telemetry = Arc::new(crate::telemetry::Telemetry::new(50 * MS));
        let ctx = Arc::new(Context::with_telemetry(client, events, telemetry.clone()));
        let cancel = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counter = runs.clone();
        let supervisor = tokio::spawn(supervise(
            ctx,
            Source::EdgeApplication,
            cancel.clone(),
            quick(),
            move |ctx: Arc<Context>, token: CancellationToken| {
                let run = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    if run == 0 {
                        // Triggered, reconciling, and never hearing back;
                        // deaf to its cancel as a hung request is.
                        ctx.telemetry
                            .queued(Controller::EdgeApplication, Some("ns"), "app");
                        let _guard =
                            ctx.telemetry
                                .reconcile(Controller::EdgeApplication, Some("ns"), "app");
                        std::future::pending::<()>().await;
                    }
                    token.cancelled().await;
                }
            },
        ));
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let event = tokio::time::timeout(Duration::from_secs(5), receiver.recv())
                .await
                .expect("an event in time")
                .expect("event");
            seen.push(event.to_string());
        }
        assert!(
            seen[0].contains("stuck: 0 queued and 1 in flight"),
            "{seen:?}"
        );
        assert!(seen[0].contains("restarting in 0ns"), "{seen:?}");
        assert!(
            seen[1].contains("edgeapplication controller restarted"),
            "{seen:?}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(
            telemetry
                .encode()
                .contains("edgedeck_watchdog_restarts_total{controller=\"edgeapplication\"} 1"),
            "{}",
            telemetry.encode()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(receiver.is_empty(), "an idle controller is left alone");

        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), supervisor)
            .await
            .expect("the supervisor stops on cancel")
            .expect("no panic");
    }
}
