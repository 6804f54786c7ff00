//! The YAML editor: the whole EdgeApplication, checked as typed (see
//! `console::edit::validate`); `ctrl-s` previews the spec it would save.

use super::*;

impl App {
    pub(super) fn on_yaml(&mut self, mut editor: Box<YamlEditor>, action: Action) -> Vec<Effect> {
        match action {
            Action::Enter => match editor.edit() {
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
            Action::Back if editor.changed() => {
                self.mode = Mode::ConfirmDiscard(Box::new(Mode::YamlEdit(editor)));
            }
            Action::Back => {}
            other => return self.stay(Mode::YamlEdit(editor), other),
        }
        Vec::new()
    }
}
