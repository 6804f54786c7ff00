//! A virtualized, filterable, sortable table.
//!
//! A view describes its rows through [`TableSource`]; [`TableState`] keeps
//! the filtered and sorted order (recomputed only when data, filter or sort
//! change, in `update`) and the selection. Drawing builds only the rows that
//! fit on screen, so 10,000 nodes cost one screenful of cells per frame.

use std::cell::Cell as StdCell;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use crate::console::theme::Theme;

/// How a column sorts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    Num(i64),
    Text(String),
}

pub struct Column {
    pub title: &'static str,
    pub width: Constraint,
}

pub const fn col(title: &'static str, width: Constraint) -> Column {
    Column { title, width }
}

/// Rows of one table, addressed by their index in the source's natural order.
pub trait TableSource {
    fn columns(&self) -> Vec<Column>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Text the `/` filter matches against (case-insensitive substring).
    fn filter_text(&self, row: usize) -> String;
    fn sort_key(&self, row: usize, column: usize) -> SortKey;
    /// The cells of one row (called only for visible rows).
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>>;
}

#[derive(Debug, Clone, Default)]
pub struct TableState {
    /// Position in `order` of the selected row.
    pub selected: usize,
    pub filter: String,
    /// (column, ascending)
    pub sort: Option<(usize, bool)>,
    /// Source row indices, filtered and sorted.
    pub order: Vec<usize>,
    /// First visible position; adjusted while drawing to keep the selection visible.
    pub offset: StdCell<usize>,
    /// Rows that fit in the last drawn frame (for page up/down).
    pub page: StdCell<usize>,
    /// The widest content seen per column since the view opened: columns
    /// grow to fit what scrolls by but do not shrink back, so they hold still.
    pub seen: std::cell::RefCell<Vec<u16>>,
    /// Where the table was last drawn, borders included: a mouse click maps to a row through it.
    pub area: StdCell<Rect>,
}

impl TableState {
    /// Recomputes `order` from the source, the filter and the sort.
    pub fn refresh(&mut self, source: &dyn TableSource) {
        let previous = self.selected_row();
        let needle = self.filter.to_lowercase();
        let mut order: Vec<usize> = (0..source.len())
            .filter(|&i| {
                needle.is_empty() || source.filter_text(i).to_lowercase().contains(&needle)
            })
            .collect();
        if let Some((column, ascending)) = self.sort {
            let mut keyed: Vec<(SortKey, usize)> = order
                .iter()
                .map(|&i| (source.sort_key(i, column), i))
                .collect();
            keyed.sort_by(|a, b| {
                let o = a.0.cmp(&b.0).then(a.1.cmp(&b.1));
                if ascending { o } else { o.reverse() }
            });
            order = keyed.into_iter().map(|(_, i)| i).collect();
        }
        self.order = order;
        // Keep the same row selected when it is still there.
        self.selected = previous
            .and_then(|p| self.order.iter().position(|&i| i == p))
            .unwrap_or_else(|| self.selected.min(self.order.len().saturating_sub(1)));
    }

    /// Source index of the selected row.
    pub fn selected_row(&self) -> Option<usize> {
        self.order.get(self.selected).copied()
    }

    pub fn select_row(&mut self, row: usize) {
        if let Some(p) = self.order.iter().position(|&i| i == row) {
            self.selected = p;
        }
    }

    /// Moves the selection; returns whether it moved.
    pub fn move_by(&mut self, delta: i64) -> bool {
        if self.order.is_empty() {
            return false;
        }
        let last = self.order.len() - 1;
        let current = i64::try_from(self.selected).unwrap_or(i64::MAX);
        let next = current
            .saturating_add(delta)
            .clamp(0, i64::try_from(last).unwrap_or(i64::MAX));
        let next = usize::try_from(next).unwrap_or(0);
        let moved = next != self.selected;
        self.selected = next;
        moved
    }

