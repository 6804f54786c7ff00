//! The `:` command line: typing, commands, their arguments and tab completion.

use super::*;

pub const COMMANDS: [&str; 14] = [
    "regions", "apps", "matrix", "traffic", "engine", "nodes", "pods", "events", "ctx", "ns",
    "theme", "help", "newgroup", "q",
];

impl App {
    pub(super) fn on_command_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        self.dirty = true;
        let Mode::Command { input } = &mut self.mode else {
            return Vec::new();
        };
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
        Vec::new()
    }

    /// The line being typed, with what tab would complete.
    pub(super) fn command_prompt(&self, input: &str) -> Line<'static> {
        let theme = &self.theme;
        let candidates = self.completions(input);
        let mut spans = vec![
            Span::styled(":", theme.key()),
            Span::raw(input.to_owned()),
            Span::styled("█", theme.key()),
        ];
        if !candidates.is_empty() {
            spans.push(Span::styled(
                format!("   tab: {}", candidates.join(" ")),
                theme.muted(),
            ));
        }
        Line::from(spans)
    }

    pub(super) fn goto(&mut self, kind: ViewKind) {
        let view = match kind {
            ViewKind::Regions => View::Regions,
            ViewKind::Apps => View::Apps,
            ViewKind::Matrix => View::Matrix,
            ViewKind::Traffic => View::Traffic,
            ViewKind::Engine => View::Engine,
            ViewKind::Nodes => View::Nodes,
            ViewKind::Pods => View::Pods(views::pods::PodScope::All),
            ViewKind::Events => View::Events,
        };
        self.flash = None;
        // Coming back to a view finds it as it was left: selection, filter, column.
        if let Some(left) = self.stack.first().cloned() {
            self.left.retain(|s| s.view != left.view);
            self.left.push(left);
        }
        let screen = match self.left.iter().position(|s| s.view == view) {
            Some(i) => self.left.remove(i),
            None => Screen::new(view),
        };
        self.stack = vec![screen];
        self.refresh_top();
    }

    pub(super) fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else {
            return Vec::new();
        };
        let arg = words.next().map(str::to_owned);
        if let Some(extra) = words.next() {
            self.error(format!(
                "✗ :{cmd} takes at most one argument; {extra:?} and after are not understood"
            ));
            return Vec::new();
        }
        let action = match cmd {
            "regions" | "region" | "ng" | "nodegroups" => Action::Goto(ViewKind::Regions),
            "apps" | "app" | "eapp" | "edgeapplications" => Action::Goto(ViewKind::Apps),
            "matrix" => Action::Goto(ViewKind::Matrix),
            "traffic" | "svc" => Action::Goto(ViewKind::Traffic),
            "engine" => Action::Goto(ViewKind::Engine),
            "nodes" | "node" | "no" => Action::Goto(ViewKind::Nodes),
            "pods" | "pod" | "po" => Action::Goto(ViewKind::Pods),
            "events" | "event" | "ev" => Action::Goto(ViewKind::Events),
            "ctx" | "context" => Action::SetContext(arg),
            "ns" | "namespace" => Action::SetNamespace(arg.filter(|a| a != "all" && a != "-A")),
            "theme" => match arg {
                Some(name) => Action::SetTheme(name),
                None => {
                    self.info(format!("themes: {}", self.themes.names().join(", ")));
                    return Vec::new();
                }
            },
            "help" => Action::Help,
            "newgroup" => Action::NewGroup,
            "q" | "quit" | "q!" => Action::Quit,
            other => {
                self.error(format!("unknown command :{other} (try tab)"));
                return Vec::new();
            }
        };
        self.update(action)
    }

    /// Candidates for the word being typed on the command line.
    pub fn completions(&self, input: &str) -> Vec<String> {
        match input.split_once(' ') {
            None => COMMANDS
                .iter()
                .filter(|c| c.starts_with(input))
                .map(|c| (*c).to_owned())
                .collect(),
            Some((cmd, arg)) => {
                let pool: Vec<String> = match cmd {
                    "theme" => self.themes.names(),
                    "ctx" | "context" => self.contexts.clone(),
                    "ns" | "namespace" => {
                        let mut ns: Vec<String> = self
                            .fleet
                            .applications
                            .iter()
                            .filter_map(|a| a.metadata.namespace.clone())
                            .chain(
                                self.fleet
                                    .services
                                    .iter()
                                    .filter_map(|s| s.metadata.namespace.clone()),
                            )
                            .chain(["all".to_owned()])
                            .collect();
                        ns.sort();
                        ns.dedup();
                        ns
                    }
                    _ => Vec::new(),
                };
                pool.into_iter()
                    .filter(|p| p.starts_with(arg.trim_start()))
                    .map(|p| format!("{cmd} {p}"))
                    .collect()
            }
        }
    }
}

/// Longest common prefix completion.
pub(super) fn complete(input: &str, candidates: &[String]) -> String {
    match candidates {
        [] => input.to_owned(),
        [one] => format!("{one} "),
        many => {
            let first = &many[0];
            let mut len = first.len();
            for c in &many[1..] {
                len = len.min(
                    first
                        .chars()
                        .zip(c.chars())
                        .take_while(|(a, b)| a == b)
                        .map(|(a, _)| a.len_utf8())
                        .sum(),
                );
            }
            first[..len].to_owned()
        }
    }
}
