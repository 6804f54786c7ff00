//! The terminal loop: keys, fleet snapshots, write results, a 1s tick and
//! the backend all become [`Action`]s for the pure [`App`]; effects go to
//! the backend; the screen is drawn only when the App says it is dirty (or
//! the terminal was resized). Never a busy loop.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use kube::config::Kubeconfig;
use tokio::sync::{mpsc, watch};

use super::backend::{self, BackendConfig, Command, EMBEDDED_CONTEXT, Start};
use super::engine::EngineConfig;
use super::terminal::Tui;
use super::{ConsoleError, ConsoleOptions, Target};
use crate::console::action::{Action, Effect};
use crate::console::app::{App, Options};
use crate::console::model::{ConnectionState, Fleet};
use crate::simulation::seed::Seed;

/// How long quitting waits for the engine to release its lease and the
/// embedded cluster to stop.
const SHUTDOWN_PATIENCE: Duration = Duration::from_secs(10);

/// Context names in a kubeconfig (the given one, or the default places), and its current context.
fn kubeconfig_contexts(path: Option<&std::path::Path>) -> (Vec<String>, Option<String>) {
    let config = match path {
        Some(p) => Kubeconfig::read_from(p),
        None => Kubeconfig::read(),
    };
    match config {
        Ok(k) => (
            k.contexts.iter().map(|c| c.name.clone()).collect(),
            k.current_context,
        ),
        Err(_) => (Vec::new(), None),
    }
}

/// Runs the console until the user quits (or SIGTERM/SIGHUP).
pub async fn run(opts: ConsoleOptions) -> Result<(), ConsoleError> {
    super::check_terminal()?;
    let (start, context, contexts, kubeconfig, kubeconfig_out) = match &opts.target {
        Target::Kubeconfig { path, context } => {
            let client = crate::connect::client(path.as_deref(), context.as_deref()).await?;
            let (contexts, current) = kubeconfig_contexts(path.as_deref());
            let name = context
                .clone()
                .or(current)
                .unwrap_or_else(|| "in-cluster".into());
            (
                Start::Client {
                    client,
                    context: name.clone(),
                },
                name,
                contexts,
                path.clone(),
                None,
            )
        }
        Target::Embedded { kubeconfig_out } => {
            let (mut contexts, _) = kubeconfig_contexts(None);
            contexts.insert(0, EMBEDDED_CONTEXT.into());
            contexts.dedup();
            (
                Start::Embedded {
                    kubeconfig_out: kubeconfig_out.clone(),
                    seed: Seed::Demo,
                },
                EMBEDDED_CONTEXT.to_owned(),
                contexts,
                None,
                Some(kubeconfig_out.display().to_string()),
            )
        }
    };
    let initial = Fleet {
        context,
        connection: ConnectionState::Connecting {
            step: "starting…".into(),
        },
        ..Fleet::default()
    };
    let mut app = App::new(
        Arc::new(initial.clone()),
        Options {
            readonly: opts.readonly,
            theme: opts.theme.clone(),
            themes: opts.themes.clone(),
            now: SystemTime::now(),
            contexts,
            log_path: opts.log_path.as_ref().map(|p| p.display().to_string()),
            kubeconfig_out,
            mouse: opts.mouse,
            keys: opts.config.keys.clone(),
            external_editor: super::editor::from_env(),
            log_tail: opts
                .config
                .log_tail
                .map_or(crate::console::logs::TAILS[0], |n| Some(i64::from(n))),
        },
    );

    let (fleet_tx, fleet_rx) = watch::channel(Arc::new(initial));
    let (results_tx, results_rx) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let config = BackendConfig {
        start,
        kubeconfig,
        readonly: opts.readonly,
        engine: EngineConfig {
            remote_metrics: opts.engine_metrics.clone(),
            ..EngineConfig::new(opts.engine, opts.readonly, opts.engine_explicit)
        },
        versions: Arc::new(AtomicU64::new(1)),
    };
    let mut backend = tokio::spawn(backend::run(config, commands_rx, fleet_tx, results_tx));

    let mut tui = match Tui::enter().and_then(|mut tui| tui.set_mouse(opts.mouse).map(|()| tui)) {
        Ok(tui) => tui,
        Err(e) => {
            let _ = commands.send(Command::Shutdown);
            let _ = tokio::time::timeout(SHUTDOWN_PATIENCE, &mut backend).await;
            return Err(e.into());
        }
    };
    let mut backend_done = false;
    let outcome = event_loop(
        &mut tui,
        &mut app,
        fleet_rx,
        results_rx,
        &commands,
        &mut backend,
        &mut backend_done,
    )
    .await;
    tui.leave();
    drop(tui);
    let _ = commands.send(Command::Shutdown);
    if !backend_done {
        match tokio::time::timeout(SHUTDOWN_PATIENCE, &mut backend).await {
            Ok(Ok(Ok(()))) | Err(_) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "backend ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "backend task failed"),
        }
    }
    tracing::info!("console stopped");
    outcome
}

async fn event_loop(
    tui: &mut Tui,
    app: &mut App,
    mut fleet_rx: watch::Receiver<Arc<Fleet>>,
    mut results_rx: mpsc::UnboundedReceiver<crate::console::WriteOutcome>,
    commands: &mpsc::UnboundedSender<Command>,
    backend: &mut tokio::task::JoinHandle<Result<(), ConsoleError>>,
    backend_done: &mut bool,
) -> Result<(), ConsoleError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut fleet_open = true;
    tui.draw(app)?;
    app.take_dirty();
    loop {
        let mut effects = Vec::new();
        let mut force = false;
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    effects = app.update(Action::Key(key));
                }
                Some(Ok(Event::Mouse(event))) => {
                    effects = app.update(Action::Mouse { event, at: SystemTime::now() });
                }
                Some(Ok(Event::Resize(_, _))) => force = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break, // the terminal is gone
            },
            changed = fleet_rx.changed(), if fleet_open => match changed {
                Ok(()) => {
                    let fleet = fleet_rx.borrow_and_update().clone();
                    effects = app.update(Action::FleetUpdated(fleet));
                }
                Err(_) => fleet_open = false,
            },
            Some(outcome) = results_rx.recv() => {
                effects = app.update(Action::WriteResult(outcome));
            }
            _ = tick.tick() => {
                effects = app.update(Action::Tick(SystemTime::now()));
            }
            // The backend only ends by itself when the cluster could not be started.
            ended = &mut *backend, if !*backend_done => {
                *backend_done = true;
                match ended {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) => return Err(e),
                    Err(e) => return Err(ConsoleError::Backend(e.to_string())),
                }
            }
            _ = terminate.recv() => break,
            _ = hangup.recv() => break,
        }
        let mut effects = std::collections::VecDeque::from(effects);
        while let Some(effect) = effects.pop_front() {
            match effect {
                Effect::Quit => {}
                Effect::EditExternally { editor, text } => {
                    // The editor owns the terminal meanwhile: no key reader
                    // may take its input (a new one starts after).
                    drop(keys);
                    tui.suspend();
                    let edited =
                        tokio::task::spawn_blocking(move || super::editor::edit(&editor, &text))
                            .await
                            .unwrap_or_else(|e| Err(format!("the editor task failed: {e}")));
                    tui.resume()?;
                    keys = EventStream::new();
                    force = true;
                    effects.extend(app.update(Action::ExternalEdited(edited)));
                }
                effect => {
                    let _ = commands.send(Command::Effect(effect));
                }
            }
        }
        if app.take_dirty() || force {
            tui.draw(app)?;
        }
        if app.quit {
            break;
        }
    }
    Ok(())
}
