//! Traffic: range-nodegroup services × groups → endpoints each group sees.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;

use super::{Ctx, Screen, local_service_text, styled};
use crate::console::model::UNGROUPED;
use crate::console::theme::Theme;
use crate::console::widgets::table::{self, Column, SortKey, TableSource, col, num, text};
use crate::engine::topology::LocalService;

/// One (service, group) pair; `group: None` is the ungrouped endpoints row.
pub struct TrafficRow {
    pub service: usize,
    pub group: Option<usize>,
}

pub struct TrafficTable<'a> {
    ctx: &'a Ctx<'a>,
    pub rows: Vec<TrafficRow>,
}

impl<'a> TrafficTable<'a> {
    pub fn new(ctx: &'a Ctx<'a>) -> Self {
        let mut rows = Vec::new();
        for (si, s) in ctx.derived.services.iter().enumerate() {
            if !s.range_nodegroup {
                continue;
            }
            for gi in 0..s.traffic.per_group.len() {
                rows.push(TrafficRow {
                    service: si,
                    group: Some(gi),
                });
            }
            if s.traffic.ungrouped_endpoints > 0 {
                rows.push(TrafficRow {
                    service: si,
                    group: None,
                });
            }
        }
        TrafficTable { ctx, rows }
    }

    /// Service, group, endpoints, ready endpoints, what the group gets
    /// (`None` for the ungrouped row).
    fn parts(&self, row: usize) -> Option<(String, String, usize, usize, Option<LocalService>)> {
        let r = self.rows.get(row)?;
        let s = self.ctx.derived.services.get(r.service)?;
        let svc = format!("{}/{}", s.namespace, s.name);
        match r.group {
            Some(gi) => {
                let t = s.traffic.per_group.get(gi)?;
                let local = s.local.get(gi).copied();
                Some((svc, t.group.clone(), t.endpoints, t.ready_endpoints, local))
            }
            None => Some((
                svc,
                UNGROUPED.into(),
                s.traffic.ungrouped_endpoints,
                s.traffic.ungrouped_endpoints,
                None,
            )),
        }
    }

    pub fn service(&self, row: usize) -> Option<&crate::console::model::ServiceInfo> {
        self.rows
            .get(row)
            .and_then(|r| self.ctx.derived.services.get(r.service))
    }
}

impl TableSource for TrafficTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("SERVICE", Constraint::Length(28)),
            col("GROUP", Constraint::Length(16)),
            col("ENDPOINTS", Constraint::Length(10)),
            col("READY", Constraint::Length(6)),
            col("VISIBILITY", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.parts(row)
            .map(|(s, g, ..)| format!("{s} {g}"))
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some((s, g, e, r, local)) = self.parts(row) else {
            return num(0);
        };
        match column {
            1 => text(&g),
            2 => num(e),
            3 => num(r),
            4 => num(usize::from(local != Some(LocalService::BlackHole))),
            _ => text(&s),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some((s, g, e, r, local)) = self.parts(row) else {
            return Vec::new();
        };
        let visibility = match local {
            Some(l) => {
                let (t, style) = local_service_text(l, theme);
                styled(t, style)
            }
            None => styled("● visible only on their own node", theme.muted()),
        };
        vec![
            Line::from(s),
            Line::from(g),
            Line::from(e.to_string()),
            Line::from(r.to_string()),
            visibility,
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx) {
    let src = TrafficTable::new(ctx);
    table::draw(
        frame,
        area,
        "Traffic (range-nodegroup)",
        &src,
        &screen.table,
        ctx.theme,
        true,
    );
}
