//! Matrix: applications × groups, ready/desired replicas in each cell.
//! Rows are virtualized like every table; group columns scroll horizontally.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Row, Table};

use super::{Ctx, Screen, app_standing_text, styled};
use crate::console::theme::Theme;
use crate::console::widgets::table::ellipsize;
use crate::console::widgets::table::{Column, SortKey, TableSource, col, text};

/// Width of one group column.
/// Room for `[✗ 10/10 failed]`.
const CELL: u16 = 17;
const APP_COL: u16 = 22;

/// Row ordering / filtering of the matrix (cells are drawn by [`draw`]).
pub struct MatrixRows<'a> {
    pub ctx: &'a Ctx<'a>,
}

impl TableSource for MatrixRows<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![col("APPLICATION", Constraint::Length(APP_COL))]
    }
    fn len(&self) -> usize {
        self.ctx.derived.apps.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.ctx
            .derived
            .apps
            .get(row)
            .map(|a| format!("{}/{}", a.namespace, a.name))
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, _: usize) -> SortKey {
        text(&self.filter_text(row))
    }
    fn cells(&self, row: usize, _: &Theme) -> Vec<Line<'static>> {
        vec![Line::from(self.filter_text(row))]
    }
}

/// Names of the matrix columns: every live group.
pub fn group_names<'a>(ctx: &'a Ctx<'a>) -> Vec<&'a str> {
    ctx.derived.groups.iter().map(|g| g.name.as_str()).collect()
}

/// Text and style of one cell: `·` not targeted, else ready/desired with a symbol.
pub fn cell_text(
    ctx: &Ctx,
    app: usize,
    group: &str,
    theme: &Theme,
) -> (String, ratatui::style::Style) {
    let Some(a) = ctx.derived.apps.get(app) else {
        return (String::new(), theme.muted());
    };
    if !a.targets.iter().any(|t| t == group) {
        return ("·".into(), theme.muted());
    }
    match a.replicas_in(group) {
        Some(standing) => app_standing_text(a, standing, theme),
        None => ("✗ failed".into(), theme.error()),
    }
}

/// How many group columns fit in `area`, and the first one shown when
/// `selected` is the selected one.
fn window(area: Rect, selected: usize, groups: usize) -> (usize, usize, usize) {
    let visible_cols = usize::from(area.width.saturating_sub(APP_COL + 3) / (CELL + 1)).max(1);
    let selected_col = selected.min(groups.saturating_sub(1));
    let first_col = (selected_col + 1).saturating_sub(visible_cols);
    (visible_cols, selected_col, first_col)
}

/// The group column (its index among all groups) drawn at terminal column
/// `x`, as the matrix was last drawn; `None` on the application column.
pub fn column_at(screen: &Screen, groups: usize, x: u16) -> Option<usize> {
    let area = screen.table.area.get();
    let (visible, _, first) = window(area, screen.column, groups);
    // The border, the application column, then cells one space apart.
    let start = area.x + 1 + APP_COL + 1;
    let shown = usize::from(x.checked_sub(start)? / (CELL + 1));
    (shown < visible && first + shown < groups).then_some(first + shown)
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx) {
    let theme = ctx.theme;
    let groups = group_names(ctx);
    let state = &screen.table;
    let (visible_cols, selected_col, first_col) = window(area, screen.column, groups.len());
    let shown: Vec<&str> = groups
        .iter()
        .skip(first_col)
        .take(visible_cols)
        .copied()
        .collect();

    let height = usize::from(area.height.saturating_sub(3));
    state.page.set(height);
    state.area.set(area);
    let mut offset = state.offset.get();
    if state.selected < offset {
        offset = state.selected;
    } else if height > 0 && state.selected >= offset + height {
        offset = state.selected + 1 - height;
    }
    state.offset.set(offset);

    let header = Row::new(
        std::iter::once(Line::from("APPLICATION")).chain(
            shown
                .iter()
                .map(|g| ellipsize(Line::from((*g).to_owned()), CELL)),
        ),
    )
    .style(theme.header());
    let src = MatrixRows { ctx };
    let rows: Vec<Row> = state
        .order
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(pos, &app)| {
            let is_row = pos == state.selected;
            let name_style = if is_row {
                theme.base().add_modifier(Modifier::BOLD)
            } else {
                theme.base()
            };
            let mut cells = vec![ellipsize(styled(src.filter_text(app), name_style), APP_COL)];
            let (ns, name) = ctx
                .derived
                .apps
                .get(app)
                .map_or(("", ""), |a| (a.namespace.as_str(), a.name.as_str()));
            for (ci, g) in shown.iter().enumerate() {
                let (t, s) = cell_text(ctx, app, g, theme);
                let selected = is_row && first_col + ci == selected_col;
                // A marked cell (space, for a bulk edit) carries a * where
                // the selection's bracket would open.
                let mark = if ctx.marks.contains(ns, name, g) {
                    "*"
                } else {
                    ""
                };
                cells.push(ellipsize(
                    if selected {
                        styled(format!("[{mark}{t}]"), theme.selected())
                    } else if mark.is_empty() {
                        styled(format!(" {t}"), s)
                    } else {
                        styled(format!("*{t}"), s.add_modifier(Modifier::BOLD))
                    },
                    CELL,
                ));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(APP_COL)];
    widths.extend(shown.iter().map(|_| Constraint::Length(CELL)));
    let more = if groups.len() > shown.len() {
        format!(
            " groups {}-{} of {} ",
            first_col + 1,
            first_col + shown.len(),
            groups.len()
        )
    } else {
        String::new()
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.title())
        .title(Line::from(vec![
            Span::styled(" Matrix ready/desired ", theme.title()),
            Span::styled(format!("[{}]{more} ", state.order.len()), theme.muted()),
            if ctx.marks.is_empty() {
                Span::raw("")
            } else {
                Span::styled(format!("{} marked ", ctx.marks.len()), theme.accent())
            },
        ]));
    frame.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block)
            .style(theme.base()),
        area,
    );
}
