//! The diff preview: what the edit changes in the spec and in every
//! generated object (see `console::edit::diff`); `y` saves it, `esc` goes
//! back to the editor it came from.

use super::*;

impl App {
    pub(super) fn on_diff(
        &mut self,
        mut preview: Box<DiffPreview>,
        back: Option<Box<Mode>>,
        action: Action,
    ) -> Vec<Effect> {
        match action {
            Action::Back => {
                if self.external.take().is_some() {
                    self.info("edit not saved");
                }
                self.mode = back.map_or(Mode::Normal, |b| *b)
            }
            Action::Up | Action::Down => {
                preview.scroll = scroll(preview.scroll, matches!(action, Action::Down))
                    .min(preview.text.max_scroll());
                self.mode = Mode::Diff { preview, back };
            }
            Action::Enter => {
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
                let mut preview = *preview;
                let also = std::mem::take(&mut preview.also);
                let mut effects = self.save_candidate(preview.pending, &preview.candidate);
                if !effects.is_empty() {
                    self.saving_from = back;
                    effects.extend(self.queue_also(also));
                    self.marks.clear();
                }
                return effects;
            }
            other => return self.stay(Mode::Diff { preview, back }, other),
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
