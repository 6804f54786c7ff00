//! `$XDG_CONFIG_HOME/edgedeck/config.yaml` (else `~/.config/edgedeck/config.yaml`):
//! the console's defaults and key rebinding.
//!
//! ```yaml
//! theme: light
//! readonly: false
//! engine: auto          # auto | on | off
//! mouse: true           # false: the terminal keeps its own text selection
//! log_tail: 500         # lines a log view starts with
//! soak_time: 30s        # how long a change must hold before it counts as settled
//! keys:
//!   scale_up: "="             # every scope where scale_up is bound
//!   matrix.remove_target: X   # only in that scope
//!   down: [j, down, ctrl-n]   # several keys for one action
//! ```
//!
//! Why it is strict: a typo in a config file that is silently ignored is a
//! setting the operator believes in and does not have. So an unknown field,
//! an unknown action or key name, and two actions on one key where both are
//! active at once are errors naming the file and line; the console does not
//! start until the file is fixed (flags still override every default).
//!
//! Rebinding replaces the keys of an action in each scope it is bound in; the
//! help text, hint and read-only marking stay the action's own. Action and
//! scope names are the keymap's own vocabulary (see KEYS.md, generated from
//! the keymap by `edgedeck keys`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers};
use serde::Deserialize;

use super::keymap::{Binding, Keymap, Scope};
use super::live::EngineMode;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    theme: Option<String>,
    readonly: Option<bool>,
    engine: Option<EngineSetting>,
    mouse: Option<bool>,
    log_tail: Option<u32>,
    soak_time: Option<String>,
    #[serde(default)]
    keys: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EngineSetting {
    Auto,
    On,
    Off,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The settings, resolved; `None` where the file is silent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Where it was read from (None: no file).
    pub path: Option<PathBuf>,
    pub theme: Option<String>,
    pub readonly: Option<bool>,
    pub engine: Option<EngineMode>,
    pub mouse: Option<bool>,
    /// Lines a log view starts with.
    pub log_tail: Option<u32>,
    /// How long a change must hold before it counts as settled.
    pub soak_time: Option<Duration>,
    pub keys: Vec<Rebind>,
}

/// One `keys:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebind {
    /// `None`: every scope the action is bound in.
    pub scope: Option<Scope>,
    pub action: String,
    pub keys: Vec<Key>,
}

/// A key as the keymap matches it, with the words it is shown with.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
    pub label: String,
}

/// A config file the console will not start with.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `$XDG_CONFIG_HOME/edgedeck/config.yaml`, else `$HOME/.config/edgedeck/config.yaml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("edgedeck").join("config.yaml"))
}

/// Reads `path`; a missing file is the defaults.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(ConfigError {
            path: path.to_owned(),
            line: None,
            message: format!("cannot read it: {e}"),
        }),
    }
}

/// Parses and checks the text of `path` (the path only names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let err = |line: Option<usize>, message: String| ConfigError {
        path: path.to_owned(),
        line,
        message,
    };
    // An empty file (or only comments) is YAML null: the defaults.
    let file: File = if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#')
    }) {
        File::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line());
            // serde_yaml_ng appends " at line N column M"; the line is given once, in front.
            let message = e.to_string();
            let message = match message.find(" at line ") {
                Some(at) => message[..at].to_owned(),
                None => message,
            };
            err(line, message)
        })?
    };
    let soak_time = match &file.soak_time {
        None => None,
        Some(text_value) => Some(parse_duration(text_value).map_err(|m| {
            err(
                line_of(text, "soak_time"),
                format!("soak_time {text_value:?}: {m}"),
            )
        })?),
    };
    let mut keys = Vec::new();
    for (name, value) in &file.keys {
        let line = line_of(text, name);
        let specs = match value {
            OneOrMany::One(k) => vec![k.clone()],
            OneOrMany::Many(ks) => ks.clone(),
        };
        let rebind = rebind(name, &specs).map_err(|m| err(line, m))?;
        keys.push(rebind);
    }
    // Clashes are judged on the keymap as it will be, simulator keys included.
    let mut keymap = Keymap::with_fleet_controls();
    for (i, r) in keys.iter().enumerate() {
        let name = file.keys.keys().nth(i).map(String::as_str).unwrap_or("");
        apply_one(&mut keymap, r).map_err(|m| err(line_of(text, name), m))?;
    }
    if let Some((entry, message)) = clash(&keymap, &keys) {
        let name = file.keys.keys().nth(entry).map_or("keys", String::as_str);
        return Err(err(line_of(text, name), message));
    }
    Ok(Config {
        path: Some(path.to_owned()),
        theme: file.theme,
        readonly: file.readonly,
        engine: file.engine.map(|e| match e {
            EngineSetting::Auto => EngineMode::Auto,
            EngineSetting::On => EngineMode::On,
            EngineSetting::Off => EngineMode::Off,
        }),
        mouse: file.mouse,
        log_tail: file.log_tail,
        soak_time,
        keys,
    })
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("not a duration like 30s or 2m: {e}"))?;
    Duration::try_from(parsed).map_err(|_| "must not be negative".to_owned())
}

