//! `E` with `$KUBE_EDITOR` or `$EDITOR` set: the EdgeApplication goes to
//! that editor as `kubectl edit` sends it, and comes back here to be
//! checked ([`crate::console::edit::validate`]), previewed and saved with
//! the resourceVersion precondition it was read at.
//!
//! The App only asks ([`Effect::EditExternally`]) and answers
//! ([`Action::ExternalEdited`]); suspending the terminal and running the
//! editor is the live loop's ([`crate::console::live::editor`]).
//!
//! - The file opens with `#` lines saying what is saved; every line that
//!   starts with `#` is left out before the text is compared or parsed.
//! - Nothing changed, or an empty file: "Edit cancelled, no changes made",
//!   nothing written.
//! - Refused (syntax, schema, a field the server would drop), or the save
//!   failed: the editor opens again on the operator's own text, with the
//!   reasons as `#` lines at the top, as kubectl does; closing it unchanged
//!   gives up.
//! - A 409 goes to the conflict view like every other edit.

use super::*;
use crate::console::edit::validate;
use crate::console::edit::yaml_editor::editable_yaml;

/// An edit handed to the external editor.
pub(super) struct ExternalEdit {
    /// The object as it was read: the base of the save (its resourceVersion).
    base: EdgeApplication,
    /// The YAML it was opened with, without `#` lines.
    original: String,
    /// What was last handed to the editor, without `#` lines: reopened
    /// unchanged after an error means the operator gave up.
    last: String,
}

/// The text without its `#` lines (the header, the reasons, the operator's own comments).
fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn header(base: &EdgeApplication, errors: &[String]) -> String {
    let mut out = String::new();
    if !errors.is_empty() {
        out.push_str("# edgedeck did not save this edit:\n");
        for e in errors {
            for line in e.lines() {
                out.push_str(&format!("#   ✗ {line}\n"));
            }
        }
        out.push_str("#\n");
    }
    out.push_str(&format!(
        "# Editing EdgeApplication {}/{} at resourceVersion {}. Only spec is saved,\n\
         # after a diff preview. Lines starting with # are left out; save the file\n\
         # unchanged (or empty it) to cancel.\n",
        base.metadata.namespace.as_deref().unwrap_or("default"),
        base.metadata.name.as_deref().unwrap_or("?"),
        base.metadata.resource_version.as_deref().unwrap_or("?"),
    ));
    out
}

impl App {
    /// `E` when an external editor is set: opens the selected application there.
    pub(super) fn open_external(&mut self, editor: String) -> Vec<Effect> {
        let Some(app) = self.selected_app_object() else {
            self.info("select an application first");
            return Vec::new();
        };
        let body = editable_yaml(&app);
        let text = format!("{}{body}", header(&app, &[]));
        let stripped = without_comments(&body);
        self.external = Some(ExternalEdit {
            base: app,
            original: stripped.clone(),
            last: stripped,
        });
        self.info(format!("editing in {editor}…"));
        vec![Effect::EditExternally { editor, text }]
    }

    /// The editor returned.
    pub(super) fn on_external_edited(&mut self, result: Result<String, String>) -> Vec<Effect> {
        let Some(edit) = self.external.take() else {
            return Vec::new();
        };
        let text = match result {
            Ok(text) => text,
            Err(e) => {
                self.error(format!("✗ editor: {e}; nothing saved"));
                return Vec::new();
            }
        };
        let body = without_comments(&text);
        if body.is_empty() || body == edit.original {
            self.info("Edit cancelled, no changes made");
            return Vec::new();
        }
        if body == edit.last && edit.last != edit.original {
            // Reopened with the reasons and closed as it was: given up.
            self.info("Edit cancelled, the refused edit was not saved");
            return Vec::new();
        }
        let checked = validate::check(&body);
        let Some(app) = checked.app else {
            return self.reopen_external(edit, &body, &checked.errors);
        };
        let spec = EditKind::Spec(Box::new(app.spec));
        match DiffPreview::new(edit.base.clone(), spec) {
            Ok(preview) if !preview.changes => {
                self.info("Edit cancelled: spec unchanged (only spec is saved)");
                Vec::new()
            }
            Ok(preview) => {
                if let Some(w) = checked.warnings.first() {
                    self.error(format!("⚠ {w}"));
                }
                self.external = Some(ExternalEdit { last: body, ..edit });
                self.mode = Mode::Diff {
                    preview: Box::new(preview),
                    back: None,
                };
                Vec::new()
            }
            Err(e) => self.reopen_external(edit, &body, &[e]),
        }
    }

    /// The operator's text again, with why it was not saved on top.
    fn reopen_external(
        &mut self,
        edit: ExternalEdit,
        body: &str,
        errors: &[String],
    ) -> Vec<Effect> {
        let Some(editor) = self.external_editor.clone() else {
            return Vec::new();
        };
        let text = format!("{}{body}\n", header(&edit.base, errors));
        self.error(format!(
            "✗ not saved: {}; reopened in {editor}",
            errors.first().map(String::as_str).unwrap_or("refused")
        ));
        self.external = Some(ExternalEdit {
            last: body.to_owned(),
            ..edit
        });
        vec![Effect::EditExternally { editor, text }]
    }

    /// A save from the external editor failed (not a 409): reopen it with
    /// the server's words. `None` when the failed save was not one.
    pub(super) fn external_write_failed(&mut self, error: &str) -> Option<Vec<Effect>> {
        let edit = self.external.take()?;
        let body = edit.last.clone();
        Some(self.reopen_external(edit, &body, &[format!("the API server: {error}")]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_are_left_out_wherever_they_are() {
        assert_eq!(
            without_comments("# head\na: 1\n  # mine\nb: 2\n\n"),
            "a: 1\nb: 2"
        );
    }
}
