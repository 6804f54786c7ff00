//! Regions: one row per NodeGroup, plus the ungrouped nodes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};

use super::{Ctx, Screen, styled};
use crate::console::model::GroupInfo;
use crate::console::widgets::table::{self, Column, SortKey, TableSource, col, num, text};
use crate::engine::status::Verdict;

pub struct RegionsTable<'a> {
    ctx: &'a Ctx<'a>,
    ungrouped: GroupInfo,
}

impl<'a> RegionsTable<'a> {
    pub fn new(ctx: &'a Ctx<'a>) -> Self {
        RegionsTable {
            ctx,
            ungrouped: ctx.derived.ungrouped_info(),
        }
    }

    /// Row `i`: the groups in name order, then the ungrouped pseudo-group.
    pub fn group(&self, i: usize) -> Option<&GroupInfo> {
        let groups = &self.ctx.derived.groups;
        if i < groups.len() {
            groups.get(i)
        } else if i == groups.len() {
            Some(&self.ungrouped)
        } else {
            None
        }
    }
}

/// Health as words and symbols: `✓ healthy`, `✗ 1 NotReady for 7m · ▲ 1/2
/// workloads`; `offline_for`: how long the region has been degraded.
pub fn health(
    g: &GroupInfo,
    offline_for: Option<String>,
    theme: &crate::console::theme::Theme,
) -> Line<'static> {
    if g.is_healthy() && g.failed_selections == 0 {
        if g.members.is_empty() && g.object.is_some() {
            return Line::from(Span::styled("◌ empty", theme.warn()));
        }
        return Line::from(Span::styled("✓ healthy", theme.ok()));
    }
    let mut spans: Vec<Span> = Vec::new();
    let mut push = |s: Span<'static>| {
        if !spans.is_empty() {
            spans.push(Span::raw(" · "));
        }
        spans.push(s);
    };
    let since = offline_for.map(|f| format!(" for {f}")).unwrap_or_default();
    if g.not_ready > 0 {
        push(Span::styled(
            format!("✗ {} NotReady{since}", g.not_ready),
            theme.error(),
        ));
    }
    if g.unknown > 0 {
        let since = if g.not_ready > 0 { "" } else { since.as_str() };
        push(Span::styled(
            format!("? {} Unknown{since}", g.unknown),
            theme.warn(),
        ));
    }
    if g.available_workloads < g.workloads {
        push(Span::styled(
            format!("▲ {}/{} workloads", g.available_workloads, g.workloads),
            theme.warn(),
        ));
    }
    if g.lagging_apps > 0 {
        push(Span::styled(
            format!("⧗ engine behind on {} app(s)", g.lagging_apps),
            theme.warn(),
        ));
    }
    if g.black_holes > 0 {
        push(Span::styled(
            format!("✗ {} black hole", g.black_holes),
            theme.error(),
        ));
    }
    // Last: the reason is long, and what precedes it must survive truncation.
    if let Some(r) = g.replicas.as_ref().filter(|r| r.verdict == Verdict::Failed) {
        push(Span::styled(
            format!(
                "✗ failed: {}",
                r.reason.as_deref().unwrap_or("see the group")
            ),
            theme.error(),
        ));
    }
    if g.failed_selections > 0 {
        push(Span::styled(
            format!("! {} not selected", g.failed_selections),
            theme.warn(),
        ));
    }
    Line::from(spans)
}

impl TableSource for RegionsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("GROUP", Constraint::Length(16)),
            col("NODES", Constraint::Length(6)),
            col("READY", Constraint::Length(6)),
            col("NOTREADY", Constraint::Length(9)),
            col("UNKNOWN", Constraint::Length(8)),
            col("APPS", Constraint::Fill(1)),
            col("READY/DESIRED", Constraint::Length(15)),
            col("HEALTH", Constraint::Fill(2)),
        ]
    }
    fn len(&self) -> usize {
        self.ctx.derived.groups.len() + 1
    }
    fn filter_text(&self, row: usize) -> String {
        self.group(row).map(|g| g.name.clone()).unwrap_or_default()
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some(g) = self.group(row) else {
            return num(0);
        };
        match column {
            1 => num(g.members.len()),
            2 => num(g.ready),
            3 => num(g.not_ready),
            4 => num(g.unknown),
            5 => num(g.apps.len()),
            6 => num(g.replicas.as_ref().map_or(0, |r| r.ready)),
            7 => num(usize::from(!g.is_healthy())),
            _ => text(&g.name),
        }
    }
    fn cells(&self, row: usize, theme: &crate::console::theme::Theme) -> Vec<Line<'static>> {
        let Some(g) = self.group(row) else {
            return Vec::new();
        };
        let apps: Vec<&str> = g
            .apps
            .iter()
            .filter_map(|&i| self.ctx.derived.apps.get(i))
            .map(|a| a.name.as_str())
            .collect();
        let name_style = if g.object.is_none() {
            theme.muted()
        } else {
            theme.base()
        };
        vec![
            styled(g.name.clone(), name_style),
            Line::from(g.members.len().to_string()),
            styled(g.ready.to_string(), theme.ok()),
            if g.not_ready > 0 {
                styled(format!("✗ {}", g.not_ready), theme.error())
            } else {
                Line::from("0")
            },
            if g.unknown > 0 {
                styled(format!("? {}", g.unknown), theme.warn())
            } else {
                Line::from("0")
            },
            Line::from(if apps.is_empty() {
                "-".to_owned()
            } else {
                apps.join(",")
            }),
            if g.workloads == 0 {
                Line::from("-")
            } else {
                super::standing_cell(g.replicas.as_ref(), theme)
            },
            health(
                g,
                crate::console::model::heartbeats::degraded_since(
                    &self.ctx.derived.beats,
                    &g.members,
                )
                .map(|since| super::age(self.ctx.now, since)),
                theme,
            ),
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx) {
    let src = RegionsTable::new(ctx);
    table::draw(frame, area, "Regions", &src, &screen.table, ctx.theme, true);
}