    /// The position in `order` of the row drawn at terminal row `y`, column
    /// `x` (under the border and the header line), if there is one.
    pub fn position_at(&self, x: u16, y: u16) -> Option<usize> {
        let area = self.area.get();
        let inside = x > area.x && x + 1 < area.x + area.width;
        let first = area.y + 2;
        if !inside || y < first || y + 1 >= area.y + area.height {
            return None;
        }
        let pos = self.offset.get() + usize::from(y - first);
        (pos < self.order.len()).then_some(pos)
    }

    pub fn page_size(&self) -> i64 {
        i64::try_from(self.page.get().max(1)).unwrap_or(1)
    }

    /// Cycles the sort column; returns the new sort.
    pub fn sort_next(&mut self, columns: usize) {
        self.sort = match self.sort {
            None if columns > 0 => Some((0, true)),
            Some((c, asc)) if c + 1 < columns => Some((c + 1, asc)),
            _ => None,
        };
    }

    pub fn sort_reverse(&mut self) {
        self.sort = Some(match self.sort {
            Some((c, asc)) => (c, !asc),
            None => (0, false),
        });
    }
}

/// Draws the visible window of `source` in `area` with a titled border.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    source: &dyn TableSource,
    state: &TableState,
    theme: &Theme,
    focused: bool,
) {
    let columns = source.columns();
    let inner_height = usize::from(area.height.saturating_sub(3)); // borders + header
    state.page.set(inner_height);
    state.area.set(area);
    let total = state.order.len();
    let mut offset = state.offset.get();
    if state.selected < offset {
        offset = state.selected;
    } else if inner_height > 0 && state.selected >= offset + inner_height {
        offset = state.selected + 1 - inner_height;
    }
    offset = offset.min(total.saturating_sub(inner_height.max(1)));
    state.offset.set(offset);

    let titles: Vec<Line<'static>> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let arrow = match state.sort {
                Some((s, true)) if s == i => "↑",
                Some((s, false)) if s == i => "↓",
                _ => "",
            };
            Line::from(format!("{}{arrow}", c.title))
        })
        .collect();
    let selection_theme = theme.on_selection();
    let visible: Vec<(bool, Vec<Line<'static>>)> = state
        .order
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_height)
        .map(|(pos, &i)| {
            let selected = focused && pos == state.selected;
            let t = if selected { &selection_theme } else { theme };
            (selected, source.cells(i, t))
        })
        .collect();
    let widths = fit_columns(
        &columns,
        &titles,
        visible.iter().map(|(_, cells)| cells.as_slice()),
        &mut state.seen.borrow_mut(),
        area.width.saturating_sub(2),
    );
    let header = Row::new(
        titles
            .into_iter()
            .zip(&widths)
            .map(|(t, &w)| Cell::from(ellipsize(t, w))),
    )
    .style(theme.header());
    let rows: Vec<Row> = visible
        .into_iter()
        .map(|(selected, cells)| {
            let row = Row::new(
                cells
                    .into_iter()
                    .zip(&widths)
                    .map(|(c, &w)| Cell::from(ellipsize(c, w))),
            );
            if selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();

    let mut title_spans = vec![Span::styled(format!(" {title}"), theme.title())];
    let count = if state.filter.is_empty() {
        format!("[{total}] ")
    } else {
        format!("[{total}/{}] ", source.len())
    };
    title_spans.push(Span::styled(format!(" {count}"), theme.muted()));
    if !state.filter.is_empty() {
        title_spans.push(Span::styled(format!("/{} ", state.filter), theme.accent()));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.title()
        } else {
            theme.border()
        })
        .title(Line::from(title_spans));
    let table = Table::new(rows, widths.iter().map(|&w| Constraint::Length(w)))
        .header(header)
        .block(block)
        .style(theme.base())
        .column_spacing(1);
    frame.render_widget(table, area);
    if total == 0 && area.height > 3 {
        let msg = if source.is_empty() {
            "(none)"
        } else {
            "(no rows match the filter)"
        };
        let r = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: 1,
        };
        frame.render_widget(Span::styled(msg, theme.muted()), r);
    }
}

