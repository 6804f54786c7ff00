//! `?`: help generated from the keymap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{Ctx, Screen};
use crate::console::keymap::Keymap;
use crate::console::widgets::text;

pub fn lines(keymap: &Keymap, ctx: &Ctx, log_path: Option<&str>) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let scopes = crate::console::config::ALL_SCOPES.iter().copied();
    let mut out = Vec::new();
    if ctx.readonly {
        out.push(Line::from(Span::styled(
            "Read-only mode (--readonly): keys marked ⊘ are disabled.",
            theme.warn(),
        )));
        out.push(Line::from(""));
    }
    if let Some(log) = log_path {
        out.push(Line::from(vec![
            Span::styled("Log file: ", theme.header()),
            Span::raw(log.to_owned()),
        ]));
        out.push(Line::from(""));
    }
    for scope in scopes {
        if !keymap.bindings.iter().any(|b| b.scope == scope) {
            continue;
        }
        out.push(Line::from(Span::styled(
            scope.title().to_owned(),
            theme.header(),
        )));
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for b in keymap.bindings.iter().filter(|b| b.scope == scope) {
            // Alternative keys for the same thing (j and ↓) are listed once.
            if seen.iter().any(|(help, _)| *help == b.help) {
                continue;
            }
            seen.push((b.help, b.label));
            let disabled = ctx.readonly && b.writes;
            let mut spans = vec![
                Span::raw("  "),
                Span::styled(
                    format!("{:<10}", b.label),
                    if disabled { theme.muted() } else { theme.key() },
                ),
                Span::raw(b.help.to_owned()),
            ];
            if disabled {
                spans.push(Span::styled("  ⊘ disabled (read-only)", theme.muted()));
            }
            out.push(Line::from(spans));
        }
        out.push(Line::from(""));
    }
    out
}

pub fn draw(
    frame: &mut Frame,
    area: Rect,
    screen: &Screen,
    ctx: &Ctx,
    keymap: &Keymap,
    log_path: Option<&str>,
) {
    text::draw(
        frame,
        area,
        "Help",
        lines(keymap, ctx, log_path),
        screen.scroll,
        &screen.text,
        &screen.table.filter,
        ctx.theme,
    );
}
