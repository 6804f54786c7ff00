//! Heartbeat cells shared by the Nodes and Group views: the last heartbeat's
//! age (`4s` from the Lease, `3m·c` from the Ready condition when the node
//! keeps no Lease), since when a NotReady/Unknown node has been offline,
//! and how many pods are still bound to it.

use ratatui::text::Line;

use super::{Ctx, age, styled};
use crate::console::model::heartbeats::{BeatSource, NodeBeat};
use crate::console::widgets::table::{SortKey, num};

fn beat<'a>(ctx: &'a Ctx, node: usize) -> Option<&'a NodeBeat> {
    ctx.derived.beats.get(node)
}

fn secs(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `column`: 0 heartbeat, 1 offline since, 2 pods. Oldest heartbeat first.
pub fn sort_key(ctx: &Ctx, node: usize, column: usize) -> SortKey {
    let b = beat(ctx, node);
    match column {
        0 => num(b.and_then(|b| b.last).map_or(i64::MIN, |(t, _)| secs(t))),
        1 => num(b.and_then(|b| b.offline_since).map_or(i64::MAX, secs)),
        _ => num(b.map_or(0, |b| b.pods)),
    }
}

pub fn beat_cell(ctx: &Ctx, node: usize) -> Line<'static> {
    let theme = ctx.theme;
    match beat(ctx, node).and_then(|b| b.last) {
        None => styled("never", theme.warn()),
        Some((t, source)) => {
            let mark = match source {
                BeatSource::Lease => "",
                BeatSource::ReadyCondition => "·c",
            };
            Line::from(format!("{}{mark}", age(ctx.now, t)))
        }
    }
}

pub fn offline_cell(ctx: &Ctx, node: usize) -> Line<'static> {
    match beat(ctx, node).and_then(|b| b.offline_since) {
        Some(t) => styled(format!("✗ {} ago", age(ctx.now, t)), ctx.theme.error()),
        None => Line::default(),
    }
}

/// Pods bound to the node; warned when the node is offline (they are stranded).
pub fn pods_cell(ctx: &Ctx, node: usize) -> Line<'static> {
    match beat(ctx, node) {
        Some(b) if b.offline_since.is_some() && b.pods > 0 => {
            styled(b.pods.to_string(), ctx.theme.warn())
        }
        Some(b) => Line::from(b.pods.to_string()),
        None => Line::default(),
    }
}
