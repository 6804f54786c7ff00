//! The App: all console state, `update(Action) -> Vec<Effect>` and
//! `draw(&self, frame)`. No I/O happens here; see [`super::run`] for how a
//! live loop drives it.

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
        }
    }
}

/// A 409 waiting for the user's decision.
pub struct ConflictView {
    pub pending: PendingWrite,
    pub current: EdgeApplication,
    pub lines: Vec<(Tag, String)>,
    pub scroll: usize,
    pub text: super::widgets::text::TextState,
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

pub const COMMANDS: [&str; 12] = [
    "regions", "apps", "matrix", "traffic", "engine", "nodes", "ctx", "ns", "theme", "help",
    "newgroup", "q",
];

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
            keymap: if controls {
                Keymap::with_fleet_controls()
            } else {
                Keymap::new()
            },
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
        matches!(self.screen().view, View::Engine | View::AppDetail { .. })
            || matches!(
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
                    self.keymap = if fleet.controls {
                        Keymap::with_fleet_controls()
                    } else {
                        Keymap::new()
                    };
                }
                self.fleet = fleet;
                self.derived = Derived::compute(&self.fleet);
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
            _ => {}
        }
        self.dirty = true;
        match &self.mode {
            Mode::Normal => self.normal(action),
            _ => self.modal(action),
        }
    }

    fn on_write_result(&mut self, outcome: WriteOutcome) -> Vec<Effect> {
        match outcome {
            WriteOutcome::Ok { what, written } => {
                self.pending = None;
                self.status_retries = 0;
                self.saving_from = None;
                self.info(format!("✓ {what}"));
                return self.send_queued(written.map(|w| *w));
            }
            WriteOutcome::Failed { error } => {
                self.pending = None;
                self.status_retries = 0;
                let dropped = self.drop_queue();
                match self.saving_from.take() {
                    // Only when nothing else took the keyboard meanwhile.
                    Some(editor) if matches!(self.mode, Mode::Normal) => {
                        self.mode = *editor;
                        self.error(format!(
                            "✗ write failed: {error}{dropped}; your edit is still open (ctrl-s to try again)"
                        ));
                    }
                    _ => self.error(format!("✗ write failed: {error}{dropped}")),
                }
            }
            WriteOutcome::Done { message } => self.info(format!("✓ {message}")),
            WriteOutcome::Error { message } => self.error(format!("✗ {message}")),
            WriteOutcome::Conflict { current } => match self.pending.take() {
                // Only status or metadata moved (the engine reports progress
                // as replicas become ready): the same edit on the new
                // resourceVersion is exactly the change that was previewed,
                // so write it again rather than ask.
                Some(pending)
                    if pending.base.spec == current.spec
                        && self.status_retries < STATUS_RETRIES =>
                {
                    self.status_retries += 1;
                    return self.save(*current, pending.edit);
                }
                Some(pending) => {
                    self.status_retries = 0;
                    // Queued edits were meant for the object this one would
                    // have made; the user decides anew on what is there now.
                    let dropped = self.drop_queue();
                    // The conflict view carries the edit from here on.
                    self.saving_from = None;
                    let base = serde_yaml_ng::to_string(&pending.base.spec).unwrap_or_default();
                    let now = serde_yaml_ng::to_string(&current.spec).unwrap_or_default();
                    let mut lines = vec![(
                        Tag::Heading,
                        format!(
                            "The application changed since you read it (resourceVersion {} → {}). Changed meanwhile:",
                            pending
                                .base
                                .metadata
                                .resource_version
                                .as_deref()
                                .unwrap_or("?"),
                            current.metadata.resource_version.as_deref().unwrap_or("?")
                        ),
                    )];
                    let changes = diff::hunks(diff::line_diff(&base, &now), 2);
                    if changes.is_empty() {
                        lines.push((
                            Tag::Note,
                            "  (spec unchanged; only metadata or status)".into(),
                        ));
                    }
                    lines.extend(changes);
                    lines.push((
                        Tag::Heading,
                        format!("Your change: {}", pending.edit.describe()),
                    ));
                    lines.push((
                        Tag::Note,
                        "r re-apply your change on top of this · esc discard".into(),
                    ));
                    self.flash = Some(Flash::Error(format!(
                        "✗ 409 Conflict: the object changed meanwhile{dropped}"
                    )));
                    self.mode = Mode::Conflict(Box::new(ConflictView {
                        pending,
                        current: *current,
                        lines,
                        scroll: 0,
                        text: Default::default(),
                    }));
                }
                None => self.error("✗ conflict on a write that is no longer pending"),
            },
        }
        Vec::new()
    }

    fn scopes(&self) -> Vec<Scope> {
        match &self.mode {
            Mode::Form(_) | Mode::YamlEdit(_) => vec![Scope::Editor],
            Mode::NewGroup(_) => vec![Scope::GroupForm],
            Mode::Diff { .. } => vec![Scope::Diff],
            Mode::Conflict(_) => vec![Scope::Conflict],
            _ => Keymap::scopes(&self.screen().view),
        }
    }

    fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.update(Action::Quit);
        }
        // A terminal sends Alt-x as ESC x, so `esc` quickly followed by `1`
        // arrives as Alt-1. Nothing is bound to Alt: it is the two keys.
        if key.modifiers == KeyModifiers::ALT && matches!(key.code, KeyCode::Char(_)) {
            let mut effects = self.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            effects.extend(self.handle_key(KeyEvent::new(key.code, KeyModifiers::NONE)));
            return effects;
        }
        match &mut self.mode {
            Mode::Filter => {
                self.dirty = true;
                let screen = self.screen_mut();
                match key.code {
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Esc => {
                        screen.table.filter.clear();
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Backspace => {
                        screen.table.filter.pop();
                    }
                    KeyCode::Char(c) => screen.table.filter.push(c),
                    _ => return Vec::new(),
                }
                if self.is_text_view() {
                    // Search as you type: to the first match from where the view is.
                    let screen = self.screen_mut();
                    let from = screen.scroll.min(screen.text.max_scroll());
                    let found = screen.text.find(&screen.table.filter, from, false);
                    screen.text.current.set(found);
                    if let Some(line) = found {
                        screen.scroll = line.min(screen.text.max_scroll());
                    }
                    return Vec::new();
                }
                self.refresh_top();
                return Vec::new();
            }
            Mode::ConfirmDiscard(_) => {
                let Mode::ConfirmDiscard(editor) = std::mem::replace(&mut self.mode, Mode::Normal)
                else {
                    return Vec::new();
                };
                if key.code == KeyCode::Char('y') {
                    self.info("discarded your edit");
                } else {
                    self.mode = *editor;
                }
                return Vec::new();
            }
            Mode::ConfirmDelete { .. } => {
                let Mode::ConfirmDelete {
                    key: target,
                    resource_version,
                } = std::mem::replace(&mut self.mode, Mode::Normal)
                else {
                    return Vec::new();
                };
                if key.code == KeyCode::Char('y') {
                    self.info(format!("deleting {target}…"));
                    return self.write(Effect::Delete {
                        key: target,
                        resource_version,
                    });
                }
                self.info("delete cancelled");
                return Vec::new();
            }
            Mode::Command { input } => {
                self.dirty = true;
                match key.code {
                    KeyCode::Esc => self.mode = Mode::Normal,
                    KeyCode::Enter => {
                        let line = input.clone();
                        self.mode = Mode::Normal;
                        return self.run_command(&line);
                    }
                    KeyCode::Tab => {
                        let typed = input.clone();
                        let completed = complete(&typed, &self.completions(&typed));
                        if let Mode::Command { input } = &mut self.mode {
                            *input = completed;
                        }
                    }
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    KeyCode::Char(c) => input.push(c),
                    _ => {}
                }
                return Vec::new();
            }
            _ => {}
        }
        let scopes = self.scopes();
        if let Some(binding) = self.keymap.lookup(&scopes, &key) {
            let action = binding.action.clone();
            return self.update(action);
        }
        // Unbound keys go to the focused editor, if any.
        match &mut self.mode {
            Mode::Form(form) => form.input(key),
            Mode::YamlEdit(editor) => editor.input(key),
            Mode::NewGroup(form) => form.input(key, &self.fleet.nodes, &self.fleet.node_groups),
            _ => return Vec::new(),
        }
        self.dirty = true;
        Vec::new()
    }

    /// Every write leaves through here: nothing is written in read-only mode.
    fn write(&mut self, effect: Effect) -> Vec<Effect> {
        if self.readonly && effect.writes() {
            self.error("⊘ read-only: writes are disabled");
            return Vec::new();
        }
        vec![effect]
    }

    /// Keeps an open editor or preview based on the object the server
    /// holds now. A change of status or metadata only moves the base along
    /// (so the save does not 409 on the engine's own status writes); a
    /// change of spec does too, and says so: the preview then shows the
    /// edit on the current object, their change included.
    fn rebase_open_edit(&mut self) {
        let base = match &self.mode {
            Mode::Form(form) => &form.base,
            Mode::YamlEdit(editor) => &editor.base,
            Mode::Diff { preview, .. } => &preview.pending.base,
            _ => return,
        };
        let (namespace, name) = (&base.metadata.namespace, &base.metadata.name);
        let Some(current) = self
            .fleet
            .applications
            .iter()
            .find(|a| a.metadata.namespace == *namespace && a.metadata.name == *name)
        else {
            let name = name.clone().unwrap_or_default();
            self.error(format!(
                "✗ {name} was deleted on the server while you edit it"
            ));
            return;
        };
        if current.metadata.resource_version == base.metadata.resource_version {
            return;
        }
        let spec_moved = current.spec != base.spec;
        let words = format!(
            "⚠ {} changed on the server while you edit it (resourceVersion {} → {}): your edit now applies to the current object",
            name.as_deref().unwrap_or_default(),
            base.metadata.resource_version.as_deref().unwrap_or("?"),
            current.metadata.resource_version.as_deref().unwrap_or("?"),
        );
        let current = current.clone();
        match &mut self.mode {
            Mode::Form(form) => form.rebase(current),
            Mode::YamlEdit(editor) => editor.base = current,
            Mode::Diff { preview, .. } => {
                let edit = preview.pending.edit.clone();
                match DiffPreview::new(current, edit) {
                    Ok(rebased) => **preview = rebased,
                    Err(e) => {
                        self.error(format!("✗ your edit no longer applies: {e}"));
                        return;
                    }
                }
            }
            _ => return,
        }
        if spec_moved {
            self.error(words);
        }
    }

    fn is_text_view(&self) -> bool {
        matches!(
            self.screen().view,
            View::Yaml(_) | View::Describe(_) | View::Help
        )
    }

    /// Why a write cannot be sent now, if it cannot.
    fn not_connected(&self) -> Option<String> {
        match &self.fleet.connection {
            ConnectionState::Connected | ConnectionState::Partial { .. } => None,
            ConnectionState::Connecting { step } => Some(format!("still connecting ({step})")),
            ConnectionState::Reconnecting { error, .. } => {
                Some(format!("the cluster is unreachable ({error})"))
            }
            ConnectionState::Stale => Some("the connection is stale".into()),
        }
    }

    fn refuse_readonly(&mut self) -> bool {
        if self.readonly {
            self.error("⊘ read-only: editing is disabled (started with --readonly)");
        }
        self.readonly
    }

    fn normal(&mut self, action: Action) -> Vec<Effect> {
        let is_text = matches!(
            self.screen().view,
            View::Yaml(_) | View::Describe(_) | View::Help
        );
        match action {
            Action::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            Action::Back => {
                if self.stack.len() > 1 {
                    self.flash = None;
                    self.stack.pop();
                    self.refresh_top();
                } else if !self.screen().table.filter.is_empty() {
                    self.screen_mut().table.filter.clear();
                    self.refresh_top();
                } else {
                    self.dirty = false;
                }
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                let screen = self.screen_mut();
                let page = screen.table.page_size();
                let delta = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -page,
                    Action::PageDown => page,
                    Action::Top => i64::MIN / 2,
                    _ => i64::MAX / 2,
                };
                if is_text {
                    // n/N go on from what is in view after a scroll.
                    screen.text.current.set(None);
                    let max = screen.text.max_scroll();
                    let height = screen.text.extent.get().1.max(1);
                    let now = screen.scroll.min(max);
                    screen.scroll = match action {
                        Action::Up => now.saturating_sub(1),
                        Action::Down => (now + 1).min(max),
                        Action::PageUp => now.saturating_sub(height),
                        Action::PageDown => (now + height).min(max),
                        Action::Top => 0,
                        _ => max,
                    };
                } else if !screen.table.move_by(delta) {
                    self.dirty = false;
                }
            }
            Action::Left | Action::Right => {
                let groups = self.derived.groups.len();
                let screen = self.screen_mut();
                screen.column = match action {
                    Action::Left => screen.column.saturating_sub(1),
                    _ => (screen.column + 1).min(groups.saturating_sub(1)),
                };
            }
            Action::StartFilter => self.mode = Mode::Filter,
            Action::NextMatch | Action::PrevMatch => {
                let back = matches!(action, Action::PrevMatch);
                let screen = self.screen_mut();
                let (total, _) = screen.text.extent.get();
                // From the match last gone to (it may sit below the top on
                // the last page), else from the top line shown.
                let here = screen
                    .text
                    .current
                    .get()
                    .unwrap_or_else(|| screen.scroll.min(screen.text.max_scroll()));
                let from = if back {
                    here.checked_sub(1).unwrap_or(total.saturating_sub(1))
                } else {
                    here + 1
                };
                match screen
                    .text
                    .find(&screen.table.filter, from % total.max(1), back)
                {
                    // The match on the top line; the last page stays full.
                    Some(line) => {
                        screen.text.current.set(Some(line));
                        screen.scroll = line.min(screen.text.max_scroll());
                    }
                    None if screen.table.filter.is_empty() => self.info("/ to search first"),
                    None => {
                        let needle = screen.table.filter.clone();
                        self.info(format!("no line contains {needle:?}"));
                    }
                }
            }
            Action::StartCommand => {
                self.mode = Mode::Command {
                    input: String::new(),
                }
            }
            Action::Help => self.push(View::Help),
            Action::SortNext => {
                let ctx = self.ctx();
                let cols =
                    views::source(&self.screen().view, &ctx).map_or(0, |s| s.columns().len());
                self.screen_mut().table.sort_next(cols);
                self.refresh_top();
            }
            Action::SortReverse => {
                self.screen_mut().table.sort_reverse();
                self.refresh_top();
            }
            Action::Enter => {
                if let Some(view) = self.drill_in() {
                    self.push(view);
                } else {
                    self.dirty = false;
                }
            }
            Action::Yaml | Action::Describe => match self.selected_ref() {
                Some(r) => self.push(if matches!(action, Action::Yaml) {
                    View::Yaml(r)
                } else {
                    View::Describe(r)
                }),
                None => self.info("nothing selected"),
            },
            Action::Goto(kind) => self.goto(kind),
            Action::SetTheme(name) => match self.themes.get(&name) {
                Some(t) => {
                    self.theme = t.clone();
                    self.info(format!("theme {name}"));
                }
                None => self.error(format!(
                    "unknown theme {name:?} (known: {})",
                    self.themes.names().join(", ")
                )),
            },
            Action::SetContext(Some(ctx)) => {
                self.info(format!("switching to context {ctx}…"));
                return vec![Effect::SwitchContext(ctx)];
            }
            Action::SetContext(None) => {
                let msg = format!(
                    "context {} (known: {})",
                    self.fleet.context,
                    self.contexts.join(", ")
                );
                self.info(msg);
            }
            Action::SetNamespace(ns) => {
                self.info(format!("namespace {}", ns.as_deref().unwrap_or("all")));
                return vec![Effect::SwitchNamespace(ns)];
            }
            Action::Edit => return self.start_edit(),
            Action::EditYaml => {
                if !self.refuse_readonly() {
                    match self.selected_app_object() {
                        Some(app) => self.mode = Mode::YamlEdit(Box::new(YamlEditor::new(app))),
                        None => self.info("select an application first"),
                    }
                }
            }
            Action::ScaleUp | Action::ScaleDown => {
                if self.refuse_readonly() {
                    return Vec::new();
                }
                let delta = if matches!(action, Action::ScaleUp) {
                    1
                } else {
                    -1
                };
                let (Some(app), Some(group)) = (self.selected_app_object(), self.selected_group())
                else {
                    self.info("select an application and a group");
                    return Vec::new();
                };
                if !app
                    .spec
                    .workload_scope
                    .target_node_groups
                    .iter()
                    .any(|t| t.name == group)
                {
                    self.info(format!("{group} is not a target; press a to add it"));
                    return Vec::new();
                }
                return self.save(app, EditKind::Scale { group, delta });
            }
            Action::AddTarget | Action::RemoveTarget => {
                if self.refuse_readonly() {
                    return Vec::new();
                }
                let (Some(app), Some(group)) = (self.selected_app_object(), self.selected_group())
                else {
                    self.info("select an application and a group");
                    return Vec::new();
                };
                let edit = if matches!(action, Action::AddTarget) {
                    EditKind::AddTarget(group)
                } else {
                    EditKind::RemoveTarget(group)
                };
                self.preview(app, edit, None);
            }
            Action::ToggleOffline => return self.toggle_offline(),
            Action::ToggleRegionOffline => return self.toggle_region_offline(),
            Action::Delete => return self.ask_delete(),
            Action::NewGroup => {
                if !self.refuse_readonly() {
                    let mut form = NewGroupForm::new();
                    form.refresh(&self.fleet.nodes, &self.fleet.node_groups);
                    self.mode = Mode::NewGroup(Box::new(form));
                }
            }
            _ => self.dirty = false,
        }
        Vec::new()
    }

    fn modal(&mut self, action: Action) -> Vec<Effect> {
        let mode = std::mem::replace(&mut self.mode, Mode::Normal);
        match (mode, action) {
            (Mode::Form(mut form), Action::Down) => {
                form.focus_next(1);
                self.mode = Mode::Form(form);
            }
            (Mode::Form(mut form), Action::Up) => {
                form.focus_next(-1);
                self.mode = Mode::Form(form);
            }
            (Mode::Form(mut form), Action::Enter) => match form.edit() {
                Some(edit) if form.validate() => {
                    let base = form.base.clone();
                    self.preview(base, edit, Some(Box::new(Mode::Form(form))));
                }
                _ => {
                    self.error("✗ fix the marked fields first");
                    self.mode = Mode::Form(form);
                }
            },
            (Mode::YamlEdit(mut editor), Action::Enter) => match editor.edit() {
                Some(edit) => {
                    let base = editor.base.clone();
                    self.preview(base, edit, Some(Box::new(Mode::YamlEdit(editor))));
                }
                None => {
                    let why = editor.refusal().unwrap_or("the YAML does not parse");
                    self.error(format!("✗ not saved: {why}"));
                    self.mode = Mode::YamlEdit(editor);
                }
            },
            (Mode::NewGroup(mut form), Action::Down | Action::Up) => {
                form.focus = 1 - form.focus.min(1);
                self.mode = Mode::NewGroup(form);
            }
            (Mode::NewGroup(form), Action::Enter) => match form.object() {
                Some(object) => {
                    let name = object
                        .pointer("/metadata/name")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    self.info(format!("creating NodeGroup {name}…"));
                    return self.write(Effect::Create { object });
                }
                None => {
                    self.error("✗ fix the name and selector first");
                    self.mode = Mode::NewGroup(form);
                }
            },
            (Mode::Diff { back, .. }, Action::Back) => {
                self.mode = back.map_or(Mode::Normal, |b| *b);
            }
            (Mode::Diff { mut preview, back }, action @ (Action::Up | Action::Down)) => {
                preview.scroll = scroll(preview.scroll, matches!(action, Action::Down))
                    .min(preview.text.max_scroll());
                self.mode = Mode::Diff { preview, back };
            }
            (Mode::Diff { preview, back }, Action::Enter) => {
                if !preview.changes {
                    self.info("nothing to save");
                    self.mode = back.map_or(Mode::Normal, |b| *b);
                    return Vec::new();
                }
                if let Some(why) = self.not_connected() {
                    self.error(format!(
                        "✗ not saved: {why}; your edit stays open (y again once connected)"
                    ));
                    self.mode = Mode::Diff { preview, back };
                    return Vec::new();
                }
                let preview = *preview;
                let effects = self.save_candidate(preview.pending, &preview.candidate);
                if !effects.is_empty() {
                    self.saving_from = back;
                }
                return effects;
            }
            (mode @ (Mode::Form(_) | Mode::YamlEdit(_)), Action::Back) if editor_changed(&mode) => {
                self.mode = Mode::ConfirmDiscard(Box::new(mode));
            }
            (Mode::Conflict(mut c), action @ (Action::Up | Action::Down)) => {
                c.scroll =
                    scroll(c.scroll, matches!(action, Action::Down)).min(c.text.max_scroll());
                self.mode = Mode::Conflict(c);
            }
            (Mode::Conflict(c), Action::Enter) => {
                let c = *c;
                self.preview(c.current, c.pending.edit, None);
            }
            (Mode::Conflict(_), Action::Back) => self.info("discarded your change"),
            (_, Action::Back) => {}
            (mode, Action::Quit) => {
                self.mode = mode;
                self.quit = true;
                return vec![Effect::Quit];
            }
            (mode, _) => {
                self.mode = mode;
                self.dirty = false;
            }
        }
        Vec::new()
    }

    fn preview(&mut self, base: EdgeApplication, edit: EditKind, back: Option<Box<Mode>>) {
        match DiffPreview::new(base, edit) {
            Ok(preview) => {
                self.mode = Mode::Diff {
                    preview: Box::new(preview),
                    back,
                }
            }
            Err(e) => {
                self.error(format!("✗ {e}"));
                self.mode = back.map_or(Mode::Normal, |b| *b);
            }
        }
    }

    /// The next queued edits of one application, as one write based on
    /// `written` when it is that application (else on what the fleet holds).
    fn send_queued(&mut self, written: Option<EdgeApplication>) -> Vec<Effect> {
        let Some(first) = self.queued.pop_front() else {
            return Vec::new();
        };
        let mut edit = first.edit;
        while self.queued.front().is_some_and(|q| q.app == first.app) {
            if let Some(next) = self.queued.pop_front() {
                edit = edit.then(next.edit);
            }
        }
        let (namespace, name) = &first.app;
        let is_it = |a: &EdgeApplication| {
            a.metadata.namespace == *namespace && a.metadata.name.as_deref() == Some(name)
        };
        let base = written
            .filter(is_it)
            .or_else(|| self.fleet.applications.iter().find(|a| is_it(a)).cloned());
        match base {
            Some(base) => self.save(base, edit),
            None => {
                self.error(format!("✗ {} not sent: {name} is gone", edit.describe()));
                self.send_queued(None)
            }
        }
    }

    /// Forgets the queued edits; the words to add to the message saying why.
    fn drop_queue(&mut self) -> String {
        let n = self.queued.len();
        self.queued.clear();
        if n == 0 {
            String::new()
        } else {
            format!("; {n} queued edit(s) not sent")
        }
    }

    /// Applies `edit` to `base` and writes it without a preview (scaling);
    /// queued while another write is in flight.
    fn save(&mut self, base: EdgeApplication, edit: EditKind) -> Vec<Effect> {
        if self.pending.is_some() {
            let app = (
                base.metadata.namespace.clone(),
                base.metadata.name.clone().unwrap_or_default(),
            );
            self.info(format!(
                "queued {} (sent when the write in flight returns)",
                edit.describe()
            ));
            self.queued.push_back(QueuedEdit { app, edit });
            return Vec::new();
        }
        match edits::apply_edit(&base, &edit) {
            Ok(candidate) => self.save_candidate(PendingWrite { base, edit }, &candidate),
            Err(e) => {
                self.error(format!("✗ {e}"));
                Vec::new()
            }
        }
    }

    fn save_candidate(
        &mut self,
        pending: PendingWrite,
        candidate: &EdgeApplication,
    ) -> Vec<Effect> {
        match edits::patch_effect(&pending.base, candidate) {
            Ok(effect) => {
                let effects = self.write(effect);
                if !effects.is_empty() {
                    self.info(format!("saving {}…", pending.edit.describe()));
                    self.pending = Some(pending);
                }
                effects
            }
            Err(e) => {
                self.error(format!("✗ {e}"));
                Vec::new()
            }
        }
    }

    fn start_edit(&mut self) -> Vec<Effect> {
        if self.refuse_readonly() {
            return Vec::new();
        }
        let Some(app) = self.selected_app_object() else {
            self.info("select an application first");
            return Vec::new();
        };
        let group = match self.screen().view {
            View::Apps => app
                .spec
                .workload_scope
                .target_node_groups
                .first()
                .map(|t| t.name.clone()),
            _ => self.selected_group(),
        };
        match group {
            Some(g)
                if app
                    .spec
                    .workload_scope
                    .target_node_groups
                    .iter()
                    .any(|t| t.name == g) =>
            {
                self.mode = Mode::Form(Box::new(OverrideForm::new(app, g)));
            }
            Some(g) => self.info(format!(
                "{g} is not a target of this application; press a to add it"
            )),
            None => self.info("this application has no target group"),
        }
        Vec::new()
    }

    /// `o`: the node under the cursor goes offline (or back online).
    /// `ctrl-d`: asks before deleting the selected EdgeApplication or NodeGroup.
    fn ask_delete(&mut self) -> Vec<Effect> {
        if self.refuse_readonly() {
            return Vec::new();
        }
        let found = match self.selected_ref() {
            Some(ObjRef::App { namespace, name }) => self
                .fleet
                .applications
                .iter()
                .find(|a| {
                    a.metadata.namespace.as_deref() == Some(&namespace)
                        && a.metadata.name.as_deref() == Some(&name)
                })
                .map(|a| {
                    (
                        ObjectKey::new(API_VERSION, "EdgeApplication", Some(&namespace), name),
                        a.metadata.resource_version.clone(),
                    )
                }),
            Some(ObjRef::NodeGroup(name)) => self
                .fleet
                .node_groups
                .iter()
                .find(|g| g.metadata.name.as_deref() == Some(&name))
                .map(|g| {
                    (
                        ObjectKey::new(API_VERSION, "NodeGroup", None, name),
                        g.metadata.resource_version.clone(),
                    )
                }),
            _ => None,
        };
        match found {
            Some((key, Some(resource_version))) => {
                self.mode = Mode::ConfirmDelete {
                    key,
                    resource_version,
                };
                self.dirty = true;
            }
            Some((key, None)) => {
                self.error(format!("{key} has no resourceVersion; not deleting blind"))
            }
            None => self.info("select an EdgeApplication or a NodeGroup to delete"),
        }
        Vec::new()
    }

    fn toggle_offline(&mut self) -> Vec<Effect> {
        if !self.controls {
            self.dirty = false;
            return Vec::new();
        }
        let node = match self.selected_ref() {
            Some(ObjRef::Node(n)) => n,
            _ => {
                self.info("select a node first");
                return Vec::new();
            }
        };
        let offline = !self.fleet.offline.contains(&node);
        self.info(format!(
            "{} {node}…",
            if offline {
                "taking offline"
            } else {
                "bringing online"
            }
        ));
        self.write(Effect::SetOffline {
            nodes: vec![node],
            offline,
        })
    }

    /// `O`: every node of the region under the cursor goes offline; if all
    /// already are, they come back online.
    fn toggle_region_offline(&mut self) -> Vec<Effect> {
        if !self.controls {
            self.dirty = false;
            return Vec::new();
        }
        let selected = {
            let ctx = self.ctx();
            let src = views::regions::RegionsTable::new(&ctx);
            self.screen()
                .table
                .selected_row()
                .and_then(|r| src.group(r))
                .map(|group| {
                    let nodes: Vec<String> = group
                        .members
                        .iter()
                        .filter_map(|&i| self.derived.nodes.get(i).map(|n| n.name.clone()))
                        .collect();
                    (group.name.clone(), nodes)
                })
        };
        let Some((name, nodes)) = selected else {
            self.info("select a region first");
            return Vec::new();
        };
        if nodes.is_empty() {
            self.info(format!("{name} has no nodes"));
            return Vec::new();
        }
        let offline = !nodes.iter().all(|n| self.fleet.offline.contains(n));
        self.info(format!(
            "{} {} node(s) of {name}…",
            if offline {
                "taking offline"
            } else {
                "bringing online"
            },
            nodes.len()
        ));
        self.write(Effect::SetOffline { nodes, offline })
    }

    fn goto(&mut self, kind: ViewKind) {
        let view = match kind {
            ViewKind::Regions => View::Regions,
            ViewKind::Apps => View::Apps,
            ViewKind::Matrix => View::Matrix,
            ViewKind::Traffic => View::Traffic,
            ViewKind::Engine => View::Engine,
            ViewKind::Nodes => View::Nodes,
        };
        self.flash = None;
        // Coming back to a view finds it as it was left: selection, filter, column.
        if let Some(left) = self.stack.first().cloned() {
            self.left.retain(|s| s.view != left.view);
            self.left.push(left);
        }
        let screen = match self.left.iter().position(|s| s.view == view) {
            Some(i) => self.left.remove(i),
            None => Screen::new(view),
        };
        self.stack = vec![screen];
        self.refresh_top();
    }

    fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else {
            return Vec::new();
        };
        let arg = words.next().map(str::to_owned);
        if let Some(extra) = words.next() {
            self.error(format!(
                "✗ :{cmd} takes at most one argument; {extra:?} and after are not understood"
            ));
            return Vec::new();
        }
        let action = match cmd {
            "regions" | "region" | "ng" | "nodegroups" => Action::Goto(ViewKind::Regions),
            "apps" | "app" | "eapp" | "edgeapplications" => Action::Goto(ViewKind::Apps),
            "matrix" => Action::Goto(ViewKind::Matrix),
            "traffic" | "svc" => Action::Goto(ViewKind::Traffic),
            "engine" => Action::Goto(ViewKind::Engine),
            "nodes" | "node" | "no" => Action::Goto(ViewKind::Nodes),
            "ctx" | "context" => Action::SetContext(arg),
            "ns" | "namespace" => Action::SetNamespace(arg.filter(|a| a != "all" && a != "-A")),
            "theme" => match arg {
                Some(name) => Action::SetTheme(name),
                None => {
                    self.info(format!("themes: {}", self.themes.names().join(", ")));
                    return Vec::new();
                }
            },
            "help" => Action::Help,
            "newgroup" => Action::NewGroup,
            "q" | "quit" | "q!" => Action::Quit,
            other => {
                self.error(format!("unknown command :{other} (try tab)"));
                return Vec::new();
            }
        };
        self.update(action)
    }

    /// Candidates for the word being typed on the command line.
    pub fn completions(&self, input: &str) -> Vec<String> {
        match input.split_once(' ') {
            None => COMMANDS
                .iter()
                .filter(|c| c.starts_with(input))
                .map(|c| (*c).to_owned())
                .collect(),
            Some((cmd, arg)) => {
                let pool: Vec<String> = match cmd {
                    "theme" => self.themes.names(),
                    "ctx" | "context" => self.contexts.clone(),
                    "ns" | "namespace" => {
                        let mut ns: Vec<String> = self
                            .fleet
                            .applications
                            .iter()
                            .filter_map(|a| a.metadata.namespace.clone())
                            .chain(
                                self.fleet
                                    .services
                                    .iter()
                                    .filter_map(|s| s.metadata.namespace.clone()),
                            )
                            .chain(["all".to_owned()])
                            .collect();
                        ns.sort();
                        ns.dedup();
                        ns
                    }
                    _ => Vec::new(),
                };
                pool.into_iter()
                    .filter(|p| p.starts_with(arg.trim_start()))
                    .map(|p| format!("{cmd} {p}"))
                    .collect()
            }
        }
    }

    fn drill_in(&self) -> Option<View> {
        let ctx = self.ctx();
        let screen = self.screen();
        let row = screen.table.selected_row()?;
        match &screen.view {
            View::Regions => {
                let src = views::regions::RegionsTable::new(&ctx);
                src.group(row).map(|g| View::Group(g.name.clone()))
            }
            View::Apps | View::Matrix => self.derived.apps.get(row).map(|a| View::AppDetail {
                namespace: a.namespace.clone(),
                name: a.name.clone(),
            }),
            View::AppDetail { namespace, name } => {
                let t = views::app_detail::TargetsTable::new(&ctx, namespace, name);
                t.group_name(row).map(|g| View::Group(g.to_owned()))
            }
            View::Group(_) | View::Nodes | View::Traffic => self.selected_ref().map(View::Describe),
            _ => None,
        }
    }

    /// The object under the cursor, for `y` and `d`.
    pub fn selected_ref(&self) -> Option<ObjRef> {
        let ctx = self.ctx();
        let screen = self.screen();
        let row = screen.table.selected_row();
        match &screen.view {
            View::Regions => {
                let src = views::regions::RegionsTable::new(&ctx);
                let g = src.group(row?)?;
                (g.name != UNGROUPED).then(|| ObjRef::NodeGroup(g.name.clone()))
            }
            View::Group(g) => {
                let src = views::group::NodesTable::new(&ctx, g);
                match src.node_name(row?) {
                    Some(n) => Some(ObjRef::Node(n.to_owned())),
                    None if g != UNGROUPED => Some(ObjRef::NodeGroup(g.clone())),
                    None => None,
                }
            }
            View::Nodes => self
                .derived
                .nodes
                .get(row?)
                .map(|n| ObjRef::Node(n.name.clone())),
            View::Apps | View::Matrix => self.derived.apps.get(row?).map(|a| ObjRef::App {
                namespace: a.namespace.clone(),
                name: a.name.clone(),
            }),
            View::AppDetail { namespace, name } => Some(ObjRef::App {
                namespace: namespace.clone(),
                name: name.clone(),
            }),
            View::Traffic => {
                let src = views::traffic::TrafficTable::new(&ctx);
                src.service(row?).map(|s| ObjRef::Service {
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                })
            }
            _ => None,
        }
    }

    /// The EdgeApplication under the cursor (Apps, Matrix, AppDetail).
    pub fn selected_app_object(&self) -> Option<EdgeApplication> {
        let info = match &self.screen().view {
            View::Apps | View::Matrix => self.derived.apps.get(self.screen().table.selected_row()?),
            View::AppDetail { namespace, name } => self.derived.app(namespace, name),
            _ => None,
        }?;
        self.fleet.applications.get(info.object).cloned()
    }

    /// The group under the cursor (Matrix column, AppDetail target row).
    pub fn selected_group(&self) -> Option<String> {
        let screen = self.screen();
        match &screen.view {
            View::Matrix => self
                .derived
                .groups
                .get(screen.column)
                .map(|g| g.name.clone()),
            View::AppDetail { namespace, name } => {
                let ctx = self.ctx();
                let t = views::app_detail::TargetsTable::new(&ctx, namespace, name);
                t.group_name(screen.table.selected_row()?)
                    .map(str::to_owned)
            }
            _ => None,
        }
    }

    pub fn draw(&self, frame: &mut Frame) {
        let area = frame.area();
        let theme = &self.theme;
        frame.render_widget(Paragraph::new("").style(theme.base()), area);
        let banner = self.banner();
        let [header, banner_area, body, prompt, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(u16::from(banner.is_some())),
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        self.draw_header(frame, header);
        if let Some(line) = banner {
            frame.render_widget(Paragraph::new(line).style(theme.base()), banner_area);
        }
        let ctx = self.ctx();
        self.draw_body(frame, body, &self.mode, &ctx);
        self.draw_prompt(frame, prompt);
        self.draw_status(frame, status, &ctx);
    }

    fn draw_body(&self, frame: &mut Frame, body: Rect, mode: &Mode, ctx: &Ctx) {
        let theme = &self.theme;
        match mode {
            Mode::ConfirmDiscard(editor) => self.draw_body(frame, body, editor, ctx),
            Mode::Form(form) => form.draw(frame, body, theme),
            Mode::YamlEdit(editor) => editor.draw(frame, body, theme),
            Mode::NewGroup(form) => form.draw(frame, body, theme),
            Mode::Diff { preview, .. } => diff::draw(frame, body, preview, theme),
            Mode::Conflict(c) => super::widgets::text::draw(
                frame,
                body,
                "Conflict (409) — r re-apply · esc discard",
                diff::styled_lines(&c.lines, theme),
                c.scroll,
                &c.text,
                "",
                theme,
            ),
            _ => self.draw_view(frame, body, ctx),
        }
    }

    fn draw_view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let screen = self.screen();
        match &screen.view {
            View::Regions => views::regions::draw(frame, area, screen, ctx),
            View::Group(g) => views::group::draw(frame, area, screen, ctx, g),
            View::Apps => views::apps::draw(frame, area, screen, ctx),
            View::Matrix => views::matrix::draw(frame, area, screen, ctx),
            View::AppDetail { namespace, name } => {
                views::app_detail::draw(frame, area, screen, ctx, namespace, name)
            }
            View::Traffic => views::traffic::draw(frame, area, screen, ctx),
            View::Engine => views::engine::draw(frame, area, screen, ctx),
            View::Nodes => views::nodes::draw(frame, area, screen, ctx),
            View::Yaml(r) => views::yaml::draw(frame, area, screen, ctx, r),
            View::Describe(r) => views::describe::draw(frame, area, screen, ctx, r),
            View::Help => views::help::draw(
                frame,
                area,
                screen,
                ctx,
                &self.keymap,
                self.log_path.as_deref(),
            ),
        }
    }

    /// A full-width line under the header whenever the data is not live:
    /// starting, reconnecting (data kept, marked stale), partly unavailable.
    fn banner(&self) -> Option<Line<'static>> {
        use super::model::ConnectionState as C;
        let theme = &self.theme;
        let reversed = |style: ratatui::style::Style| style.add_modifier(Modifier::REVERSED);
        match &self.fleet.connection {
            C::Connected => None,
            C::Connecting { step } => Some(Line::from(Span::styled(
                format!(" ◌ {step}"),
                theme.accent(),
            ))),
            C::Reconnecting { since, error } => Some(Line::from(Span::styled(
                format!(
                    " ▲ connection lost {} ago · showing last known data (stale) · reconnecting automatically · {error} ",
                    views::age(self.now, *since)
                ),
                reversed(theme.warn()),
            ))),
            C::Partial { problems } => Some(Line::from(Span::styled(
                format!(" ◐ {} ", problems.join(" · ")),
                reversed(theme.warn()),
            ))),
            C::Stale => Some(Line::from(Span::styled(
                " ◌ data is stale (not updating) ".to_owned(),
                reversed(theme.error()),
            ))),
        }
    }

    fn draw_header(&self, frame: &mut Frame, area: Rect) {
        let theme = &self.theme;
        let mut spans = vec![Span::styled("edgedeck", theme.title())];
        for s in &self.stack {
            spans.push(Span::styled(" › ", theme.muted()));
            spans.push(Span::raw(s.view.crumb()));
        }
        let right = format!(
            "{}ctx {} │ ns {}{} ",
            self.kubeconfig_out
                .as_deref()
                .map(|k| format!("kubeconfig {k} │ "))
                .unwrap_or_default(),
            if self.fleet.context.is_empty() {
                "-"
            } else {
                &self.fleet.context
            },
            self.fleet.namespace.as_deref().unwrap_or("all"),
            if self.readonly {
                " │ ⊘ read-only"
            } else {
                ""
            }
        );
        // The breadcrumb keeps at least half the line; both end in … when cut.
        let crumbs = Line::from(spans);
        let wanted = u16::try_from(right.chars().count()).unwrap_or(u16::MAX);
        let crumb_room = u16::try_from(crumbs.width())
            .unwrap_or(u16::MAX)
            .min(area.width / 2);
        let right_width = wanted.min(area.width.saturating_sub(crumb_room + 1));
        let [l, _, r] = Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(right_width),
        ])
        .areas(area);
        let ellipsize = super::widgets::table::ellipsize;
        frame.render_widget(
            Paragraph::new(ellipsize(crumbs, l.width)).style(theme.base()),
            l,
        );
        frame.render_widget(
            Paragraph::new(ellipsize(Line::styled(right, theme.accent()), r.width)),
            r,
        );
    }

    fn draw_prompt(&self, frame: &mut Frame, area: Rect) {
        let theme = &self.theme;
        let line = match &self.mode {
            Mode::Command { input } => {
                let candidates = self.completions(input);
                let mut spans = vec![
                    Span::styled(":", theme.key()),
                    Span::raw(input.clone()),
                    Span::styled("█", theme.key()),
                ];
                if !candidates.is_empty() {
                    spans.push(Span::styled(
                        format!("   tab: {}", candidates.join(" ")),
                        theme.muted(),
                    ));
                }
                Line::from(spans)
            }
            Mode::ConfirmDiscard(_) => Line::from(vec![
                Span::styled("Discard your changes? ", theme.error()),
                Span::styled("y", theme.key()),
                Span::raw(" discards them; any other key keeps editing"),
            ]),
            Mode::ConfirmDelete { key, .. } => Line::from(vec![
                Span::styled(format!("Delete {key}? "), theme.error()),
                Span::styled("y", theme.key()),
                Span::raw(" deletes it (only if unchanged since shown); any other key cancels"),
            ]),
            Mode::Filter => Line::from(vec![
                Span::styled("/", theme.key()),
                Span::raw(self.screen().table.filter.clone()),
                Span::styled("█", theme.key()),
                Span::styled("   enter keep · esc clear", theme.muted()),
            ]),
            _ => match &self.flash {
                Some(Flash::Info(m)) => Line::from(Span::raw(m.clone())),
                Some(Flash::Error(m)) => Line::from(Span::styled(m.clone(), theme.error())),
                None => Line::from(""),
            },
        };
        frame.render_widget(Paragraph::new(line).style(theme.base()), area);
    }

    fn draw_status(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let theme = &self.theme;
        let mut spans = vec![
            views::engine::connection_spans(ctx),
            Span::styled(" │ ", theme.muted()),
            match &self.fleet.lease_holder {
                Some(h) => Span::raw(format!("leader {h}")),
                None => Span::styled("no leader", theme.warn()),
            },
            Span::styled(" │", theme.muted()),
        ];
        if !self.fleet.lagging.is_empty() {
            spans.insert(
                1,
                Span::styled(
                    format!(" │ ⧗ engine behind on {} app(s)", self.fleet.lagging.len()),
                    theme.warn(),
                ),
            );
        }
        for b in self.keymap.hints(&self.scopes()) {
            let disabled = self.readonly && b.writes;
            spans.push(Span::raw(" "));
            if disabled {
                spans.push(Span::styled(
                    format!("{} {} ⊘", b.label, b.hint_word()),
                    theme.muted().add_modifier(Modifier::CROSSED_OUT),
                ));
            } else {
                spans.push(Span::styled(b.label, theme.key()));
                spans.push(Span::raw(format!(" {}", b.hint_word())));
            }
        }
        let line = super::widgets::table::ellipsize(Line::from(spans), area.width);
        frame.render_widget(Paragraph::new(line).style(theme.base()), area);
    }
}

/// An editor whose content differs from what it opened with.
fn editor_changed(mode: &Mode) -> bool {
    match mode {
        Mode::Form(form) => form.changed(),
        Mode::YamlEdit(editor) => editor.changed(),
        _ => false,
    }
}

fn scroll(current: usize, down: bool) -> usize {
    if down {
        current + 1
    } else {
        current.saturating_sub(1)
    }
}

/// Longest common prefix completion.
fn complete(input: &str, candidates: &[String]) -> String {
    match candidates {
        [] => input.to_owned(),
        [one] => format!("{one} "),
        many => {
            let first = &many[0];
            let mut len = first.len();
            for c in &many[1..] {
                len = len.min(
                    first
                        .chars()
                        .zip(c.chars())
                        .take_while(|(a, b)| a == b)
                        .map(|(a, _)| a.len_utf8())
                        .sum(),
                );
            }
            first[..len].to_owned()
        }
    }
}
