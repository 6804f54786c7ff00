//! The App: all console state, `update(Action) -> Vec<Effect>` and
//! `draw(&self, frame)`. No I/O happens here; see [`super::run`] for how a
//! live loop drives it.
//!
//! This module holds the state and routes (`keys`: a key goes to the
//! prompt-line mode that has it, else through the keymap to the view or to
//! the open mode's handler). Each mode has its own file with its keys and,
//! where the state lives here, its drawing: `form` (override form and new
//! NodeGroup), `yaml` (YAML editor), `preview` (diff), `conflict` (409),
//! `confirm` (delete / discard questions), `command` (the `:` line),
//! `filter` (`/`). Beside them: `normal` (actions on the views), `writes`
//! (the write funnel, queue and outcomes), `chrome` (header, prompt,
//! status bar), `bulk` (marks and bulk edits), `mouse`, and
//! `external_editor` (`E` through `$EDITOR`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::{Action, Effect, ViewKind, WriteOutcome};
use super::edit::diff::{self, DiffPreview, Tag};
use super::edit::form::OverrideForm;
use super::edit::nodegroup::NewGroupForm;
use super::edit::yaml_editor::YamlEditor;
use super::edit::{self as edits, EditKind, PendingWrite};
use super::keymap::{Keymap, Scope};
use super::model::{ConnectionState, Derived, Fleet, UNGROUPED};
use super::theme::{Theme, ThemeSet};
use super::views::{self, Ctx, ObjRef, Screen, View};
use crate::api::{API_VERSION, EdgeApplication};
use crate::engine::ObjectKey;

mod bulk;
mod chrome;
mod command;
mod confirm;
mod conflict;
mod external_editor;
mod filter;
mod form;
mod keys;
mod logs;
mod mouse;
mod normal;
mod preview;
mod writes;
mod yaml;

pub use bulk::{Mark, Marks};
pub use command::COMMANDS;
pub use conflict::ConflictView;
use keys::scroll;

/// Startup options.
#[derive(Debug, Clone)]
pub struct Options {
    pub readonly: bool,
    /// Theme name (`--theme`); unknown names fall back to dark with a message.
    pub theme: Option<String>,
    pub themes: ThemeSet,
    pub now: SystemTime,
    /// Known kube contexts, for `:ctx` completion.
    pub contexts: Vec<String>,
    /// Where the console logs (shown in `?` help and the engine view).
    pub log_path: Option<String>,
    /// Where the embedded cluster's kubeconfig was written (shown in the header).
    pub kubeconfig_out: Option<String>,
    /// Mouse events are acted on (the terminal captures them only then).
    pub mouse: bool,
    /// The config file's key rebinding, on top of the keymap.
    pub keys: Vec<super::config::Rebind>,
    /// `$KUBE_EDITOR` / `$EDITOR`: `E` opens the object there instead of the
    /// built-in YAML editor.
    pub external_editor: Option<String>,
    /// Lines a log view starts with (`log_tail` in the config file).
    pub log_tail: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            readonly: false,
            theme: None,
            themes: ThemeSet::shipped(),
            now: UNIX_EPOCH,
            contexts: Vec::new(),
            log_path: None,
            kubeconfig_out: None,
            mouse: true,
            keys: Vec::new(),
            external_editor: None,
            log_tail: crate::console::logs::TAILS[0],
        }
    }
}

