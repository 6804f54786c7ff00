//! Drawing: the body of the current mode or view, and the header,
//! banner, prompt line and status bar around it.

use super::*;

impl App {
    pub fn draw(&self, frame: &mut Frame) {
        let area = frame.area();
        let theme = &self.theme;
        frame.render_widget(Paragraph::new("").style(theme.base()), area);
        let banner = self.banner();
        let [header, banner_area, body, prompt, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(u16::from(banner.is_some())),
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        self.draw_header(frame, header);
        if let Some(line) = banner {
            frame.render_widget(Paragraph::new(line).style(theme.base()), banner_area);
        }
        let ctx = self.ctx();
        self.draw_body(frame, body, &self.mode, &ctx);
        self.draw_prompt(frame, prompt);
        self.draw_status(frame, status, &ctx);
    }

    pub(super) fn draw_body(&self, frame: &mut Frame, body: Rect, mode: &Mode, ctx: &Ctx) {
        let theme = &self.theme;
        match mode {
            Mode::ConfirmDiscard(editor) => self.draw_body(frame, body, editor, ctx),
            Mode::Form(form) => form.draw(frame, body, theme),
            Mode::YamlEdit(editor) => editor.draw(frame, body, theme),
            Mode::NewGroup(form) => form.draw(frame, body, theme),
            Mode::Diff { preview, .. } => diff::draw(frame, body, preview, theme),
            Mode::Conflict(c) => c.draw(frame, body, theme),
            _ => self.draw_view(frame, body, ctx),
        }
    }

    pub(super) fn draw_view(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let screen = self.screen();
        match &screen.view {
            View::Regions => views::regions::draw(frame, area, screen, ctx),
            View::Group(g) => views::group::draw(frame, area, screen, ctx, g),
            View::Apps => views::apps::draw(frame, area, screen, ctx),
            View::Matrix => views::matrix::draw(frame, area, screen, ctx),
            View::AppDetail { namespace, name } => {
                views::app_detail::draw(frame, area, screen, ctx, namespace, name)
            }
            View::Traffic => views::traffic::draw(frame, area, screen, ctx),
            View::Engine => views::engine::draw(frame, area, screen, ctx),
            View::Nodes => views::nodes::draw(frame, area, screen, ctx),
            View::Yaml(r) => views::yaml::draw(frame, area, screen, ctx, r),
            View::Describe(r) => views::describe::draw(frame, area, screen, ctx, r),
            View::Pods(scope) => views::pods::draw(frame, area, screen, ctx, scope),
            View::Events => views::events::draw(frame, area, screen, ctx),
            View::Logs(_) => views::logs::draw(frame, area, screen, ctx, self.log_pane()),
            View::Help => views::help::draw(
                frame,
                area,
                screen,
                ctx,
                &self.keymap,
                self.log_path.as_deref(),
            ),
        }
    }

    /// A full-width line under the header whenever the data is not live:
    /// starting, reconnecting (data kept, marked stale), partly unavailable.
    pub(super) fn banner(&self) -> Option<Line<'static>> {
        use crate::console::model::ConnectionState as C;
        let theme = &self.theme;
        let reversed = |style: ratatui::style::Style| style.add_modifier(Modifier::REVERSED);
        match &self.fleet.connection {
            C::Connected => None,
            C::Connecting { step } => Some(Line::from(Span::styled(
                format!(" ◌ {step}"),
                theme.accent(),
            ))),
            C::Reconnecting { since, error } => Some(Line::from(Span::styled(
                format!(
                    " ▲ connection lost {} ago · showing last known data (stale) · reconnecting automatically · {error} ",
                    views::age(self.now, *since)
                ),
                reversed(theme.warn()),
            ))),
            C::Partial { problems } => Some(Line::from(Span::styled(
                format!(" ◐ {} ", problems.join(" · ")),
                reversed(theme.warn()),
            ))),
            C::Stale => Some(Line::from(Span::styled(
                " ◌ data is stale (not updating) ".to_owned(),
                reversed(theme.error()),
            ))),
        }
    }

