//! The console's own engine: whether to run it (`--engine auto|on|off`,
//! `--readonly`), running it in-process with leader election, and telling
//! the fleet who holds the lease and what the engine did.

use std::time::Duration;

use kube::Client;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::stores::{StoreInput, short_error};
use crate::console::engine_stats::EngineStats;
use crate::controllers::events::EngineEvent;
use crate::controllers::{Engine, EngineHandle, EngineOptions, LeaseOptions, leader};
use crate::telemetry::{EngineFigures, Telemetry};

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineMode {
    /// Run it when no other engine holds the lease.
    #[default]
    Auto,
    /// Always run it (leader-elected).
    On,
    /// Never run it.
    Off,
}

/// Whether the console should run its in-process engine now.
///
/// `explicit`: `--engine` was given on the command line. `--readonly`
/// turns the engine off unless `--engine on` was asked for explicitly.
/// In `auto`, the engine runs when nobody (or this console) holds the lease.
pub fn engine_should_run(
    mode: EngineMode,
    readonly: bool,
    explicit: bool,
    holder: Option<&str>,
    me: &str,
) -> bool {
    match mode {
        EngineMode::Off => false,
        EngineMode::On => !readonly || explicit,
        EngineMode::Auto => !readonly && holder.is_none_or(|h| h == me),
    }
}

/// How the console runs its engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub mode: EngineMode,
    pub readonly: bool,
    pub explicit: bool,
    /// Lease name, namespace and this console's identity.
    pub lease: LeaseOptions,
    /// How often `auto` checks whether the other engine went away.
    pub recheck: Duration,
}

impl EngineConfig {
    pub fn new(mode: EngineMode, readonly: bool, explicit: bool) -> EngineConfig {
        EngineConfig {
            mode,
            readonly,
            explicit,
            lease: LeaseOptions {
                identity: console_identity(),
                ..LeaseOptions::default()
            },
            recheck: Duration::from_secs(15),
        }
    }

    /// Why the engine does not run, if it never will.
    fn never(&self) -> Option<&'static str> {
        match self.mode {
            EngineMode::Off => Some("off (--engine off)"),
            _ if self.readonly && !(self.mode == EngineMode::On && self.explicit) => {
                Some("off (--readonly; add --engine on to run it)")
            }
            _ => None,
        }
    }
}

/// `edgedeck-console-<host>-<pid>-<random>`.
pub fn console_identity() -> String {
    format!("edgedeck-console-{}", leader::default_identity())
}

/// Runs until `cancel`: checks the lease holder every `recheck`, starts the
/// engine when [`engine_should_run`] says so, forwards its events, and on
/// cancel shuts it down (which releases the lease).
pub fn spawn(
    client: Client,
    config: EngineConfig,
    input: mpsc::UnboundedSender<StoreInput>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(supervise(client, config, input, cancel))
}

async fn supervise(
    client: Client,
    config: EngineConfig,
    input: mpsc::UnboundedSender<StoreInput>,
    cancel: CancellationToken,
) {
    let send = |i| {
        let _ = input.send(i);
    };
    let me = config.lease.identity.clone();
    let mut engine: Option<(EngineHandle, broadcast::Receiver<EngineEvent>)> = None;
    let mut figures = FiguresFeed::default();
    let mut sample = tokio::time::interval(FIGURES_EVERY);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut recheck = tokio::time::interval(config.recheck);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if let Some(why) = config.never() {
        send(StoreInput::Engine(why.into()));
    }
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = sample.tick() => {
                let telemetry = engine.as_ref().map(|(handle, _)| handle.telemetry());
                if let Some(update) = figures.next(telemetry.as_deref()) {
                    send(StoreInput::EngineStats(update));
                }
            }
            _ = recheck.tick() => {
                let holder = match leader::current_holder(&client, &config.lease).await {
                    Ok(holder) => holder,
                    Err(e) => {
                        tracing::debug!(error = %short_error(&e), "cannot read the engine lease");
                        if engine.is_none() && config.never().is_none() {
                            send(StoreInput::Engine(format!("waiting for the cluster ({})", mode_word(config.mode))));
                        }
                        continue;
                    }
                };
                send(StoreInput::LeaseHolder(holder.clone()));
                if let Some((handle, _)) = &engine {
                    if handle.is_finished() {
                        send(StoreInput::Engine("in-process engine stopped unexpectedly (see the log)".into()));
                    }
                    continue;
                }
                if engine_should_run(config.mode, config.readonly, config.explicit, holder.as_deref(), &me) {
                    // Subscribed from the start: a lease failure is reported once only.
                    let (handle, events) = Engine::spawn_subscribed(client.clone(), EngineOptions {
                        leader_elect: true,
                        lease: config.lease.clone(),
                        ..EngineOptions::default()
                    });
                    tracing::info!(identity = %me, "in-process engine started");
                    send(StoreInput::Engine(format!("in-process engine running ({}) as {me}", mode_word(config.mode))));
                    engine = Some((handle, events));
                } else if config.never().is_none() {
                    let other = holder.unwrap_or_else(|| "another engine".into());
                    send(StoreInput::Engine(format!(
                        "standby: {other} holds the lease (auto; rechecked every {}s)",
                        config.recheck.as_secs()
                    )));
                }
            }
            event = next_event(&mut engine) => match event {
                Ok(event) => send(StoreInput::EngineEvent(event)),
                Err(RecvError::Lagged(n)) => tracing::warn!("{n} engine events skipped"),
                Err(RecvError::Closed) => {
                    if let Some((handle, _)) = engine.take() {
                        handle.shutdown().await;
                    }
                    send(StoreInput::Engine("in-process engine stopped".into()));
                }
            },
        }
    }
    if let Some((handle, _)) = engine {
        send(StoreInput::Engine("stopping the in-process engine…".into()));
        handle.shutdown().await;
        tracing::info!("in-process engine stopped");
    }
}