/// What has the keyboard.
pub enum Mode {
    Normal,
    Filter,
    Command {
        input: String,
    },
    Form(Box<OverrideForm>),
    YamlEdit(Box<YamlEditor>),
    Diff {
        preview: Box<DiffPreview>,
        back: Option<Box<Mode>>,
    },
    Conflict(Box<ConflictView>),
    NewGroup(Box<NewGroupForm>),
    /// `esc` on a changed editor; `y` discards, anything else keeps editing.
    ConfirmDiscard(Box<Mode>),
    /// `ctrl-d` asked; `y` deletes, anything else cancels.
    ConfirmDelete {
        key: ObjectKey,
        resource_version: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Flash {
    Info(String),
    Error(String),
}

pub struct App {
    pub fleet: Arc<Fleet>,
    pub derived: Derived,
    pub stack: Vec<Screen>,
    pub mode: Mode,
    pub keymap: Keymap,
    pub themes: ThemeSet,
    pub theme: Theme,
    pub readonly: bool,
    pub now: SystemTime,
    pub flash: Option<Flash>,
    pub pending: Option<PendingWrite>,
    pub contexts: Vec<String>,
    pub controls: bool,
    pub log_path: Option<String>,
    pub kubeconfig_out: Option<String>,
    pub quit: bool,
    dirty: bool,
    fallback: Screen,
    /// 409s in a row where only status or metadata had moved (see
    /// [`App::on_write_result`]); bounds the silent retries.
    status_retries: u8,
    /// Edits asked for while a write was in flight, in order. Each is sent
    /// when the write before it returns, on the object the server answered,
    /// so the console never conflicts with itself.
    queued: VecDeque<QueuedEdit>,
    /// The editor a save in flight came from, reopened if the write fails.
    saving_from: Option<Box<Mode>>,
    /// When `flash` was set (see [`INFO_TTL`]).
    flash_at: SystemTime,
    /// The top-level screens switched away from, as they were left.
    left: Vec<Screen>,
    /// The log the Logs view shows, while it is open.
    logs: Option<Box<crate::console::logs::LogPane>>,
    /// Id of the last log stream asked for (chunks of older ones are dropped).
    log_id: u64,
    pub mouse: bool,
    rebinds: Vec<super::config::Rebind>,
    external_editor: Option<String>,
    log_tail: Option<i64>,
    /// The object open in `$EDITOR`, from `E` until it is saved or given up.
    external: Option<external_editor::ExternalEdit>,
    /// Matrix cells and target rows marked with `space` for a bulk edit.
    pub marks: Marks,
    /// The last left click, to tell a double-click.
    last_click: Option<mouse::Click>,
}

struct QueuedEdit {
    /// `namespace`, `name` of the EdgeApplication.
    app: (Option<String>, String),
    edit: EditKind,
}

/// How often a write is retried silently when only the object's status or
/// metadata changed since it was read, before the conflict view is shown.
const STATUS_RETRIES: u8 = 3;

/// How long a message stays on the prompt line: long enough to read, short
/// enough that it never describes a state that has since changed.
const INFO_TTL: std::time::Duration = std::time::Duration::from_secs(5);
const ERROR_TTL: std::time::Duration = std::time::Duration::from_secs(15);

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl App {
    pub fn new(fleet: Arc<Fleet>, options: Options) -> App {
        let derived = Derived::compute(&fleet);
        let controls = fleet.controls;
        let mut flash = None;
        let theme = match &options.theme {
            None => options.themes.get("dark").cloned().unwrap_or_default(),
            Some(name) => match options.themes.get(name) {
                Some(t) => t.clone(),
                None => {
                    flash = Some(Flash::Error(format!("unknown theme {name:?}; using dark")));
                    Theme::dark()
                }
            },
        };
        if let Some(e) = options.themes.errors.first() {
            flash = Some(Flash::Error(format!("theme: {e}")));
        }
        let mut app = App {
            fleet,
            derived,
            stack: vec![Screen::new(View::Regions)],
            mode: Mode::Normal,
            keymap: keymap_for(controls, &options.keys),
            themes: options.themes,
            theme,
            readonly: options.readonly,
            now: options.now,
            flash,
            pending: None,
            contexts: options.contexts,
            controls,
            log_path: options.log_path,
            kubeconfig_out: options.kubeconfig_out,
            quit: false,
            dirty: true,
            fallback: Screen::new(View::Regions),
            status_retries: 0,
            queued: VecDeque::new(),
            saving_from: None,
            flash_at: options.now,
            left: Vec::new(),
            logs: None,
            log_id: 0,
            mouse: options.mouse,
            rebinds: options.keys,
            external_editor: options.external_editor,
            log_tail: options.log_tail,
            external: None,
            marks: Marks::default(),
            last_click: None,
        };
        app.refresh_tables();
        app
    }

    /// Whether a redraw is due; clears the flag. The loop draws only when true.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            fleet: &self.fleet,
            derived: &self.derived,
            theme: &self.theme,
            now: self.now,
            readonly: self.readonly,
            log_path: self.log_path.as_deref(),
            marks: &self.marks,
        }
    }

    pub fn screen(&self) -> &Screen {
        // The stack is never empty (Back on the last screen does nothing).
        self.stack.last().unwrap_or(&self.fallback)
    }

