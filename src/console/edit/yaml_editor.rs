//! `E`: the whole EdgeApplication as YAML in a textarea, parsed as you type.
//! Only `spec` is taken from the text: metadata and status stay the server's.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui_textarea::TextArea;

use super::EditKind;
use crate::api::EdgeApplication;
use crate::console::theme::Theme;

pub struct YamlEditor {
    pub base: EdgeApplication,
    pub textarea: TextArea<'static>,
    pub error: Option<String>,
}

/// What the editor starts with: the object without status and managedFields.
pub fn editable_yaml(app: &EdgeApplication) -> String {
    let mut v = serde_json::to_value(app).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    serde_yaml_ng::to_string(&v).unwrap_or_default()
}

impl YamlEditor {
    pub fn new(base: EdgeApplication) -> YamlEditor {
        let text = editable_yaml(&base);
        let textarea = TextArea::new(text.lines().map(str::to_owned).collect());
        let mut e = YamlEditor {
            base,
            textarea,
            error: None,
        };
        e.edit();
        e
    }

    /// Whether the text differs from what the editor opened with.
    pub fn changed(&self) -> bool {
        !editable_yaml(&self.base)
            .lines()
            .eq(self.textarea.lines().iter().map(String::as_str))
    }

    /// The spec edit, or `None` (with `error` set) if the text does not parse.
    pub fn edit(&mut self) -> Option<EditKind> {
        let text = self.textarea.lines().join("\n");
        match serde_yaml_ng::from_str::<EdgeApplication>(&text) {
            Ok(app) => {
                self.error = None;
                Some(EditKind::Spec(Box::new(app.spec)))
            }
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }

    pub fn input(&mut self, key: crossterm::event::KeyEvent) {
        self.textarea.input(key);
        self.edit();
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let [edit, status] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
        let mut ta = self.textarea.clone();
        ta.set_block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.title())
                .title(Span::styled(
                    format!(
                        " Edit {}/{} (spec is saved) — ctrl-s preview · esc cancel ",
                        self.base.metadata.namespace.as_deref().unwrap_or("default"),
                        self.base.metadata.name.as_deref().unwrap_or("?")
                    ),
                    theme.title(),
                )),
        );
        frame.render_widget(&ta, edit);
        let line = match &self.error {
            Some(e) => Span::styled(format!("✗ {e}"), theme.error()),
            None => Span::styled("✓ valid EdgeApplication", theme.ok()),
        };
        frame.render_widget(Paragraph::new(line), status);
    }
}
