//! Logs: a pod container's log as it streams, with `/` search (the text
//! view's), wrap, and a title saying what is asked (follow, previous,
//! tail) and how the stream is doing. Scrolling up pauses: new lines
//! arrive below without moving the view; `G` follows again.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::{Ctx, Screen, styled};
use crate::console::logs::{LogPane, LogState};
use crate::console::widgets::text;

pub use crate::console::logs::LogTarget;

/// `line` cut into pieces of at most `width` characters.
fn wrap(line: &str, width: usize) -> Vec<String> {
    if width == 0 || line.chars().count() <= width {
        return vec![line.to_owned()];
    }
    let chars: Vec<char> = line.chars().collect();
    chars
        .chunks(width)
        .map(|c| c.iter().collect::<String>())
        .collect()
}

/// What the title says about the stream.
pub fn status(pane: &LogPane, paused: bool) -> String {
    let r = &pane.request;
    let mut parts = vec![match r.tail {
        Some(n) => format!("tail {n}"),
        None => "whole log".into(),
    }];
    if r.previous {
        parts.push("previous".into());
    }
    if pane.wrap {
        parts.push("wrap".into());
    }
    parts.insert(
        0,
        match &pane.state {
            LogState::Connecting => "connecting…",
            LogState::Streaming if paused => "⏸ paused (G to follow)",
            LogState::Streaming => "streaming",
            LogState::Ended => "ended",
            LogState::Failed(_) => "✗ failed",
        }
        .to_owned(),
    );
    parts.insert(1, if r.follow { "follow" } else { "no follow" }.to_owned());
    parts.join(" · ")
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx, pane: Option<&LogPane>) {
    let theme = ctx.theme;
    let Some(pane) = pane else {
        text::draw(
            frame,
            area,
            "Logs",
            vec![styled("no log open", theme.muted())],
            0,
            &screen.text,
            "",
            theme,
        );
        return;
    };
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines: Vec<Line<'static>> = Vec::new();
    if pane.dropped > 0 {
        lines.push(styled(
            format!("… {} earlier line(s) dropped", pane.dropped),
            theme.muted(),
        ));
    }
    for l in &pane.lines {
        if pane.wrap {
            lines.extend(wrap(l, width).into_iter().map(Line::from));
        } else {
            lines.push(Line::from(l.clone()));
        }
    }
    match &pane.state {
        LogState::Failed(error) => {
            lines.push(styled(format!("✗ {error}"), theme.error()));
        }
        LogState::Ended if pane.lines.is_empty() => {
            lines.push(styled("(the log is empty)", theme.muted()));
        }
        LogState::Connecting => lines.push(styled("connecting…", theme.muted())),
        _ => {}
    }
    let height = usize::from(area.height.saturating_sub(2));
    let paused = screen.scroll < lines.len().saturating_sub(height.max(1));
    let t = &pane.request.target;
    // What the stream does first: the pod's name is in the breadcrumb too.
    let title = format!(
        "Logs [{}] {} — {}/{}",
        t.container,
        status(pane, paused),
        t.namespace,
        t.pod
    );
    text::draw(
        frame,
        area,
        &title,
        lines,
        screen.scroll,
        &screen.text,
        &screen.table.filter,
        theme,
    );
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_cuts_at_the_width_and_keeps_every_character() {
        assert_eq!(wrap("abcdefg", 3), ["abc", "def", "g"]);
        assert_eq!(wrap("ab", 3), ["ab"]);
        assert_eq!(wrap("äöüß", 2), ["äö", "üß"]);
    }
}
