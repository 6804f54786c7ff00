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
        match &mut self.mode {
            Mode::Filter => {
                self.dirty = true;
                let screen = self.screen_mut();
                match key.code {
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Esc => {
                        screen.table.filter.clear();
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Backspace => {
                        screen.table.filter.pop();
                    }
                    KeyCode::Char(c) => screen.table.filter.push(c),
                    _ => return Vec::new(),
                }
                if self.is_text_view() {
                    // Search as you type: to the first match from where the view is.
                    let screen = self.screen_mut();
                    let from = screen.scroll.min(screen.text.max_scroll());
                    let found = screen.text.find(&screen.table.filter, from, false);
                    screen.text.current.set(found);
                    if let Some(line) = found {
                        screen.scroll = line.min(screen.text.max_scroll());
                    }
                    return Vec::new();
                }
                self.refresh_top();
                return Vec::new();
            }
            Mode::ConfirmDiscard(_) => {
                let Mode::ConfirmDiscard(editor) = std::mem::replace(&mut self.mode, Mode::Normal)
                else {
                    return Vec::new();
                };
                if key.code == KeyCode::Char('y') {
                    self.info("discarded your edit");
                } else {
                    self.mode = *editor;
                }
                return Vec::new();
            }
            Mode::ConfirmDelete { .. } => {
                let Mode::ConfirmDelete {
                    key: target,
                    resource_version,
                } = std::mem::replace(&mut self.mode, Mode::Normal)
                else {
                    return Vec::new();
                };
                if key.code == KeyCode::Char('y') {
                    self.info(format!("deleting {target}…"));
                    return self.write(Effect::Delete {
                        key: target,
                        resource_version,
                    });
                }
                self.info("delete cancelled");
                return Vec::new();
            }
            Mode::Command { input } => {
                self.dirty = true;
                match key.code {
                    KeyCode::Esc => self.mode = Mode::Normal,
                    KeyCode::Enter => {
                        let line = input.clone();
                        self.mode = Mode::Normal;
                        return self.run_command(&line);
                    }
                    KeyCode::Tab => {
                        let typed = input.clone();
                        let completed = complete(&typed, &self.completions(&typed));
                        if let Mode::Command { input } = &mut self.mode {
                            *input = completed;
                        }
                    }
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    KeyCode::Char(c) => input.push(c),
                    _ => {}
                }
                return Vec::new();
            }
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
}
