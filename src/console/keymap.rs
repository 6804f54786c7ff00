//! Key bindings → actions. The single source of `?` help and status-bar hints.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, ViewKind};
use super::views::View;

mod pods;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    /// Every table view.
    Table,
    Regions,
    /// The nodes of one group.
    Group,
    Nodes,
    Apps,
    Matrix,
    AppDetail,
    /// YAML, describe and help.
    Text,
    /// Override form and YAML editor.
    Editor,
    /// The new-NodeGroup form: it shows what it would select and creates at once.
    GroupForm,
    Diff,
    Conflict,
    Pods,
    /// Kubernetes Events.
    Events,
    Logs,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "Global",
            Scope::Table => "Tables",
            Scope::Regions => "Regions",
            Scope::Group => "Group",
            Scope::Nodes => "Nodes",
            Scope::Apps => "Applications",
            Scope::Matrix => "Matrix",
            Scope::AppDetail => "Application detail",
            Scope::Text => "YAML / describe / help",
            Scope::Editor => "Editors",
            Scope::GroupForm => "New NodeGroup",
            Scope::Diff => "Diff preview",
            Scope::Conflict => "Conflict (409)",
            Scope::Pods => "Pods",
            Scope::Events => "Events",
            Scope::Logs => "Logs",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    /// How the key is written in help and hints.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    pub scope: Scope,
    /// Writes to the cluster: disabled (and shown so) with --readonly.
    pub writes: bool,
    /// Shown in the status bar.
    pub hint: bool,
    /// Word used in the status bar (defaults to the first word of `help`).
    pub short: Option<&'static str>,
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;

fn b(
    scope: Scope,
    code: KeyCode,
    modifiers: KeyModifiers,
    label: &'static str,
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        code,
        modifiers,
        label,
        action,
        help,
        scope,
        writes: false,
        hint: false,
        short: None,
    }
}

impl Binding {
    fn hint(mut self) -> Self {
        self.hint = true;
        self
    }
    fn short(mut self, s: &'static str) -> Self {
        self.short = Some(s);
        self
    }
    /// The status-bar word.
    pub fn hint_word(&self) -> &'static str {
        self.short
            .unwrap_or_else(|| self.help.split([' ', '(']).next().unwrap_or(self.help))
    }
    fn writes(mut self) -> Self {
        self.writes = true;
        self
    }
    /// Whether `key` triggers this binding (SHIFT is implied by upper-case chars).
    pub fn matches(&self, key: &KeyEvent) -> bool {
        let mods = match key.code {
            KeyCode::Char(_) => key.modifiers - KeyModifiers::SHIFT,
            _ => key.modifiers,
        };
        self.code == key.code && self.modifiers == mods
    }
}

pub struct Keymap {
    pub bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::new()
    }
}

use KeyCode::Char;

