//! Writes and their outcomes: the read-only funnel, the queue of edits
//! made while a write is in flight, 409 handling, and keeping an open edit
//! based on what the server holds now.

use super::*;

impl App {
    pub(super) fn on_write_result(&mut self, outcome: WriteOutcome) -> Vec<Effect> {
        match outcome {
            WriteOutcome::Log(chunk) => self.on_log(chunk),
            WriteOutcome::Ok { what, written } => {
                self.pending = None;
                self.status_retries = 0;
                self.saving_from = None;
                self.external = None;
                self.info(format!("✓ {what}"));
                return self.send_queued(written.map(|w| *w));
            }
            WriteOutcome::Failed { error } => {
                let failed = self.pending.take();
                self.status_retries = 0;
                let dropped = self.drop_queued_for(failed.as_ref());
                if let Some(reopen) = self.external_write_failed(&error) {
                    return reopen;
                }
                let message = match self.saving_from.take() {
                    // Only when nothing else took the keyboard meanwhile.
                    Some(editor) if matches!(self.mode, Mode::Normal) => {
                        self.mode = *editor;
                        format!(
                            "✗ write failed: {error}{dropped}; your edit is still open (ctrl-s to try again)"
                        )
                    }
                    _ => format!("✗ write failed: {error}{dropped}"),
                };
                // Other applications of a bulk edit are independent of this one.
                let others = self.send_queued(None);
                self.error(message);
                return others;
            }
            WriteOutcome::Done { message } => self.info(format!("✓ {message}")),
            WriteOutcome::Error { message } => self.error(format!("✗ {message}")),
            WriteOutcome::Conflict { current } => match self.pending.take() {
                // Only status or metadata moved (the engine reports progress
                // as replicas become ready): the same edit on the new
                // resourceVersion is exactly the change that was previewed,
                // so write it again rather than ask.
                Some(pending)
                    if pending.base.spec == current.spec
                        && self.status_retries < STATUS_RETRIES =>
                {
                    self.status_retries += 1;
                    return self.save(*current, pending.edit);
                }
                Some(pending) => {
                    self.status_retries = 0;
                    // Queued edits of this object were meant for the object
                    // this one would have made; the user decides anew on
                    // what is there now. Other objects' edits still go.
                    let dropped = self.drop_queued_for(Some(&pending));
                    // The conflict view carries the edit from here on.
                    self.saving_from = None;
                    self.external = None;
                    self.mode = Mode::Conflict(Box::new(ConflictView::new(pending, *current)));
                    let others = self.send_queued(None);
                    self.flash = Some(Flash::Error(format!(
                        "✗ 409 Conflict: the object changed meanwhile{dropped}"
                    )));
                    self.flash_at = self.now;
                    return others;
                }
                None => self.error("✗ conflict on a write that is no longer pending"),
            },
        }
        Vec::new()
    }

    /// Every write leaves through here: nothing is written in read-only mode.
    pub(super) fn write(&mut self, effect: Effect) -> Vec<Effect> {
        if self.readonly && effect.writes() {
            self.error("⊘ read-only: writes are disabled");
            return Vec::new();
        }
        vec![effect]
    }

    /// Keeps an open editor or preview based on the object the server
    /// holds now. A change of status or metadata only moves the base along
    /// (so the save does not 409 on the engine's own status writes); a
    /// change of spec does too, and says so: the preview then shows the
    /// edit on the current object, their change included.
    pub(super) fn rebase_open_edit(&mut self) {
        let base = match &self.mode {
            Mode::Form(form) => &form.base,
            Mode::YamlEdit(editor) => &editor.base,
            Mode::Diff { preview, .. } => &preview.pending.base,
            _ => return,
        };
        let (namespace, name) = (&base.metadata.namespace, &base.metadata.name);
        let Some(current) = self
            .fleet
            .applications
            .iter()
            .find(|a| a.metadata.namespace == *namespace && a.metadata.name == *name)
        else {
            let name = name.clone().unwrap_or_default();
            self.error(format!(
                "✗ {name} was deleted on the server while you edit it"
            ));
            return;
        };
        if current.metadata.resource_version == base.metadata.resource_version {
            return;
        }
        let spec_moved = current.spec != base.spec;
        let words = format!(
            "⚠ {} changed on the server while you edit it (resourceVersion {} → {}): your edit now applies to the current object",
            name.as_deref().unwrap_or_default(),
            base.metadata.resource_version.as_deref().unwrap_or("?"),
            current.metadata.resource_version.as_deref().unwrap_or("?"),
        );
        let current = current.clone();
        match &mut self.mode {
            Mode::Form(form) => form.rebase(current),
            Mode::YamlEdit(editor) => editor.base = current,
            Mode::Diff { preview, .. } => {
                let edit = preview.pending.edit.clone();
                match DiffPreview::new(current, edit) {
                    Ok(mut rebased) => {
                        // A bulk preview keeps the others; each is sent on
                        // what the fleet holds when its turn comes.
                        let also = std::mem::take(&mut preview.also);
                        rebased.also_with(also, &[]);
                        **preview = rebased
                    }
                    Err(e) => {
                        self.error(format!("✗ your edit no longer applies: {e}"));
                        return;
                    }
                }
            }
            _ => return,
        }
        if spec_moved {
            self.error(words);
        }
    }

