//! `E`: the whole EdgeApplication as YAML in a textarea, checked as you type
//! the way the API server and the engine would ([`super::validate`]). Only
//! `spec` is taken from the text: metadata and status stay the server's.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui_textarea::TextArea;

use super::EditKind;
use super::validate::{self, Checked};
use crate::api::EdgeApplication;
use crate::console::theme::Theme;

pub struct YamlEditor {
    pub base: EdgeApplication,
    pub textarea: TextArea<'static>,
    pub checked: Checked,
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
            checked: Checked::default(),
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

    /// The spec edit, or `None` while the API server would refuse the text
    /// (the reasons are in `checked`).
    pub fn edit(&mut self) -> Option<EditKind> {
        self.checked = validate::check(&self.textarea.lines().join("\n"));
        let app = self.checked.app.as_ref()?;
        Some(EditKind::Spec(Box::new(app.spec.clone())))
    }

    /// The first reason the text cannot be saved, for the prompt line.
    pub fn refusal(&self) -> Option<&str> {
        self.checked.errors.first().map(String::as_str)
    }

    pub fn input(&mut self, key: crossterm::event::KeyEvent) {
        self.textarea.input(key);
        self.edit();
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let mut lines: Vec<Line> = Vec::new();
        let c = &self.checked;
        for e in &c.errors {
            lines.push(Line::from(Span::styled(format!("✗ {e}"), theme.error())));
        }
        for w in &c.warnings {
            lines.push(Line::from(Span::styled(format!("⚠ {w}"), theme.warn())));
        }
        if lines.is_empty() {
            lines.push(Line::from(Span::styled(
                "✓ valid EdgeApplication (as the API server and the engine check it)",
                theme.ok(),
            )));
        }
        // Every reason stays readable, up to a third of the editor.
        let width = usize::from(area.width.max(1));
        let rows: usize = lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum();
        let wanted = u16::try_from(rows).unwrap_or(u16::MAX);
        let height = wanted.min((area.height / 3).max(1));
        let [edit, status] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(height)]).areas(area);
        let mut ta = self.textarea.clone();
        // Errors cite "line N column M": the numbers are where to look.
        ta.set_line_number_style(theme.muted());
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
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), status);
    }
}
