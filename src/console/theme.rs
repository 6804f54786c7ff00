//! Colour themes: shipped ones (`themes/*.yaml`, compiled in) and user ones
//! from `$XDG_CONFIG_HOME/edgedeck/themes/*.yaml`. Format: THEMES.md.
//!
//! Colour never carries meaning alone: every state drawn in a colour also
//! has a symbol or word (`✓ Ready`, `✗ NotReady`, `▲ 1/2`), so themes only
//! change how things look.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ThemeError {
    #[error("{file}: {error}")]
    Parse { file: String, error: String },
    #[error("{file}: field {field}: unknown colour {value:?}")]
    Colour {
        file: String,
        field: String,
        value: String,
    },
    #[error("{dir}: {error}")]
    Io { dir: String, error: String },
}

/// A theme as written in YAML; every colour optional, missing ones come from `dark`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct ThemeFile {
    name: Option<String>,
    #[serde(default)]
    colors: std::collections::BTreeMap<String, String>,
    /// Draw selected rows reversed instead of with `selected_bg`.
    #[serde(default)]
    reverse_selection: Option<bool>,
}

/// The colours the console uses, by role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub fg: Color,
    pub bg: Color,
    pub border: Color,
    pub title: Color,
    pub header: Color,
    pub selected_fg: Color,
    pub selected_bg: Color,
    pub ok: Color,
    pub warn: Color,
    pub error: Color,
    pub muted: Color,
    pub accent: Color,
    pub key: Color,
    pub reverse_selection: bool,
}

/// Role names accepted under `colors:`, in documentation order.
pub const ROLES: [&str; 13] = [
    "foreground",
    "background",
    "border",
    "title",
    "header",
    "selected_fg",
    "selected_bg",
    "ok",
    "warn",
    "error",
    "muted",
    "accent",
    "key",
];

pub const SHIPPED: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.yaml")),
    ("light", include_str!("../../themes/light.yaml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.yaml"),
    ),
];

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

impl Theme {
    /// The built-in fallback (also what `themes/dark.yaml` ships).
    pub fn dark() -> Theme {
        Theme {
            name: "dark".into(),
            fg: Color::Gray,
            bg: Color::Reset,
            border: Color::DarkGray,
            title: Color::Cyan,
            header: Color::Yellow,
            selected_fg: Color::Black,
            selected_bg: Color::Cyan,
            ok: Color::Green,
            warn: Color::Yellow,
            error: Color::Red,
            muted: Color::DarkGray,
            accent: Color::Magenta,
            key: Color::Cyan,
            reverse_selection: false,
        }
    }

    /// Parses a theme file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Theme, ThemeError> {
        let parsed: ThemeFile = serde_yaml_ng::from_str(text).map_err(|e| ThemeError::Parse {
            file: file.into(),
            error: e.to_string(),
        })?;
        let mut theme = Theme::dark();
        theme.name = parsed.name.unwrap_or_else(|| {
            Path::new(file)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(file)
                .to_owned()
        });
        theme.reverse_selection = parsed.reverse_selection.unwrap_or(false);
        for (role, value) in &parsed.colors {
            let colour = Color::from_str(value.trim()).map_err(|_| ThemeError::Colour {
                file: file.into(),
                field: role.clone(),
                value: value.clone(),
            })?;
            let slot = match role.as_str() {
                "foreground" => &mut theme.fg,
                "background" => &mut theme.bg,
                "border" => &mut theme.border,
                "title" => &mut theme.title,
                "header" => &mut theme.header,
                "selected_fg" => &mut theme.selected_fg,
                "selected_bg" => &mut theme.selected_bg,
                "ok" => &mut theme.ok,
                "warn" => &mut theme.warn,
                "error" => &mut theme.error,
                "muted" => &mut theme.muted,
                "accent" => &mut theme.accent,
                "key" => &mut theme.key,
                other => {
                    return Err(ThemeError::Parse {
                        file: file.into(),
                        error: format!(
                            "unknown colour role {other:?} (known: {})",
                            ROLES.join(", ")
                        ),
                    });
                }
            };
            *slot = colour;
        }
        Ok(theme)
    }

    pub fn base(&self) -> Style {
        Style::default().fg(self.fg).bg(self.bg)
    }
    pub fn border(&self) -> Style {
        Style::default().fg(self.border)
    }
    pub fn title(&self) -> Style {
        Style::default().fg(self.title).add_modifier(Modifier::BOLD)
    }
    pub fn header(&self) -> Style {
        Style::default()
            .fg(self.header)
            .add_modifier(Modifier::BOLD)
    }
    /// The theme cells of the selected row are drawn with: every colour is
    /// the selection's, so red-on-teal never happens; the symbols and words
    /// next to each state still say what the colour said.
    pub fn on_selection(&self) -> Theme {
        if self.reverse_selection {
            return self.clone();
        }
        let fg = self.selected_fg;
        Theme {
            fg,
            // Cells styled with the base style paint their background too; it must be the highlight's.
            bg: self.selected_bg,
            header: fg,
            ok: fg,
            warn: fg,
            error: fg,
            muted: fg,
            accent: fg,
            key: fg,
            title: fg,
            ..self.clone()
        }
    }

    pub fn selected(&self) -> Style {
        if self.reverse_selection {
            Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::default()
                .fg(self.selected_fg)
                .bg(self.selected_bg)
                .add_modifier(Modifier::BOLD)
        }
    }
    pub fn ok(&self) -> Style {
        Style::default().fg(self.ok)
    }
    pub fn warn(&self) -> Style {
        Style::default().fg(self.warn).add_modifier(Modifier::BOLD)
    }
    pub fn error(&self) -> Style {
        Style::default().fg(self.error).add_modifier(Modifier::BOLD)
    }
    pub fn muted(&self) -> Style {
        Style::default().fg(self.muted)
    }
    pub fn accent(&self) -> Style {
        Style::default().fg(self.accent)
    }
    pub fn key(&self) -> Style {
        Style::default().fg(self.key).add_modifier(Modifier::BOLD)
    }
}

