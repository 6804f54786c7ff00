//! One file per view. Each table view exposes a [`TableSource`] over the
//! derived data; [`source`] picks the one of the current screen.

pub mod app_detail;
pub mod apps;
pub mod describe;
pub mod engine;
pub mod events;
pub mod group;
pub mod heartbeat;
pub mod help;
pub mod logs;
pub mod matrix;
pub mod nodes;
pub mod pods;
pub mod regions;
pub mod traffic;
pub mod yaml;

use std::time::SystemTime;

use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::text::Span;
use serde_json::Value;

use super::model::{AppInfo, AppLag, Derived, Fleet};
use super::theme::Theme;
use super::widgets::table::{TableSource, TableState};
use super::widgets::text::TextState;
use crate::api::{ManifestCondition, ReadyStatus};
use crate::engine::ObjectKey;
use crate::engine::status::{Standing, Verdict};
use crate::engine::topology::LocalService;

/// Everything a view reads while drawing.
pub struct Ctx<'a> {
    pub fleet: &'a Fleet,
    pub derived: &'a Derived,
    pub theme: &'a Theme,
    pub now: SystemTime,
    pub readonly: bool,
    /// Where the console logs (shown in help and the engine view).
    pub log_path: Option<&'a str>,
    /// What `space` marked for a bulk edit.
    pub marks: &'a crate::console::app::Marks,
}

/// An object the user can look at with `y` / `d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjRef {
    Node(String),
    NodeGroup(String),
    App { namespace: String, name: String },
    Workload(ObjectKey),
    Service { namespace: String, name: String },
    Pod { namespace: String, name: String },
}

impl ObjRef {
    pub fn label(&self) -> String {
        match self {
            ObjRef::Node(n) => format!("node/{n}"),
            ObjRef::NodeGroup(n) => format!("nodegroup/{n}"),
            ObjRef::App { namespace, name } => format!("edgeapplication/{namespace}/{name}"),
            ObjRef::Workload(k) => format!(
                "{}/{}{}",
                k.kind.to_lowercase(),
                k.namespace
                    .as_deref()
                    .map(|n| format!("{n}/"))
                    .unwrap_or_default(),
                k.name
            ),
            ObjRef::Service { namespace, name } => format!("service/{namespace}/{name}"),
            ObjRef::Pod { namespace, name } => format!("pod/{namespace}/{name}"),
        }
    }

    /// Kind, namespace (empty when cluster-scoped) and name, as Events name objects.
    pub fn identity(&self) -> (&str, &str, &str) {
        match self {
            ObjRef::Node(n) => ("Node", "", n),
            ObjRef::NodeGroup(n) => ("NodeGroup", "", n),
            ObjRef::App { namespace, name } => ("EdgeApplication", namespace, name),
            ObjRef::Service { namespace, name } => ("Service", namespace, name),
            ObjRef::Pod { namespace, name } => ("Pod", namespace, name),
            ObjRef::Workload(k) => (&k.kind, k.namespace.as_deref().unwrap_or(""), &k.name),
        }
    }

    /// The object as JSON, from the current snapshot.
    pub fn resolve(&self, fleet: &Fleet) -> Option<Value> {
        let named = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                     ns: Option<&str>,
                     name: &str| {
            meta.name.as_deref() == Some(name)
                && ns.is_none_or(|ns| meta.namespace.as_deref().unwrap_or("default") == ns)
        };
        match self {
            ObjRef::Node(n) => fleet
                .nodes
                .iter()
                .find(|o| named(&o.metadata, None, n))
                .and_then(|o| with_kind(o, "v1", "Node")),
            ObjRef::NodeGroup(n) => fleet
                .node_groups
                .iter()
                .find(|o| named(&o.metadata, None, n))
                .and_then(|o| serde_json::to_value(o).ok()),
            ObjRef::App { namespace, name } => fleet
                .applications
                .iter()
                .find(|o| named(&o.metadata, Some(namespace), name))
                .and_then(|o| serde_json::to_value(o).ok()),
            ObjRef::Service { namespace, name } => fleet
                .services
                .iter()
                .find(|o| named(&o.metadata, Some(namespace), name))
                .and_then(|o| with_kind(o, "v1", "Service")),
            // The console keeps pods slim (issue #9): what it holds, not the whole object.
            ObjRef::Pod { namespace, name } => fleet
                .pods
                .iter()
                .find(|p| p.namespace == *namespace && p.name == *name)
                .map(pods::as_json),
            ObjRef::Workload(key) => fleet
                .workloads
                .iter()
                .find(|w| ObjectKey::of(w).is_some_and(|k| k.identity() == key.identity()))
                .cloned(),
        }
    }
}

