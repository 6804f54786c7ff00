//! A scrollable block of styled lines (YAML, describe, help, diffs), with
//! `/` search: matches highlighted, `n`/`N` to go from one to the next.

use std::cell::{Cell, RefCell};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::console::theme::Theme;

/// What the last frame showed of a text view: the App scrolls and searches
/// within it (as the table's page size comes from its last frame).
#[derive(Debug, Clone, Default)]
pub struct TextState {
    /// Lines in all, and how many fit.
    pub extent: Cell<(usize, usize)>,
    /// The lines as plain text, for search.
    pub content: RefCell<Vec<String>>,
    /// The line of the match `n`/`N` went to last.
    pub current: Cell<Option<usize>>,
}

impl TextState {
    /// The furthest a view can scroll: its last page full, never one line alone.
    pub fn max_scroll(&self) -> usize {
        let (total, height) = self.extent.get();
        total.saturating_sub(height.max(1))
    }

    /// The first line at or after `from` (wrapping) containing `needle`, or
    /// before it when `back`.
    pub fn find(&self, needle: &str, from: usize, back: bool) -> Option<usize> {
        if needle.is_empty() {
            return None;
        }
        let needle = needle.to_lowercase();
        let content = self.content.borrow();
        let n = content.len();
        let hit = |i: usize| content[i].to_lowercase().contains(&needle);
        (0..n)
            .map(|k| {
                if back {
                    (from + n - 1 - k % n) % n
                } else {
                    (from + k) % n
                }
            })
            .find(|&i| hit(i))
    }

    /// How many lines contain `needle`.
    pub fn matches(&self, needle: &str) -> usize {
        let needle = needle.to_lowercase();
        self.content
            .borrow()
            .iter()
            .filter(|l| !needle.is_empty() && l.to_lowercase().contains(&needle))
            .count()
    }
}

/// Draws `lines` from `scroll`, only the lines that fit; lines containing
/// `search` have the match highlighted.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: usize,
    state: &TextState,
    search: &str,
    theme: &Theme,
) {
    let height = usize::from(area.height.saturating_sub(2));
    let total = lines.len();
    state.extent.set((total, height));
    *state.content.borrow_mut() = lines.iter().map(Line::to_string).collect();
    let scroll = scroll.min(state.max_scroll());
    let visible: Vec<Line> = lines
        .into_iter()
        .skip(scroll)
        .take(height)
        .map(|l| highlight(l, search, theme))
        .collect();
    let position = if total > height {
        format!(
            " {}-{}/{} ",
            scroll + 1,
            (scroll + height).min(total),
            total
        )
    } else {
        String::new()
    };
    let mut title = vec![
        Span::styled(format!(" {title} "), theme.title()),
        Span::styled(position, theme.muted()),
    ];
    if !search.is_empty() {
        title.push(Span::styled(
            format!(" /{search}: {} line(s), n/N ", state.matches(search)),
            theme.accent(),
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.title())
        .title(Line::from(title));
    frame.render_widget(
        Paragraph::new(visible).block(block).style(theme.base()),
        area,
    );
}

/// `line` with every case-insensitive occurrence of `needle` marked; a line
/// without one is returned as it is, styles and all.
fn highlight(line: Line<'static>, needle: &str, theme: &Theme) -> Line<'static> {
    if needle.is_empty() {
        return line;
    }
    let text = line.to_string();
    let lower = text.to_lowercase();
    let needle = needle.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII: mark only when it did not.
    if lower.len() != text.len() || !lower.contains(&needle) {
        return line;
    }
    let mut spans = Vec::new();
    let mut at = 0;
    for (start, found) in lower.match_indices(&needle) {
        if start > at {
            spans.push(Span::raw(text[at..start].to_owned()));
        }
        let end = start + found.len();
        spans.push(Span::styled(text[start..end].to_owned(), theme.selected()));
        at = end;
    }
    if at < text.len() {
        spans.push(Span::raw(text[at..].to_owned()));
    }
    Line::from(spans)
}

/// Plain text → lines.
pub fn lines(text: &str) -> Vec<Line<'static>> {
    text.lines().map(|l| Line::from(l.to_owned())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(lines: &[&str], height: usize) -> TextState {
        let s = TextState::default();
        s.extent.set((lines.len(), height));
        *s.content.borrow_mut() = lines.iter().map(|l| (*l).to_owned()).collect();
        s
    }

    #[test]
    fn search_goes_forward_and_back_and_wraps() {
        let s = state(&["a", "image: x", "b", "Image: y", "c"], 2);
        assert_eq!(s.find("image", 0, false), Some(1));
        assert_eq!(s.find("image", 2, false), Some(3));
        assert_eq!(s.find("image", 4, false), Some(1), "wraps to the top");
        assert_eq!(s.find("image", 2, true), Some(1));
        assert_eq!(s.find("image", 0, true), Some(3), "wraps to the bottom");
        assert_eq!(s.find("nothing", 0, false), None);
        assert_eq!(s.matches("image"), 2);
    }

    #[test]
    fn the_last_page_is_full() {
        assert_eq!(state(&["1", "2", "3", "4", "5"], 2).max_scroll(), 3);
        assert_eq!(state(&["1"], 10).max_scroll(), 0);
    }

    #[test]
    fn a_match_is_marked_and_the_rest_of_the_line_kept() {
        let theme = Theme::dark();
        let marked = highlight(Line::from("  image: nginx:1.27"), "NGINX", &theme);
        assert_eq!(marked.to_string(), "  image: nginx:1.27");
        assert_eq!(marked.spans.len(), 3);
        assert_eq!(marked.spans[1].content, "nginx");
        assert_eq!(marked.spans[1].style, theme.selected());
    }
}
