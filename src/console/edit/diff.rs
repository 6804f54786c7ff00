//! Diff preview: the spec change and the generated objects that will change,
//! computed by the engine's render on the old and the new application.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{EditKind, PendingWrite};
use crate::api::EdgeApplication;
use crate::console::theme::Theme;
use crate::console::widgets::text;
use crate::engine::{prune, render};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Same,
    Add,
    Del,
    Heading,
    Note,
}

/// Line diff (LCS); texts over 3000 lines are compared as wholes.
pub fn line_diff(old: &str, new: &str) -> Vec<(Tag, String)> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() > 3000 || b.len() > 3000 {
        let mut out: Vec<(Tag, String)> = a.iter().map(|l| (Tag::Del, (*l).to_owned())).collect();
        out.extend(b.iter().map(|l| (Tag::Add, (*l).to_owned())));
        return out;
    }
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push((Tag::Same, a[i].to_owned()));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push((Tag::Add, b[j].to_owned()));
            j += 1;
        } else if i < n {
            out.push((Tag::Del, a[i].to_owned()));
            i += 1;
        }
    }
    out
}

/// Keeps changed lines with `context` unchanged lines around them.
pub fn hunks(diff: Vec<(Tag, String)>, context: usize) -> Vec<(Tag, String)> {
    let changed: Vec<usize> = diff
        .iter()
        .enumerate()
        .filter(|(_, (t, _))| *t != Tag::Same)
        .map(|(i, _)| i)
        .collect();
    let keep = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= context);
    let mut out = Vec::new();
    let mut skipped = false;
    for (i, line) in diff.into_iter().enumerate() {
        if keep(i) {
            if skipped {
                out.push((Tag::Note, "  …".into()));
                skipped = false;
            }
            out.push(line);
        } else {
            skipped = true;
        }
    }
    out
}

fn yaml<T: serde::Serialize>(v: &T) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_else(|e| format!("# {e}"))
}

/// A change ready to be saved.
#[derive(Debug, Clone)]
pub struct DiffPreview {
    pub pending: PendingWrite,
    pub candidate: EdgeApplication,
    pub lines: Vec<(Tag, String)>,
    pub scroll: usize,
    pub text: crate::console::widgets::text::TextState,
    /// Whether anything changes at all.
    pub changes: bool,
    /// A bulk edit: the other applications that change, each saved on its
    /// own after this one (their lines are in `lines` too).
    pub also: Vec<DiffPreview>,
}

impl DiffPreview {
    pub fn new(base: EdgeApplication, edit: EditKind) -> Result<DiffPreview, String> {
        let candidate = super::apply_edit(&base, &edit)?;
        let mut lines = vec![(Tag::Heading, "Spec".to_owned())];
        let spec = hunks(line_diff(&yaml(&base.spec), &yaml(&candidate.spec)), 2);
        let changes = !spec.is_empty();
        if spec.is_empty() {
            lines.push((Tag::Note, "  (no change)".into()));
        }
        lines.extend(spec);
        lines.push((Tag::Heading, "Generated objects (engine render)".into()));
        let before = render::render(&base);
        let after = render::render(&candidate);
        let mut any = false;
        for o in &after.objects {
            match before.objects.iter().find(|b| b.key == o.key) {
                None => {
                    any = true;
                    lines.push((Tag::Add, format!("+ {} (new)", o.key)));
                }
                Some(b) if b.object != o.object => {
                    any = true;
                    lines.push((Tag::Heading, format!("~ {}", o.key)));
                    lines.extend(hunks(line_diff(&yaml(&b.object), &yaml(&o.object)), 1));
                }
                Some(_) => {}
            }
        }
        // What the engine prunes is decided by its own rule: an object of a
        // group whose render failed is kept as it runs, not deleted.
        let before_keys: Vec<_> = before.objects.iter().map(|b| b.key.clone()).collect();
        let deleted = prune::to_delete(&before_keys, &after);
        for b in &before.objects {
            if after.objects.iter().any(|o| o.key == b.key) {
                continue;
            }
            any = true;
            if deleted.contains(&&b.key) {
                lines.push((Tag::Del, format!("- {} (will be deleted)", b.key)));
            } else {
                lines.push((
                    Tag::Note,
                    format!("  {} kept as it runs (its render fails, see below)", b.key),
                ));
            }
        }
        for e in &after.errors {
            any = true;
            lines.push((Tag::Del, format!("✗ render error: {}", e.error)));
        }
        if !any {
            lines.push((Tag::Note, "  (no generated object changes)".into()));
        }
        Ok(DiffPreview {
            pending: PendingWrite { base, edit },
            candidate,
            lines,
            scroll: 0,
            text: Default::default(),
            changes,
            also: Vec::new(),
        })
    }

    /// Makes this the preview of a bulk edit: every application under its
    /// own heading, and the marks that change nothing named at the end.
    pub fn also_with(&mut self, others: Vec<DiffPreview>, skipped: &[String]) {
        if others.is_empty() && skipped.is_empty() {
            return;
        }
        let heading = |p: &DiffPreview| {
            (
                Tag::Heading,
                format!(
                    "━━ {}/{}: {}",
                    p.pending
                        .base
                        .metadata
                        .namespace
                        .as_deref()
                        .unwrap_or("default"),
                    p.pending.base.metadata.name.as_deref().unwrap_or("?"),
                    p.pending.edit.describe()
                ),
            )
        };
        let mut lines = vec![(
            Tag::Note,
            format!(
                "{} application(s) change; each is saved on its own, with its resourceVersion",
                1 + others.len()
            ),
        )];
        lines.push(heading(self));
        lines.append(&mut self.lines);
        for p in &others {
            lines.push(heading(p));
            lines.extend(p.lines.iter().cloned());
            self.changes |= p.changes;
        }
        if !skipped.is_empty() {
            lines.push((
                Tag::Note,
                format!(
                    "unchanged (not a target, or already one): {}",
                    skipped.join(", ")
                ),
            ));
        }
        self.lines = lines;
        self.also = others;
    }

    /// What the title names: the edit, or how many applications a bulk edit changes.
    pub fn what(&self) -> String {
        if self.also.is_empty() {
            self.pending.edit.describe()
        } else {
            format!("bulk edit of {} applications", 1 + self.also.len())
        }
    }
}

pub fn styled_lines(lines: &[(Tag, String)], theme: &Theme) -> Vec<Line<'static>> {
    lines
        .iter()
        .map(|(tag, l)| match tag {
            Tag::Same => Line::from(format!("  {l}")),
            Tag::Add => Line::from(Span::styled(format!("+ {l}"), theme.ok())),
            Tag::Del => Line::from(Span::styled(format!("- {l}"), theme.error())),
            Tag::Heading => Line::from(Span::styled(l.clone(), theme.header())),
            Tag::Note => Line::from(Span::styled(l.clone(), theme.muted())),
        })
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, preview: &DiffPreview, theme: &Theme) {
    let title = format!("Diff: {} — y save · esc back", preview.what());
    text::draw(
        frame,
        area,
        &title,
        styled_lines(&preview.lines, theme),
        preview.scroll,
        &preview.text,
        "",
        theme,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_changes() {
        let d = line_diff("a\nb\nc\n", "a\nx\nc\n");
        assert_eq!(
            d,
            vec![
                (Tag::Same, "a".into()),
                (Tag::Del, "b".into()),
                (Tag::Add, "x".into()),
                (Tag::Same, "c".into())
            ]
        );
    }
}