/// The first line where `key:` (bare or quoted) starts an entry; 1-based.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            [
                format!("{key}:"),
                format!("\"{key}\":"),
                format!("'{key}':"),
            ]
            .iter()
            .any(|p| l.starts_with(p.as_str()))
        })
        .map(|i| i + 1)
}

fn rebind(name: &str, specs: &[String]) -> Result<Rebind, String> {
    let (scope, action) = match name.split_once('.') {
        Some((scope, action)) => {
            let s = scope_named(scope).ok_or_else(|| {
                format!(
                    "unknown scope {scope:?} in {name:?} (known: {})",
                    ALL_SCOPES
                        .iter()
                        .map(|s| scope_name(*s))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            (Some(s), action)
        }
        None => (None, name),
    };
    if specs.is_empty() {
        return Err(format!("{name}: no key given"));
    }
    let keys = specs
        .iter()
        .map(|s| parse_key(s).map_err(|m| format!("{name}: {m}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rebind {
        scope,
        action: action.to_owned(),
        keys,
    })
}

/// Applies the file's rebinding to a keymap (already checked by [`parse`]).
pub fn apply(keymap: &mut Keymap, keys: &[Rebind]) {
    for r in keys {
        // Checked when the file was read; a keymap without the action
        // (no simulator keys) has nothing to rebind.
        let _ = apply_one(keymap, r);
    }
}

fn apply_one(keymap: &mut Keymap, r: &Rebind) -> Result<(), String> {
    let mut scopes: Vec<Scope> = Vec::new();
    for b in &keymap.bindings {
        if action_name(&b.action) == r.action
            && r.scope.is_none_or(|s| s == b.scope)
            && !scopes.contains(&b.scope)
        {
            scopes.push(b.scope);
        }
    }
    if scopes.is_empty() {
        return Err(match r.scope {
            Some(s) => format!(
                "unknown action {:?} in scope {} (KEYS.md lists every action and scope)",
                r.action,
                scope_name(s)
            ),
            None => format!("unknown action {:?} (KEYS.md lists every action)", r.action),
        });
    }
    for scope in scopes {
        let first = keymap
            .bindings
            .iter()
            .position(|b| b.scope == scope && action_name(&b.action) == r.action);
        let Some(at) = first else { continue };
        let template = keymap.bindings[at].clone();
        keymap
            .bindings
            .retain(|b| !(b.scope == scope && action_name(&b.action) == r.action));
        let replacements = r.keys.iter().map(|k| Binding {
            code: k.code,
            modifiers: k.modifiers,
            // The keymap's labels are static text; a rebinding is made
            // once per run, so its few words live as long as the program.
            label: Box::leak(k.label.clone().into_boxed_str()),
            ..template.clone()
        });
        let at = at.min(keymap.bindings.len());
        keymap.bindings.splice(at..at, replacements);
    }
    Ok(())
}

/// The scopes active together (most specific first), as the App looks keys
/// up: a view's own scope, then its body (table or text), then Global; an
/// editor, the preview and the conflict view alone.
fn chains() -> Vec<Vec<Scope>> {
    use Scope::*;
    let mut out = vec![vec![Global], vec![Table, Global], vec![Text, Global]];
    for s in ALL_SCOPES {
        match s {
            Global | Table | Text => {}
            Editor | GroupForm | Diff | Conflict => out.push(vec![*s]),
            _ => out.push(vec![*s, Table, Global]),
        }
    }
    out
}

/// A key the user bound that now means two things at once: which entry
/// of `keys` bound it, and the words saying so.
fn clash(keymap: &Keymap, keys: &[Rebind]) -> Option<(usize, String)> {
    // The entry of `keys` that put binding `x` where it is, if one did.
    let by_user = |x: &Binding| {
        keys.iter().position(|r| {
            action_name(&x.action) == r.action
                && r.scope.is_none_or(|s| s == x.scope)
                && r.keys
                    .iter()
                    .any(|k| k.code == x.code && k.modifiers == x.modifiers)
        })
    };
    for chain in chains() {
        let active: Vec<&Binding> = chain
            .iter()
            .flat_map(|s| keymap.bindings.iter().filter(move |b| b.scope == *s))
            .collect();
        for (i, a) in active.iter().enumerate() {
            for b in &active[i + 1..] {
                let same_key = a.code == b.code && a.modifiers == b.modifiers;
                if !same_key || action_name(&a.action) == action_name(&b.action) {
                    continue;
                }
                let Some(entry) = by_user(a).or_else(|| by_user(b)) else {
                    continue;
                };
                let label = by_user(a).map_or(b.label, |_| a.label);
                return Some((
                    entry,
                    format!(
                        "key {label} would be both {} ({}) and {} ({})",
                        action_name(&a.action),
                        scope_name(a.scope),
                        action_name(&b.action),
                        scope_name(b.scope)
                    ),
                ));
            }
        }
    }
    None
}

/// Every scope, in the order KEYS.md lists them.
pub const ALL_SCOPES: &[Scope] = &[
    Scope::Global,
    Scope::Table,
    Scope::Regions,
    Scope::Group,
    Scope::Nodes,
    Scope::Apps,
    Scope::Matrix,
    Scope::AppDetail,
    Scope::Text,
    Scope::Editor,
    Scope::GroupForm,
    Scope::Diff,
    Scope::Conflict,
];

/// `app_detail` for `Scope::AppDetail`: the Debug name in snake case.
pub fn scope_name(scope: Scope) -> String {
    snake(&format!("{scope:?}"))
}

fn scope_named(name: &str) -> Option<Scope> {
    ALL_SCOPES.iter().copied().find(|s| scope_name(*s) == name)
}

/// An action's name in the config file: `scale_up`, `goto_matrix`. Taken
/// from the variant (the Debug text) so a new action is named the day it
/// is bound.
pub fn action_name(action: &super::action::Action) -> String {
    snake(&format!("{action:?}"))
}

fn snake(debug: &str) -> String {
    let mut out = String::new();
    for c in debug.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

const NAMED: &[(&str, KeyCode)] = &[
    ("esc", KeyCode::Esc),
    ("enter", KeyCode::Enter),
    ("tab", KeyCode::Tab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pgup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("space", KeyCode::Char(' ')),
];

/// `x`, `X`, `ctrl-x`, `space`, `esc`, `ctrl-home`, `shift-tab`, `f5`.
pub fn parse_key(spec: &str) -> Result<Key, String> {
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = spec;
    loop {
        if let Some(r) = rest.strip_prefix("ctrl-") {
            modifiers |= KeyModifiers::CONTROL;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("shift-") {
            modifiers |= KeyModifiers::SHIFT;
            rest = r;
        } else if rest.starts_with("alt-") {
            // A terminal sends alt-x as esc x, and the console reads it so.
            return Err(format!(
                "key {spec:?}: alt is not bindable (terminals send it as esc)"
            ));
        } else {
            break;
        }
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_control() => KeyCode::Char(c),
        _ => {
            if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == rest) {
                *code
            } else if let Some(n) = rest.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
                && (1..=12).contains(&n)
            {
                KeyCode::F(n)
            } else {
                return Err(format!(
                    "unknown key {spec:?} (a character, or ctrl-/shift- and one of {}, f1…f12)",
                    NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
                ));
            }
        }
    };
    // Upper-case letters carry SHIFT themselves (as the keymap matches them);
    // shift-tab is what terminals send as back-tab.
    let code = match (code, modifiers.contains(KeyModifiers::SHIFT)) {
        (KeyCode::Tab, true) => KeyCode::BackTab,
        (KeyCode::Char(_), true) => {
            return Err(format!(
                "key {spec:?}: write the shifted character itself (X, not shift-x)"
            ));
        }
        (code, _) => code,
    };
    Ok(Key {
        code,
        modifiers,
        label: spec.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::action::{Action, ViewKind};
    use crossterm::event::KeyEvent;

    fn parse_ok(text: &str) -> Config {
        parse(text, Path::new("/cfg/config.yaml")).expect("parses")
    }

    fn parse_err(text: &str) -> ConfigError {
        parse(text, Path::new("/cfg/config.yaml")).expect_err("refused")
    }

    #[test]
    fn every_setting_is_read() {
        let c = parse_ok(
            "theme: light\nreadonly: true\nengine: off\nmouse: false\nlog_tail: 500\nsoak_time: 30s\n",
        );
        assert_eq!(c.theme.as_deref(), Some("light"));
        assert_eq!(c.readonly, Some(true));
        assert_eq!(c.engine, Some(EngineMode::Off));
        assert_eq!(c.mouse, Some(false));
        assert_eq!(c.log_tail, Some(500));
        assert_eq!(c.soak_time, Some(Duration::from_secs(30)));
    }

    #[test]
    fn an_empty_or_missing_file_is_the_defaults() {
        let c = parse_ok("# nothing yet\n\n");
        assert_eq!((c.theme, c.mouse, c.keys.len()), (None, None, 0));
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = load(&dir.path().join("config.yaml")).expect("defaults");
        assert_eq!(missing, Config::default());
    }

    #[test]
    fn an_unknown_field_names_the_file_line_and_field() {
        let e = parse_err("theme: dark\nmouse: true\nthem: light\n");
        assert_eq!(e.line, Some(3), "{e}");
        let text = e.to_string();
        assert!(text.starts_with("/cfg/config.yaml:3: "), "{text}");
        assert!(text.contains("unknown field `them`"), "{text}");
    }

    #[test]
    fn bad_yaml_and_wrong_types_name_the_line() {
        let e = parse_err("theme: dark\nkeys: [\n");
        assert!(e.line.is_some(), "{e}");
        let e = parse_err("theme: dark\nmouse: sometimes\n");
        assert_eq!(e.line, Some(2), "{e}");
        let e = parse_err("engine: maybe\n");
        assert_eq!(e.line, Some(1), "{e}");
        assert!(e.to_string().contains("maybe"), "{e}");
        let e = parse_err("theme: dark\nsoak_time: soon\n");
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn an_unknown_action_scope_or_key_names_its_line() {
        let e = parse_err("keys:\n  scale_up: \"=\"\n  scale_upp: k\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(
            e.to_string().contains("unknown action \"scale_upp\""),
            "{e}"
        );
        let e = parse_err("keys:\n  matrx.scale_up: \"=\"\n");
        assert!(e.to_string().contains("unknown scope \"matrx\""), "{e}");
        let e = parse_err("keys:\n  quit: ctrl-q\n  help: ctrl-what\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().contains("unknown key \"ctrl-what\""), "{e}");
    }

    #[test]
    fn a_key_meaning_two_things_at_once_is_a_clash() {
        // `j` moves down in every table: help on it would hide one of them.
        let e = parse_err("theme: dark\nkeys:\n  help: j\n");
        assert_eq!(e.line, Some(3), "{e}");
        let text = e.to_string();
        assert!(text.contains("key j would be both"), "{text}");
        // Two scopes never active together may share a key.
        parse_ok("keys:\n  matrix.remove_target: X\n  app_detail.remove_target: X\n");
    }

    #[test]
    fn the_default_keymap_has_no_clash() {
        let km = Keymap::with_fleet_controls();
        // Every binding counted as the user's: no two actions share a live key.
        let all: Vec<Rebind> = km
            .bindings
            .iter()
            .map(|b| Rebind {
                scope: Some(b.scope),
                action: action_name(&b.action),
                keys: vec![Key {
                    code: b.code,
                    modifiers: b.modifiers,
                    label: b.label.to_owned(),
                }],
            })
            .collect();
        assert_eq!(clash(&km, &all), None);
    }

    #[test]
    fn rebinding_replaces_the_keys_of_the_action_and_keeps_its_help() {
        let c = parse_ok("keys:\n  scale_up: \"=\"\n  down: [j, ctrl-n]\n  goto_matrix: m\n");
        let mut km = Keymap::new();
        apply(&mut km, &c.keys);
        let matrix = Keymap::scopes(&crate::console::views::View::Matrix);
        let eq = KeyEvent::new(KeyCode::Char('='), KeyModifiers::NONE);
        let plus = KeyEvent::new(KeyCode::Char('+'), KeyModifiers::NONE);
        let found = km.lookup(&matrix, &eq).expect("= bound");
        assert!(matches!(found.action, Action::ScaleUp));
        assert!(found.writes && found.hint, "the action's own marks stay");
        assert!(km.lookup(&matrix, &plus).is_none(), "+ no longer scales");
        let ctrl_n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL);
        assert!(matches!(
            km.lookup(&matrix, &ctrl_n).map(|b| &b.action),
            Some(Action::Down)
        ));
        let arrow = KeyEvent::new(KeyCode::Down, KeyModifiers::NONE);
        assert!(km.lookup(&matrix, &arrow).is_none(), "↓ was replaced");
        let m = KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE);
        assert!(matches!(
            km.lookup(&matrix, &m).map(|b| &b.action),
            Some(Action::Goto(ViewKind::Matrix))
        ));
    }

    #[test]
    fn a_scoped_rebinding_leaves_other_scopes_alone() {
        let c = parse_ok("keys:\n  matrix.remove_target: X\n");
        let mut km = Keymap::new();
        apply(&mut km, &c.keys);
        let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        let detail = Keymap::scopes(&crate::console::views::View::AppDetail {
            namespace: "default".into(),
            name: "web".into(),
        });
        assert!(matches!(
            km.lookup(&detail, &x).map(|b| &b.action),
            Some(Action::RemoveTarget)
        ));
        let matrix = Keymap::scopes(&crate::console::views::View::Matrix);
        assert!(km.lookup(&matrix, &x).is_none());
    }

    #[test]
    fn keys_parse_as_written() {
        let k = parse_key("ctrl-d").expect("ctrl-d");
        assert_eq!(
            (k.code, k.modifiers),
            (KeyCode::Char('d'), KeyModifiers::CONTROL)
        );
        assert_eq!(parse_key("space").expect("space").code, KeyCode::Char(' '));
        assert_eq!(parse_key("shift-tab").expect("bt").code, KeyCode::BackTab);
        assert_eq!(parse_key("f5").expect("f5").code, KeyCode::F(5));
        assert_eq!(parse_key("G").expect("G").code, KeyCode::Char('G'));
        assert!(parse_key("alt-x").is_err());
        assert!(parse_key("shift-x").is_err());
        assert!(parse_key("f13").is_err());
        assert!(parse_key("").is_err());
    }

    #[test]
    fn action_and_scope_names_are_snake_case() {
        assert_eq!(action_name(&Action::ScaleUp), "scale_up");
        assert_eq!(
            action_name(&Action::Goto(ViewKind::Regions)),
            "goto_regions"
        );
        assert_eq!(scope_name(Scope::AppDetail), "app_detail");
        assert_eq!(scope_named("group_form"), Some(Scope::GroupForm));
    }
}
