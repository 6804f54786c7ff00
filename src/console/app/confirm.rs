//! The two questions asked on the prompt line: delete this object (`y`
//! deletes only the version shown), and discard a changed edit.

use super::*;

impl App {
    pub(super) fn on_confirm_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::ConfirmDiscard(editor) => {
                if key.code == KeyCode::Char('y') {
                    self.info("discarded your edit");
                } else {
                    self.mode = *editor;
                }
                Vec::new()
            }
            Mode::ConfirmDelete {
                key: target,
                resource_version,
            } => {
                if key.code == KeyCode::Char('y') {
                    self.info(format!("deleting {target}…"));
                    return self.write(Effect::Delete {
                        key: target,
                        resource_version,
                    });
                }
                self.info("delete cancelled");
                Vec::new()
            }
            other => {
                self.mode = other;
                Vec::new()
            }
        }
    }

    /// The question, when one is asked.
    pub(super) fn confirm_prompt(&self) -> Option<Line<'static>> {
        let theme = &self.theme;
        match &self.mode {
            Mode::ConfirmDiscard(_) => Some(Line::from(vec![
                Span::styled("Discard your changes? ", theme.error()),
                Span::styled("y", theme.key()),
                Span::raw(" discards them; any other key keeps editing"),
            ])),
            Mode::ConfirmDelete { key, .. } => Some(Line::from(vec![
                Span::styled(format!("Delete {key}? "), theme.error()),
                Span::styled("y", theme.key()),
                Span::raw(" deletes it (only if unchanged since shown); any other key cancels"),
            ])),
            _ => None,
        }
    }
}
