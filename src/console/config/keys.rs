//! The `keys:` section: action and scope names (the keymap's own
//! vocabulary, as KEYS.md lists it), key names, rebinding a keymap, and the
//! clash check: a key the user binds must not mean two things where both
//! are active.

use crossterm::event::{KeyCode, KeyModifiers};

use crate::console::keymap::{Binding, Keymap, Scope};

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

pub(super) fn rebind(name: &str, specs: &[String]) -> Result<Rebind, String> {
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

pub(super) fn apply_one(keymap: &mut Keymap, r: &Rebind) -> Result<(), String> {
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
            Logs => out.push(vec![*s, Text, Global]),
            _ => out.push(vec![*s, Table, Global]),
        }
    }
    out
}

/// A key the user bound that now means two things at once: which entry
/// of `keys` bound it, and the words saying so.
pub(super) fn clash(keymap: &Keymap, keys: &[Rebind]) -> Option<(usize, String)> {
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
    Scope::Pods,
    Scope::Events,
    Scope::Logs,
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
pub fn action_name(action: &crate::console::action::Action) -> String {
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
    use std::path::Path;

    fn parse_ok(text: &str) -> super::super::Config {
        super::super::parse(text, Path::new("/cfg/config.yaml")).expect("parses")
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