fn with_kind<T: serde::Serialize>(o: &T, api_version: &str, kind: &str) -> Option<Value> {
    let mut v = serde_json::to_value(o).ok()?;
    if let Some(map) = v.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| api_version.into());
        map.entry("kind").or_insert_with(|| kind.into());
    }
    Some(v)
}

/// Every view the console can show; screens stack for breadcrumbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Regions,
    Group(String),
    Apps,
    Matrix,
    AppDetail {
        namespace: String,
        name: String,
    },
    Traffic,
    Engine,
    Nodes,
    Yaml(ObjRef),
    Describe(ObjRef),
    Help,
    Pods(pods::PodScope),
    /// Kubernetes Events of the cluster (the Engine view shows the engine's own).
    Events,
    Logs(logs::LogTarget),
}

impl View {
    /// A scrolling text (YAML, describe, help) rather than a table.
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            View::Yaml(_) | View::Describe(_) | View::Help | View::Logs(_)
        )
    }

    pub fn crumb(&self) -> String {
        match self {
            View::Regions => "Regions".into(),
            View::Group(g) => format!("Group {g}"),
            View::Apps => "Applications".into(),
            View::Matrix => "Matrix".into(),
            View::AppDetail { namespace, name } => format!("App {namespace}/{name}"),
            View::Traffic => "Traffic".into(),
            View::Engine => "Engine".into(),
            View::Nodes => "Nodes".into(),
            View::Yaml(r) => format!("YAML {}", r.label()),
            View::Describe(r) => format!("Describe {}", r.label()),
            View::Help => "Help".into(),
            View::Pods(scope) => scope.label(),
            View::Events => "Events".into(),
            View::Logs(t) => format!("Logs {}/{} [{}]", t.namespace, t.pod, t.container),
        }
    }
}

/// One entry of the navigation stack.
#[derive(Debug, Clone)]
pub struct Screen {
    pub view: View,
    pub table: TableState,
    /// Matrix: selected group column.
    pub column: usize,
    /// Text views: first line shown.
    pub scroll: usize,
    /// Text views: what the last frame showed (for scrolling and search).
    pub text: TextState,
}

impl Screen {
    pub fn new(view: View) -> Screen {
        Screen {
            view,
            table: TableState::default(),
            column: 0,
            scroll: 0,
            text: TextState::default(),
        }
    }
}

/// The table of a view, if it has one.
pub fn source<'a>(view: &View, ctx: &'a Ctx<'a>) -> Option<Box<dyn TableSource + 'a>> {
    match view {
        View::Regions => Some(Box::new(regions::RegionsTable::new(ctx))),
        View::Group(g) => Some(Box::new(group::NodesTable::new(ctx, g))),
        View::Apps => Some(Box::new(apps::AppsTable { ctx })),
        View::Matrix => Some(Box::new(matrix::MatrixRows { ctx })),
        View::AppDetail { namespace, name } => Some(Box::new(app_detail::TargetsTable::new(
            ctx, namespace, name,
        ))),
        View::Traffic => Some(Box::new(traffic::TrafficTable::new(ctx))),
        View::Engine => Some(Box::new(engine::EventsTable { ctx })),
        View::Nodes => Some(Box::new(nodes::NodesTable { ctx })),
        View::Pods(scope) => Some(Box::new(pods::PodsTable::new(ctx, scope))),
        View::Events => Some(Box::new(events::ClusterEventsTable::new(ctx))),
        View::Yaml(_) | View::Describe(_) | View::Help | View::Logs(_) => None,
    }
}

