//! Group detail: its nodes, the workloads running there, the services it sees.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use super::{Ctx, Screen, condition_text, local_service_text, ready_text, standing_cell, styled};
use crate::api::{ReadyStatus, SelectionStatus};
use crate::console::model::{GroupInfo, UNGROUPED};
use crate::console::theme::Theme;
use crate::console::widgets::table::{
    self, Column, SortKey, TableSource, TableState, col, num, text,
};

/// One row of the nodes table: a member or a node whose selection failed.
struct NodeRow {
    name: String,
    /// Index into `Derived::nodes` (a named node that does not exist has none).
    node: Option<usize>,
    ready: ReadyStatus,
    selection: Option<SelectionStatus>,
    reason: String,
    labels: String,
}

pub struct NodesTable<'a> {
    ctx: &'a Ctx<'a>,
    rows: Vec<NodeRow>,
}

impl<'a> NodesTable<'a> {
    pub fn new(ctx: &'a Ctx<'a>, group: &str) -> NodesTable<'a> {
        let d = ctx.derived;
        let index_of = |name: &str| d.nodes.binary_search_by(|n| n.name.as_str().cmp(name)).ok();
        let labels_of = |name: &str| {
            index_of(name)
                .and_then(|i| d.nodes.get(i))
                .map(|n| n.labels.clone())
                .unwrap_or_default()
        };
        let rows = if group == UNGROUPED {
            d.ungrouped
                .iter()
                .filter_map(|&i| d.nodes.get(i))
                .map(|n| NodeRow {
                    node: index_of(&n.name),
                    name: n.name.clone(),
                    ready: n.ready,
                    selection: None,
                    reason: String::new(),
                    labels: n.labels.clone(),
                })
                .collect()
        } else {
            d.group(group)
                .map(|g| {
                    g.statuses
                        .iter()
                        .map(|s| NodeRow {
                            node: index_of(&s.node_name),
                            name: s.node_name.clone(),
                            ready: s.ready_status,
                            selection: Some(s.selection_status),
                            reason: s.selection_status_reason.clone(),
                            labels: labels_of(&s.node_name),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        NodesTable { ctx, rows }
    }

    pub fn node_name(&self, row: usize) -> Option<&str> {
        self.rows.get(row).map(|r| r.name.as_str())
    }
}

impl TableSource for NodesTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("NODE", Constraint::Length(16)),
            col("STATUS", Constraint::Length(11)),
            col("SELECTION", Constraint::Length(12)),
            col("HEARTBEAT", Constraint::Length(9)),
            col("OFFLINE SINCE", Constraint::Length(13)),
            col("PODS", Constraint::Length(4)),
            col("REASON", Constraint::Fill(1)),
            col("LABELS", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.rows
            .get(row)
            .map(|r| format!("{} {} {}", r.name, r.reason, r.labels))
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some(r) = self.rows.get(row) else {
            return num(0);
        };
        match column {
            1 => num(r.ready as i64),
            2 => num(r.selection.map_or(2, |s| s as i64)),
            3..=5 => match r.node {
                Some(i) => super::heartbeat::sort_key(self.ctx, i, column - 3),
                None => num(i64::MIN),
            },
            6 => text(&r.reason),
            7 => text(&r.labels),
            _ => text(&r.name),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(r) = self.rows.get(row) else {
            return Vec::new();
        };
        let (ready, ready_style) = ready_text(r.ready, theme);
        vec![
            Line::from(r.name.clone()),
            styled(ready, ready_style),
            match r.selection {
                Some(SelectionStatus::Succeeded) => styled("✓ Succeeded", theme.ok()),
                Some(SelectionStatus::Failed) => styled("✗ Failed", theme.error()),
                None => styled("-", theme.muted()),
            },
            r.node.map_or_else(
                || styled("-", theme.muted()),
                |i| super::heartbeat::beat_cell(self.ctx, i),
            ),
            r.node.map_or_else(Line::default, |i| {
                super::heartbeat::offline_cell(self.ctx, i)
            }),
            r.node
                .map_or_else(Line::default, |i| super::heartbeat::pods_cell(self.ctx, i)),
            Line::from(r.reason.clone()),
            styled(r.labels.clone(), theme.muted()),
        ]
    }
}

/// Workloads generated for this group, per application.
struct WorkloadsTable<'a> {
    rows: Vec<(&'a str, &'a crate::console::model::ObjectInfo)>,
}

impl<'a> WorkloadsTable<'a> {
    fn new(ctx: &'a Ctx<'a>, g: &GroupInfo) -> Self {
        let rows = g
            .apps
            .iter()
            .filter_map(|&i| ctx.derived.apps.get(i))
            .flat_map(|a| {
                a.objects
                    .iter()
                    .filter(|o| o.target.as_deref() == Some(g.name.as_str()))
                    .map(move |o| (a.name.as_str(), o))
            })
            .collect();
        WorkloadsTable { rows }
    }
}

impl TableSource for WorkloadsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("APP", Constraint::Length(14)),
            col("WORKLOAD", Constraint::Length(32)),
            col("READY/DESIRED", Constraint::Length(15)),
            col("STATUS", Constraint::Length(13)),
            col("REASON", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.rows
            .get(row)
            .map(|(a, _)| (*a).to_owned())
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, _: usize) -> SortKey {
        text(&self.filter_text(row))
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some((app, o)) = self.rows.get(row) else {
            return Vec::new();
        };
        let (cond, cond_style) = condition_text(o.condition, theme);
        let name = o
            .key
            .as_ref()
            .map(|k| format!("{}/{}", k.kind, k.name))
            .unwrap_or_else(|| format!("manifest {}", o.ordinal));
        vec![
            Line::from((*app).to_owned()),
            Line::from(name),
            standing_cell(o.replicas.as_ref(), theme),
            styled(cond, cond_style),
            Line::from(o.reason.clone().unwrap_or_default()),
        ]
    }
}

/// Range-nodegroup services and how many local endpoints this group sees.
struct ServicesTable<'a> {
    ctx: &'a Ctx<'a>,
    group: String,
}

impl ServicesTable<'_> {
    fn services(&self) -> impl Iterator<Item = &crate::console::model::ServiceInfo> {
        self.ctx
            .derived
            .services
            .iter()
            .filter(|s| s.range_nodegroup)
    }
}

