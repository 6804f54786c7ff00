//! A scrollable block of styled lines (YAML, describe, help, diffs).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::console::theme::Theme;

/// Draws `lines` from `scroll`, only the lines that fit.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    scroll: usize,
    theme: &Theme,
) {
    let height = usize::from(area.height.saturating_sub(2));
    let total = lines.len();
    let scroll = scroll.min(total.saturating_sub(1));
    let visible: Vec<Line> = lines.into_iter().skip(scroll).take(height).collect();
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
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.title())
        .title(Line::from(vec![
            Span::styled(format!(" {title} "), theme.title()),
            Span::styled(position, theme.muted()),
        ]));
    frame.render_widget(
        Paragraph::new(visible).block(block).style(theme.base()),
        area,
    );
}

/// Plain text → lines.
pub fn lines(text: &str) -> Vec<Line<'static>> {
    text.lines().map(|l| Line::from(l.to_owned())).collect()
}