/// The width of each column: when everything shown fits, fixed columns
/// take exactly their widest content (header included) and the fill
/// columns share the rest; when it does not, the declared widths hold and
/// cut text ends in `…` ([`ellipsize`]).
fn fit_columns<'a>(
    columns: &[Column],
    titles: &[Line<'_>],
    rows: impl Iterator<Item = &'a [Line<'static>]>,
    seen: &mut Vec<u16>,
    width: u16,
) -> Vec<u16> {
    let mut content: Vec<u16> = titles.iter().map(line_width).collect();
    if seen.len() == content.len() {
        for (c, s) in content.iter_mut().zip(seen.iter()) {
            *c = (*c).max(*s);
        }
    }
    for cells in rows {
        for (i, cell) in cells.iter().enumerate() {
            if let Some(w) = content.get_mut(i) {
                *w = (*w).max(line_width(cell));
            }
        }
    }
    seen.clone_from(&content);
    let spacing = u16::try_from(columns.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let needed = columns
        .iter()
        .zip(&content)
        .map(|(c, &w)| match c.width {
            Constraint::Length(_) => w,
            // A fill column needs at least its title.
            _ => w.min(titles_width(c)),
        })
        .fold(spacing, u16::saturating_add);
    let mut constraints: Vec<Constraint> = columns
        .iter()
        .zip(&content)
        .map(|(c, &w)| match c.width {
            Constraint::Length(_) if needed <= width => Constraint::Length(w),
            // Too narrow: no fixed column takes more than it needs, so the
            // fill columns keep what is left rather than nothing.
            Constraint::Length(declared) => Constraint::Length(w.min(declared)),
            other => other,
        })
        .collect();
    // Fill columns share what is left, but one whose content needs less
    // than its share takes only that, leaving the rest to those that need it.
    let fixed: u16 = constraints
        .iter()
        .map(|c| match c {
            Constraint::Length(w) => *w,
            _ => 0,
        })
        .fold(spacing, u16::saturating_add);
    let mut left = width.saturating_sub(fixed);
    let mut fills: Vec<usize> = (0..columns.len())
        .filter(|&i| !matches!(constraints[i], Constraint::Length(_)))
        .collect();
    fills.sort_by_key(|&i| content[i]);
    let mut count = u16::try_from(fills.len()).unwrap_or(u16::MAX);
    for i in fills {
        let share = left / count.max(1);
        if content[i] <= share && count > 1 {
            constraints[i] = Constraint::Length(content[i]);
            left -= content[i];
        }
        count -= 1;
    }
    let area = Rect::new(0, 0, width, 1);
    ratatui::layout::Layout::horizontal(constraints)
        .spacing(1)
        .split(area)
        .iter()
        .map(|r| r.width)
        .collect()
}

fn titles_width(c: &Column) -> u16 {
    u16::try_from(unicode_width::UnicodeWidthStr::width(c.title)).unwrap_or(u16::MAX)
}

fn line_width(line: &Line<'_>) -> u16 {
    u16::try_from(line.width()).unwrap_or(u16::MAX)
}

/// `line` cut to `width` columns, its last one `…` when anything was cut.
pub fn ellipsize(line: Line<'static>, width: u16) -> Line<'static> {
    let width = usize::from(width);
    if line.width() <= width {
        return line;
    }
    let Line {
        spans,
        style,
        alignment,
        ..
    } = line;
    let mut room = width.saturating_sub(1);
    let mut kept: Vec<Span<'static>> = Vec::new();
    let mut last_style = ratatui::style::Style::default();
    for span in spans {
        if room == 0 {
            break;
        }
        last_style = span.style;
        let mut text = String::new();
        for g in unicode_segmentation::UnicodeSegmentation::graphemes(span.content.as_ref(), true) {
            let w = unicode_width::UnicodeWidthStr::width(g);
            if w > room {
                room = 0;
                break;
            }
            room -= w;
            text.push_str(g);
        }
        kept.push(Span::styled(text, span.style));
    }
    if width > 0 {
        kept.push(Span::styled("…", last_style));
    }
    let mut cut = Line::from(kept).style(style);
    cut.alignment = alignment;
    cut
}

/// Case-insensitive text comparison helper for sort keys.
pub fn text(s: &str) -> SortKey {
    SortKey::Text(s.to_lowercase())
}

pub fn num<T: TryInto<i64>>(n: T) -> SortKey {
    SortKey::Num(n.try_into().unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Numbers(Vec<i64>);
    impl TableSource for Numbers {
        fn columns(&self) -> Vec<Column> {
            vec![col("N", Constraint::Length(5))]
        }
        fn len(&self) -> usize {
            self.0.len()
        }
        fn filter_text(&self, row: usize) -> String {
            self.0.get(row).map(|n| n.to_string()).unwrap_or_default()
        }
        fn sort_key(&self, row: usize, _: usize) -> SortKey {
            num(self.0.get(row).copied().unwrap_or(0))
        }
        fn cells(&self, row: usize, _: &Theme) -> Vec<Line<'static>> {
            vec![Line::from(self.filter_text(row))]
        }
    }

    #[test]
    fn a_cut_cell_ends_in_an_ellipsis_and_keeps_its_styles() {
        let red = ratatui::style::Style::default().fg(ratatui::style::Color::Red);
        let line = Line::from(vec![
            Span::raw("edge-apps/"),
            Span::styled("video-analytics", red),
        ]);
        let cut = ellipsize(line.clone(), 14);
        assert_eq!(cut.to_string(), "edge-apps/vid…");
        assert_eq!(cut.width(), 14);
        assert_eq!(cut.spans.last().map(|s| s.style), Some(red));
        assert_eq!(ellipsize(line.clone(), 25), line, "what fits is untouched");
        assert_eq!(
            ellipsize(Line::from("中文字"), 4).to_string(),
            "中…",
            "wide characters count twice"
        );
    }

    #[test]
    fn columns_take_their_content_when_it_fits_and_their_declared_width_otherwise() {
        let columns = [
            col("NAME", Constraint::Length(6)),
            col("TARGETS", Constraint::Length(4)),
            col("MESSAGE", Constraint::Fill(1)),
        ];
        let titles: Vec<Line> = columns.iter().map(|c| Line::from(c.title)).collect();
        let row = vec![
            Line::from("web"),
            Line::from("hangzhou,shanghai"),
            Line::from("ok"),
        ];
        let rows = [row.as_slice()];
        let wide = fit_columns(&columns, &titles, rows.iter().copied(), &mut Vec::new(), 80);
        assert_eq!(
            wide[..2],
            [4, 17],
            "NAME shrinks to its title, TARGETS grows to its content"
        );
        assert_eq!(
            wide.iter().sum::<u16>() + 2,
            80,
            "the fill column takes the rest"
        );
        let narrow = fit_columns(&columns, &titles, rows.iter().copied(), &mut Vec::new(), 20);
        assert_eq!(
            narrow[..2],
            [4, 4],
            "too narrow: at most the declared widths, cut with …"
        );
        assert!(narrow[2] > 0, "the fill column keeps what is left");
        // Scrolled to a row of short names, TARGETS keeps the width it had.
        let mut seen = Vec::new();
        fit_columns(&columns, &titles, rows.iter().copied(), &mut seen, 80);
        let short = vec![Line::from("a"), Line::from("b"), Line::from("c")];
        let still = fit_columns(
            &columns,
            &titles,
            [short.as_slice()].into_iter(),
            &mut seen,
            80,
        );
        assert_eq!(still[..2], [4, 17]);
    }

    #[test]
    fn filter_sort_and_selection_follow_the_row() {
        let src = Numbers(vec![30, 10, 20, 11]);
        let mut st = TableState::default();
        st.refresh(&src);
        assert_eq!(st.order, [0, 1, 2, 3]);
        st.move_by(2); // row 2 (20)
        st.sort = Some((0, true));
        st.refresh(&src);
        assert_eq!(st.order, [1, 3, 2, 0]);
        assert_eq!(st.selected_row(), Some(2));
        st.filter = "1".into();
        st.refresh(&src);
        assert_eq!(st.order, [1, 3]);
        assert!(st.selected < st.order.len());
        assert!(!st.move_by(-5) || st.selected == 0);
    }
}
