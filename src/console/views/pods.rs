//! Pods: every pod (`:pods`), or those of one group, node or generated
//! workload (`p` on its row), with kubectl's status words.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;

use super::{Ctx, Screen, age, styled};
use crate::console::model::UNGROUPED;
use crate::console::model::pods::{PodHealth, PodInfo, PodPlace};
use crate::console::theme::Theme;
use crate::console::widgets::table::{self, Column, SortKey, TableSource, col, num, text};

/// Which pods a Pods view lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodScope {
    All,
    Group(String),
    Node(String),
    /// A generated Deployment/StatefulSet/DaemonSet.
    Workload {
        namespace: String,
        name: String,
    },
}

impl PodScope {
    pub fn label(&self) -> String {
        match self {
            PodScope::All => "Pods".into(),
            PodScope::Group(g) => format!("Pods of {g}"),
            PodScope::Node(n) => format!("Pods on {n}"),
            PodScope::Workload { namespace, name } => format!("Pods of {namespace}/{name}"),
        }
    }
}

pub struct PodsTable<'a> {
    ctx: &'a Ctx<'a>,
    /// Indices into `Fleet::pods`.
    rows: Vec<usize>,
}

impl<'a> PodsTable<'a> {
    pub fn new(ctx: &'a Ctx<'a>, scope: &PodScope) -> PodsTable<'a> {
        let fleet = ctx.fleet;
        let ns = fleet.namespace.as_deref();
        let place = |i: usize| ctx.derived.pod_places.get(i);
        let workload_name = |i: usize| -> Option<(&str, &str)> {
            let w = fleet.workloads.get(place(i)?.workload?)?;
            Some((
                w.pointer("/metadata/namespace")?.as_str()?,
                w.pointer("/metadata/name")?.as_str()?,
            ))
        };
        let rows = fleet
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| ns.is_none_or(|ns| p.namespace == ns))
            .filter(|(i, p)| match scope {
                PodScope::All => true,
                PodScope::Node(n) => p.node.as_deref() == Some(n),
                PodScope::Group(g) if g == UNGROUPED => {
                    place(*i).is_some_and(|pl| pl.group.is_none()) && p.node.is_some()
                }
                PodScope::Group(g) => place(*i).and_then(|pl| pl.group.as_deref()) == Some(g),
                PodScope::Workload { namespace, name } => {
                    workload_name(*i) == Some((namespace.as_str(), name.as_str()))
                }
            })
            .map(|(i, _)| i)
            .collect();
        PodsTable { ctx, rows }
    }

    pub fn pod(&self, row: usize) -> Option<&'a PodInfo> {
        self.ctx.fleet.pods.get(*self.rows.get(row)?)
    }

    fn place(&self, row: usize) -> Option<&'a PodPlace> {
        self.ctx.derived.pod_places.get(*self.rows.get(row)?)
    }
}

/// `✓ Running` / `▲ Pending` / `✗ CrashLoopBackOff`.
pub fn status_text(p: &PodInfo, theme: &Theme) -> (String, ratatui::style::Style) {
    match p.health {
        PodHealth::Ok => (format!("✓ {}", p.status), theme.ok()),
        PodHealth::Warn => (format!("▲ {}", p.status), theme.warn()),
        PodHealth::Error => (format!("✗ {}", p.status), theme.error()),
    }
}

impl TableSource for PodsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("NAMESPACE", Constraint::Length(10)),
            col("NAME", Constraint::Fill(3)),
            col("READY", Constraint::Length(6)),
            col("STATUS", Constraint::Length(19)),
            col("RESTARTS", Constraint::Length(8)),
            col("NODE", Constraint::Length(10)),
            col("GROUP", Constraint::Length(10)),
            col("AGE", Constraint::Length(5)),
            col("REASON", Constraint::Fill(2)),
        ]
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn filter_text(&self, row: usize) -> String {
        let (Some(p), place) = (self.pod(row), self.place(row)) else {
            return String::new();
        };
        format!(
            "{} {} {} {} {} {} {}",
            p.namespace,
            p.name,
            p.status,
            p.node.as_deref().unwrap_or(""),
            place.and_then(|pl| pl.group.as_deref()).unwrap_or(""),
            place.and_then(|pl| pl.app.as_deref()).unwrap_or(""),
            p.reason.as_deref().unwrap_or("")
        )
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some(p) = self.pod(row) else {
            return num(0);
        };
        match column {
            0 => text(&p.namespace),
            2 => num(p.ready as i64 - p.total as i64),
            3 => text(&p.status),
            4 => num(p.restarts),
            5 => text(p.node.as_deref().unwrap_or("")),
            6 => text(
                self.place(row)
                    .and_then(|pl| pl.group.as_deref())
                    .unwrap_or(""),
            ),
            // Oldest first, like the other AGE columns read top-down.
            7 => num(p
                .created
                .and_then(|c| c.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64)),
            8 => text(p.reason.as_deref().unwrap_or("")),
            _ => text(&p.name),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(p) = self.pod(row) else {
            return Vec::new();
        };
        let (status, style) = status_text(p, theme);
        let ready_style = if p.ready == p.total {
            theme.ok()
        } else {
            theme.warn()
        };
        vec![
            styled(p.namespace.clone(), theme.muted()),
            Line::from(p.name.clone()),
            styled(format!("{}/{}", p.ready, p.total), ready_style),
            styled(status, style),
            if p.restarts > 0 {
                styled(p.restarts.to_string(), theme.warn())
            } else {
                Line::from("0")
            },
            match &p.node {
                Some(n) => Line::from(n.clone()),
                None => styled("<none>", theme.muted()),
            },
            match self.place(row).and_then(|pl| pl.group.as_deref()) {
                Some(g) => Line::from(g.to_owned()),
                None => styled(UNGROUPED, theme.muted()),
            },
            Line::from(
                p.created
                    .map(|c| age(self.ctx.now, c))
                    .unwrap_or_else(|| "-".into()),
            ),
            styled(p.reason.clone().unwrap_or_default(), theme.muted()),
        ]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx, scope: &PodScope) {
    let src = PodsTable::new(ctx, scope);
    table::draw(
        frame,
        area,
        &scope.label(),
        &src,
        &screen.table,
        ctx.theme,
        true,
    );
}

/// The slim record as an object for `y` (the console keeps no more of a pod).
pub fn as_json(p: &PodInfo) -> serde_json::Value {
    let created = p
        .created
        .and_then(|t| k8s_openapi::jiff::Timestamp::try_from(t).ok());
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": p.name,
            "namespace": p.namespace,
            "resourceVersion": p.resource_version,
            "labels": p.labels,
            "creationTimestamp": created.map(|t| t.to_string()),
        },
        "spec": {
            "nodeName": p.node,
            "containers": p.containers.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>(),
        },
        "status": {
            "status": p.status,
            "reason": p.reason,
            "ready": format!("{}/{}", p.ready, p.total),
            "restarts": p.restarts,
        },
    })
}
