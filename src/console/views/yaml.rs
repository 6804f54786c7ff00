//! `y`: the selected object as YAML (managedFields dropped, Secret data masked).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::{Ctx, ObjRef, Screen, mask_secrets};
use crate::console::theme::Theme;
use crate::console::widgets::text;

/// The YAML text shown for an object.
pub fn yaml_of(mut value: Value) -> String {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    mask_secrets(&mut value);
    serde_yaml_ng::to_string(&value).unwrap_or_else(|e| format!("# cannot render YAML: {e}\n"))
}

/// YAML with keys highlighted (a key is never shown by colour alone: the `:` stays).
pub fn highlight(yaml: &str, theme: &Theme) -> Vec<Line<'static>> {
    yaml.lines()
        .map(|l| {
            let trimmed = l.trim_start_matches([' ', '-']);
            match trimmed.split_once(':') {
                Some((k, rest))
                    if !k.is_empty() && !k.contains(' ') && !k.starts_with(['"', '\'']) =>
                {
                    let indent = &l[..l.len() - trimmed.len()];
                    Line::from(vec![
                        Span::raw(indent.to_owned()),
                        Span::styled(format!("{k}:"), theme.key()),
                        Span::raw(rest.to_owned()),
                    ])
                }
                _ => Line::from(l.to_owned()),
            }
        })
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, screen: &Screen, ctx: &Ctx, obj: &ObjRef) {
    let lines = match obj.resolve(ctx.fleet) {
        // What is left out must not read as absent from the pod.
        Some(v) if matches!(obj, ObjRef::Pod { .. }) => {
            let mut lines = vec![Line::from(Span::styled(
                "# The console keeps pods slim: env, ports, probes, volumes, annotations and \
                 owners are left out (kubectl get pod -o yaml shows them).",
                ctx.theme.muted(),
            ))];
            lines.extend(highlight(&yaml_of(v), ctx.theme));
            lines
        }
        Some(v) => highlight(&yaml_of(v), ctx.theme),
        None => vec![Line::from(Span::styled(
            format!("{} no longer exists", obj.label()),
            ctx.theme.warn(),
        ))],
    };
    text::draw(
        frame,
        area,
        &format!("YAML {}", obj.label()),
        lines,
        screen.scroll,
        &screen.text,
        &screen.table.filter,
        ctx.theme,
    );
}
