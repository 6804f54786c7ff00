//! The mouse, when it is on (`--no-mouse` or `mouse: false` leave it to the
//! terminal, whose own text selection then works): a click selects the row
//! (and in the matrix the cell), a second click on the same row soon after
//! drills in as `enter` does, the wheel moves as `j`/`k` do, and a click on a
//! breadcrumb of the header goes back to that screen.
//!
//! Where things are is read from the last frame drawn (each table records
//! its area), so a click means what the operator saw under the pointer.
//! Editors, the preview and dialogs take the wheel only: clicks there would
//! need their own hit-testing and are not acted on.

use std::time::Duration;

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use unicode_width::UnicodeWidthStr;

use super::*;

/// Two clicks on one row within this long are a double-click (the usual
/// desktop default).
const DOUBLE_CLICK: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Click {
    at: SystemTime,
    column: u16,
    row: u16,
}

impl App {
    pub(super) fn on_mouse(&mut self, event: MouseEvent, at: SystemTime) -> Vec<Effect> {
        if !self.mouse {
            return Vec::new();
        }
        // The wheel scrolls views, the preview and the conflict view; in a
        // form `j`/`k` would move between fields, not scroll.
        let scrolls = matches!(
            self.mode,
            Mode::Normal | Mode::Diff { .. } | Mode::Conflict(_)
        );
        match event.kind {
            MouseEventKind::ScrollDown if scrolls => self.update(Action::Down),
            MouseEventKind::ScrollUp if scrolls => self.update(Action::Up),
            MouseEventKind::Down(MouseButton::Left) => self.click(event.column, event.row, at),
            _ => Vec::new(),
        }
    }

    fn click(&mut self, column: u16, row: u16, at: SystemTime) -> Vec<Effect> {
        if !matches!(self.mode, Mode::Normal) {
            return Vec::new();
        }
        let previous = self.last_click.replace(Click { at, column, row });
        if row == 0 {
            self.last_click = None;
            if let Some(depth) = self.crumb_at(column)
                && depth + 1 < self.stack.len()
            {
                self.flash = None;
                self.stack.truncate(depth + 1);
                self.refresh_top();
                self.dirty = true;
            }
            return Vec::new();
        }
        if self.is_text_view() {
            return Vec::new();
        }
        let screen = self.screen();
        let Some(pos) = screen.table.position_at(column, row) else {
            self.last_click = None;
            return Vec::new();
        };
        let group_column = match screen.view {
            View::Matrix => views::matrix::column_at(screen, self.derived.groups.len(), column),
            _ => None,
        };
        let same = previous.is_some_and(|p| {
            p.row == row
                && at
                    .duration_since(p.at)
                    .is_ok_and(|since| since <= DOUBLE_CLICK)
        });
        let screen = self.screen_mut();
        screen.table.selected = pos;
        if let Some(c) = group_column {
            screen.column = c;
        }
        self.dirty = true;
        if same {
            self.last_click = None;
            return self.update(Action::Enter);
        }
        Vec::new()
    }

    /// Which screen of the stack the header's breadcrumb shows at `column`
    /// (laid out as [`App::draw_header`] writes it: `edgedeck › a › b`).
    fn crumb_at(&self, column: u16) -> Option<usize> {
        let mut x = "edgedeck".width();
        let column = usize::from(column);
        for (depth, screen) in self.stack.iter().enumerate() {
            x += " › ".width();
            let end = x + screen.view.crumb().width();
            if (x..end).contains(&column) {
                return Some(depth);
            }
            x = end;
        }
        None
    }
}