impl TableSource for ServicesTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("SERVICE", Constraint::Length(30)),
            col("LOCAL ENDPOINTS", Constraint::Length(16)),
            col("TRAFFIC", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.services().count()
    }
    fn filter_text(&self, row: usize) -> String {
        self.services()
            .nth(row)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, _: usize) -> SortKey {
        text(&self.filter_text(row))
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(s) = self.services().nth(row) else {
            return Vec::new();
        };
        let local = s.local_in(&self.group);
        let (ready, total) = local.map_or((0, 0), |(t, _)| (t.ready_endpoints, t.endpoints));
        vec![
            Line::from(format!("{}/{}", s.namespace, s.name)),
            Line::from(format!("{ready} ready / {total}")),
            match local {
                _ if self.group == UNGROUPED => styled("● own node only", theme.muted()),
                Some((_, l)) => {
                    let (t, style) = local_service_text(l, theme);
                    styled(t, style)
                }
                None => styled("-", theme.muted()),
            },
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx, group: &str) {
    let events = group_events(ctx, group);
    let [top, middle, bottom, events_area] = Layout::vertical([
        Constraint::Percentage(50),
        Constraint::Percentage(30),
        Constraint::Percentage(20),
        Constraint::Length(u16::try_from(events.len().max(1)).unwrap_or(1) + 2),
    ])
    .areas(area);
    draw_events(frame, events_area, ctx, events);
    let nodes = NodesTable::new(ctx, group);
    table::draw(
        frame,
        top,
        &format!("Nodes of {group}"),
        &nodes,
        &screen.table,
        ctx.theme,
        true,
    );
    let info = if group == UNGROUPED {
        Some(ctx.derived.ungrouped_info())
    } else {
        ctx.derived.group(group).cloned()
    };
    if let Some(g) = info {
        let workloads = WorkloadsTable::new(ctx, &g);
        let mut st = TableState::default();
        st.refresh(&workloads);
        table::draw(
            frame,
            middle,
            "Workloads",
            &workloads,
            &st,
            ctx.theme,
            false,
        );
    }
    let services = ServicesTable {
        ctx,
        group: group.to_owned(),
    };
    let mut st = TableState::default();
    st.refresh(&services);
    table::draw(
        frame,
        bottom,
        "Services (range-nodegroup)",
        &services,
        &st,
        ctx.theme,
        false,
    );
}

/// The last Kubernetes Events of the group: of its nodes, its pods, itself.
fn group_events(ctx: &Ctx, group: &str) -> Vec<Line<'static>> {
    let lines = super::events::recent_lines(ctx, |e, p| {
        p.group.as_deref() == Some(group) || e.is_about("NodeGroup", "", group)
    });
    if lines.is_empty() {
        return vec![styled("  no recent events", ctx.theme.muted())];
    }
    lines
}

fn draw_events(frame: &mut Frame, area: Rect, ctx: &Ctx, lines: Vec<Line<'static>>) {
    use ratatui::text::Span;
    use ratatui::widgets::{Block, Borders, Paragraph};
    let theme = ctx.theme;
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| table::ellipsize(l, area.width.saturating_sub(2)))
        .collect();
    frame.render_widget(
        Paragraph::new(lines).style(theme.base()).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Span::styled(" Events ", theme.title())),
        ),
        area,
    );
}
