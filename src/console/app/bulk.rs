//! Bulk edits: `space` marks matrix cells (application × group) or an
//! application's target rows; `+`/`-`, `a`/`x` then apply to every mark,
//! and so does the override form (`e`) opened on a marked cell: the fields
//! changed there (replicas, image, …) are set in every marked cell, the
//! others keep theirs. One diff preview lists every application that
//! changes, and there is one conflict-safe save per EdgeApplication.
//!
//! Why this shape: each application is one object with one resourceVersion,
//! so the edits of its marks are folded into one edit (an [`EditKind::Steps`])
//! and one patch. The applications go out one after another through the
//! write queue ([`super::writes`]), each on the object the fleet holds when it
//! is sent; a 409 or a failure on one stops only that one (its conflict view
//! opens), the others are still sent. Marks are identities, not row numbers,
//! so they survive live updates, and go when their application or group does.

use std::collections::BTreeSet;

use super::*;

/// One marked cell: an application and one of the groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark {
    pub namespace: String,
    pub name: String,
    pub group: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Marks {
    set: BTreeSet<Mark>,
}

impl Marks {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn contains(&self, namespace: &str, name: &str, group: &str) -> bool {
        self.set
            .iter()
            .any(|m| m.namespace == namespace && m.name == name && m.group == group)
    }

    /// Whether any cell of this application is marked.
    pub fn any_of(&self, namespace: &str, name: &str) -> bool {
        self.set
            .iter()
            .any(|m| m.namespace == namespace && m.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Mark> {
        self.set.iter()
    }

    /// Marks it, or unmarks it when it was; whether it is marked now.
    pub fn toggle(&mut self, mark: Mark) -> bool {
        if self.set.remove(&mark) {
            false
        } else {
            self.set.insert(mark);
            true
        }
    }

    pub fn clear(&mut self) {
        self.set.clear();
    }

    /// Marks all of `marks`, or unmarks them all when every one already was;
    /// whether they are marked now.
    pub fn toggle_all(&mut self, marks: Vec<Mark>) -> bool {
        if marks.iter().all(|m| self.set.contains(m)) {
            for m in &marks {
                self.set.remove(m);
            }
            false
        } else {
            self.set.extend(marks);
            true
        }
    }

    /// Drops the marks whose application or group is gone.
    pub fn retain_existing(&mut self, derived: &Derived) {
        self.set.retain(|m| {
            derived.app(&m.namespace, &m.name).is_some()
                && derived.groups.iter().any(|g| g.name == m.group)
        });
    }
}

/// What a bulk key does to each marked cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum BulkOp {
    Scale(i32),
    AddTarget,
    RemoveTarget,
}

impl App {
    /// `space`: the cell under the cursor in the matrix, the target row in
    /// an application's detail, every target of the application row in the
    /// applications view.
    pub(super) fn toggle_mark(&mut self) {
        if matches!(self.screen().view, View::Apps) {
            let Some(app) = self.selected_app_object() else {
                return self.info("select an application first");
            };
            let (namespace, name) = (
                app.metadata.namespace.clone().unwrap_or_default(),
                app.metadata.name.clone().unwrap_or_default(),
            );
            let marks: Vec<Mark> = app
                .spec
                .workload_scope
                .target_node_groups
                .iter()
                .map(|t| Mark {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    group: t.name.clone(),
                })
                .collect();
            if marks.is_empty() {
                return self.info(format!("{name} has no target group to mark"));
            }
            let on = self.marks.toggle_all(marks);
            let n = self.marks.len();
            return self.info(format!(
                "{} every target of {namespace}/{name} · {n} marked (+ - x apply to all · esc clears)",
                if on { "marked" } else { "unmarked" }
            ));
        }
        let mark = match (&self.screen().view, self.selected_group()) {
            (View::Matrix | View::AppDetail { .. }, Some(group)) => {
                self.selected_app_object().map(|app| Mark {
                    namespace: app.metadata.namespace.clone().unwrap_or_default(),
                    name: app.metadata.name.clone().unwrap_or_default(),
                    group,
                })
            }
            _ => None,
        };
        match mark {
            Some(mark) => {
                let what = format!("{}/{} × {}", mark.namespace, mark.name, mark.group);
                let on = self.marks.toggle(mark);
                let n = self.marks.len();
                self.info(format!(
                    "{} {what} · {n} marked (+ - a x apply to all · esc clears)",
                    if on { "marked" } else { "unmarked" }
                ));
            }
            None => self.info("space marks matrix cells and an application's target rows"),
        }
    }

