//! The console's own engine: whether to run it (`--engine auto|on|off`,
//! `--readonly`), running it in-process with leader election, and telling
//! the fleet who holds the lease and what the engine did.

use std::time::{Duration, Instant};

use kube::Client;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::stores::{StoreInput, short_error};
use crate::console::engine_stats::{EngineReading, EngineStats, Origin};
use crate::controllers::events::EngineEvent;
use crate::controllers::{Engine, EngineHandle, EngineOptions, LeaseOptions, leader};
use crate::telemetry::scrape::{self, MetricsUrl, ScrapeError};
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
    /// `--engine-metrics`: the figures shown while the in-process engine does not lead.
    pub remote_metrics: Option<MetricsUrl>,
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
            remote_metrics: None,
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
                let local_leads = telemetry.as_ref().is_some_and(|t| t.is_leading());
                let source = match (&config.remote_metrics, telemetry.as_deref()) {
                    (_, Some(telemetry)) if local_leads => Source::InProcess(telemetry),
                    (Some(url), _) => {
                        let read = tokio::select! {
                            () = cancel.cancelled() => break,
                            read = read_remote(url) => read,
                        };
                        Source::Remote(url, read)
                    }
                    (None, Some(telemetry)) => Source::InProcess(telemetry),
                    (None, None) => Source::Nothing,
                };
                if let Some(update) = figures.next(source) {
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

async fn read_remote(url: &MetricsUrl) -> Result<EngineFigures, ScrapeError> {
    let text = scrape::fetch(url).await?;
    scrape::figures_from_text(&text, Instant::now())
}

/// Whose figures the Engine view shows at one reading.
enum Source<'a> {
    Nothing,
    InProcess(&'a Telemetry),
    Remote(&'a MetricsUrl, Result<EngineFigures, ScrapeError>),
}

/// Turns readings of an engine's telemetry into view updates, sent only
/// when what the view shows changed.
#[derive(Default)]
struct FiguresFeed {
    /// The last reading, for rates; only ever of the engine shown now.
    previous: Option<(Origin, EngineFigures)>,
    shown: Option<EngineReading>,
}

impl FiguresFeed {
    /// `Some(update)` when the view must change; `Some(None)` once there is nothing to show.
    fn next(&mut self, source: Source<'_>) -> Option<Option<EngineReading>> {
        let (origin, now) = match source {
            Source::Nothing => {
                self.previous = None;
                return self.shown.take().map(|_| None);
            }
            Source::InProcess(telemetry) => (Origin::InProcess, telemetry.figures()),
            Source::Remote(url, Ok(figures)) => (Origin::Remote(url.to_string()), figures),
            Source::Remote(url, Err(error)) => {
                self.previous = None;
                return self.show(EngineReading::Unreachable {
                    url: url.to_string(),
                    error: error.to_string(),
                });
            }
        };
        let before = self
            .previous
            .as_ref()
            .filter(|(o, _)| *o == origin)
            .map(|(_, f)| f);
        let stats = EngineStats::between(origin.clone(), before, &now);
        self.previous = Some((origin, now));
        self.show(EngineReading::Figures(stats))
    }

    fn show(&mut self, reading: EngineReading) -> Option<Option<EngineReading>> {
        if self.shown.as_ref() == Some(&reading) {
            return None;
        }
        self.shown = Some(reading.clone());
        Some(Some(reading))
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
        let figures = |update: Option<Option<EngineReading>>| match update {
            Some(Some(EngineReading::Figures(stats))) => stats,
            other => panic!("expected figures, got {other:?}"),
        };
        assert_eq!(
            feed.next(Source::Nothing),
            None,
            "no engine, nothing shown: nothing to say"
        );
        let first = figures(feed.next(Source::InProcess(&telemetry)));
        assert!(!first.leading);
        assert_eq!(first.origin, Origin::InProcess);
        assert_eq!(
            feed.next(Source::InProcess(&telemetry)),
            None,
            "an idle engine sends nothing"
        );
        telemetry.set_leading(true);
        let leading = figures(feed.next(Source::InProcess(&telemetry)));
        assert!(leading.leading);
        assert_eq!(
            feed.next(Source::Nothing),
            Some(None),
            "the view is told the engine is gone"
        );
        assert_eq!(feed.next(Source::Nothing), None);
    }

    #[test]
    fn a_remote_engine_that_stops_answering_is_shown_unreachable_not_stale() {
        let url: MetricsUrl = "http://127.0.0.1:9/metrics".parse().expect("url");
        let remote = std::sync::Arc::new(Telemetry::default());
        remote.set_leading(true);
        let mut feed = FiguresFeed::default();
        let read = Source::Remote(&url, Ok(remote.figures()));
        match feed.next(read) {
            Some(Some(EngineReading::Figures(stats))) => {
                assert_eq!(stats.origin, Origin::Remote(url.to_string()));
                assert!(stats.leading);
            }
            other => panic!("expected the remote figures, got {other:?}"),
        }
        let failed = Source::Remote(&url, Err(ScrapeError::Timeout));
        assert_eq!(
            feed.next(failed),
            Some(Some(EngineReading::Unreachable {
                url: url.to_string(),
                error: ScrapeError::Timeout.to_string(),
            }))
        );
        assert_eq!(
            feed.next(Source::Remote(&url, Err(ScrapeError::Timeout))),
            None,
            "the same failure again changes nothing"
        );
        // Rates never span a gap: the first reading after it has none.
        match feed.next(Source::Remote(&url, Ok(remote.figures()))) {
            Some(Some(EngineReading::Figures(stats))) => {
                assert_eq!(stats.writes_rate, crate::console::engine_stats::Rate(0));
            }
            other => panic!("expected figures again, got {other:?}"),
        }
    }

    #[test]
    fn identities_name_the_console() {
        let id = console_identity();
        assert!(id.starts_with("edgedeck-console-"), "{id}");
        assert_ne!(id, console_identity());
    }
}
