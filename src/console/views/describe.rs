//! `d`: a kubectl-describe-style view, with what the engine says about the object.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::{Ctx, ObjRef, Screen, mask_secrets};
use crate::console::widgets::text;
use crate::engine::topology::LocalService;

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<none>".into(),
        other => other.to_string(),
    }
}

/// `key:  value` lines with the object's own keys as they are (a label
/// `app` stays `app`), nested maps indented, list items as `- ` entries.
fn flatten(key: &str, v: &Value, indent: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(indent);
    match v {
        Value::Object(map) if map.is_empty() => out.push(format!("{pad}{key}:  <none>")),
        Value::Object(map) => {
            out.push(format!("{pad}{key}:"));
            for (k, v) in map {
                flatten(k, v, indent + 1, out);
            }
        }
        Value::Array(items) if items.is_empty() => out.push(format!("{pad}{key}:  <none>")),
        Value::Array(items) => {
            out.push(format!("{pad}{key}:"));
            for item in items {
                item_lines(item, indent + 1, out);
            }
        }
        other => out.push(format!("{pad}{key}:  {}", scalar(other))),
    }
}

/// One list item: `- ` before its first line, the rest aligned under it.
fn item_lines(item: &Value, indent: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(indent);
    let mut lines = Vec::new();
    match item {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(k, v, 0, &mut lines);
            }
        }
        Value::Array(_) => item_lines_nested(item, &mut lines),
        other => lines.push(scalar(other)),
    }
    for (i, line) in lines.iter().enumerate() {
        let mark = if i == 0 { "- " } else { "  " };
        out.push(format!("{pad}{mark}{line}"));
    }
}

fn item_lines_nested(item: &Value, out: &mut Vec<String>) {
    if let Value::Array(items) = item {
        for inner in items {
            item_lines(inner, 0, out);
        }
    }
}

/// A top-level section heading, as kubectl prints them (`Spec:`, `Status:`).
fn title(k: &str) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn labels(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={}", scalar(v)))
            .collect::<Vec<_>>()
            .join("\n              "),
        _ => "<none>".into(),
    }
}

/// The describe text of an object.
pub fn describe(obj: &ObjRef, ctx: &Ctx) -> Option<String> {
    let mut v = obj.resolve(ctx.fleet)?;
    mask_secrets(&mut v);
    let meta = v.get("metadata").cloned().unwrap_or(Value::Null);
    let mut out = vec![format!(
        "Name:         {}",
        meta.get("name").map(scalar).unwrap_or_default()
    )];
    if let Some(ns) = meta.get("namespace") {
        out.push(format!("Namespace:    {}", scalar(ns)));
    }
    out.push(format!(
        "Kind:         {}",
        v.get("kind").map(scalar).unwrap_or_default()
    ));
    out.push(format!("Labels:       {}", labels(meta.get("labels"))));
    out.push(format!("Annotations:  {}", labels(meta.get("annotations"))));
    if let Some(t) = meta.get("creationTimestamp") {
        out.push(format!("Created:      {}", scalar(t)));
    }
    for section in ["spec", "data", "stringData", "status"] {
        if let Some(s) = v.get(section) {
            match s {
                Value::Object(map) if !map.is_empty() => {
                    out.push(format!("{}:", title(section)));
                    for (k, v) in map {
                        flatten(k, v, 1, &mut out);
                    }
                }
                other => flatten(&title(section), other, 0, &mut out),
            }
        }
    }
    // What the engine says.
    let d = ctx.derived;
    match obj {
        ObjRef::Node(n) => {
            let group = d.membership.node_group.get(n);
            out.push(format!(
                "Engine:       node group {}",
                group.map(String::as_str).unwrap_or("none (ungrouped)")
            ));
        }
        ObjRef::NodeGroup(g) => {
            if let Some(info) = d.group(g) {
                out.push("Engine membership:".into());
                for s in &info.statuses {
                    out.push(format!(
                        "  {}  {:?}  {:?}  {}",
                        s.node_name, s.ready_status, s.selection_status, s.selection_status_reason
                    ));
                }
            }
        }
        ObjRef::App { namespace, name } => {
            if let Some(a) = d.app(namespace, name) {
                out.push(format!(
                    "Engine:       {}/{} objects available",
                    a.available(),
                    a.objects.len()
                ));
                for o in &a.objects {
                    out.push(format!(
                        "  {}  {:?}  {}",
                        o.key.as_ref().map(|k| k.to_string()).unwrap_or_default(),
                        o.condition,
                        o.reason.as_deref().unwrap_or("")
                    ));
                }
            }
        }
        ObjRef::Service { namespace, name } => {
            if let Some(s) = d
                .services
                .iter()
                .find(|s| s.namespace == *namespace && s.name == *name)
            {
                out.push(format!(
                    "Traffic:      {}",
                    if s.range_nodegroup {
                        "range-nodegroup (closed per group)"
                    } else {
                        "cluster-wide"
                    }
                ));
                let mut holes = Vec::new();
                for (t, l) in s.traffic.per_group.iter().zip(&s.local) {
                    // Closure is what makes a group without endpoints matter.
                    let note = match l {
                        _ if !s.range_nodegroup => "",
                        LocalService::NotDeployed => "  (not deployed here)",
                        LocalService::NoNodes => "  (no nodes)",
                        LocalService::BlackHole => {
                            holes.push(t.group.as_str());
                            ""
                        }
                        LocalService::Served(_) => "",
                    };
                    out.push(format!(
                        "  {}  {} ready / {}{note}",
                        t.group, t.ready_endpoints, t.endpoints
                    ));
                }
                if !holes.is_empty() {
                    out.push(format!("  black holes: {}", holes.join(", ")));
                }
            }
        }
        ObjRef::Pod { namespace, name } => {
            if let Some((i, p)) = ctx
                .fleet
                .pods
                .iter()
                .enumerate()
                .find(|(_, p)| p.namespace == *namespace && p.name == *name)
            {
                let place = d.pod_places.get(i).cloned().unwrap_or_default();
                out.push(format!(
                    "Engine:       group {}, application {}, node {}",
                    place.group.as_deref().unwrap_or("<none>"),
                    place.app.as_deref().unwrap_or("<none>"),
                    p.node.as_deref().unwrap_or("<none>")
                ));
            }
        }
        ObjRef::Workload(_) => {
            let status = crate::engine::status::availability(&v);
            out.push(format!("Engine:       {status:?}"));
        }
    }
    events(obj, ctx, &mut out);
    Some(out.join("\n"))
}

