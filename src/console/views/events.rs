//! Kubernetes Events (`:events`): core/v1 and events.k8s.io/v1, newest
//! first, warnings highlighted; `/` filters by object, group and app (each
//! row carries the group and application of the object it is about). The
//! last events of one object, group or application are shown in describe,
//! the group view and the application detail through [`recent_lines`].

use std::collections::HashMap;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};

use super::{Ctx, Screen, age, styled};
use crate::console::model::cluster_events::ClusterEvent;
use crate::console::theme::Theme;
use crate::console::widgets::table::{self, Column, SortKey, TableSource, col, num, text};

/// The group and application an event's object belongs to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventPlace {
    pub group: Option<String>,
    pub app: Option<String>,
}

/// Where each event of the fleet belongs, in `Fleet::cluster_events` order.
pub fn places(ctx: &Ctx) -> Vec<EventPlace> {
    let d = ctx.derived;
    let node_group: HashMap<&str, &str> = d
        .nodes
        .iter()
        .filter_map(|n| Some((n.name.as_str(), n.group.as_deref()?)))
        .collect();
    let pods: HashMap<(&str, &str), usize> = ctx
        .fleet
        .pods
        .iter()
        .enumerate()
        .map(|(i, p)| ((p.namespace.as_str(), p.name.as_str()), i))
        .collect();
    // A generated workload: its application's label, the group it is pinned to.
    let workloads: HashMap<(&str, &str), (&str, Option<&str>)> = ctx
        .fleet
        .workloads
        .iter()
        .filter_map(|w| {
            let m = w.get("metadata")?;
            let group = w
                .pointer("/spec/template/spec/nodeSelector")
                .and_then(|s| s.get(crate::api::LABEL_BELONGING_TO))
                .and_then(serde_json::Value::as_str);
            Some((
                (m.get("namespace")?.as_str()?, m.get("name")?.as_str()?),
                (
                    m.pointer("/labels")?
                        .get(crate::api::LABEL_EDGEAPPLICATION_NAME)?
                        .as_str()?,
                    group,
                ),
            ))
        })
        .collect();
    ctx.fleet
        .cluster_events
        .iter()
        .map(|e| match e.kind.as_str() {
            "Node" => EventPlace {
                group: node_group.get(e.object.as_str()).map(|g| (*g).to_owned()),
                app: None,
            },
            "NodeGroup" => EventPlace {
                group: Some(e.object.clone()),
                app: None,
            },
            "EdgeApplication" => EventPlace {
                group: None,
                app: Some(e.object.clone()),
            },
            "Pod" => pods
                .get(&(e.object_namespace.as_str(), e.object.as_str()))
                .and_then(|&i| d.pod_places.get(i))
                .map(|pl| EventPlace {
                    group: pl.group.clone(),
                    app: pl.app.clone(),
                })
                .unwrap_or_default(),
            _ => workloads
                .get(&(e.object_namespace.as_str(), e.object.as_str()))
                .map(|(app, group)| EventPlace {
                    group: group.map(str::to_owned),
                    app: Some((*app).to_owned()),
                })
                .unwrap_or_default(),
        })
        .collect()
}

pub struct ClusterEventsTable<'a> {
    ctx: &'a Ctx<'a>,
    places: Vec<EventPlace>,
    /// Indices into `Fleet::cluster_events` (namespace filter applied).
    rows: Vec<usize>,
}

impl<'a> ClusterEventsTable<'a> {
    pub fn new(ctx: &'a Ctx<'a>) -> ClusterEventsTable<'a> {
        let ns = ctx.fleet.namespace.as_deref();
        let rows = ctx
            .fleet
            .cluster_events
            .iter()
            .enumerate()
            .filter(|(_, e)| ns.is_none_or(|ns| e.namespace == ns || e.kind == "Node"))
            .map(|(i, _)| i)
            .collect();
        ClusterEventsTable {
            places: places(ctx),
            ctx,
            rows,
        }
    }

    pub fn event(&self, row: usize) -> Option<&'a ClusterEvent> {
        self.ctx.fleet.cluster_events.get(*self.rows.get(row)?)
    }

    fn place(&self, row: usize) -> Option<&EventPlace> {
        self.places.get(*self.rows.get(row)?)
    }
}

