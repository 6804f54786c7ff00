//! KEYS.md, written from the keymap itself so the document cannot drift
//! from the keys: one table per scope, with the name each action has in the
//! config file's `keys:` section. `edgedeck keys > KEYS.md` regenerates it;
//! a test fails while the checked-in file differs.

use std::fmt::Write as _;

use super::config::{ALL_SCOPES, action_name, scope_name};
use super::keymap::Keymap;

/// The markdown for `keymap` (the shipped one, simulator keys included, for KEYS.md).
pub fn markdown(keymap: &Keymap) -> String {
    let mut out = String::new();
    out.push_str("# edgedeck keys\n\n");
    out.push_str(
        "Generated from the keymap (`src/console/keymap.rs`) by `edgedeck keys > KEYS.md`; \
         a test fails while this file is out of date.\n\n",
    );
    out.push_str(
        "Rebind any of them in `$XDG_CONFIG_HOME/edgedeck/config.yaml` (else \
         `~/.config/edgedeck/config.yaml`) under `keys:`, by the action's name, \
         for every scope it is bound in or for one scope (`scope.action`):\n\n",
    );
    out.push_str(
        "```yaml\nkeys:\n  scale_up: \"=\"\n  matrix.remove_target: X\n  down: [j, down, ctrl-n]\n```\n\n",
    );
    out.push_str(
        "Keys are written as a character (`x`, `X`, `+`), `space`, `esc`, `enter`, `tab`, \
         `shift-tab`, `backspace`, `delete`, `insert`, `home`, `end`, `pgup`, `pgdn`, `up`, \
         `down`, `left`, `right`, `f1`…`f12`, with an optional `ctrl-` in front. A key that \
         would mean two things at once, an unknown action, scope or key name is an error \
         naming the file and line. ⊘ marks keys that write: disabled with `--readonly`.\n",
    );
    for &scope in ALL_SCOPES {
        let bindings: Vec<_> = keymap
            .bindings
            .iter()
            .filter(|b| b.scope == scope)
            .collect();
        if bindings.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "\n## {} (`{}`)\n\n| Key | Action | What it does |\n| --- | --- | --- |\n",
            scope.title(),
            scope_name(scope)
        );
        for b in bindings {
            let key = match b.label {
                "|" => "\\|".to_owned(),
                l => l.replace('|', "\\|"),
            };
            let _ = writeln!(
                out,
                "| `{key}` | `{}` | {}{} |",
                action_name(&b.action),
                b.help.replace('|', "\\|"),
                if b.writes { " ⊘" } else { "" }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `EDGEDECK_UPDATE_KEYS=1 cargo test --lib keys_doc` rewrites KEYS.md
    /// (as `edgedeck keys > KEYS.md` does).
    #[test]
    fn keys_md_is_generated_from_the_keymap() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/KEYS.md");
        let want = markdown(&Keymap::with_fleet_controls());
        if std::env::var_os("EDGEDECK_UPDATE_KEYS").is_some() {
            std::fs::write(path, &want).expect("write KEYS.md");
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "KEYS.md is out of date: run `edgedeck keys > KEYS.md` (or EDGEDECK_UPDATE_KEYS=1 cargo test --lib keys_doc)"
        );
    }

    /// A scope missing from ALL_SCOPES would leave its keys out of KEYS.md
    /// and out of the config file's `scope.action` names.
    #[test]
    fn every_scope_with_bindings_is_listed() {
        let km = Keymap::with_fleet_controls();
        for b in &km.bindings {
            assert!(
                ALL_SCOPES.contains(&b.scope),
                "{:?} is not in config::ALL_SCOPES",
                b.scope
            );
        }
    }

    #[test]
    fn every_binding_appears_with_its_action_name() {
        let md = markdown(&Keymap::with_fleet_controls());
        assert!(md.contains("| `+` | `scale_up` | scale this group up by one ⊘ |"));
        assert!(md.contains("## Matrix (`matrix`)"));
        assert!(md.contains("| `1` | `goto_regions` |"));
    }
}
