//! `c`: create a NodeGroup from a label selector, with a live preview of
//! the nodes it would select (computed by the engine's membership rules).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui_textarea::TextArea;
use serde_json::Value;

use crate::api::{NodeGroup, NodeGroupSpec, NodeStatus, SelectionStatus};
use crate::console::theme::Theme;
use crate::engine::membership;

pub struct NewGroupForm {
    pub name: TextArea<'static>,
    pub selector: TextArea<'static>,
    pub focus: usize,
    pub error: Option<String>,
    pub preview: Vec<NodeStatus>,
}

/// `k=v,k2=v2` → map.
pub fn parse_selector(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not key=value"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.contains(char::is_whitespace) || v.contains(char::is_whitespace) {
            return Err(format!("{part:?} is not a valid label"));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    if out.is_empty() {
        return Err("an empty selector selects nothing".into());
    }
    Ok(out)
}

/// The name rule the API server enforces on NodeGroups (a DNS-1123
/// subdomain), in its words.
pub fn check_name(name: &str) -> Result<(), String> {
    crate::api::validate_name(name, crate::api::NameRule::Subdomain)
        .map_err(|why| format!("{name:?} is not a valid name: {why}"))
}

impl Default for NewGroupForm {
    fn default() -> Self {
        NewGroupForm::new()
    }
}

impl NewGroupForm {
    pub fn new() -> NewGroupForm {
        NewGroupForm {
            name: TextArea::default(),
            selector: TextArea::default(),
            focus: 0,
            error: Some("enter a name".into()),
            preview: Vec::new(),
        }
    }

    fn candidate(&self) -> Result<NodeGroup, String> {
        let name = self.name.lines().join("").trim().to_owned();
        let labels = parse_selector(&self.selector.lines().join(""))?;
        check_name(&name)?;
        Ok(NodeGroup::new(
            &name,
            NodeGroupSpec {
                nodes: Vec::new(),
                match_labels: Some(labels),
                topology_enabled: None,
            },
        ))
    }

    /// Recomputes the preview against the current nodes and groups.
    pub fn refresh(&mut self, nodes: &[Node], groups: &[NodeGroup]) {
        let selector = parse_selector(&self.selector.lines().join(""));
        // Preview even before the name is valid.
        let name = self.name.lines().join("").trim().to_owned();
        let preview_name = if name.is_empty() {
            "new-group".to_owned()
        } else {
            name
        };
        self.preview = match &selector {
            Ok(labels) => {
                let mut all = groups.to_vec();
                all.retain(|g| g.metadata.name.as_deref() != Some(preview_name.as_str()));
                all.push(NodeGroup::new(
                    &preview_name,
                    NodeGroupSpec {
                        nodes: Vec::new(),
                        match_labels: Some(labels.clone()),
                        topology_enabled: None,
                    },
                ));
                membership::compute(nodes, &all)
                    .statuses
                    .remove(&preview_name)
                    .map(|s| s.node_statuses)
                    .unwrap_or_default()
            }
            Err(_) => Vec::new(),
        };
        self.error = self.candidate().err();
    }

    /// The object to create, if valid.
    pub fn object(&self) -> Option<Value> {
        let group = self.candidate().ok()?;
        serde_json::to_value(group).ok()
    }

    pub fn input(&mut self, key: crossterm::event::KeyEvent, nodes: &[Node], groups: &[NodeGroup]) {
        let field = if self.focus == 0 {
            &mut self.name
        } else {
            &mut self.selector
        };
        if key.code != crossterm::event::KeyCode::Enter {
            field.input(key);
        }
        self.refresh(nodes, groups);
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let outer = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.title())
            .title(Span::styled(
                " New NodeGroup — tab next field · ctrl-s create · esc cancel ",
                theme.title(),
            ));
        let inner = outer.inner(area);
        frame.render_widget(outer, area);
        let [n, s, e, p] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Length(3),
            Constraint::Length(1),
            Constraint::Fill(1),
        ])
        .areas(inner);
        for (i, (ta, a, label)) in [
            (&self.name, n, "Name"),
            (&self.selector, s, "Match labels (key=value,key=value)"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut ta = ta.clone();
            ta.set_block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(if i == self.focus {
                        theme.title()
                    } else {
                        theme.border()
                    })
                    .title(Span::styled(format!(" {label} "), theme.header())),
            );
            frame.render_widget(&ta, a);
        }
        let selected = self
            .preview
            .iter()
            .filter(|s| s.selection_status == SelectionStatus::Succeeded)
            .count();
        let status = match &self.error {
            Some(err) => Span::styled(format!("✗ {err}"), theme.error()),
            None if selected == 0 => Span::styled(
                "⚠ selects no node: ctrl-s would create an empty group",
                theme.warn(),
            ),
            None => Span::styled(
                format!("✓ ctrl-s creates it with {selected} node(s)"),
                theme.ok(),
            ),
        };
        frame.render_widget(Paragraph::new(status), e);
        let mut lines = vec![Line::from(Span::styled(
            format!("Would select {selected} node(s):"),
            theme.header(),
        ))];
        for st in &self.preview {
            let (mark, style) = match st.selection_status {
                SelectionStatus::Succeeded => ("✓", theme.ok()),
                SelectionStatus::Failed => ("✗", theme.error()),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {mark} {:<20}", st.node_name), style),
                Span::raw(format!("{:?}  ", st.ready_status)),
                Span::styled(st.selection_status_reason.clone(), theme.muted()),
            ]));
        }
        frame.render_widget(Paragraph::new(lines).style(theme.base()), p);
    }
}