    /// Why a write cannot be sent now, if it cannot.
    pub(super) fn not_connected(&self) -> Option<String> {
        match &self.fleet.connection {
            ConnectionState::Connected | ConnectionState::Partial { .. } => None,
            ConnectionState::Connecting { step } => Some(format!("still connecting ({step})")),
            ConnectionState::Reconnecting { error, .. } => {
                Some(format!("the cluster is unreachable ({error})"))
            }
            ConnectionState::Stale => Some("the connection is stale".into()),
        }
    }

    pub(super) fn refuse_readonly(&mut self) -> bool {
        if self.readonly {
            self.error("⊘ read-only: editing is disabled (started with --readonly)");
        }
        self.readonly
    }

    /// The next queued edits of one application, as one write based on
    /// `written` when it is that application (else on what the fleet holds).
    pub(super) fn send_queued(&mut self, written: Option<EdgeApplication>) -> Vec<Effect> {
        let Some(first) = self.queued.pop_front() else {
            return Vec::new();
        };
        let mut edit = first.edit;
        while self.queued.front().is_some_and(|q| q.app == first.app) {
            if let Some(next) = self.queued.pop_front() {
                edit = edit.then(next.edit);
            }
        }
        let (namespace, name) = &first.app;
        let is_it = |a: &EdgeApplication| {
            a.metadata.namespace == *namespace && a.metadata.name.as_deref() == Some(name)
        };
        let base = written
            .filter(is_it)
            .or_else(|| self.fleet.applications.iter().find(|a| is_it(a)).cloned());
        match base {
            Some(base) => self.save(base, edit),
            None => {
                self.error(format!("✗ {} not sent: {name} is gone", edit.describe()));
                self.send_queued(None)
            }
        }
    }

    /// Forgets the queued edits of the object `pending` wrote (all of them
    /// when it is not known); the words to add to the message saying why.
    pub(super) fn drop_queued_for(&mut self, pending: Option<&PendingWrite>) -> String {
        let n = self.queued.len();
        match pending {
            Some(p) => {
                let app = (
                    p.base.metadata.namespace.clone(),
                    p.base.metadata.name.clone().unwrap_or_default(),
                );
                self.queued.retain(|q| q.app != app);
            }
            None => self.queued.clear(),
        }
        let n = n - self.queued.len();
        if n == 0 {
            String::new()
        } else {
            format!("; {n} queued edit(s) not sent")
        }
    }

    /// Applies `edit` to `base` and writes it without a preview (scaling);
    /// queued while another write is in flight.
    pub(super) fn save(&mut self, base: EdgeApplication, edit: EditKind) -> Vec<Effect> {
        if self.pending.is_some() {
            let app = (
                base.metadata.namespace.clone(),
                base.metadata.name.clone().unwrap_or_default(),
            );
            self.info(format!(
                "queued {} (sent when the write in flight returns)",
                edit.describe()
            ));
            self.queued.push_back(QueuedEdit { app, edit });
            return Vec::new();
        }
        match edits::apply_edit(&base, &edit) {
            Ok(candidate) => self.save_candidate(PendingWrite { base, edit }, &candidate),
            Err(e) => {
                self.error(format!("✗ {e}"));
                Vec::new()
            }
        }
    }

    pub(super) fn save_candidate(
        &mut self,
        pending: PendingWrite,
        candidate: &EdgeApplication,
    ) -> Vec<Effect> {
        match edits::patch_effect(&pending.base, candidate) {
            Ok(effect) => {
                let effects = self.write(effect);
                if !effects.is_empty() {
                    self.info(format!("saving {}…", pending.edit.describe()));
                    self.pending = Some(pending);
                }
                effects
            }
            Err(e) => {
                self.error(format!("✗ {e}"));
                Vec::new()
            }
        }
    }
}