/// How often the Engine view's figures are read from the engine.
const FIGURES_EVERY: Duration = Duration::from_secs(1);

/// Turns readings of the engine's telemetry into view updates, sent only
/// when what the view shows changed.
#[derive(Default)]
struct FiguresFeed {
    previous: Option<EngineFigures>,
    shown: Option<EngineStats>,
}

impl FiguresFeed {
    /// `Some(update)` when the view must change; `Some(None)` once the engine is gone.
    fn next(&mut self, telemetry: Option<&Telemetry>) -> Option<Option<EngineStats>> {
        let Some(telemetry) = telemetry else {
            self.previous = None;
            return self.shown.take().map(|_| None);
        };
        let now = telemetry.figures();
        let stats = EngineStats::between(self.previous.as_ref(), &now);
        self.previous = Some(now);
        if self.shown.as_ref() == Some(&stats) {
            return None;
        }
        self.shown = Some(stats.clone());
        Some(Some(stats))
    }
}

fn mode_word(mode: EngineMode) -> &'static str {
    match mode {
        EngineMode::Auto => "auto",
        EngineMode::On => "on",
        EngineMode::Off => "off",
    }
}

async fn next_event(
    engine: &mut Option<(EngineHandle, broadcast::Receiver<EngineEvent>)>,
) -> Result<EngineEvent, RecvError> {
    match engine {
        Some((_, events)) => events.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "edgedeck-console-me";

    #[test]
    fn off_never_runs() {
        for readonly in [false, true] {
            for explicit in [false, true] {
                assert!(!engine_should_run(
                    EngineMode::Off,
                    readonly,
                    explicit,
                    None,
                    ME
                ));
            }
        }
    }

    #[test]
    fn on_runs_unless_readonly_without_an_explicit_request() {
        assert!(engine_should_run(
            EngineMode::On,
            false,
            true,
            Some("other"),
            ME
        ));
        assert!(engine_should_run(EngineMode::On, false, false, None, ME));
        assert!(engine_should_run(EngineMode::On, true, true, None, ME));
        assert!(!engine_should_run(EngineMode::On, true, false, None, ME));
    }

    #[test]
    fn auto_runs_only_when_the_lease_is_free_or_ours() {
        assert!(engine_should_run(EngineMode::Auto, false, false, None, ME));
        assert!(engine_should_run(
            EngineMode::Auto,
            false,
            false,
            Some(ME),
            ME
        ));
        assert!(!engine_should_run(
            EngineMode::Auto,
            false,
            false,
            Some("edgedeck-engine-0"),
            ME
        ));
        // --readonly turns auto off, even when asked for explicitly.
        assert!(!engine_should_run(EngineMode::Auto, true, true, None, ME));
        assert!(!engine_should_run(EngineMode::Auto, true, false, None, ME));
    }

    #[test]
    fn reasons_for_never_running() {
        assert!(
            EngineConfig::new(EngineMode::Off, false, true)
                .never()
                .is_some()
        );
        assert!(
            EngineConfig::new(EngineMode::Auto, true, false)
                .never()
                .is_some()
        );
        assert!(
            EngineConfig::new(EngineMode::On, true, true)
                .never()
                .is_none()
        );
        assert!(
            EngineConfig::new(EngineMode::Auto, false, false)
                .never()
                .is_none()
        );
    }

    #[test]
    fn figures_are_sent_when_they_change_and_cleared_when_the_engine_goes() {
        let telemetry = std::sync::Arc::new(Telemetry::default());
        let mut feed = FiguresFeed::default();
        assert_eq!(
            feed.next(None),
            None,
            "no engine, nothing shown: nothing to say"
        );
        let first = feed
            .next(Some(&telemetry))
            .flatten()
            .expect("first figures");
        assert!(!first.leading);
        assert_eq!(
            feed.next(Some(&telemetry)),
            None,
            "an idle engine sends nothing"
        );
        telemetry.set_leading(true);
        let leading = feed.next(Some(&telemetry)).flatten().expect("a change");
        assert!(leading.leading);
        assert_eq!(
            feed.next(None),
            Some(None),
            "the view is told the engine is gone"
        );
        assert_eq!(feed.next(None), None);
    }

    #[test]
    fn identities_name_the_console() {
        let id = console_identity();
        assert!(id.starts_with("edgedeck-console-"), "{id}");
        assert_ne!(id, console_identity());
    }
}
