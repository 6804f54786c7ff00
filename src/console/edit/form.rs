//! `e`: the override form for one target group. Each field is a textarea
//! with one entry per line (syntax in the field title and THEMES.md's
//! neighbour, the help). Every keystroke re-parses the fields and renders
//! the candidate application with the engine, so image references,
//! container names and replicas are checked by the engine's own parsers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui_textarea::{CursorMove, TextArea};

use super::EditKind;
use crate::api::{
    CommandArgsOverrider, EdgeApplication, EnvOverrider, ImageComponent, ImageOverrider,
    ImagePredicate, OverriderOperator, Overriders, ResourcesOverrider,
};
use crate::console::theme::Theme;
use crate::engine::render;

pub const FIELDS: [(&str, &str); 6] = [
    ("Replicas", "a number, or empty to keep the manifest's"),
    (
        "Images",
        "Registry|Repository|Tag add|remove|replace [value] [@/json/pointer]",
    ),
    ("Env", "<container> add|remove|replace NAME=VALUE …"),
    ("Command", "<container> add|remove word …"),
    ("Args", "<container> add|remove word …"),
    (
        "Resources",
        "<container> requests.cpu=100m limits.memory=128Mi …",
    ),
];

pub struct OverrideForm {
    pub base: EdgeApplication,
    pub group: String,
    pub fields: Vec<TextArea<'static>>,
    pub errors: Vec<Option<String>>,
    pub focus: usize,
    /// Problems the engine reports when rendering the candidate for this group.
    pub render_errors: Vec<String>,
}

fn parse_op(s: &str) -> Result<OverriderOperator, String> {
    match s {
        "add" => Ok(OverriderOperator::Add),
        "remove" => Ok(OverriderOperator::Remove),
        "replace" => Ok(OverriderOperator::Replace),
        other => Err(format!("unknown operator {other:?} (add, remove, replace)")),
    }
}

/// Command and args words are only added or removed.
fn parse_words_op(s: &str) -> Result<OverriderOperator, String> {
    match s {
        "add" => Ok(OverriderOperator::Add),
        "remove" => Ok(OverriderOperator::Remove),
        other => Err(format!("unknown operator {other:?} (add, remove)")),
    }
}

