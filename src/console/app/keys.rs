//! Where a key goes: the prompt-line modes (filter, command line,
//! confirmations) take it whole; otherwise the keymap turns it into an
//! Action for the view or the open editor.

use super::*;

impl App {
    pub(super) fn scopes(&self) -> Vec<Scope> {
        match &self.mode {
            Mode::Form(_) | Mode::YamlEdit(_) => vec![Scope::Editor],
            Mode::NewGroup(_) => vec![Scope::GroupForm],
            Mode::Diff { .. } => vec![Scope::Diff],
            Mode::Conflict(_) => vec![Scope::Conflict],
            _ => Keymap::scopes(&self.screen().view),
        }
    }

    pub(super) fn handle_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return self.update(Action::Quit);
        }
        // A terminal sends Alt-x as ESC x, so `esc` quickly followed by `1`
        // arrives as Alt-1. Nothing is bound to Alt: it is the two keys.
        if key.modifiers == KeyModifiers::ALT && matches!(key.code, KeyCode::Char(_)) {
            let mut effects = self.handle_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            effects.extend(self.handle_key(KeyEvent::new(key.code, KeyModifiers::NONE)));
            return effects;
        }
        match &self.mode {
            Mode::Filter => return self.on_filter_key(key),
            Mode::ConfirmDiscard(_) | Mode::ConfirmDelete { .. } => {
                return self.on_confirm_key(key);
            }
            Mode::Command { .. } => return self.on_command_key(key),
            _ => {}
        }
        let scopes = self.scopes();
        if let Some(binding) = self.keymap.lookup(&scopes, &key) {
            let action = binding.action.clone();
            return self.update(action);
        }
        // Unbound keys go to the focused editor, if any.
        match &mut self.mode {
            Mode::Form(form) => form.input(key),
            Mode::YamlEdit(editor) => editor.input(key),
            Mode::NewGroup(form) => form.input(key, &self.fleet.nodes, &self.fleet.node_groups),
            _ => return Vec::new(),
        }
        self.dirty = true;
        Vec::new()
    }

    /// An action while an editor, the preview or the conflict view is open:
    /// each mode's own handler decides (and puts its state back to stay).
    pub(super) fn modal(&mut self, action: Action) -> Vec<Effect> {
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Form(form) => self.on_form(form, action),
            Mode::YamlEdit(editor) => self.on_yaml(editor, action),
            Mode::NewGroup(form) => self.on_new_group(form, action),
            Mode::Diff { preview, back } => self.on_diff(preview, back, action),
            Mode::Conflict(c) => self.on_conflict(c, action),
            other => self.stay(other, action),
        }
    }

    /// What every mode does with an action it has no use for: stays open;
    /// `quit` still quits.
    pub(super) fn stay(&mut self, mode: Mode, action: Action) -> Vec<Effect> {
        self.mode = mode;
        if matches!(action, Action::Quit) {
            self.quit = true;
            return vec![Effect::Quit];
        }
        self.dirty = false;
        Vec::new()
    }
}

pub(super) fn scroll(current: usize, down: bool) -> usize {
    if down {
        current + 1
    } else {
        current.saturating_sub(1)
    }
}
