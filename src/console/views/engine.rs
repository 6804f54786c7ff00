//! Engine: connection state, lease holder, engine events.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Ctx, Screen, age, styled};
use crate::console::engine_stats::{EngineReading, EngineStats, Origin};
use crate::console::model::ConnectionState;
use crate::console::theme::Theme;
use crate::console::widgets::table::{self, Column, SortKey, TableSource, col, num, text};
use crate::controllers::events::Outcome;

/// Events newest first.
pub struct EventsTable<'a> {
    pub ctx: &'a Ctx<'a>,
}

impl EventsTable<'_> {
    fn event(&self, row: usize) -> Option<&crate::controllers::events::EngineEvent> {
        let events = &self.ctx.fleet.events;
        events
            .len()
            .checked_sub(row + 1)
            .and_then(|i| events.get(i))
    }
}

impl TableSource for EventsTable<'_> {
    fn columns(&self) -> Vec<Column> {
        vec![
            col("AGE", Constraint::Length(5)),
            col("SOURCE", Constraint::Length(15)),
            col("OBJECT", Constraint::Length(24)),
            col("MESSAGE", Constraint::Fill(1)),
        ]
    }
    fn len(&self) -> usize {
        self.ctx.fleet.events.len()
    }
    fn filter_text(&self, row: usize) -> String {
        self.event(row).map(|e| e.to_string()).unwrap_or_default()
    }
    fn sort_key(&self, row: usize, column: usize) -> SortKey {
        let Some(e) = self.event(row) else {
            return num(0);
        };
        match column {
            1 => text(&e.source.to_string()),
            2 => text(&e.object),
            3 => text(&e.to_string()),
            _ => num(row),
        }
    }
    fn cells(&self, row: usize, theme: &Theme) -> Vec<Line<'static>> {
        let Some(e) = self.event(row) else {
            return Vec::new();
        };
        vec![
            Line::from(age(self.ctx.now, e.at)),
            Line::from(e.source.to_string()),
            Line::from(e.object.clone()),
            event_message(e, theme),
        ]
    }
}

pub fn event_message(e: &crate::controllers::events::EngineEvent, theme: &Theme) -> Line<'static> {
    let full = e.to_string();
    let message = full
        .split_once(": ")
        .map(|(_, m)| m.to_owned())
        .unwrap_or(full);
    match &e.outcome {
        Outcome::Failed { .. } => styled(format!("✗ {message}"), theme.error()),
        Outcome::Reconciled { changes } if changes.is_empty() => {
            styled(format!("✓ {message}"), theme.muted())
        }
        _ => Line::from(format!("● {message}")),
    }
}

pub fn connection_spans(ctx: &Ctx) -> Span<'static> {
    let theme = ctx.theme;
    match &ctx.fleet.connection {
        ConnectionState::Connected => Span::styled("● connected", theme.ok()),
        ConnectionState::Connecting { step } => Span::styled(format!("◌ {step}"), theme.accent()),
        ConnectionState::Reconnecting { since, error } => Span::styled(
            format!("▲ reconnecting for {}: {error}", age(ctx.now, *since)),
            theme.warn(),
        ),
        ConnectionState::Partial { problems } => Span::styled(
            format!("◐ connected; {} problem(s)", problems.len()),
            theme.warn(),
        ),
        ConnectionState::Stale => Span::styled("◌ stale (not updating)", theme.error()),
    }
}

/// The engine's figures: one line for the engine, one per controller.
fn reading_lines(reading: &EngineReading, theme: &Theme) -> Vec<Line<'static>> {
    match reading {
        EngineReading::Figures(stats) => stats_lines(stats, theme),
        EngineReading::Unreachable { url, error } => vec![Line::from(vec![
            Span::styled("Remote:     ", theme.header()),
            Span::styled(format!("✗ {url}: {error}"), theme.error()),
        ])],
    }
}

