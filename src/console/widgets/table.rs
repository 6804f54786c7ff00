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
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Cell<'static>>;
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
    let total = state.order.len();
    let mut offset = state.offset.get();
    if state.selected < offset {
        offset = state.selected;
    } else if inner_height > 0 && state.selected >= offset + inner_height {
        offset = state.selected + 1 - inner_height;
    }
    offset = offset.min(total.saturating_sub(inner_height.max(1)));
    state.offset.set(offset);

    let header = Row::new(columns.iter().enumerate().map(|(i, c)| {
        let arrow = match state.sort {
            Some((s, true)) if s == i => "↑",
            Some((s, false)) if s == i => "↓",
            _ => "",
        };
        Cell::from(format!("{}{arrow}", c.title))
    }))
    .style(theme.header());

    let selection_theme = theme.on_selection();
    let rows: Vec<Row> = state
        .order
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_height)
        .map(|(pos, &i)| {
            if focused && pos == state.selected {
                Row::new(source.cells(i, &selection_theme)).style(theme.selected())
            } else {
                Row::new(source.cells(i, theme))
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
    let widths: Vec<Constraint> = columns.iter().map(|c| c.width).collect();
    let table = Table::new(rows, widths)
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
        fn cells(&self, row: usize, _: &Theme) -> Vec<Cell<'static>> {
            vec![Cell::from(self.filter_text(row))]
        }
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
