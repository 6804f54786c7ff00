//! Nodes: every node with its group and readiness.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;

use super::{Ctx, Screen, ready_cell, styled};
use crate::console::model::UNGROUPED;
use crate::console::theme::Theme;
use crate::console::widgets::table::{self, Column, SortKey, TableSource, col, num, text};

pub struct NodesTable<'a> {
    pub ctx: &'a Ctx<'a>,
}

impl TableSource for NodesTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("NODE", Constraint::Length(16)),
            col("GROUP", Constraint::Length(16)),
            col("STATUS", Constraint::Length(11)),
            col("HEARTBEAT", Constraint::Length(9)),
            col("OFFLINE SINCE", Constraint::Length(13)),
            col("PODS", Constraint::Length(4)),
            col("LABELS", Constraint::Fill(2)),
        ]
    }
    fn len(&self) -> usize {
        self.ctx.derived.nodes.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.ctx
            .derived
            .nodes
            .get(row)
            .map(|n| {
                format!(
                    "{} {} {}",
                    n.name,
                    n.group.as_deref().unwrap_or(UNGROUPED),
                    n.labels
                )
            })
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some(n) = self.ctx.derived.nodes.get(row) else {
            return num(0);
        };
        match column {
            1 => text(n.group.as_deref().unwrap_or("")),
            2 => num(n.ready as i64),
            3..=5 => super::heartbeat::sort_key(self.ctx, row, column - 3),
            6 => text(&n.labels),
            _ => text(&n.name),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(n) = self.ctx.derived.nodes.get(row) else {
            return Vec::new();
        };
        vec![
            Line::from(n.name.clone()),
            match &n.group {
                Some(g) => Line::from(g.clone()),
                None => styled(UNGROUPED, theme.muted()),
            },
            ready_cell(n.ready, theme),
            super::heartbeat::beat_cell(self.ctx, row),
            super::heartbeat::offline_cell(self.ctx, row),
            super::heartbeat::pods_cell(self.ctx, row),
            styled(n.labels.clone(), theme.muted()),
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx) {
    table::draw(
        frame,
        area,
        "Nodes",
        &NodesTable { ctx },
        &screen.table,
        ctx.theme,
        true,
    );
}
