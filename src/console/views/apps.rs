//! Applications: one row per EdgeApplication.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};

use super::{Ctx, Screen, age, app_standing_text, styled};
use crate::console::theme::Theme;
use crate::console::widgets::table::{self, Column, SortKey, TableSource, col, num, text};

pub struct AppsTable<'a> {
    pub ctx: &'a Ctx<'a>,
}

impl TableSource for AppsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("NAMESPACE", Constraint::Length(10)),
            col("NAME", Constraint::Length(20)),
            col("TARGETS", Constraint::Length(24)),
            col("AVAILABLE", Constraint::Length(10)),
            col("PROCESSING", Constraint::Length(11)),
            col("READY/DESIRED PER GROUP", Constraint::Fill(2)),
        ]
    }
    fn len(&self) -> usize {
        self.ctx.derived.apps.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.ctx
            .derived
            .apps
            .get(row)
            .map(|a| format!("{}/{} {}", a.namespace, a.name, a.targets.join(" ")))
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some(a) = self.ctx.derived.apps.get(row) else {
            return num(0);
        };
        match column {
            0 => text(&a.namespace),
            2 => num(a.targets.len()),
            3 => num(a.available()),
            4 => num(a.processing()),
            _ => text(&a.name),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(a) = self.ctx.derived.apps.get(row) else {
            return Vec::new();
        };
        let total = a.objects.len();
        let available = a.available();
        let mut per_group: Vec<Span> = Vec::new();
        for (group, standing) in &a.standings {
            if !per_group.is_empty() {
                per_group.push(Span::raw("  "));
            }
            let (t, s) = app_standing_text(a, standing, theme);
            per_group.push(Span::raw(format!("{group} ")));
            per_group.push(Span::styled(t, s));
        }
        vec![
            Line::from(a.namespace.clone()),
            // Marked for a bulk edit (space): every target of it.
            if self.ctx.marks.any_of(&a.namespace, &a.name) {
                styled(format!("* {}", a.name), theme.accent())
            } else {
                Line::from(a.name.clone())
            },
            Line::from(a.targets.join(",")),
            if let Some(lag) = &a.lag {
                styled(
                    format!("⧗ lag {}", age(self.ctx.now, lag.since)),
                    theme.warn(),
                )
            } else if a.failed() > 0 {
                styled(format!("✗ {available}/{total}"), theme.error())
            } else if available == total {
                styled(format!("✓ {available}/{total}"), theme.ok())
            } else {
                styled(format!("▲ {available}/{total}"), theme.warn())
            },
            Line::from(a.processing().to_string()),
            Line::from(per_group),
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx) {
    table::draw(
        frame,
        area,
        "Applications",
        &AppsTable { ctx },
        &screen.table,
        ctx.theme,
        true,
    );
}
