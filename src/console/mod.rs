//! The terminal console: a pure [`App`] (state + `update(Action) ->
//! Vec<Effect>` + `draw`), views over a [`model::Fleet`] snapshot and the
//! engine's derived results, keyboard editors that produce new
//! EdgeApplication values, and themes.
//!
//! The live loop ([`live::runtime`]) does:
//!
//! ```text
//! loop {
//!     select! {
//!         key   = terminal events  => effects = app.update(Action::Key(key)),
//!         fleet = store snapshots  => app.update(Action::FleetUpdated(fleet)),
//!         now   = 1s interval      => app.update(Action::Tick(now)),
//!         done  = write results    => app.update(Action::WriteResult(done)),
//!     }
//!     perform(effects);                      // patch / create / switch context
//!     if app.take_dirty() { terminal.draw(|f| app.draw(f)) }   // never otherwise
//!     if app.quit { break }
//! }
//! ```

pub mod action;
pub mod app;
pub mod config;
pub mod edit;
pub mod engine_stats;
pub mod fixture;
pub mod fixture_pods;
pub mod keymap;
pub mod keys_doc;
pub mod live;
pub mod logs;
pub mod model;
pub mod theme;
pub mod views;
pub mod widgets;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bulk;
#[cfg(test)]
mod tests_counts;
#[cfg(test)]
mod tests_pods;

pub use action::{Action, Effect, ViewKind, WriteOutcome};
pub use app::{App, Options};
pub use live::{ConsoleError, ConsoleOptions, FleetControls, run};
pub use model::{ConnectionState, Derived, Fleet};
pub use theme::{Theme, ThemeSet};