    pub(super) fn draw_header(&self, frame: &mut Frame, area: Rect) {
        let theme = &self.theme;
        let mut spans = vec![Span::styled("edgedeck", theme.title())];
        for s in &self.stack {
            spans.push(Span::styled(" › ", theme.muted()));
            spans.push(Span::raw(s.view.crumb()));
        }
        let right = format!(
            "{}ctx {} │ ns {}{} ",
            self.kubeconfig_out
                .as_deref()
                .map(|k| format!("kubeconfig {k} │ "))
                .unwrap_or_default(),
            if self.fleet.context.is_empty() {
                "-"
            } else {
                &self.fleet.context
            },
            self.fleet.namespace.as_deref().unwrap_or("all"),
            if self.readonly {
                " │ ⊘ read-only"
            } else {
                ""
            }
        );
        // The breadcrumb keeps at least half the line; both end in … when cut.
        let crumbs = Line::from(spans);
        let wanted = u16::try_from(right.chars().count()).unwrap_or(u16::MAX);
        let crumb_room = u16::try_from(crumbs.width())
            .unwrap_or(u16::MAX)
            .min(area.width / 2);
        let right_width = wanted.min(area.width.saturating_sub(crumb_room + 1));
        let [l, _, r] = Layout::horizontal([
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(right_width),
        ])
        .areas(area);
        let ellipsize = crate::console::widgets::table::ellipsize;
        frame.render_widget(
            Paragraph::new(ellipsize(crumbs, l.width)).style(theme.base()),
            l,
        );
        frame.render_widget(
            Paragraph::new(ellipsize(Line::styled(right, theme.accent()), r.width)),
            r,
        );
    }

    pub(super) fn draw_prompt(&self, frame: &mut Frame, area: Rect) {
        let theme = &self.theme;
        let line = match &self.mode {
            Mode::Command { input } => self.command_prompt(input),
            Mode::Filter => self.filter_prompt(),
            Mode::ConfirmDiscard(_) | Mode::ConfirmDelete { .. } => {
                self.confirm_prompt().unwrap_or_default()
            }
            _ => match &self.flash {
                Some(Flash::Info(m)) => Line::from(Span::raw(m.clone())),
                Some(Flash::Error(m)) => Line::from(Span::styled(m.clone(), theme.error())),
                None => Line::from(""),
            },
        };
        frame.render_widget(Paragraph::new(line).style(theme.base()), area);
    }

    pub(super) fn draw_status(&self, frame: &mut Frame, area: Rect, ctx: &Ctx) {
        let theme = &self.theme;
        let mut spans = vec![
            views::engine::connection_spans(ctx),
            Span::styled(" │ ", theme.muted()),
            match &self.fleet.lease_holder {
                Some(h) => Span::raw(format!("leader {h}")),
                None => Span::styled("no leader", theme.warn()),
            },
            Span::styled(" │", theme.muted()),
        ];
        if !self.fleet.lagging.is_empty() {
            spans.insert(
                1,
                Span::styled(
                    format!(" │ ⧗ engine behind on {} app(s)", self.fleet.lagging.len()),
                    theme.warn(),
                ),
            );
        }
        for b in self.keymap.hints(&self.scopes()) {
            let disabled = self.readonly && b.writes;
            spans.push(Span::raw(" "));
            if disabled {
                spans.push(Span::styled(
                    format!("{} {} ⊘", b.label, b.hint_word()),
                    theme.muted().add_modifier(Modifier::CROSSED_OUT),
                ));
            } else {
                spans.push(Span::styled(b.label, theme.key()));
                spans.push(Span::raw(format!(" {}", b.hint_word())));
            }
        }
        let line = crate::console::widgets::table::ellipsize(Line::from(spans), area.width);
        frame.render_widget(Paragraph::new(line).style(theme.base()), area);
    }
}