fn stats_lines(stats: &EngineStats, theme: &Theme) -> Vec<Line<'static>> {
    let role = if stats.leading {
        Span::styled("● leading", theme.ok())
    } else {
        Span::styled("◌ standby (waiting for the lease)", theme.muted())
    };
    let (label, from) = match &stats.origin {
        Origin::InProcess => ("In-process: ", String::new()),
        Origin::Remote(url) => ("Remote:     ", format!(" · {url}")),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(label, theme.header()),
        role,
        Span::raw(format!(
            " · {} writes ({}){from}",
            stats.writes, stats.writes_rate
        )),
    ])];
    for c in &stats.controllers {
        let lag = c
            .lag
            .map_or_else(|| "–".to_owned(), |d| format!("{}s", d.as_secs()));
        let mut spans = vec![
            Span::raw(format!(
                "  {:<16}{:>7}  {:>6} reconciles  ",
                c.controller.as_str(),
                c.rate.to_string(),
                c.reconciles
            )),
            if c.errors > 0 {
                Span::styled(format!("{} failed", c.errors), theme.error())
            } else {
                Span::raw("0 failed")
            },
            Span::raw(format!(
                "  {} queued  {} in flight  lag {lag}  owns {}",
                c.queued, c.in_flight, c.owned
            )),
        ];
        if c.stalled {
            spans.push(Span::styled("  ▲ stalled", theme.warn()));
        }
        lines.push(Line::from(spans));
    }
    lines
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx) {
    let theme = ctx.theme;
    let failures = ctx.fleet.events.iter().filter(|e| e.is_failure()).count();
    let mut lines = vec![
        Line::from(vec![
            Span::styled("Connection: ", theme.header()),
            connection_spans(ctx),
        ]),
        Line::from(vec![
            Span::styled("Leader:     ", theme.header()),
            match &ctx.fleet.lease_holder {
                Some(h) => Span::raw(format!("● {h}")),
                None => Span::styled("◌ none (no engine holds the lease)", theme.warn()),
            },
        ]),
        Line::from(vec![
            Span::styled("Events:     ", theme.header()),
            Span::raw(format!("{} total, ", ctx.fleet.events.len())),
            if failures > 0 {
                Span::styled(format!("✗ {failures} failed"), theme.error())
            } else {
                Span::styled("✓ 0 failed", theme.ok())
            },
        ]),
    ];
    if !ctx.fleet.engine.is_empty() {
        lines.insert(
            2,
            Line::from(vec![
                Span::styled("Console:    ", theme.header()),
                Span::raw(ctx.fleet.engine.clone()),
            ]),
        );
    }
    if let Some(reading) = &ctx.fleet.engine_stats {
        let at = lines.len() - 1;
        lines.splice(at..at, reading_lines(reading, theme));
    }
    // A few by name; the Apps view marks every one.
    const NAMED: usize = 3;
    for lag in ctx.fleet.lagging.iter().take(NAMED) {
        lines.push(Line::from(vec![
            Span::styled("Lagging:    ", theme.header()),
            Span::styled(
                format!(
                    "{}/{} {}",
                    lag.namespace,
                    lag.name,
                    super::lag_text(lag, ctx.now).trim_start_matches("⧗ ")
                ),
                theme.warn(),
            ),
        ]));
    }
    if let Some(more) = ctx
        .fleet
        .lagging
        .len()
        .checked_sub(NAMED)
        .filter(|n| *n > 0)
    {
        lines.push(Line::from(Span::styled(
            format!("            … and {more} more (see Apps)"),
            theme.warn(),
        )));
    }
    if let ConnectionState::Partial { problems } = &ctx.fleet.connection {
        for p in problems {
            lines.push(Line::from(Span::styled(format!("◐ {p}"), theme.warn())));
        }
    }
    if let Some(log) = ctx.log_path {
        lines.push(Line::from(vec![
            Span::styled("Log file:   ", theme.header()),
            Span::raw(log.to_owned()),
        ]));
    }
    let height = u16::try_from(lines.len() + 2).unwrap_or(5);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(height), Constraint::Fill(1)]).areas(area);
    frame.render_widget(
        Paragraph::new(lines).style(theme.base()).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(theme.border())
                .title(Span::styled(" Engine ", theme.title())),
        ),
        top,
    );
    table::draw(
        frame,
        bottom,
        "Engine events",
        &EventsTable { ctx },
        &screen.table,
        theme,
        true,
    );
}