impl Keymap {
    pub fn new() -> Keymap {
        use Scope::*;
        let mut bindings =
            vec![
            b(
                Table,
                Char('d'),
                CTRL,
                "ctrl-d",
                Action::Delete,
                "delete the selected EdgeApplication, NodeGroup or pod (asks first)",
            )
            .writes()
            .short("delete"),
            b(
                Global,
                Char(':'),
                NONE,
                ":",
                Action::StartCommand,
                "command line (:regions :apps :matrix :traffic :engine :nodes :pods :events :ctx :ns :theme :q)",
            )
            .hint(),
            b(
                Global,
                Char('?'),
                NONE,
                "?",
                Action::Help,
                "help (this screen)",
            )
            .hint(),
            b(
                Global,
                KeyCode::Esc,
                NONE,
                "esc",
                Action::Back,
                "back / close",
            )
            .hint(),
            b(Global, Char('c'), CTRL, "ctrl-c", Action::Quit, "quit"),
            b(
                Global,
                Char('1'),
                NONE,
                "1",
                Action::Goto(ViewKind::Regions),
                "regions",
            ),
            b(
                Global,
                Char('2'),
                NONE,
                "2",
                Action::Goto(ViewKind::Apps),
                "applications",
            ),
            b(
                Global,
                Char('3'),
                NONE,
                "3",
                Action::Goto(ViewKind::Matrix),
                "matrix",
            ),
            b(
                Global,
                Char('4'),
                NONE,
                "4",
                Action::Goto(ViewKind::Traffic),
                "traffic",
            ),
            b(
                Global,
                Char('5'),
                NONE,
                "5",
                Action::Goto(ViewKind::Engine),
                "engine",
            ),
            b(
                Global,
                Char('6'),
                NONE,
                "6",
                Action::Goto(ViewKind::Nodes),
                "nodes",
            ),
            b(Table, Char('j'), NONE, "j/↓", Action::Down, "down"),
            b(Table, KeyCode::Down, NONE, "↓", Action::Down, "down"),
            b(Table, Char('k'), NONE, "k/↑", Action::Up, "up"),
            b(Table, KeyCode::Up, NONE, "↑", Action::Up, "up"),
            b(Table, Char('g'), NONE, "g", Action::Top, "first row"),
            b(Table, Char('G'), NONE, "G", Action::Bottom, "last row"),
            b(
                Table,
                KeyCode::PageDown,
                NONE,
                "pgdn",
                Action::PageDown,
                "page down",
            ),
            b(
                Table,
                Char('f'),
                CTRL,
                "ctrl-f",
                Action::PageDown,
                "page down",
            ),
            b(
                Table,
                KeyCode::PageUp,
                NONE,
                "pgup",
                Action::PageUp,
                "page up",
            ),
            b(Table, Char('b'), CTRL, "ctrl-b", Action::PageUp, "page up"),
            b(
                Table,
                KeyCode::Enter,
                NONE,
                "enter",
                Action::Enter,
                "drill in",
            )
            .hint(),
            b(
                Table,
                Char('/'),
                NONE,
                "/",
                Action::StartFilter,
                "filter rows",
            )
            .hint(),
            b(
                Table,
                Char('s'),
                NONE,
                "s",
                Action::SortNext,
                "sort by next column",
            ),
            b(
                Table,
                Char('S'),
                NONE,
                "S",
                Action::SortReverse,
                "reverse sort",
            ),
            b(
                Table,
                Char('y'),
                NONE,
                "y",
                Action::Yaml,
                "YAML of the selected object",
            )
            .hint(),
            b(
                Table,
                Char('d'),
                NONE,
                "d",
                Action::Describe,
                "describe the selected object",
            )
            .hint(),
            b(
                Regions,
                Char('c'),
                NONE,
                "c",
                Action::NewGroup,
                "create a NodeGroup from a label selector",
            )
            .hint()
            .writes()
            .short("new-group"),
            b(
                Nodes,
                Char('c'),
                NONE,
                "c",
                Action::NewGroup,
                "create a NodeGroup from a label selector",
            )
            .hint()
            .writes()
            .short("new-group"),
            b(
                Apps,
                Char('e'),
                NONE,
                "e",
                Action::Edit,
                "edit overrides of the first target group",
            )
            .hint()
            .writes()
            .short("overrides"),
            b(
                Apps,
                Char('E'),
                NONE,
                "E",
                Action::EditYaml,
                "edit the EdgeApplication as YAML (in $KUBE_EDITOR / $EDITOR when set)",
            )
            .hint()
            .writes()
            .short("yaml-edit"),
            b(
                Matrix,
                Char('h'),
                NONE,
                "h/←",
                Action::Left,
                "previous group",
            ),
            b(
                Matrix,
                KeyCode::Left,
                NONE,
                "←",
                Action::Left,
                "previous group",
            ),
            b(Matrix, Char('l'), NONE, "l/→", Action::Right, "next group"),
            b(
                Matrix,
                KeyCode::Right,
                NONE,
                "→",
                Action::Right,
                "next group",
            ),
            b(
                Matrix,
                Char('e'),
                NONE,
                "e",
                Action::Edit,
                "edit this cell's overrides",
            )
            .hint()
            .writes()
            .short("overrides"),
            b(
                Matrix,
                Char('E'),
                NONE,
                "E",
                Action::EditYaml,
                "edit the EdgeApplication as YAML (in $KUBE_EDITOR / $EDITOR when set)",
            )
            .writes(),
            b(
                Matrix,
                Char('+'),
                NONE,
                "+",
                Action::ScaleUp,
                "scale this group up by one",
            )
            .hint()
            .writes()
            .short("scale+"),
            b(
                Matrix,
                Char('-'),
                NONE,
                "-",
                Action::ScaleDown,
                "scale this group down by one",
            )
            .hint()
            .writes()
            .short("scale-"),
            b(
                Matrix,
                Char('a'),
                NONE,
                "a",
                Action::AddTarget,
                "add this group as a target",
            )
            .hint()
            .writes(),
            b(
                Matrix,
                Char('x'),
                NONE,
                "x",
                Action::RemoveTarget,
                "remove this group from the targets",
            )
            .hint()
            .writes(),
            b(
                AppDetail,
                Char('e'),
                NONE,
                "e",
                Action::Edit,
                "edit the selected group's overrides",
            )
            .hint()
            .writes()
            .short("overrides"),
            b(
                AppDetail,
                Char('E'),
                NONE,
                "E",
                Action::EditYaml,
                "edit the EdgeApplication as YAML (in $KUBE_EDITOR / $EDITOR when set)",
            )
            .hint()
            .writes()
            .short("yaml-edit"),
            b(
                AppDetail,
                Char('+'),
                NONE,
                "+",
                Action::ScaleUp,
                "scale the selected group up by one",
            )
            .hint()
            .writes()
            .short("scale+"),
            b(
                AppDetail,
                Char('-'),
                NONE,
                "-",
                Action::ScaleDown,
                "scale the selected group down by one",
            )
            .hint()
            .writes()
            .short("scale-"),
            b(
                AppDetail,
                Char('x'),
                NONE,
                "x",
                Action::RemoveTarget,
                "remove the selected target group",
            )
            .writes(),
            b(
                Matrix,
                Char(' '),
                NONE,
                "space",
                Action::ToggleMark,
                "mark this cell for a bulk + - a x (esc clears the marks)",
            )
            .short("mark"),
            b(
                Apps,
                Char(' '),
                NONE,
                "space",
                Action::ToggleMark,
                "mark every target of this application for a bulk + - x (esc clears the marks)",
            )
            .short("mark"),
            b(
                Apps,
                Char('+'),
                NONE,
                "+",
                Action::ScaleUp,
                "with marks: scale every marked target up by one",
            )
            .writes(),
            b(
                Apps,
                Char('-'),
                NONE,
                "-",
                Action::ScaleDown,
                "with marks: scale every marked target down by one",
            )
            .writes(),
            b(
                Apps,
                Char('x'),
                NONE,
                "x",
                Action::RemoveTarget,
                "with marks: remove every marked target",
            )
            .writes(),
            b(
                AppDetail,
                Char(' '),
                NONE,
                "space",
                Action::ToggleMark,
                "mark this target for a bulk + - x (esc clears the marks)",
            )
            .short("mark"),
            b(Text, Char('j'), NONE, "j/↓", Action::Down, "scroll down"),
            b(Text, KeyCode::Down, NONE, "↓", Action::Down, "scroll down"),
            b(Text, Char('k'), NONE, "k/↑", Action::Up, "scroll up"),
            b(Text, KeyCode::Up, NONE, "↑", Action::Up, "scroll up"),
            b(Text, Char('g'), NONE, "g", Action::Top, "top"),
            b(Text, Char('G'), NONE, "G", Action::Bottom, "bottom"),
            b(Text, KeyCode::Home, CTRL, "ctrl-home", Action::Top, "top"),
            b(Text, KeyCode::End, CTRL, "ctrl-end", Action::Bottom, "bottom"),
            b(Text, Char('/'), NONE, "/", Action::StartFilter, "search").hint(),
            b(Text, Char('n'), NONE, "n", Action::NextMatch, "next match").hint(),
            b(
                Text,
                Char('N'),
                NONE,
                "N",
                Action::PrevMatch,
                "previous match",
            ),
            b(
                Text,
                KeyCode::PageDown,
                NONE,
                "pgdn",
                Action::PageDown,
                "page down",
            ),
            b(
                Text,
                KeyCode::PageUp,
                NONE,
                "pgup",
                Action::PageUp,
                "page up",
            ),
            b(
                Editor,
                KeyCode::Tab,
                NONE,
                "tab",
                Action::Down,
                "next field",
            )
            .hint(),
            b(
                Editor,
                KeyCode::BackTab,
                KeyModifiers::SHIFT,
                "shift-tab",
                Action::Up,
                "previous field",
            ),
            b(
                Editor,
                Char('s'),
                CTRL,
                "ctrl-s",
                Action::Enter,
                "preview the change (diff), then save",
            )
            .hint(),
            b(Editor, KeyCode::Esc, NONE, "esc", Action::Back, "cancel").hint(),
            b(
                GroupForm,
                KeyCode::Tab,
                NONE,
                "tab",
                Action::Down,
                "next field",
            )
            .hint(),
            b(
                GroupForm,
                Char('s'),
                CTRL,
                "ctrl-s",
                Action::Enter,
                "create the NodeGroup (the nodes it selects are listed as you type)",
            )
            .writes()
            .hint(),
            b(GroupForm, KeyCode::Esc, NONE, "esc", Action::Back, "cancel").hint(),
            b(
                Diff,
                Char('y'),
                NONE,
                "y",
                Action::Enter,
                "save (patch with resourceVersion precondition)",
            )
            .hint()
            .writes(),
            b(Diff, KeyCode::Enter, NONE, "enter", Action::Enter, "save").writes(),
            b(Diff, Char('j'), NONE, "j/↓", Action::Down, "scroll"),
            b(Diff, KeyCode::Down, NONE, "↓", Action::Down, "scroll"),
            b(Diff, Char('k'), NONE, "k/↑", Action::Up, "scroll"),
            b(Diff, KeyCode::Up, NONE, "↑", Action::Up, "scroll"),
            b(
                Diff,
                KeyCode::Esc,
                NONE,
                "esc",
                Action::Back,
                "back to the editor",
            )
            .hint(),
            b(
                Conflict,
                Char('r'),
                NONE,
                "r",
                Action::Enter,
                "re-apply my change on top of the current object",
            )
            .hint()
            .writes(),
            b(Conflict, Char('j'), NONE, "j/↓", Action::Down, "scroll"),
            b(Conflict, Char('k'), NONE, "k/↑", Action::Up, "scroll"),
            b(
                Conflict,
                KeyCode::Esc,
                NONE,
                "esc",
                Action::Back,
                "discard my change",
            )
            .hint(),
        ];
        bindings.extend(pods::bindings());
        Keymap { bindings }
    }

