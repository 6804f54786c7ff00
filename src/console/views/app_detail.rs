//! Application detail: manifests, per-group overrides (the focused table),
//! generated objects with status and reasons, recent engine events.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use serde_json::Value;

use super::{Ctx, Screen, app_standing_text, condition_text, lag_text, standing_cell, styled};
use crate::api::{EdgeApplication, Overriders};
use crate::console::model::AppInfo;
use crate::console::theme::Theme;
use crate::console::widgets::table::{
    self, Column, SortKey, TableSource, TableState, col, num, text,
};
use crate::engine::status::Verdict;

/// One line per overrider kind: `replicas=2 · image Registry replace hangzhou.registry.io`.
pub fn overrides_summary(o: &Overriders) -> String {
    let mut parts = Vec::new();
    if let Some(r) = o.replicas {
        parts.push(format!("replicas={r}"));
    }
    for i in &o.image_overriders {
        let op = serde_json::to_value(i.operator).ok();
        parts.push(
            format!(
                "image {:?} {} {}",
                i.component,
                op.as_ref().and_then(Value::as_str).unwrap_or("?"),
                i.value
            )
            .trim_end()
            .to_owned(),
        );
    }
    if !o.env_overriders.is_empty() {
        parts.push(format!("env×{}", o.env_overriders.len()));
    }
    if !o.command_overriders.is_empty() {
        parts.push(format!("command×{}", o.command_overriders.len()));
    }
    if !o.args_overriders.is_empty() {
        parts.push(format!("args×{}", o.args_overriders.len()));
    }
    if !o.resources_overriders.is_empty() {
        parts.push(format!("resources×{}", o.resources_overriders.len()));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" · ")
    }
}

/// The application's target groups (the rows `e`, `+`, `-`, `x` act on).
pub struct TargetsTable<'a> {
    pub app: Option<&'a AppInfo>,
    pub object: Option<&'a EdgeApplication>,
    /// The target groups marked for a bulk edit.
    pub marked: Vec<String>,
}

impl<'a> TargetsTable<'a> {
    pub fn new(ctx: &'a Ctx<'a>, namespace: &str, name: &str) -> Self {
        let app = ctx.derived.app(namespace, name);
        let object = app.and_then(|a| ctx.fleet.applications.get(a.object));
        let marked = ctx
            .marks
            .iter()
            .filter(|m| m.namespace == namespace && m.name == name)
            .map(|m| m.group.clone())
            .collect();
        TargetsTable {
            app,
            object,
            marked,
        }
    }

    pub fn group_name(&self, row: usize) -> Option<&str> {
        self.object?
            .spec
            .workload_scope
            .target_node_groups
            .get(row)
            .map(|t| t.name.as_str())
    }
}

impl TableSource for TargetsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("GROUP", Constraint::Length(16)),
            col("READY/DESIRED", Constraint::Length(15)),
            col("WORKLOADS", Constraint::Length(10)),
            col("OVERRIDES", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.object
            .map_or(0, |o| o.spec.workload_scope.target_node_groups.len())
    }
    fn filter_text(&self, row: usize) -> String {
        self.group_name(row).unwrap_or_default().to_owned()
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        match column {
            1 => num(self
                .group_name(row)
                .and_then(|g| self.app?.replicas_in(g))
                .map_or(0, |r| r.ready)),
            _ => text(&self.filter_text(row)),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(t) = self
            .object
            .and_then(|o| o.spec.workload_scope.target_node_groups.get(row))
        else {
            return Vec::new();
        };
        let summary = self
            .app
            .and_then(|a| a.status.groups.iter().find(|g| g.name == t.name));
        let standing = self.app.and_then(|a| a.replicas_in(&t.name));
        vec![
            if self.marked.contains(&t.name) {
                styled(format!("* {}", t.name), theme.accent())
            } else {
                Line::from(t.name.clone())
            },
            match (self.app, standing) {
                (Some(app), Some(s)) => {
                    let (text, style) = app_standing_text(app, s, theme);
                    styled(text, style)
                }
                _ => standing_cell(standing, theme),
            },
            match (summary, standing.map(|s| s.verdict)) {
                (Some(s), verdict) => {
                    let counts = format!("{}/{}", s.available_workloads, s.workloads);
                    match verdict {
                        Some(Verdict::Available) => styled(format!("✓ {counts}"), theme.ok()),
                        Some(Verdict::Failed) => styled(format!("✗ {counts}"), theme.error()),
                        _ => styled(format!("▲ {counts}"), theme.warn()),
                    }
                }
                (None, _) => styled("-", theme.muted()),
            },
            Line::from(overrides_summary(&t.overriders)),
        ]
    }
}

struct ObjectsTable<'a> {
    app: &'a AppInfo,
}