    fn screen_mut(&mut self) -> &mut Screen {
        if self.stack.is_empty() {
            self.stack.push(Screen::new(View::Regions));
        }
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn refresh_tables(&mut self) {
        self.refresh_screens_from(0);
    }

    fn refresh_top(&mut self) {
        self.refresh_screens_from(self.stack.len().saturating_sub(1));
    }

    /// Recomputes the table rows of the screens from position `first` up the stack.
    fn refresh_screens_from(&mut self, first: usize) {
        let fleet = Arc::clone(&self.fleet);
        let derived = std::mem::take(&mut self.derived);
        {
            let ctx = Ctx {
                fleet: &fleet,
                derived: &derived,
                theme: &self.theme,
                now: self.now,
                readonly: self.readonly,
                log_path: self.log_path.as_deref(),
                marks: &self.marks,
            };
            for screen in self.stack.iter_mut().skip(first) {
                if let Some(src) = views::source(&screen.view, &ctx) {
                    screen.table.refresh(&*src);
                }
            }
        }
        self.derived = derived;
    }

    fn push(&mut self, view: View) {
        self.flash = None;
        self.stack.push(Screen::new(view));
        self.refresh_top();
    }

    fn info(&mut self, msg: impl Into<String>) {
        self.flash = Some(Flash::Info(msg.into()));
        self.flash_at = self.now;
    }

    fn error(&mut self, msg: impl Into<String>) {
        self.flash = Some(Flash::Error(msg.into()));
        self.flash_at = self.now;
    }

    /// Whether the message shown has been read long enough to go.
    fn flash_expired(&self) -> bool {
        let ttl = match &self.flash {
            None => return false,
            Some(Flash::Info(_)) => INFO_TTL,
            Some(Flash::Error(_)) => ERROR_TTL,
        };
        self.now
            .duration_since(self.flash_at)
            .is_ok_and(|shown| shown >= ttl)
    }

    /// Shows ages that change with the clock.
    fn shows_ages(&self) -> bool {
        matches!(
            self.screen().view,
            View::Engine | View::AppDetail { .. } | View::Pods(_) | View::Events
        ) || matches!(
            self.fleet.connection,
            super::model::ConnectionState::Reconnecting { .. }
        )
    }

    /// The single entry point for every change of state.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => return self.handle_key(key),
            Action::Tick(now) => {
                let changed = secs(now) != secs(self.now);
                self.now = now;
                if changed && self.shows_ages() {
                    self.dirty = true;
                }
                // A message still needed is in the editor or the dialog that
                // stays open; the prompt line's own messages go.
                if self.flash_expired() && matches!(self.mode, Mode::Normal) {
                    self.flash = None;
                    self.dirty = true;
                }
                return Vec::new();
            }
            Action::FleetUpdated(fleet) => {
                if fleet.version == self.fleet.version && Arc::ptr_eq(&fleet, &self.fleet) {
                    return Vec::new();
                }
                if fleet.controls != self.controls {
                    self.controls = fleet.controls;
                    self.keymap = keymap_for(fleet.controls, &self.rebinds);
                }
                self.fleet = fleet;
                self.derived = Derived::compute(&self.fleet);
                self.marks.retain_existing(&self.derived);
                self.refresh_tables();
                if let Mode::NewGroup(form) = &mut self.mode {
                    form.refresh(&self.fleet.nodes, &self.fleet.node_groups);
                }
                self.rebase_open_edit();
                self.dirty = true;
                return Vec::new();
            }
            Action::WriteResult(outcome) => {
                self.dirty = true;
                return self.on_write_result(outcome);
            }
            Action::Mouse { event, at } => return self.on_mouse(event, at),
            Action::ExternalEdited(result) => {
                self.dirty = true;
                return self.on_external_edited(result);
            }
            _ => {}
        }
        self.dirty = true;
        match &self.mode {
            Mode::Normal => self.normal(action),
            _ => self.modal(action),
        }
    }
}

/// The shipped keymap (with the simulator's keys when it runs), rebound as the config file says.
fn keymap_for(controls: bool, rebinds: &[super::config::Rebind]) -> Keymap {
    let mut keymap = if controls {
        Keymap::with_fleet_controls()
    } else {
        Keymap::new()
    };
    super::config::apply(&mut keymap, rebinds);
    keymap
}
