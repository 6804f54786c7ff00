//! The conflict view: a 409 on the console's own write, waiting for the
//! operator. It shows what the other writer changed and the edit that was
//! refused; `r` previews that edit on the current object, `esc` drops it.

use super::*;

/// A 409 waiting for the user's decision.
pub struct ConflictView {
    pub pending: PendingWrite,
    pub current: EdgeApplication,
    pub lines: Vec<(Tag, String)>,
    pub scroll: usize,
    pub text: crate::console::widgets::text::TextState,
}

impl ConflictView {
    pub fn new(pending: PendingWrite, current: EdgeApplication) -> ConflictView {
        let base = serde_yaml_ng::to_string(&pending.base.spec).unwrap_or_default();
        let now = serde_yaml_ng::to_string(&current.spec).unwrap_or_default();
        let mut lines = vec![(
            Tag::Heading,
            format!(
                "The application changed since you read it (resourceVersion {} → {}). Changed meanwhile:",
                pending
                    .base
                    .metadata
                    .resource_version
                    .as_deref()
                    .unwrap_or("?"),
                current.metadata.resource_version.as_deref().unwrap_or("?")
            ),
        )];
        let changes = diff::hunks(diff::line_diff(&base, &now), 2);
        if changes.is_empty() {
            lines.push((
                Tag::Note,
                "  (spec unchanged; only metadata or status)".into(),
            ));
        }
        lines.extend(changes);
        lines.push((
            Tag::Heading,
            format!("Your change: {}", pending.edit.describe()),
        ));
        lines.push((
            Tag::Note,
            "r re-apply your change on top of this · esc discard".into(),
        ));
        ConflictView {
            pending,
            current,
            lines,
            scroll: 0,
            text: Default::default(),
        }
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        crate::console::widgets::text::draw(
            frame,
            area,
            "Conflict (409) — r re-apply · esc discard",
            diff::styled_lines(&self.lines, theme),
            self.scroll,
            &self.text,
            "",
            theme,
        );
    }
}

impl App {
    pub(super) fn on_conflict(&mut self, mut c: Box<ConflictView>, action: Action) -> Vec<Effect> {
        match action {
            Action::Up | Action::Down => {
                c.scroll =
                    scroll(c.scroll, matches!(action, Action::Down)).min(c.text.max_scroll());
                self.mode = Mode::Conflict(c);
            }
            Action::Enter => {
                let c = *c;
                self.preview(c.current, c.pending.edit, None);
            }
            Action::Back => self.info("discarded your change"),
            other => return self.stay(Mode::Conflict(c), other),
        }
        Vec::new()
    }
}
