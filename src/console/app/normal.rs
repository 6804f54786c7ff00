//! Actions on the views: navigation, drilling in, what is selected, and
//! the keys that start an edit, a delete or a simulator change.

use super::*;

impl App {
    pub(super) fn normal(&mut self, action: Action) -> Vec<Effect> {
        if let Some(effects) = self.pods_and_logs(&action) {
            return effects;
        }
        let is_text = self.is_text_view();
        match action {
            Action::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            Action::Back => {
                if !self.marks.is_empty() {
                    let n = self.marks.len();
                    self.marks.clear();
                    self.info(format!("{n} mark(s) cleared"));
                } else if self.stack.len() > 1 {
                    self.flash = None;
                    self.stack.pop();
                    self.refresh_top();
                } else if !self.screen().table.filter.is_empty() {
                    self.screen_mut().table.filter.clear();
                    self.refresh_top();
                } else {
                    self.dirty = false;
                }
            }
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => {
                let screen = self.screen_mut();
                let page = screen.table.page_size();
                let delta = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -page,
                    Action::PageDown => page,
                    Action::Top => i64::MIN / 2,
                    _ => i64::MAX / 2,
                };
                if is_text {
                    // n/N go on from what is in view after a scroll.
                    screen.text.current.set(None);
                    let max = screen.text.max_scroll();
                    let height = screen.text.extent.get().1.max(1);
                    let now = screen.scroll.min(max);
                    screen.scroll = match action {
                        Action::Up => now.saturating_sub(1),
                        Action::Down => (now + 1).min(max),
                        Action::PageUp => now.saturating_sub(height),
                        Action::PageDown => (now + height).min(max),
                        Action::Top => 0,
                        _ => max,
                    };
                } else if !screen.table.move_by(delta) {
                    self.dirty = false;
                }
            }
            Action::Left | Action::Right => {
                let groups = self.derived.groups.len();
                let screen = self.screen_mut();
                screen.column = match action {
                    Action::Left => screen.column.saturating_sub(1),
                    _ => (screen.column + 1).min(groups.saturating_sub(1)),
                };
            }
            Action::StartFilter => self.mode = Mode::Filter,
            Action::NextMatch | Action::PrevMatch => {
                let back = matches!(action, Action::PrevMatch);
                let screen = self.screen_mut();
                let (total, _) = screen.text.extent.get();
                // From the match last gone to (it may sit below the top on
                // the last page), else from the top line shown.
                let here = screen
                    .text
                    .current
                    .get()
                    .unwrap_or_else(|| screen.scroll.min(screen.text.max_scroll()));
                let from = if back {
                    here.checked_sub(1).unwrap_or(total.saturating_sub(1))
                } else {
                    here + 1
                };
                match screen
                    .text
                    .find(&screen.table.filter, from % total.max(1), back)
                {
                    // The match on the top line; the last page stays full.
                    Some(line) => {
                        screen.text.current.set(Some(line));
                        screen.scroll = line.min(screen.text.max_scroll());
                    }
                    None if screen.table.filter.is_empty() => self.info("/ to search first"),
                    None => {
                        let needle = screen.table.filter.clone();
                        self.info(format!("no line contains {needle:?}"));
                    }
                }
            }
            Action::StartCommand => {
                self.mode = Mode::Command {
                    input: String::new(),
                }
            }
            Action::Help => self.push(View::Help),
            Action::SortNext => {
                let ctx = self.ctx();
                let cols =
                    views::source(&self.screen().view, &ctx).map_or(0, |s| s.columns().len());
                self.screen_mut().table.sort_next(cols);
                self.refresh_top();
            }
            Action::SortReverse => {
                self.screen_mut().table.sort_reverse();
                self.refresh_top();
            }
            Action::Enter => {
                if let Some(view) = self.drill_in() {
                    self.push(view);
                } else {
                    self.dirty = false;
                }
            }
            Action::Yaml | Action::Describe => match self.selected_ref() {
                Some(r) => self.push(if matches!(action, Action::Yaml) {
                    View::Yaml(r)
                } else {
                    View::Describe(r)
                }),
                None => self.info("nothing selected"),
            },
            Action::Goto(kind) => self.goto(kind),
            Action::SetTheme(name) => match self.themes.get(&name) {
                Some(t) => {
                    self.theme = t.clone();
                    self.info(format!("theme {name}"));
                }
                None => self.error(format!(
                    "unknown theme {name:?} (known: {})",
                    self.themes.names().join(", ")
                )),
            },
            Action::SetContext(Some(ctx)) => {
                self.info(format!("switching to context {ctx}…"));
                return vec![Effect::SwitchContext(ctx)];
            }
            Action::SetContext(None) => {
                let msg = format!(
                    "context {} (known: {})",
                    self.fleet.context,
                    self.contexts.join(", ")
                );
                self.info(msg);
            }
            Action::SetNamespace(ns) => {
                self.info(format!("namespace {}", ns.as_deref().unwrap_or("all")));
                return vec![Effect::SwitchNamespace(ns)];
            }
            Action::Edit => return self.start_edit(),
            Action::EditYaml => {
                if let (false, Some(editor)) = (self.readonly, self.external_editor.clone()) {
                    return self.open_external(editor);
                }
                if !self.refuse_readonly() {
                    match self.selected_app_object() {
                        Some(app) => self.mode = Mode::YamlEdit(Box::new(YamlEditor::new(app))),
                        None => self.info("select an application first"),
                    }
                }
            }
            Action::ToggleMark => self.toggle_mark(),
            Action::ScaleUp | Action::ScaleDown | Action::AddTarget | Action::RemoveTarget
                if !self.marks.is_empty() =>
            {
                return self.bulk(match action {
                    Action::ScaleUp => bulk::BulkOp::Scale(1),
                    Action::ScaleDown => bulk::BulkOp::Scale(-1),
                    Action::AddTarget => bulk::BulkOp::AddTarget,
                    _ => bulk::BulkOp::RemoveTarget,
                });
            }
            Action::ScaleUp | Action::ScaleDown => {
                if self.refuse_readonly() {
                    return Vec::new();
                }
                let delta = if matches!(action, Action::ScaleUp) {
                    1
                } else {
                    -1
                };
                let (Some(app), Some(group)) = (self.selected_app_object(), self.selected_group())
                else {
                    self.info("select an application and a group");
                    return Vec::new();
                };
                if !app
                    .spec
                    .workload_scope
                    .target_node_groups
                    .iter()
                    .any(|t| t.name == group)
                {
                    self.info(format!("{group} is not a target; press a to add it"));
                    return Vec::new();
                }
                return self.save(app, EditKind::Scale { group, delta });
            }
            Action::AddTarget | Action::RemoveTarget => {
                if self.refuse_readonly() {
                    return Vec::new();
                }
                let (Some(app), Some(group)) = (self.selected_app_object(), self.selected_group())
                else {
                    self.info("select an application and a group");
                    return Vec::new();
                };
                let edit = if matches!(action, Action::AddTarget) {
                    EditKind::AddTarget(group)
                } else {
                    EditKind::RemoveTarget(group)
                };
                self.preview(app, edit, None);
            }
            Action::ToggleOffline => return self.toggle_offline(),
            Action::ToggleRegionOffline => return self.toggle_region_offline(),
            Action::Delete => return self.ask_delete(),
            Action::NewGroup => {
                if !self.refuse_readonly() {
                    let mut form = NewGroupForm::new();
                    form.refresh(&self.fleet.nodes, &self.fleet.node_groups);
                    self.mode = Mode::NewGroup(Box::new(form));
                }
            }
            _ => self.dirty = false,
        }
        Vec::new()
    }

    pub(super) fn start_edit(&mut self) -> Vec<Effect> {
        if self.refuse_readonly() {
            return Vec::new();
        }
        let Some(app) = self.selected_app_object() else {
            self.info("select an application first");
            return Vec::new();
        };
        let group = match self.screen().view {
            View::Apps => app
                .spec
                .workload_scope
                .target_node_groups
                .first()
                .map(|t| t.name.clone()),
            _ => self.selected_group(),
        };
        match group {
            Some(g)
                if app
                    .spec
                    .workload_scope
                    .target_node_groups
                    .iter()
                    .any(|t| t.name == g) =>
            {
                self.mode = Mode::Form(Box::new(OverrideForm::new(app, g)));
            }
            Some(g) => self.info(format!(
                "{g} is not a target of this application; press a to add it"
            )),
            None => self.info("this application has no target group"),
        }
        Vec::new()
    }

    /// `o`: the node under the cursor goes offline (or back online).
    /// `ctrl-d`: asks before deleting the selected EdgeApplication or NodeGroup.
    pub(super) fn ask_delete(&mut self) -> Vec<Effect> {
        if self.refuse_readonly() {
            return Vec::new();
        }
        let found = match self.selected_ref() {
            Some(ObjRef::App { namespace, name }) => self
                .fleet
                .applications
                .iter()
                .find(|a| {
                    a.metadata.namespace.as_deref() == Some(&namespace)
                        && a.metadata.name.as_deref() == Some(&name)
                })
                .map(|a| {
                    (
                        ObjectKey::new(API_VERSION, "EdgeApplication", Some(&namespace), name),
                        a.metadata.resource_version.clone(),
                    )
                }),
            Some(ObjRef::NodeGroup(name)) => self
                .fleet
                .node_groups
                .iter()
                .find(|g| g.metadata.name.as_deref() == Some(&name))
                .map(|g| {
                    (
                        ObjectKey::new(API_VERSION, "NodeGroup", None, name),
                        g.metadata.resource_version.clone(),
                    )
                }),
            Some(ObjRef::Pod { namespace, name }) => self.pod_to_delete(&namespace, &name),
            _ => None,
        };
        match found {
            Some((key, Some(resource_version))) => {
                self.mode = Mode::ConfirmDelete {
                    key,
                    resource_version,
                };
                self.dirty = true;
            }
            Some((key, None)) => {
                self.error(format!("{key} has no resourceVersion; not deleting blind"))
            }
            None => self.info("select an EdgeApplication, a NodeGroup or a pod to delete"),
        }
        Vec::new()
    }

    pub(super) fn toggle_offline(&mut self) -> Vec<Effect> {
        if !self.controls {
            self.dirty = false;
            return Vec::new();
        }
        let node = match self.selected_ref() {
            Some(ObjRef::Node(n)) => n,
            _ => {
                self.info("select a node first");
                return Vec::new();
            }
        };
        let offline = !self.fleet.offline.contains(&node);
        self.info(format!(
            "{} {node}…",
            if offline {
                "taking offline"
            } else {
                "bringing online"
            }
        ));
        self.write(Effect::SetOffline {
            nodes: vec![node],
            offline,
        })
    }

    /// `O`: every node of the region under the cursor goes offline; if all
    /// already are, they come back online.
    pub(super) fn toggle_region_offline(&mut self) -> Vec<Effect> {
        if !self.controls {
            self.dirty = false;
            return Vec::new();
        }
        let selected = {
            let ctx = self.ctx();
            let src = views::regions::RegionsTable::new(&ctx);
            self.screen()
                .table
                .selected_row()
                .and_then(|r| src.group(r))
                .map(|group| {
                    let nodes: Vec<String> = group
                        .members
                        .iter()
                        .filter_map(|&i| self.derived.nodes.get(i).map(|n| n.name.clone()))
                        .collect();
                    (group.name.clone(), nodes)
                })
        };
        let Some((name, nodes)) = selected else {
            self.info("select a region first");
            return Vec::new();
        };
        if nodes.is_empty() {
            self.info(format!("{name} has no nodes"));
            return Vec::new();
        }
        let offline = !nodes.iter().all(|n| self.fleet.offline.contains(n));
        self.info(format!(
            "{} {} node(s) of {name}…",
            if offline {
                "taking offline"
            } else {
                "bringing online"
            },
            nodes.len()
        ));
        self.write(Effect::SetOffline { nodes, offline })
    }

    pub(super) fn drill_in(&self) -> Option<View> {
        let ctx = self.ctx();
        let screen = self.screen();
        let row = screen.table.selected_row()?;
        match &screen.view {
            View::Regions => {
                let src = views::regions::RegionsTable::new(&ctx);
                src.group(row).map(|g| View::Group(g.name.clone()))
            }
            View::Apps | View::Matrix => self.derived.apps.get(row).map(|a| View::AppDetail {
                namespace: a.namespace.clone(),
                name: a.name.clone(),
            }),
            View::AppDetail { namespace, name } => {
                let t = views::app_detail::TargetsTable::new(&ctx, namespace, name);
                t.group_name(row).map(|g| View::Group(g.to_owned()))
            }
            View::Group(_) | View::Nodes | View::Traffic | View::Pods(_) | View::Events => {
                self.selected_ref().map(View::Describe)
            }
            _ => None,
        }
    }

    /// The object under the cursor, for `y` and `d`.
    pub fn selected_ref(&self) -> Option<ObjRef> {
        let ctx = self.ctx();
        let screen = self.screen();
        let row = screen.table.selected_row();
        match &screen.view {
            View::Regions => {
                let src = views::regions::RegionsTable::new(&ctx);
                let g = src.group(row?)?;
                (g.name != UNGROUPED).then(|| ObjRef::NodeGroup(g.name.clone()))
            }
            View::Group(g) => {
                let src = views::group::NodesTable::new(&ctx, g);
                match src.node_name(row?) {
                    Some(n) => Some(ObjRef::Node(n.to_owned())),
                    None if g != UNGROUPED => Some(ObjRef::NodeGroup(g.clone())),
                    None => None,
                }
            }
            View::Nodes => self
                .derived
                .nodes
                .get(row?)
                .map(|n| ObjRef::Node(n.name.clone())),
            View::Apps | View::Matrix => self.derived.apps.get(row?).map(|a| ObjRef::App {
                namespace: a.namespace.clone(),
                name: a.name.clone(),
            }),
            View::AppDetail { namespace, name } => Some(ObjRef::App {
                namespace: namespace.clone(),
                name: name.clone(),
            }),
            View::Traffic => {
                let src = views::traffic::TrafficTable::new(&ctx);
                src.service(row?).map(|s| ObjRef::Service {
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                })
            }
            View::Pods(_) => self.selected_pod().map(|p| ObjRef::Pod {
                namespace: p.namespace,
                name: p.name,
            }),
            View::Events => self.selected_event_object(),
            _ => None,
        }
    }

    /// The EdgeApplication under the cursor (Apps, Matrix, AppDetail).
    pub fn selected_app_object(&self) -> Option<EdgeApplication> {
        let info = match &self.screen().view {
            View::Apps | View::Matrix => self.derived.apps.get(self.screen().table.selected_row()?),
            View::AppDetail { namespace, name } => self.derived.app(namespace, name),
            _ => None,
        }?;
        self.fleet.applications.get(info.object).cloned()
    }

    /// The group under the cursor (Matrix column, AppDetail target row).
    pub fn selected_group(&self) -> Option<String> {
        let screen = self.screen();
        match &screen.view {
            View::Matrix => self
                .derived
                .groups
                .get(screen.column)
                .map(|g| g.name.clone()),
            View::AppDetail { namespace, name } => {
                let ctx = self.ctx();
                let t = views::app_detail::TargetsTable::new(&ctx, namespace, name);
                t.group_name(screen.table.selected_row()?)
                    .map(str::to_owned)
            }
            _ => None,
        }
    }

    pub(super) fn is_text_view(&self) -> bool {
        self.screen().view.is_text()
    }
}