/// `✓ Ready` / `✗ NotReady` / `? Unknown`.
pub fn ready_cell(status: ReadyStatus, theme: &Theme) -> Line<'static> {
    let (text, style) = ready_text(status, theme);
    Line::from(Span::styled(text, style))
}

pub fn ready_text(status: ReadyStatus, theme: &Theme) -> (&'static str, Style) {
    match status {
        ReadyStatus::Ready => ("✓ Ready", theme.ok()),
        ReadyStatus::NotReady => ("✗ NotReady", theme.error()),
        ReadyStatus::Unknown => ("? Unknown", theme.warn()),
    }
}

pub fn condition_text(c: ManifestCondition, theme: &Theme) -> (&'static str, Style) {
    match c {
        ManifestCondition::Available => ("✓ Available", theme.ok()),
        ManifestCondition::Processing => ("▲ Processing", theme.warn()),
        ManifestCondition::Failed => ("✗ Failed", theme.error()),
    }
}

/// `ready/desired` (always that order; every header says so) with the
/// engine's verdict: ✓ only when it says Available, `✗ … failed` when a
/// workload failed (the counts are what still runs), otherwise ▲, or ✗ when
/// none of a non-zero desire is ready.
pub fn standing_text(s: &Standing, theme: &Theme) -> (String, Style) {
    let counts = format!("{}/{}", s.ready, s.desired);
    match s.verdict {
        Verdict::Available => (format!("✓ {counts}"), theme.ok()),
        Verdict::Failed => (format!("✗ {counts} failed"), theme.error()),
        Verdict::Progressing if s.ready == 0 && s.desired > 0 => {
            (format!("✗ {counts}"), theme.error())
        }
        Verdict::Progressing => (format!("▲ {counts}"), theme.warn()),
    }
}

/// An application's standing while the engine is behind on its spec: the
/// counts of what runs, never a ✓ (see `console::live::lag`).
pub fn app_standing_text(app: &AppInfo, s: &Standing, theme: &Theme) -> (String, Style) {
    match app.lag {
        Some(_) if s.verdict != Verdict::Failed => {
            (format!("⧗ {}/{} lagging", s.ready, s.desired), theme.warn())
        }
        _ => standing_text(s, theme),
    }
}

/// What the engine owes an application it is behind on.
pub fn lag_text(lag: &AppLag, now: SystemTime) -> String {
    let observed = lag
        .observed
        .map_or_else(|| "never observed".to_owned(), |o| format!("observed {o}"));
    format!(
        "⧗ engine behind: generation {} not reconciled ({observed}) for {}",
        lag.generation,
        age(now, lag.since)
    )
}

/// [`standing_text`] as a cell; `-` when there is nothing to count.
pub fn standing_cell(s: Option<&Standing>, theme: &Theme) -> Line<'static> {
    match s {
        Some(s) => {
            let (t, style) = standing_text(s, theme);
            styled(t, style)
        }
        None => styled("-", theme.muted()),
    }
}

/// What a group gets from a range-nodegroup Service, in Traffic and Group.
pub fn local_service_text(l: LocalService, theme: &Theme) -> (String, Style) {
    match l {
        LocalService::Served(n) => (format!("✓ {n} local endpoint(s)"), theme.ok()),
        LocalService::BlackHole => (
            "✗ black hole: clients here reach nothing".into(),
            theme.error(),
        ),
        LocalService::NotDeployed => ("· not deployed here".into(), theme.muted()),
        LocalService::NoNodes => ("◌ no nodes".into(), theme.muted()),
    }
}

pub fn styled(text: impl Into<String>, style: Style) -> Line<'static> {
    Line::from(Span::styled(text.into(), style))
}

/// `4s`, `3m`, `2h`, `5d`.
pub fn age(now: SystemTime, at: SystemTime) -> String {
    let secs = now.duration_since(at).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Replaces Secret values (in any object of kind Secret, at any depth) with `********`.
pub fn mask_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("kind").and_then(Value::as_str) == Some("Secret") {
                for field in ["data", "stringData"] {
                    if let Some(Value::Object(data)) = map.get_mut(field) {
                        for v in data.values_mut() {
                            *v = Value::String("********".into());
                        }
                    }
                }
            }
            for v in map.values_mut() {
                mask_secrets(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}
