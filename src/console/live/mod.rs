//! The console as a program: a terminal loop driving the pure [`App`]
//! (see [`crate::console`]) from live reflector stores, with the engine
//! in-process.
//!
//! - [`runtime`]: the terminal loop (`select!` over keys, fleets, write
//!   results and a 1s tick; draws only when the App is dirty)
//! - [`terminal`]: raw mode / alternate screen, restored on exit, error, panic
//! - [`backend`]: embedded cluster start with progress, sessions, context switches
//! - [`session`]: one cluster connection: [`stores`] + [`engine`] + [`executor`]
//! - [`stores`]: reflectors → debounced `Arc<Fleet>` snapshots, connection health
//!   ([`pods`]: the slim pod, event and node-lease stores)
//! - [`logs`]: a pod's log streamed to the Logs view
//! - [`engine`]: `--engine auto|on|off` and the in-process engine
//! - [`executor`]: effects → API requests (409 → conflict), read-only refusal
//! - [`editor`]: `$KUBE_EDITOR`/`$EDITOR` on a private file, for `E`
//! - [`embedded`], [`controls`]: the embedded cluster and its simulator controls
//! - [`paths`]: state directory, log file
//!
//! [`App`]: crate::console::App

pub mod backend;
pub mod controls;
pub mod editor;
pub mod embedded;
pub mod engine;
pub mod executor;
pub mod lag;
pub mod logs;
pub mod paths;
pub mod pods;
pub mod runtime;
pub mod session;
pub mod stores;
pub mod terminal;
pub mod throttle;

use std::io::IsTerminal as _;
use std::path::PathBuf;

use thiserror::Error;

use crate::connect::ConnectError;
use crate::console::theme::ThemeSet;

pub use controls::FleetControls;
pub use engine::{EngineConfig, EngineMode, engine_should_run};
pub use executor::Executor;
pub use runtime::run;
pub use session::{Session, SessionOptions};
pub use stores::{StoreInput, Stores, StoresConfig};

/// Which cluster the console shows.
#[derive(Debug, Clone)]
pub enum Target {
    /// kubectl's rules: `--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`, in-cluster.
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// Start the embedded cluster with the demo fleet; write its kubeconfig here.
    Embedded { kubeconfig_out: PathBuf },
}

/// Everything `edgedeck` (the console command) was asked for.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    pub target: Target,
    pub readonly: bool,
    pub engine: EngineMode,
    /// `--engine` was given explicitly (`--readonly --engine on` runs the engine).
    pub engine_explicit: bool,
    /// `--engine-metrics`: a remote engine's `/metrics`, for the Engine view.
    pub engine_metrics: Option<crate::telemetry::scrape::MetricsUrl>,
    pub theme: Option<String>,
    pub themes: ThemeSet,
    /// Where logs go (shown in help and the engine view).
    pub log_path: Option<PathBuf>,
    /// Mouse capture (off: the terminal's own text selection works).
    pub mouse: bool,
    /// The config file's settings (key rebinding, log tail, soak time).
    pub config: crate::console::config::Config,
}

#[derive(Debug, Error)]
pub enum ConsoleError {
    #[error(
        "the console needs a terminal, but {0} is not one (for headless use see `edgedeck engine` and `edgedeck cluster`)"
    )]
    NotATerminal(&'static str),
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("embedded cluster: {0}")]
    Embedded(String),
    #[error("unknown theme {name:?}; available themes: {available}")]
    UnknownTheme { name: String, available: String },
    #[error("the console's background task failed: {0}")]
    Backend(String),
}

/// Standard input and output must be a terminal.
pub fn check_terminal() -> Result<(), ConsoleError> {
    if !std::io::stdout().is_terminal() {
        return Err(ConsoleError::NotATerminal("standard output"));
    }
    if !std::io::stdin().is_terminal() {
        return Err(ConsoleError::NotATerminal("standard input"));
    }
    Ok(())
}

/// Shipped themes plus the user's (`$XDG_CONFIG_HOME/edgedeck/themes`);
/// an unknown `--theme` is an error listing the known ones.
pub fn resolve_themes(theme: Option<&str>) -> Result<ThemeSet, ConsoleError> {
    let themes = match ThemeSet::user_dir() {
        Some(dir) => ThemeSet::with_user_dir(&dir),
        None => ThemeSet::shipped(),
    };
    check_theme(&themes, theme)?;
    Ok(themes)
}

fn check_theme(themes: &ThemeSet, theme: Option<&str>) -> Result<(), ConsoleError> {
    match theme {
        Some(name) if themes.get(name).is_none() => Err(ConsoleError::UnknownTheme {
            name: name.to_owned(),
            available: themes.names().join(", "),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_theme_lists_the_known_ones() {
        let themes = ThemeSet::shipped();
        assert!(check_theme(&themes, Some("dark")).is_ok());
        assert!(check_theme(&themes, None).is_ok());
        let err = check_theme(&themes, Some("solarized")).expect_err("unknown");
        let text = err.to_string();
        assert!(text.contains("solarized"), "{text}");
        assert!(text.contains("dark, light, high-contrast"), "{text}");
    }
}