/// All themes the console knows: shipped ones, then user ones (a user theme
/// with a shipped name replaces it). Errors in user files are returned, not fatal.
#[derive(Debug, Clone)]
pub struct ThemeSet {
    pub themes: Vec<Theme>,
    pub errors: Vec<ThemeError>,
}

impl ThemeSet {
    pub fn shipped() -> ThemeSet {
        let mut errors = Vec::new();
        let themes = SHIPPED
            .iter()
            .filter_map(|(name, text)| match Theme::parse(name, text) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(e);
                    None
                }
            })
            .collect();
        ThemeSet { themes, errors }
    }

    /// Shipped themes plus every `*.yaml`/`*.yml` in `dir` (missing dir: none).
    pub fn with_user_dir(dir: &Path) -> ThemeSet {
        let mut set = ThemeSet::shipped();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return set,
            Err(e) => {
                set.errors.push(ThemeError::Io {
                    dir: dir.display().to_string(),
                    error: e.to_string(),
                });
                return set;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e == "yaml" || e == "yml")
            })
            .collect();
        paths.sort();
        for path in paths {
            let file = path.display().to_string();
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    set.errors.push(ThemeError::Io {
                        dir: file,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            match Theme::parse(&file, &text) {
                Ok(theme) => set.insert(theme),
                Err(e) => set.errors.push(e),
            }
        }
        set
    }

    /// `$XDG_CONFIG_HOME/edgedeck/themes` (or `~/.config/edgedeck/themes`).
    pub fn user_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(base.join("edgedeck").join("themes"))
    }

    pub fn insert(&mut self, theme: Theme) {
        match self.themes.iter_mut().find(|t| t.name == theme.name) {
            Some(slot) => *slot = theme,
            None => self.themes.push(theme),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.iter().find(|t| t.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.themes.iter().map(|t| t.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_themes_parse() {
        let set = ThemeSet::shipped();
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        assert_eq!(set.names(), ["dark", "light", "high-contrast"]);
    }

    #[test]
    fn bad_colour_and_role_are_errors() {
        assert!(matches!(
            Theme::parse("x.yaml", "colors: {ok: notacolour}"),
            Err(ThemeError::Colour { .. })
        ));
        assert!(matches!(
            Theme::parse("x.yaml", "colors: {okay: red}"),
            Err(ThemeError::Parse { .. })
        ));
        let t = Theme::parse("mine.yaml", "colors: {ok: '#00ff00'}").expect("parses");
        assert_eq!(t.name, "mine");
        assert_eq!(t.ok, Color::Rgb(0, 255, 0));
    }

    #[test]
    fn user_dir_overrides_and_adds() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("dark.yaml"),
            "name: dark\ncolors: {ok: blue}\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("solar.yml"), "colors: {accent: yellow}\n").expect("write");
        std::fs::write(dir.path().join("broken.yaml"), "colors: [\n").expect("write");
        let set = ThemeSet::with_user_dir(dir.path());
        assert_eq!(set.get("dark").map(|t| t.ok), Some(Color::Blue));
        assert!(set.get("solar").is_some());
        assert_eq!(set.errors.len(), 1);
    }
}
