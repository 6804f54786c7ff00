//! `/` on a table: the filter bar, applied as typed; in a text view the
//! same bar searches (see `widgets::text`).

use super::*;

impl App {
    pub(super) fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.dirty = true;
        let screen = self.screen_mut();
        match key.code {
            KeyCode::Enter => self.mode = Mode::Normal,
            KeyCode::Esc => {
                screen.table.filter.clear();
                self.mode = Mode::Normal;
            }
            KeyCode::Backspace => {
                screen.table.filter.pop();
            }
            KeyCode::Char(c) => screen.table.filter.push(c),
            _ => return Vec::new(),
        }
        if self.is_text_view() {
            // Search as you type: to the first match from where the view is.
            let screen = self.screen_mut();
            let from = screen.scroll.min(screen.text.max_scroll());
            let found = screen.text.find(&screen.table.filter, from, false);
            screen.text.current.set(found);
            if let Some(line) = found {
                screen.scroll = line.min(screen.text.max_scroll());
            }
            return Vec::new();
        }
        self.refresh_top();
        Vec::new()
    }

    pub(super) fn filter_prompt(&self) -> Line<'static> {
        let theme = &self.theme;
        Line::from(vec![
            Span::styled("/", theme.key()),
            Span::raw(self.screen().table.filter.clone()),
            Span::styled("█", theme.key()),
            Span::styled("   enter keep · esc clear", theme.muted()),
        ])
    }
}