    /// The keymap plus the embedded fleet simulator's keys (`o`, `O`): only
    /// when the console runs the embedded cluster and can control its nodes.
    pub fn with_fleet_controls() -> Keymap {
        use Scope::*;
        let mut km = Keymap::new();
        let node = "take the selected node offline / back online (embedded simulator)";
        for scope in [Nodes, Group] {
            km.bindings.push(
                b(scope, Char('o'), NONE, "o", Action::ToggleOffline, node)
                    .hint()
                    .writes()
                    .short("offline"),
            );
        }
        km.bindings.push(
            b(
                Regions,
                Char('O'),
                NONE,
                "O",
                Action::ToggleRegionOffline,
                "take every node of the selected region offline / back online (embedded simulator)",
            )
            .hint()
            .writes()
            .short("region-offline"),
        );
        km
    }

    /// Scopes active for a view, most specific first.
    pub fn scopes(view: &View) -> Vec<Scope> {
        let specific = match view {
            View::Regions => Some(Scope::Regions),
            View::Group(_) => Some(Scope::Group),
            View::Nodes => Some(Scope::Nodes),
            View::Apps => Some(Scope::Apps),
            View::Matrix => Some(Scope::Matrix),
            View::AppDetail { .. } => Some(Scope::AppDetail),
            View::Pods(_) => Some(Scope::Pods),
            View::Events => Some(Scope::Events),
            View::Logs(_) => Some(Scope::Logs),
            _ => None,
        };
        let body = if view.is_text() {
            Scope::Text
        } else {
            Scope::Table
        };
        specific.into_iter().chain([body, Scope::Global]).collect()
    }