impl TableSource for ObjectsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("KIND", Constraint::Length(11)),
            col("NAME", Constraint::Length(28)),
            col("GROUP", Constraint::Length(12)),
            col("READY/DESIRED", Constraint::Length(15)),
            col("STATUS", Constraint::Length(13)),
            col("REASON", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.app.objects.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.app
            .objects
            .get(row)
            .and_then(|o| o.key.as_ref())
            .map(|k| k.name.clone())
            .unwrap_or_default()
    }
    fn sort_key(&self, row: usize, _: usize) -> SortKey {
        text(&self.filter_text(row))
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(o) = self.app.objects.get(row) else {
            return Vec::new();
        };
        let (cond, st) = condition_text(o.condition, theme);
        vec![
            Line::from(
                o.key
                    .as_ref()
                    .map(|k| k.kind.clone())
                    .unwrap_or_else(|| "?".into()),
            ),
            Line::from(
                o.key
                    .as_ref()
                    .map(|k| k.name.clone())
                    .unwrap_or_else(|| format!("manifest {}", o.ordinal)),
            ),
            Line::from(o.target.clone().unwrap_or_else(|| "-".into())),
            standing_cell(o.replicas.as_ref(), theme),
            styled(cond, st),
            match (&o.reason, o.warnings.first()) {
                (Some(reason), _) => Line::from(reason.clone()),
                // A skipped overrider is worth a look even on an Available object.
                (None, Some(warning)) => styled(format!("⚠ {warning}"), theme.warn()),
                (None, None) => Line::from(""),
            },
        ]
    }
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    screen: &Screen,
    ctx: &Ctx,
    namespace: &str,
    name: &str,
) {
    let theme = ctx.theme;
    let targets = TargetsTable::new(ctx, namespace, name);
    let (Some(app), Some(object)) = (targets.app, targets.object) else {
        frame.render_widget(
            Paragraph::new(format!("EdgeApplication {namespace}/{name} is gone."))
                .style(theme.warn())
                .block(Block::default().borders(Borders::ALL)),
            area,
        );
        return;
    };
    let manifests = &object.spec.workload_template.manifests;
    // Every pane keeps rows to show on 80×24: the events get at least three.
    let [m_area, t_area, o_area, e_area] = Layout::vertical([
        Constraint::Length(u16::try_from(manifests.len().min(6)).unwrap_or(6) + 2),
        Constraint::Fill(3),
        Constraint::Fill(4),
        Constraint::Min(5),
    ])
    .areas(area);

    let lines: Vec<Line> = manifests
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let kind = m.get("kind").and_then(Value::as_str).unwrap_or("?");
            let mname = m
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let image = m
                .pointer("/spec/template/spec/containers/0/image")
                .and_then(Value::as_str)
                .map(|i| format!("  image {i}"))
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(format!("{i:>2} "), theme.muted()),
                Span::raw(format!("{kind} {mname}")),
                Span::styled(image, theme.muted()),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).style(theme.base()).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Span::styled(" Manifests ", theme.title()))
                .title(match &app.lag {
                    Some(lag) => {
                        Span::styled(format!(" {} ", lag_text(lag, ctx.now)), theme.warn())
                    }
                    None => Span::raw(""),
                }),
        ),
        m_area,
    );
    table::draw(
        frame,
        t_area,
        "Target groups",
        &targets,
        &screen.table,
        theme,
        true,
    );
    let objects = ObjectsTable { app };
    let mut st = TableState::default();
    st.refresh(&objects);
    table::draw(
        frame,
        o_area,
        "Generated objects",
        &objects,
        &st,
        theme,
        false,
    );

    let [e_area, k_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(e_area);
    let cluster: Vec<Line> = super::events::recent_lines(ctx, |e, p| {
        p.app.as_deref() == Some(name) && e.object_namespace == namespace
            || e.is_about("EdgeApplication", namespace, name)
    })
    .into_iter()
    .map(|l| crate::console::widgets::table::ellipsize(l, k_area.width.saturating_sub(2)))
    .collect();
    frame.render_widget(
        Paragraph::new(cluster).style(theme.base()).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Span::styled(" Cluster events ", theme.title())),
        ),
        k_area,
    );
    let key = format!("{namespace}/{name}");
    let events: Vec<Line> = ctx
        .fleet
        .events
        .iter()
        .rev()
        .filter(|e| e.object == key || e.object == *name)
        .take(usize::from(e_area.height.saturating_sub(2)))
        .map(|e| {
            let cell_style = if e.is_failure() {
                theme.error()
            } else {
                theme.base()
            };
            let line = Line::from(vec![
                Span::styled(format!("{:>4} ", super::age(ctx.now, e.at)), theme.muted()),
                Span::styled(
                    format!("{}{}", if e.is_failure() { "✗ " } else { "● " }, e),
                    cell_style,
                ),
            ]);
            crate::console::widgets::table::ellipsize(line, e_area.width.saturating_sub(2))
        })
        .collect();
    frame.render_widget(
        Paragraph::new(events).style(theme.base()).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Span::styled(" Recent engine events ", theme.title())),
        ),
        e_area,
    );
}