/// `Events:` last, as kubectl ends a describe: the engine's events of this
/// object, oldest first, then the cluster's own Events about it (newest
/// first, the last few, as kubectl lists them).
fn events(obj: &ObjRef, ctx: &Ctx, out: &mut Vec<String>) {
    let key = match obj {
        ObjRef::App { namespace, name }
        | ObjRef::Service { namespace, name }
        | ObjRef::Pod { namespace, name } => {
            format!("{namespace}/{name}")
        }
        ObjRef::Node(n) | ObjRef::NodeGroup(n) => n.clone(),
        ObjRef::Workload(_) => String::new(),
    };
    let mine: Vec<_> = ctx
        .fleet
        .events
        .iter()
        .filter(|e| !key.is_empty() && e.object == key)
        .collect();
    let (kind, namespace, name) = obj.identity();
    let cluster: Vec<_> = ctx
        .fleet
        .cluster_events
        .iter()
        .filter(|e| e.is_about(kind, namespace, name))
        .take(super::events::RECENT)
        .collect();
    if mine.is_empty() && cluster.is_empty() {
        out.push("Events:       <none>".into());
        return;
    }
    out.push("Events:".into());
    out.push(format!(
        "  {:<8} {:<6} {:<16} Message",
        "Type", "Age", "From"
    ));
    out.push(format!(
        "  {:<8} {:<6} {:<16} -------",
        "----", "---", "----"
    ));
    for e in mine {
        let kind = if e.is_failure() { "Warning" } else { "Normal" };
        let full = e.to_string();
        let message = full.split_once(": ").map_or(full.as_str(), |(_, m)| m);
        out.push(format!(
            "  {kind:<8} {:<6} {:<16} {message}",
            super::age(ctx.now, e.at),
            e.source.to_string()
        ));
    }
    for e in cluster {
        let kind = if e.warning { "Warning" } else { "Normal" };
        let count = if e.count > 1 {
            format!(" (x{})", e.count)
        } else {
            String::new()
        };
        out.push(format!(
            "  {kind:<8} {:<6} {:<16} {}: {}{count}",
            e.last
                .map_or_else(|| "-".into(), |t| super::age(ctx.now, t)),
            e.source,
            e.reason,
            e.message
        ));
    }
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx, obj: &ObjRef) {
    let lines: Vec<Line<'static>> = match describe(obj, ctx) {
        Some(t) => t
            .lines()
            .map(|l| match l.split_once(":  ") {
                Some((k, rest)) if !k.starts_with(' ') => Line::from(vec![
                    Span::styled(format!("{k}:"), ctx.theme.header()),
                    Span::raw(format!(" {rest}")),
                ]),
                _ => Line::from(l.to_owned()),
            })
            .collect(),
        None => vec![Line::from(Span::styled(
            format!("{} no longer exists", obj.label()),
            ctx.theme.warn(),
        ))],
    };
    text::draw(
        frame,
        area,
        &format!("Describe {}", obj.label()),
        lines,
        screen.scroll,
        &screen.text,
        &screen.table.filter,
        ctx.theme,
    );
}