    /// The binding for `key` in the first matching scope.
    pub fn lookup(&self, scopes: &[Scope], key: &KeyEvent) -> Option<&Binding> {
        scopes.iter().find_map(|scope| {
            self.bindings
                .iter()
                .find(|b| b.scope == *scope && b.matches(key))
        })
    }

    /// Bindings to show in the status bar for these scopes (one per action+help).
    pub fn hints(&self, scopes: &[Scope]) -> Vec<&Binding> {
        scopes
            .iter()
            .flat_map(|s| {
                self.bindings
                    .iter()
                    .filter(move |b| b.scope == *s && b.hint)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_is_documented_and_unique_per_scope() {
        let km = Keymap::with_fleet_controls();
        for (i, a) in km.bindings.iter().enumerate() {
            assert!(!a.help.is_empty());
            for other in &km.bindings[i + 1..] {
                assert!(
                    !(a.scope == other.scope
                        && a.code == other.code
                        && a.modifiers == other.modifiers),
                    "duplicate binding {} in {:?}",
                    a.label,
                    a.scope
                );
            }
        }
    }

    #[test]
    fn fleet_controls_bind_o_only_when_present() {
        let o = KeyEvent::new(Char('o'), NONE);
        let big_o = KeyEvent::new(Char('O'), KeyModifiers::SHIFT);
        let plain = Keymap::new();
        assert!(plain.lookup(&Keymap::scopes(&View::Nodes), &o).is_none());
        let km = Keymap::with_fleet_controls();
        for view in [View::Nodes, View::Group("beijing".into())] {
            let found = km.lookup(&Keymap::scopes(&view), &o);
            assert!(matches!(
                found.map(|b| &b.action),
                Some(Action::ToggleOffline)
            ));
        }
        let found = km.lookup(&Keymap::scopes(&View::Regions), &big_o);
        assert!(matches!(
            found.map(|b| &b.action),
            Some(Action::ToggleRegionOffline)
        ));
        assert!(
            km.bindings
                .iter()
                .filter(|b| b.code == Char('o'))
                .all(|b| b.writes)
        );
    }

    #[test]
    fn view_scope_wins_over_table_scope() {
        let km = Keymap::new();
        let key = KeyEvent::new(Char('e'), NONE);
        let found = km.lookup(&Keymap::scopes(&View::Matrix), &key);
        assert!(matches!(found.map(|b| &b.action), Some(Action::Edit)));
        let shifted = KeyEvent::new(Char('G'), KeyModifiers::SHIFT);
        let found = km.lookup(&Keymap::scopes(&View::Regions), &shifted);
        assert!(matches!(found.map(|b| &b.action), Some(Action::Bottom)));
    }
}