fn type_cell(e: &ClusterEvent, theme: &Theme) -> Line<'static> {
    if e.warning {
        styled("⚠ Warning", theme.error())
    } else {
        styled("Normal", theme.muted())
    }
}

impl TableSource for ClusterEventsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("AGE", Constraint::Length(5)),
            col("TYPE", Constraint::Length(9)),
            col("REASON", Constraint::Length(17)),
            col("OBJECT", Constraint::Length(30)),
            col("GROUP", Constraint::Length(9)),
            col("APP", Constraint::Length(10)),
            col("COUNT", Constraint::Length(5)),
            col("MESSAGE", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn filter_text(&self, row: usize) -> String {
        let Some(e) = self.event(row) else {
            return String::new();
        };
        let place = self.place(row).cloned().unwrap_or_default();
        format!(
            "{} {} {} {} {} {} {}",
            if e.warning { "Warning" } else { "Normal" },
            e.reason,
            e.object_label(),
            e.object_namespace,
            place.group.unwrap_or_default(),
            place.app.unwrap_or_default(),
            e.message
        )
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some(e) = self.event(row) else {
            return num(0);
        };
        match column {
            1 => num(i64::from(!e.warning)),
            2 => text(&e.reason),
            3 => text(&e.object_label()),
            4 => text(
                self.place(row)
                    .and_then(|p| p.group.as_deref())
                    .unwrap_or(""),
            ),
            5 => text(self.place(row).and_then(|p| p.app.as_deref()).unwrap_or("")),
            6 => num(e.count),
            7 => text(&e.message),
            // Newest first is the natural order.
            _ => num(row),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(e) = self.event(row) else {
            return Vec::new();
        };
        let place = self.place(row).cloned().unwrap_or_default();
        let dim = |s: Option<String>| match s {
            Some(s) => Line::from(s),
            None => styled("-", theme.muted()),
        };
        let message = if e.warning {
            styled(e.message.clone(), theme.warn())
        } else {
            Line::from(e.message.clone())
        };
        vec![
            Line::from(e.last.map_or_else(|| "-".into(), |t| age(self.ctx.now, t))),
            type_cell(e, theme),
            Line::from(e.reason.clone()),
            Line::from(e.object_label()),
            dim(place.group),
            dim(place.app),
            Line::from(e.count.to_string()),
            message,
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx) {
    let src = ClusterEventsTable::new(ctx);
    table::draw(
        frame,
        area,
        "Events (newest first)",
        &src,
        &screen.table,
        ctx.theme,
        true,
    );
}

/// How many events describe, app detail and the group view show.
pub const RECENT: usize = 5;

/// One line per event, kubectl-describe style: age, type, reason, message.
pub fn event_line(e: &ClusterEvent, ctx: &Ctx) -> Line<'static> {
    let theme = ctx.theme;
    let when = e.last.map_or_else(|| "-".into(), |t| age(ctx.now, t));
    let (kind, style) = if e.warning {
        ("Warning", theme.error())
    } else {
        ("Normal ", theme.muted())
    };
    let mut spans = vec![
        Span::raw(format!("  {when:>5}  ")),
        Span::styled(kind, style),
        Span::raw(format!("  {:<18} ", e.reason)),
    ];
    if e.count > 1 {
        spans.push(Span::styled(format!("(x{}) ", e.count), theme.muted()));
    }
    spans.push(Span::raw(e.message.clone()));
    Line::from(spans)
}

/// The last [`RECENT`] events matching `keep`, newest first, as lines.
pub fn recent_lines(
    ctx: &Ctx,
    keep: impl Fn(&ClusterEvent, &EventPlace) -> bool,
) -> Vec<Line<'static>> {
    let places = places(ctx);
    ctx.fleet
        .cluster_events
        .iter()
        .zip(&places)
        .filter(|(e, p)| keep(e, p))
        .take(RECENT)
        .map(|(e, _)| event_line(e, ctx))
        .collect()
}