/// Text of each field for existing overriders.
pub fn format_fields(o: &Overriders) -> [String; 6] {
    let replicas = o.replicas.map(|r| r.to_string()).unwrap_or_default();
    let images = o
        .image_overriders
        .iter()
        .map(|i| {
            let mut s = format!("{:?} {}", i.component, i.operator.as_str());
            if !i.value.is_empty() {
                s.push(' ');
                s.push_str(&i.value);
            }
            if let Some(p) = &i.predicate {
                s.push_str(&format!(" @{}", p.path));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n");
    let env = o
        .env_overriders
        .iter()
        .map(|e| {
            let vars: Vec<String> = e
                .value
                .iter()
                .map(|v| format!("{}={}", v.name, v.value.clone().unwrap_or_default()))
                .collect();
            format!(
                "{} {} {}",
                e.container_name,
                e.operator.as_str(),
                vars.join(" ")
            )
            .trim_end()
            .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let words = |list: &[CommandArgsOverrider]| {
        list.iter()
            .map(|c| {
                format!(
                    "{} {} {}",
                    c.container_name,
                    c.operator.as_str(),
                    c.value.join(" ")
                )
                .trim_end()
                .to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let resources = o
        .resources_overriders
        .iter()
        .map(|r| {
            let mut parts = vec![r.container_name.clone()];
            for (kind, map) in [("requests", &r.value.requests), ("limits", &r.value.limits)] {
                for (k, q) in map.iter().flatten() {
                    parts.push(format!("{kind}.{k}={}", q.0));
                }
            }
            parts.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    [
        replicas,
        images,
        env,
        words(&o.command_overriders),
        words(&o.args_overriders),
        resources,
    ]
}

fn entries(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split_whitespace().collect::<Vec<_>>()))
        .filter(|(_, w)| !w.is_empty())
}

pub fn parse_replicas(text: &str) -> Result<Option<i32>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let n: i32 = t
        .parse()
        .map_err(|_| format!("{t:?} is not a whole number"))?;
    if n < 0 {
        return Err("replicas must not be negative".into());
    }
    Ok(Some(n))
}

pub fn parse_images(text: &str) -> Result<Vec<ImageOverrider>, String> {
    entries(text)
        .map(|(line, w)| {
            let err = |m: String| format!("line {line}: {m}");
            let component = match w.first().copied() {
                Some("Registry" | "registry") => ImageComponent::Registry,
                Some("Repository" | "repository") => ImageComponent::Repository,
                Some("Tag" | "tag") => ImageComponent::Tag,
                other => {
                    return Err(err(format!(
                        "unknown component {:?} (Registry, Repository, Tag)",
                        other.unwrap_or("")
                    )));
                }
            };
            let operator = parse_op(w.get(1).copied().unwrap_or("")).map_err(err)?;
            let mut value = String::new();
            let mut predicate = None;
            for word in w.iter().skip(2) {
                if let Some(path) = word.strip_prefix('@') {
                    predicate = Some(ImagePredicate {
                        path: path.to_owned(),
                    });
                } else if value.is_empty() {
                    value = (*word).to_owned();
                } else {
                    return Err(err(format!("unexpected {word:?}")));
                }
            }
            if value.is_empty() && operator != OverriderOperator::Remove {
                return Err(err(format!("{} needs a value", operator.as_str())));
            }
            Ok(ImageOverrider {
                predicate,
                component,
                operator,
                value,
            })
        })
        .collect()
}

pub fn parse_env(text: &str) -> Result<Vec<EnvOverrider>, String> {
    entries(text)
        .map(|(line, w)| {
            let err = |m: String| format!("line {line}: {m}");
            let container = w.first().copied().unwrap_or_default().to_owned();
            let operator = parse_op(w.get(1).copied().unwrap_or("")).map_err(err)?;
            let value = w
                .iter()
                .skip(2)
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) if !k.is_empty() => Ok(EnvVar {
                        name: k.to_owned(),
                        value: Some(v.to_owned()),
                        value_from: None,
                    }),
                    _ if operator == OverriderOperator::Remove && !kv.is_empty() => Ok(EnvVar {
                        name: (*kv).to_owned(),
                        value: None,
                        value_from: None,
                    }),
                    _ => Err(err(format!("{kv:?} is not NAME=VALUE"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(EnvOverrider {
                container_name: container,
                operator,
                value,
            })
        })
        .collect()
}

pub fn parse_words(text: &str) -> Result<Vec<CommandArgsOverrider>, String> {
    entries(text)
        .map(|(line, w)| {
            let operator = parse_words_op(w.get(1).copied().unwrap_or(""))
                .map_err(|m| format!("line {line}: {m}"))?;
            Ok(CommandArgsOverrider {
                container_name: w.first().copied().unwrap_or_default().to_owned(),
                operator,
                value: w.iter().skip(2).map(|s| (*s).to_owned()).collect(),
            })
        })
        .collect()
}

pub fn parse_resources(text: &str) -> Result<Vec<ResourcesOverrider>, String> {
    entries(text)
        .map(|(line, w)| {
            let err = |m: String| format!("line {line}: {m}");
            let mut requests = BTreeMap::new();
            let mut limits = BTreeMap::new();
            for kv in w.iter().skip(1) {
                let (key, q) = kv
                    .split_once('=')
                    .ok_or_else(|| err(format!("{kv:?} is not requests.R=Q or limits.R=Q")))?;
                let target = match key.split_once('.') {
                    Some(("requests", r)) if !r.is_empty() => (&mut requests, r),
                    Some(("limits", r)) if !r.is_empty() => (&mut limits, r),
                    _ => {
                        return Err(err(format!(
                            "{key:?}: use requests.<resource> or limits.<resource>"
                        )));
                    }
                };
                if q.is_empty()
                    || !q
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '.')
                {
                    return Err(err(format!("{q:?} is not a quantity")));
                }
                target.0.insert(target.1.to_owned(), Quantity(q.to_owned()));
            }
            Ok(ResourcesOverrider {
                container_name: w.first().copied().unwrap_or_default().to_owned(),
                value: ResourceRequirements {
                    requests: (!requests.is_empty()).then_some(requests),
                    limits: (!limits.is_empty()).then_some(limits),
                    ..ResourceRequirements::default()
                },
            })
        })
        .collect()
}

fn group_overriders(app: &EdgeApplication, group: &str) -> Overriders {
    app.spec
        .workload_scope
        .target_node_groups
        .iter()
        .find(|t| t.name == group)
        .map(|t| t.overriders.clone())
        .unwrap_or_default()
}

fn text_area(text: &str) -> TextArea<'static> {
    let lines: Vec<String> = if text.is_empty() {
        vec![String::new()]
    } else {
        text.lines().map(str::to_owned).collect()
    };
    let mut field = TextArea::new(lines);
    // Editing starts where the value ends: backspace corrects it, typing extends it.
    field.move_cursor(CursorMove::Bottom);
    field.move_cursor(CursorMove::End);
    field
}

impl OverrideForm {
    pub fn new(base: EdgeApplication, group: String) -> OverrideForm {
        let fields = format_fields(&group_overriders(&base, &group))
            .iter()
            .map(|text| text_area(text))
            .collect();
        let mut form = OverrideForm {
            base,
            group,
            fields,
            errors: vec![None; FIELDS.len()],
            focus: 0,
            render_errors: Vec::new(),
        };
        form.validate();
        form
    }

    /// What the form's fields were filled with, from `base`.
    fn initial(&self) -> [String; 6] {
        format_fields(&group_overriders(&self.base, &self.group))
    }

    /// Whether any field differs from what the form opened with.
    pub fn changed(&self) -> bool {
        self.initial()
            .iter()
            .enumerate()
            .any(|(i, initial)| self.text(i).trim_end() != initial.trim_end())
    }

    /// Moves the form onto `current` (the object changed on the server): a
    /// field the operator has not touched takes the current value; a touched
    /// one keeps the operator's text, and the preview shows it against theirs.
    pub fn rebase(&mut self, current: EdgeApplication) {
        let before = self.initial();
        let after = format_fields(&group_overriders(&current, &self.group));
        for (i, (old, new)) in before.iter().zip(after.iter()).enumerate() {
            if self.text(i).trim_end() == old.trim_end()
                && old != new
                && let Some(field) = self.fields.get_mut(i)
            {
                *field = text_area(new);
            }
        }
        self.base = current;
        self.validate();
    }

    fn text(&self, i: usize) -> String {
        self.fields
            .get(i)
            .map(|f| f.lines().join("\n"))
            .unwrap_or_default()
    }

    /// Parses every field; `None` when any has an error.
    pub fn overriders(&mut self) -> Option<Overriders> {
        fn keep<T>(slot: &mut Option<String>, r: Result<T, String>) -> Option<T> {
            match r {
                Ok(v) => {
                    *slot = None;
                    Some(v)
                }
                Err(e) => {
                    *slot = Some(e);
                    None
                }
            }
        }
        let texts: Vec<String> = (0..FIELDS.len()).map(|i| self.text(i)).collect();
        let e = &mut self.errors;
        let replicas = keep(&mut e[0], parse_replicas(&texts[0]));
        let images = keep(&mut e[1], parse_images(&texts[1]));
        let env = keep(&mut e[2], parse_env(&texts[2]));
        let command = keep(&mut e[3], parse_words(&texts[3]));
        let args = keep(&mut e[4], parse_words(&texts[4]));
        let resources = keep(&mut e[5], parse_resources(&texts[5]));
        Some(Overriders {
            replicas: replicas?,
            image_overriders: images?,
            env_overriders: env?,
            command_overriders: command?,
            args_overriders: args?,
            resources_overriders: resources?,
        })
    }

    pub fn edit(&mut self) -> Option<EditKind> {
        let overriders = self.overriders()?;
        Some(EditKind::Overriders {
            group: self.group.clone(),
            overriders,
        })
    }

    /// Re-parses the fields and renders the candidate with the engine.
    pub fn validate(&mut self) -> bool {
        self.render_errors.clear();
        let Some(edit) = self.edit() else {
            return false;
        };
        match super::apply_edit(&self.base, &edit) {
            Ok(candidate) => {
                let rendered = render::render(&candidate);
                self.render_errors = rendered
                    .errors
                    .iter()
                    .filter(|e| e.target.as_deref().is_none_or(|t| t == self.group))
                    .map(|e| e.error.to_string())
                    .collect();
            }
            Err(e) => self.render_errors.push(e),
        }
        self.render_errors.is_empty()
    }

    pub fn input(&mut self, key: crossterm::event::KeyEvent) {
        if let Some(f) = self.fields.get_mut(self.focus) {
            f.input(key);
        }
        self.validate();
    }

    pub fn focus_next(&mut self, delta: isize) {
        let n = FIELDS.len() as isize;
        self.focus = usize::try_from((self.focus as isize + delta).rem_euclid(n)).unwrap_or(0);
    }

    pub fn draw(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let heights: Vec<Constraint> = self
            .fields
            .iter()
            .map(|f| {
                Constraint::Length(u16::try_from(f.lines().len().clamp(1, 4)).unwrap_or(4) + 2)
            })
            .chain([Constraint::Fill(1)])
            .collect();
        let outer = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.title())
            .title(Span::styled(
                format!(
                    " Overrides of {} in {}/{} — tab next field · ctrl-s preview · esc cancel ",
                    self.group,
                    self.base.metadata.namespace.as_deref().unwrap_or("default"),
                    self.base.metadata.name.as_deref().unwrap_or("?"),
                ),
                theme.title(),
            ));
        let inner = outer.inner(area);
        frame.render_widget(outer, area);
        let areas = Layout::vertical(heights).split(inner);
        for (i, ((label, syntax), field)) in FIELDS.iter().zip(&self.fields).enumerate() {
            let Some(&a) = areas.get(i) else { continue };
            let focused = i == self.focus;
            let (mark, style) = match &self.errors[i] {
                Some(_) => ("✗", theme.error()),
                None => ("✓", theme.ok()),
            };
            let mut title = vec![
                Span::styled(format!(" {mark} "), style),
                Span::styled(
                    format!("{label} "),
                    if focused {
                        theme.title()
                    } else {
                        theme.header()
                    },
                ),
            ];
            // The error takes the syntax hint's place: on a narrow terminal
            // the title is cut, and what is wrong matters more than the syntax.
            match &self.errors[i] {
                Some(e) => title.push(Span::styled(format!("{e} "), theme.error())),
                None => title.push(Span::styled(format!("({syntax}) "), theme.muted())),
            }
            let mut ta = field.clone();
            ta.set_block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(if focused {
                        theme.title()
                    } else {
                        theme.border()
                    })
                    .title(Line::from(title)),
            );
            ta.set_cursor_line_style(ratatui::style::Style::default());
            if !focused {
                ta.set_cursor_style(ratatui::style::Style::default());
            }
            frame.render_widget(&ta, a);
        }
        if let Some(&a) = areas.get(FIELDS.len()) {
            let lines: Vec<Line> =
                if self.render_errors.is_empty() && self.errors.iter().all(Option::is_none) {
                    vec![Line::from(Span::styled(
                        "✓ the engine renders this group without errors",
                        theme.ok(),
                    ))]
                } else {
                    self.render_errors
                        .iter()
                        .map(|e| Line::from(Span::styled(format!("✗ engine: {e}"), theme.error())))
                        .collect()
                };
            frame.render_widget(Paragraph::new(lines).style(theme.base()), a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_open_with_the_cursor_after_the_value() {
        let mut app: EdgeApplication = serde_yaml_ng::from_str(include_str!(
            "../../../examples/proposal/edgeapplication.yaml"
        ))
        .expect("example");
        app.spec.workload_scope.target_node_groups[1]
            .overriders
            .env_overriders = parse_env("nginx add A=1\nnginx add B=2").expect("env");
        let form = OverrideForm::new(app, "beijing".into());
        // Replicas "3": backspace must remove the 3, not nothing.
        assert_eq!(form.fields[0].cursor(), (0, 1));
        let env_lines = form.fields[2].lines().len();
        assert!(env_lines >= 1);
        assert_eq!(
            form.fields[2].cursor().0,
            env_lines - 1,
            "cursor on the last line"
        );
        assert_eq!(
            form.fields[2].cursor().1,
            form.fields[2].lines()[env_lines - 1].chars().count()
        );
    }

    #[test]
    fn fields_roundtrip_through_the_syntax() {
        let text = "Registry replace hz.io\nTag remove @/spec/template/spec/containers/0/image";
        let images = parse_images(text).expect("parses");
        assert_eq!(images.len(), 2);
        let o = Overriders {
            replicas: Some(2),
            image_overriders: images,
            env_overriders: parse_env("nginx add A=1 B=2").expect("env"),
            command_overriders: parse_words("nginx add sh -c").expect("cmd"),
            args_overriders: vec![],
            resources_overriders: parse_resources("nginx requests.cpu=100m limits.memory=64Mi")
                .expect("res"),
        };
        let f = format_fields(&o);
        assert_eq!(parse_replicas(&f[0]), Ok(Some(2)));
        assert_eq!(parse_images(&f[1]).expect("img"), o.image_overriders);
        assert_eq!(parse_env(&f[2]).expect("env"), o.env_overriders);
        assert_eq!(parse_words(&f[3]).expect("cmd"), o.command_overriders);
        assert_eq!(parse_resources(&f[5]).expect("res"), o.resources_overriders);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse_replicas("-1").is_err());
        assert!(parse_replicas("x").is_err());
        assert!(parse_images("Regstry replace x").is_err());
        assert!(parse_images("Tag replace").is_err());
        assert!(parse_env("c add NOEQUALS").is_err());
        assert!(parse_words("c replace x").is_err());
        assert!(parse_resources("c cpu=1").is_err());
        assert!(parse_resources("c requests.cpu=abc").is_err());
    }
}
