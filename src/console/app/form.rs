//! The override form and the new-NodeGroup form: fields validated as typed
//! (their drawing lives with their state in `console::edit`); `ctrl-s`
//! previews the override edit, or creates the group.

use super::*;

impl App {
    pub(super) fn on_form(&mut self, mut form: Box<OverrideForm>, action: Action) -> Vec<Effect> {
        match action {
            Action::Down => {
                form.focus_next(1);
                self.mode = Mode::Form(form);
            }
            Action::Up => {
                form.focus_next(-1);
                self.mode = Mode::Form(form);
            }
            Action::Enter => match form.edit() {
                Some(edit) if form.validate() && self.is_bulk_form(&form) => {
                    self.bulk_form(form, edit);
                }
                Some(edit) if form.validate() => {
                    let base = form.base.clone();
                    self.preview(base, edit, Some(Box::new(Mode::Form(form))));
                }
                _ => {
                    self.error("✗ fix the marked fields first");
                    self.mode = Mode::Form(form);
                }
            },
            Action::Back if form.changed() => {
                self.mode = Mode::ConfirmDiscard(Box::new(Mode::Form(form)));
            }
            Action::Back => {}
            other => return self.stay(Mode::Form(form), other),
        }
        Vec::new()
    }

    pub(super) fn on_new_group(
        &mut self,
        mut form: Box<NewGroupForm>,
        action: Action,
    ) -> Vec<Effect> {
        match action {
            Action::Down | Action::Up => {
                form.focus = 1 - form.focus.min(1);
                self.mode = Mode::NewGroup(form);
            }
            Action::Enter => match form.object() {
                Some(object) => {
                    let name = object
                        .pointer("/metadata/name")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    self.info(format!("creating NodeGroup {name}…"));
                    return self.write(Effect::Create { object });
                }
                None => {
                    self.error("✗ fix the name and selector first");
                    self.mode = Mode::NewGroup(form);
                }
            },
            Action::Back => {}
            other => return self.stay(Mode::NewGroup(form), other),
        }
        Vec::new()
    }
}