    /// `+`/`-`/`a`/`x` with marks: one preview of every application that
    /// changes (nothing is written before `y`).
    pub(super) fn bulk(&mut self, op: BulkOp) -> Vec<Effect> {
        if self.refuse_readonly() {
            return Vec::new();
        }
        let mut per_app: Vec<(EdgeApplication, Vec<EditKind>)> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        for m in self.marks.iter() {
            let Some(app) = self.fleet.applications.iter().find(|a| {
                a.metadata.namespace.as_deref() == Some(&m.namespace)
                    && a.metadata.name.as_deref() == Some(&m.name)
            }) else {
                continue;
            };
            let targeted = app
                .spec
                .workload_scope
                .target_node_groups
                .iter()
                .any(|t| t.name == m.group);
            let edit = match op {
                BulkOp::Scale(delta) if targeted => EditKind::Scale {
                    group: m.group.clone(),
                    delta,
                },
                BulkOp::AddTarget if !targeted => EditKind::AddTarget(m.group.clone()),
                BulkOp::RemoveTarget if targeted => EditKind::RemoveTarget(m.group.clone()),
                _ => {
                    skipped.push(format!("{}×{}", m.name, m.group));
                    continue;
                }
            };
            match per_app.iter_mut().find(|(a, _)| a.metadata == app.metadata) {
                Some((_, edits)) => edits.push(edit),
                None => per_app.push((app.clone(), vec![edit])),
            }
        }
        if per_app.is_empty() {
            self.info(format!(
                "no marked cell would change ({} skipped: not a target, or already one)",
                skipped.len()
            ));
            return Vec::new();
        }
        self.preview_bulk(per_app, &skipped, None);
        Vec::new()
    }

    /// Whether the override form is on a marked cell, with others marked.
    pub(super) fn is_bulk_form(&self, form: &OverrideForm) -> bool {
        let ns = form.base.metadata.namespace.as_deref().unwrap_or_default();
        let name = form.base.metadata.name.as_deref().unwrap_or_default();
        self.marks.len() > 1 && self.marks.contains(ns, name, &form.group)
    }

    /// The form's changed fields, set in every marked cell that is a target.
    pub(super) fn bulk_form(&mut self, form: Box<OverrideForm>, edit: EditKind) {
        let EditKind::Overriders { overriders, .. } = &edit else {
            return;
        };
        let old_of = |app: &EdgeApplication, group: &str| {
            app.spec
                .workload_scope
                .target_node_groups
                .iter()
                .find(|t| t.name == group)
                .map(|t| t.overriders.clone())
        };
        let to_map = |o: &crate::api::Overriders| match serde_json::to_value(o) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let before = to_map(&old_of(&form.base, &form.group).unwrap_or_default());
        let after = to_map(overriders);
        let changed: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        let mut per_app: Vec<(EdgeApplication, Vec<EditKind>)> = Vec::new();
        let mut skipped = Vec::new();
        for m in self.marks.iter() {
            let app = self.fleet.applications.iter().find(|a| {
                a.metadata.namespace.as_deref() == Some(&m.namespace)
                    && a.metadata.name.as_deref() == Some(&m.name)
            });
            let Some((app, old)) = app.and_then(|a| old_of(a, &m.group).map(|o| (a, o))) else {
                skipped.push(format!("{}×{}", m.name, m.group));
                continue;
            };
            let mut cell = to_map(&old);
            for k in &changed {
                match after.get(*k) {
                    Some(v) => cell.insert((*k).clone(), v.clone()),
                    None => cell.remove(*k),
                };
            }
            let Ok(new) = serde_json::from_value(serde_json::Value::Object(cell)) else {
                continue;
            };
            let edit = EditKind::Overriders {
                group: m.group.clone(),
                overriders: new,
            };
            match per_app.iter_mut().find(|(a, _)| a.metadata == app.metadata) {
                Some((_, edits)) => edits.push(edit),
                None => per_app.push((app.clone(), vec![edit])),
            }
        }
        self.preview_bulk(per_app, &skipped, Some(Box::new(Mode::Form(form))));
    }

    /// One preview of every application's edits; the first is saved first.
    fn preview_bulk(
        &mut self,
        per_app: Vec<(EdgeApplication, Vec<EditKind>)>,
        skipped: &[String],
        back: Option<Box<Mode>>,
    ) {
        let mut previews = Vec::new();
        for (app, mut edits) in per_app {
            let edit = if edits.len() == 1 {
                edits.remove(0)
            } else {
                EditKind::Steps(edits)
            };
            match DiffPreview::new(app, edit) {
                Ok(p) => previews.push(p),
                Err(e) => {
                    self.error(format!("✗ {e}"));
                    self.mode = back.map_or(Mode::Normal, |b| *b);
                    return;
                }
            }
        }
        if previews.is_empty() {
            self.info("no marked cell would change");
            self.mode = back.map_or(Mode::Normal, |b| *b);
            return;
        }
        let mut first = previews.remove(0);
        first.also_with(previews, skipped);
        self.mode = Mode::Diff {
            preview: Box::new(first),
            back,
        };
    }

    /// After the first application's save went out: the others, queued.
    pub(super) fn queue_also(&mut self, also: Vec<DiffPreview>) -> Vec<Effect> {
        let mut effects = Vec::new();
        for p in also {
            effects.extend(self.save(p.pending.base, p.pending.edit));
        }
        if !self.queued.is_empty() {
            self.info(format!(
                "saving {} application(s), one after another…",
                self.queued.len() + 1
            ));
        }
        effects
    }
}
