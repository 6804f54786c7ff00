//! The editor modes: override form, YAML editor, new-group form, diff
//! preview and conflict view, as one take-and-restore state machine.

use super::*;

impl App {
    pub(super) fn modal(&mut self, action: Action) -> Vec<Effect> {
        let mode = std::mem::replace(&mut self.mode, Mode::Normal);
        match (mode, action) {
            (Mode::Form(mut form), Action::Down) => {
                form.focus_next(1);
                self.mode = Mode::Form(form);
            }
            (Mode::Form(mut form), Action::Up) => {
                form.focus_next(-1);
                self.mode = Mode::Form(form);
            }
            (Mode::Form(mut form), Action::Enter) => match form.edit() {
                Some(edit) if form.validate() => {
                    let base = form.base.clone();
                    self.preview(base, edit, Some(Box::new(Mode::Form(form))));
                }
                _ => {
                    self.error("✗ fix the marked fields first");
                    self.mode = Mode::Form(form);
                }
            },
            (Mode::YamlEdit(mut editor), Action::Enter) => match editor.edit() {
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
            (Mode::NewGroup(mut form), Action::Down | Action::Up) => {
                form.focus = 1 - form.focus.min(1);
                self.mode = Mode::NewGroup(form);
            }
            (Mode::NewGroup(form), Action::Enter) => match form.object() {
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
            (Mode::Diff { back, .. }, Action::Back) => {
                self.mode = back.map_or(Mode::Normal, |b| *b);
            }
            (Mode::Diff { mut preview, back }, action @ (Action::Up | Action::Down)) => {
                preview.scroll = scroll(preview.scroll, matches!(action, Action::Down))
                    .min(preview.text.max_scroll());
                self.mode = Mode::Diff { preview, back };
            }
            (Mode::Diff { preview, back }, Action::Enter) => {
                if !preview.changes {
                    self.info("nothing to save");
                    self.mode = back.map_or(Mode::Normal, |b| *b);
                    return Vec::new();
                }
                if let Some(why) = self.not_connected() {
                    self.error(format!(
                        "✗ not saved: {why}; your edit stays open (y again once connected)"
                    ));
                    self.mode = Mode::Diff { preview, back };
                    return Vec::new();
                }
                let preview = *preview;
                let effects = self.save_candidate(preview.pending, &preview.candidate);
                if !effects.is_empty() {
                    self.saving_from = back;
                }
                return effects;
            }
            (mode @ (Mode::Form(_) | Mode::YamlEdit(_)), Action::Back) if editor_changed(&mode) => {
                self.mode = Mode::ConfirmDiscard(Box::new(mode));
            }
            (Mode::Conflict(mut c), action @ (Action::Up | Action::Down)) => {
                c.scroll =
                    scroll(c.scroll, matches!(action, Action::Down)).min(c.text.max_scroll());
                self.mode = Mode::Conflict(c);
            }
            (Mode::Conflict(c), Action::Enter) => {
                let c = *c;
                self.preview(c.current, c.pending.edit, None);
            }
            (Mode::Conflict(_), Action::Back) => self.info("discarded your change"),
            (_, Action::Back) => {}
            (mode, Action::Quit) => {
                self.mode = mode;
                self.quit = true;
                return vec![Effect::Quit];
            }
            (mode, _) => {
                self.mode = mode;
                self.dirty = false;
            }
        }
        Vec::new()
    }

    pub(super) fn preview(
        &mut self,
        base: EdgeApplication,
        edit: EditKind,
        back: Option<Box<Mode>>,
    ) {
        match DiffPreview::new(base, edit) {
            Ok(preview) => {
                self.mode = Mode::Diff {
                    preview: Box::new(preview),
                    back,
                }
            }
            Err(e) => {
                self.error(format!("✗ {e}"));
                self.mode = back.map_or(Mode::Normal, |b| *b);
            }
        }
    }
}

/// An editor whose content differs from what it opened with.
fn editor_changed(mode: &Mode) -> bool {
    match mode {
        Mode::Form(form) => form.changed(),
        Mode::YamlEdit(editor) => editor.changed(),
        _ => false,
    }
}

fn scroll(current: usize, down: bool) -> usize {
    if down {
        current + 1
    } else {
        current.saturating_sub(1)
    }
}
