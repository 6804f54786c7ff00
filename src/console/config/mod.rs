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

use serde::Deserialize;

mod keys;

pub use keys::{ALL_SCOPES, Key, Rebind, action_name, apply, parse_key, scope_name};
use keys::{apply_one, clash, rebind};

use super::keymap::Keymap;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
