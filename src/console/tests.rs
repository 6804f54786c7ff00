//! Snapshot tests of every view on the fixed fleet, and behaviour tests of
//! the App (read-only, redraw discipline, edits → effects, 409 handling).

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

use super::action::{Action, Effect, WriteOutcome};
use super::app::{App, Flash, Mode, Options};
use super::fixture;
use super::model::{ConnectionState, Fleet};
use super::views::View;

pub(super) fn options() -> Options {
    Options {
        now: fixture::now(),
        contexts: vec!["embedded".into(), "prod-eu".into()],
        ..Options::default()
    }
}

pub(super) fn app() -> App {
    App::new(Arc::new(fixture::demo_fleet()), options())
}

fn readonly_app() -> App {
    App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            readonly: true,
            ..options()
        },
    )
}

fn terminal(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| app.draw(f)).expect("draw");
    t
}

pub(super) fn screen(app: &App, w: u16, h: u16) -> String {
    let t = terminal(app, w, h);
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(super) fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub(super) fn chars(app: &mut App, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| key(app, KeyCode::Char(c))).collect()
}

pub(super) fn command(app: &mut App, s: &str) -> Vec<Effect> {
    key(app, KeyCode::Char(':'));
    chars(app, s);
    key(app, KeyCode::Enter)
}

pub(super) fn ctrl(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )))
}

pub(super) const W: u16 = 130;
pub(super) const H: u16 = 24;

#[test]
fn snapshot_regions() {
    insta::assert_snapshot!("regions", screen(&app(), W, H));
}

#[test]
fn snapshot_group_detail() {
    let mut a = app();
    // beijing is the first row (sorted by name), with the NotReady node.
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen().view, View::Group("beijing".into()));
    insta::assert_snapshot!("group_beijing", screen(&a, W, 30));
}

#[test]
fn snapshot_ungrouped_and_black_hole_groups() {
    let mut a = app();
    key(&mut a, KeyCode::Char('G'));
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen().view, View::Group("(ungrouped)".into()));
    insta::assert_snapshot!("group_ungrouped", screen(&a, W, 26));
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('k'));
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen().view, View::Group("shanghai".into()));
    insta::assert_snapshot!("group_shanghai", screen(&a, W, 26));
}

#[test]
fn the_engine_view_shows_the_in_process_engines_figures() {
    use super::engine_stats::{ControllerStats, EngineReading, EngineStats, Origin, Rate};
    use crate::telemetry::Controller;
    let stats = EngineStats {
        origin: Origin::InProcess,
        leading: true,
        writes: 34,
        writes_rate: Rate(5),
        controllers: vec![
            ControllerStats {
                controller: Controller::NodeGroup,
                rate: Rate(12),
                reconciles: 40,
                errors: 0,
                queued: 0,
                in_flight: 0,
                lag: None,
                owned: 25,
                stalled: false,
            },
            ControllerStats {
                controller: Controller::EdgeApplication,
                rate: Rate(0),
                reconciles: 7,
                errors: 2,
                queued: 3,
                in_flight: 1,
                lag: Some(std::time::Duration::from_secs(130)),
                owned: 12,
                stalled: true,
            },
        ],
    };
    let fleet = Fleet {
        engine_stats: Some(EngineReading::Figures(stats.clone())),
        ..fixture::demo_fleet()
    };
    let mut a = App::new(Arc::new(fleet), options());
    command(&mut a, "engine");
    insta::assert_snapshot!("engine_with_figures", screen(&a, W, 20));

    let url = "http://127.0.0.1:9090/metrics".to_owned();
    let remote = Fleet {
        engine_stats: Some(EngineReading::Figures(EngineStats {
            origin: Origin::Remote(url.clone()),
            ..stats
        })),
        ..fixture::demo_fleet()
    };
    let mut a = App::new(Arc::new(remote), options());
    command(&mut a, "engine");
    insta::assert_snapshot!("engine_with_remote_figures", screen(&a, W, 20));

    let unreachable = Fleet {
        engine_stats: Some(EngineReading::Unreachable {
            url,
            error: "cannot connect: Connection refused (os error 111)".into(),
        }),
        ..fixture::demo_fleet()
    };
    let mut a = App::new(Arc::new(unreachable), options());
    command(&mut a, "engine");
    let shown = screen(&a, W, 20);
    assert!(
        !shown.contains("leading"),
        "no figure survives the failure:\n{shown}"
    );
    insta::assert_snapshot!("engine_with_remote_unreachable", shown);
}

#[test]
fn snapshot_apps_matrix_traffic_engine_nodes() {
    let mut a = app();
    command(&mut a, "apps");
    insta::assert_snapshot!("apps", screen(&a, W, 12));
    command(&mut a, "matrix");
    insta::assert_snapshot!("matrix", screen(&a, W, 12));
    command(&mut a, "traffic");
    insta::assert_snapshot!("traffic", screen(&a, W, 14));
    command(&mut a, "engine");
    insta::assert_snapshot!("engine", screen(&a, W, 20));
    command(&mut a, "nodes");
    insta::assert_snapshot!("nodes", screen(&a, W, 16));
}

#[test]
fn snapshot_app_detail() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Enter);
    assert!(matches!(a.screen().view, View::AppDetail { .. }));
    insta::assert_snapshot!("app_detail_nginx", screen(&a, W, 34));
}

#[test]
fn snapshot_yaml_masks_secrets_and_describe() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char('j')); // edge/telemetry
    key(&mut a, KeyCode::Char('y'));
    let s = screen(&a, W, 60);
    assert!(
        !s.contains("c3VwZXItc2VjcmV0"),
        "secret data must be masked"
    );
    assert!(s.contains("token: '********'") || s.contains("token: ********"));
    insta::assert_snapshot!("yaml_telemetry", s);
    key(&mut a, KeyCode::Esc);
    command(&mut a, "nodes");
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j')); // node-e
    key(&mut a, KeyCode::Char('d'));
    insta::assert_snapshot!("describe_node_e", screen(&a, W, 30));
}

#[test]
fn snapshot_help_generated_from_keymap() {
    let mut a = app();
    key(&mut a, KeyCode::Char('?'));
    let s = screen(&a, W, 130);
    for b in &a.keymap.bindings {
        assert!(s.contains(b.help), "help lists {:?}", b.help);
    }
    insta::assert_snapshot!("help", s);
}

#[test]
fn snapshot_filter_and_sort() {
    let mut a = app();
    command(&mut a, "nodes");
    key(&mut a, KeyCode::Char('/'));
    chars(&mut a, "beijing");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Char('s'));
    key(&mut a, KeyCode::Char('S'));
    insta::assert_snapshot!("nodes_filtered_sorted", screen(&a, W, 10));
}

#[test]
fn snapshot_command_completion() {
    let mut a = app();
    key(&mut a, KeyCode::Char(':'));
    chars(&mut a, "th");
    key(&mut a, KeyCode::Tab);
    chars(&mut a, "hi");
    key(&mut a, KeyCode::Tab);
    match &a.mode {
        Mode::Command { input } => assert_eq!(input, "theme high-contrast "),
        _ => panic!("still in command mode"),
    }
    insta::assert_snapshot!("command_line", screen(&a, W, 6));
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.theme.name, "high-contrast");
}

/// Opens the override form on the matrix cell nginx-app × hangzhou.
fn form_on_hangzhou(a: &mut App) {
    command(a, "matrix");
    key(a, KeyCode::Char('l')); // groups: beijing, hangzhou, shanghai
    key(a, KeyCode::Char('e'));
    assert!(matches!(a.mode, Mode::Form(_)));
}

/// Replicas of hangzhou 2 → 4 in the open form, then ctrl-s to the preview.
fn form_edit_to_preview(a: &mut App) {
    key(a, KeyCode::End);
    key(a, KeyCode::Backspace);
    chars(a, "4");
    assert!(ctrl(a, 's').is_empty());
    assert!(matches!(a.mode, Mode::Diff { .. }));
}

fn form_replicas(a: &App) -> String {
    match &a.mode {
        Mode::Form(_) => {
            // The field's first line, under its titled border.
            let s = screen(a, W, 30);
            let mut lines = s.lines().skip_while(|l| !l.contains("Replicas"));
            lines.nth(1).unwrap_or_default().to_owned()
        }
        _ => panic!("the form is not open"),
    }
}

#[test]
fn a_server_change_while_the_form_is_open_is_shown_and_the_edit_rebased() {
    let mut a = app();
    form_on_hangzhou(&mut a);
    // The operator changes replicas 2 → 4 …
    key(&mut a, KeyCode::End);
    key(&mut a, KeyCode::Backspace);
    chars(&mut a, "4");
    // … while someone else changes hangzhou's image registry.
    let mut fleet = (*a.fleet).clone();
    let theirs = &mut fleet.applications[0];
    theirs.metadata.resource_version = Some("101".into());
    theirs.spec.workload_scope.target_node_groups[0]
        .overriders
        .image_overriders[0]
        .value = "mirror.hangzhou.io".into();
    fleet.version += 1;
    a.update(Action::FleetUpdated(Arc::new(fleet)));
    assert!(matches!(a.mode, Mode::Form(_)), "the form stays open");
    let s = screen(&a, W, 30);
    assert!(s.contains("changed on the server while you edit it"), "{s}");
    assert!(s.contains("100 → 101"), "{s}");
    assert!(
        s.contains("mirror.hangzhou.io"),
        "the untouched field shows theirs:\n{s}"
    );

    assert!(ctrl(&mut a, 's').is_empty());
    let effects = key(&mut a, KeyCode::Char('y'));
    match effects.as_slice() {
        [
            Effect::Patch {
                patch,
                resource_version,
                ..
            },
        ] => {
            assert_eq!(resource_version, "101", "based on the current object");
            let patch = patch.to_string();
            assert!(patch.contains("\"replicas\":4"), "{patch}");
            // Their registry stays: nothing of the stale object is written back.
            assert!(!patch.contains("hangzhou.registry.io"), "{patch}");
        }
        other => panic!("expected one patch, got {other:?}"),
    }
}

#[test]
fn a_failed_write_reopens_the_form_with_the_edit() {
    let mut a = app();
    form_on_hangzhou(&mut a);
    form_edit_to_preview(&mut a);
    assert_eq!(key(&mut a, KeyCode::Char('y')).len(), 1);
    a.update(Action::WriteResult(WriteOutcome::Failed {
        error: "connection refused".into(),
    }));
    assert!(form_replicas(&a).contains('4'), "{}", form_replicas(&a));
    let flash = format!("{:?}", a.flash);
    assert!(flash.contains("your edit is still open"), "{flash}");
    // Saving again is the same write.
    assert!(ctrl(&mut a, 's').is_empty());
    let again = key(&mut a, KeyCode::Char('y'));
    assert!(
        matches!(again.as_slice(), [Effect::Patch { patch, .. }] if patch.to_string().contains("\"replicas\":4"))
    );
}

#[test]
fn a_save_while_disconnected_is_refused_and_the_edit_kept() {
    let mut a = app();
    form_on_hangzhou(&mut a);
    form_edit_to_preview(&mut a);
    let mut fleet = (*a.fleet).clone();
    fleet.connection = crate::console::model::ConnectionState::Reconnecting {
        since: fixture::now(),
        error: "connection refused".into(),
    };
    a.update(Action::FleetUpdated(Arc::new(fleet)));
    assert!(
        key(&mut a, KeyCode::Char('y')).is_empty(),
        "nothing is sent"
    );
    assert!(matches!(a.mode, Mode::Diff { .. }), "the preview stays");
    let flash = format!("{:?}", a.flash);
    assert!(
        flash.contains("not saved: the cluster is unreachable"),
        "{flash}"
    );
    key(&mut a, KeyCode::Esc);
    assert!(
        form_replicas(&a).contains('4'),
        "back in the form, edit intact"
    );
}

#[test]
fn esc_on_a_changed_form_asks_before_discarding() {
    let mut a = app();
    form_on_hangzhou(&mut a);
    key(&mut a, KeyCode::Esc);
    assert!(
        matches!(a.mode, Mode::Normal),
        "an unchanged form just closes"
    );

    key(&mut a, KeyCode::Char('e')); // the matrix still has hangzhou selected
    assert!(matches!(a.mode, Mode::Form(_)));
    key(&mut a, KeyCode::End);
    key(&mut a, KeyCode::Backspace);
    chars(&mut a, "7");
    key(&mut a, KeyCode::Esc);
    assert!(matches!(a.mode, Mode::ConfirmDiscard(_)));
    let s = screen(&a, W, 30);
    assert!(s.contains("Discard your changes?"), "{s}");
    assert!(
        s.contains("Replicas"),
        "the form stays visible under the question:\n{s}"
    );
    key(&mut a, KeyCode::Char('n'));
    assert!(form_replicas(&a).contains('7'), "kept editing");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('y'));
    assert!(matches!(a.mode, Mode::Normal));
}

#[test]
fn override_form_validates_with_the_engine_and_previews_a_diff() {
    let mut a = app();
    form_on_hangzhou(&mut a);
    insta::assert_snapshot!("override_form", screen(&a, W, 30));
    // Replicas 2 → 4, with a bad character first (rejected, shown as error).
    key(&mut a, KeyCode::End);
    key(&mut a, KeyCode::Backspace);
    chars(&mut a, "x");
    let s = screen(&a, W, 30);
    assert!(s.contains("is not a whole number"), "{s}");
    key(&mut a, KeyCode::Backspace);
    chars(&mut a, "4");
    // An invalid image value is caught by the engine's image parser.
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::End);
    chars(&mut a, "/UPPER");
    let s = screen(&a, W, 30);
    assert!(s.contains("✗ engine:"), "{s}");
    for _ in 0.."/UPPER".len() {
        key(&mut a, KeyCode::Backspace);
    }
    assert!(ctrl(&mut a, 's').is_empty());
    assert!(matches!(a.mode, Mode::Diff { .. }));
    insta::assert_snapshot!("diff_preview", screen(&a, W, 30));
    let effects = key(&mut a, KeyCode::Char('y'));
    match effects.as_slice() {
        [
            Effect::Patch {
                key,
                patch,
                resource_version,
            },
        ] => {
            assert_eq!(key.name, "nginx-app");
            assert_eq!(resource_version, "100");
            assert_eq!(patch["metadata"]["resourceVersion"], "100");
            assert!(patch.to_string().contains("\"replicas\":4"), "{patch}");
        }
        other => panic!("expected one patch, got {other:?}"),
    }
}

#[test]
fn conflict_shows_what_changed_and_reapplies_on_the_current_object() {
    let mut a = app();
    command(&mut a, "matrix");
    let effects = key(&mut a, KeyCode::Char('+')); // beijing 3 → 4
    assert_eq!(effects.len(), 1);
    // Meanwhile someone changed beijing's image registry.
    let mut current = a.fleet.applications[0].clone();
    current.metadata.resource_version = Some("101".into());
    current.spec.workload_scope.target_node_groups[1]
        .overriders
        .image_overriders[0]
        .value = "mirror.beijing.io".into();
    a.update(Action::WriteResult(WriteOutcome::Conflict {
        current: Box::new(current),
    }));
    assert!(matches!(a.mode, Mode::Conflict(_)));
    insta::assert_snapshot!("conflict", screen(&a, W, 20));
    key(&mut a, KeyCode::Char('r'));
    assert!(matches!(a.mode, Mode::Diff { .. }));
    let effects = key(&mut a, KeyCode::Char('y'));
    match effects.as_slice() {
        [
            Effect::Patch {
                resource_version,
                patch,
                ..
            },
        ] => {
            assert_eq!(resource_version, "101");
            // The rebased change keeps their registry and applies our scale.
            assert!(patch.to_string().contains("\"replicas\":4"), "{patch}");
            assert!(
                !patch.to_string().contains("beijing.registry.io"),
                "{patch}"
            );
        }
        other => panic!("expected one patch, got {other:?}"),
    }
    a.update(Action::WriteResult(WriteOutcome::Ok {
        what: "nginx-app".into(),
        written: None,
    }));
    assert!(a.pending.is_none());
}

/// The replicas a patch sets for the second target (beijing), if it does.
fn beijing_replicas(effect: &Effect) -> Option<i64> {
    match effect {
        Effect::Patch { patch, .. } => patch
            .pointer("/spec/workloadScope/targetNodeGroups/1/overriders/replicas")
            .and_then(serde_json::Value::as_i64),
        _ => None,
    }
}

#[test]
fn rapid_presses_are_queued_and_sent_as_one_write_on_the_answer_of_the_first() {
    let mut a = app();
    command(&mut a, "matrix");
    let first = key(&mut a, KeyCode::Char('+')); // beijing 3 → 4
    assert_eq!(
        first
            .iter()
            .filter_map(beijing_replicas)
            .collect::<Vec<_>>(),
        [4]
    );
    // Two more before the first write returns: nothing is sent on a base
    // the server no longer holds.
    assert!(key(&mut a, KeyCode::Char('+')).is_empty());
    assert!(key(&mut a, KeyCode::Char('+')).is_empty());
    let flash = format!("{:?}", a.flash);
    assert!(flash.contains("queued"), "{flash}");

    // The server's answer to the first: replicas 4 at resourceVersion 102.
    let mut written = a.fleet.applications[0].clone();
    written.metadata.resource_version = Some("102".into());
    written.spec.workload_scope.target_node_groups[1]
        .overriders
        .replicas = Some(4);
    let next = a.update(Action::WriteResult(WriteOutcome::Ok {
        what: "saved EdgeApplication edge-apps/nginx-app".into(),
        written: Some(Box::new(written.clone())),
    }));
    match next.as_slice() {
        [
            effect @ Effect::Patch {
                resource_version, ..
            },
        ] => {
            assert_eq!(resource_version, "102", "based on what the server answered");
            assert_eq!(beijing_replicas(effect), Some(6), "two presses, two steps");
        }
        other => panic!("expected the queued presses as one patch, got {other:?}"),
    }
    written.metadata.resource_version = Some("103".into());
    let done = a.update(Action::WriteResult(WriteOutcome::Ok {
        what: "saved EdgeApplication edge-apps/nginx-app".into(),
        written: Some(Box::new(written)),
    }));
    assert!(done.is_empty(), "nothing else queued: {done:?}");
    assert!(a.pending.is_none());
    let flash = format!("{:?}", a.flash);
    assert!(!flash.contains("conflict"), "{flash}");
}

#[test]
fn a_failed_write_drops_the_queue_and_says_so() {
    let mut a = app();
    command(&mut a, "matrix");
    assert_eq!(key(&mut a, KeyCode::Char('+')).len(), 1);
    assert!(key(&mut a, KeyCode::Char('-')).is_empty());
    let next = a.update(Action::WriteResult(WriteOutcome::Failed {
        error: "connection refused".into(),
    }));
    assert!(next.is_empty());
    let flash = format!("{:?}", a.flash);
    assert!(flash.contains("1 queued edit(s) not sent"), "{flash}");
    // The next press is a fresh write again.
    assert_eq!(key(&mut a, KeyCode::Char('+')).len(), 1);
}

#[test]
fn a_finished_delete_is_reported_as_a_delete_not_a_save() {
    let mut a = app();
    a.update(Action::WriteResult(WriteOutcome::Ok {
        what: "deleted NodeGroup chengdu".into(),
        written: None,
    }));
    let flash = format!("{:?}", a.flash);
    assert!(flash.contains("✓ deleted NodeGroup chengdu"), "{flash}");
    assert!(!flash.contains("saved"), "{flash}");
}

#[test]
fn a_conflict_on_status_only_is_written_again_without_asking() {
    let mut a = app();
    command(&mut a, "matrix");
    assert_eq!(key(&mut a, KeyCode::Char('+')).len(), 1); // beijing 3 → 4
    // Meanwhile the engine only updated the status: same spec, new resourceVersion.
    let mut current = a.fleet.applications[0].clone();
    for rv in ["101", "102", "103"] {
        current.metadata.resource_version = Some(rv.into());
        let effects = a.update(Action::WriteResult(WriteOutcome::Conflict {
            current: Box::new(current.clone()),
        }));
        match effects.as_slice() {
            [
                Effect::Patch {
                    resource_version,
                    patch,
                    ..
                },
            ] => {
                assert_eq!(resource_version, rv);
                assert!(patch.to_string().contains("\"replicas\":4"), "{patch}");
            }
            other => panic!("expected the same patch on {rv}, got {other:?}"),
        }
        assert!(matches!(a.mode, Mode::Normal));
    }
    // Bounded: a status that keeps moving ends in the conflict view.
    current.metadata.resource_version = Some("104".into());
    let effects = a.update(Action::WriteResult(WriteOutcome::Conflict {
        current: Box::new(current),
    }));
    assert!(effects.is_empty());
    assert!(matches!(a.mode, Mode::Conflict(_)));
}

#[test]
fn add_and_remove_target_go_through_the_diff_preview() {
    let mut a = app();
    command(&mut a, "matrix");
    key(&mut a, KeyCode::Char('l'));
    key(&mut a, KeyCode::Char('l')); // shanghai, not a target of nginx-app
    key(&mut a, KeyCode::Char('a'));
    assert!(matches!(a.mode, Mode::Diff { .. }));
    let s = screen(&a, W, 40);
    assert!(s.contains("Deployment default/nginx-shanghai (new)"), "{s}");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('h')); // hangzhou
    key(&mut a, KeyCode::Char('x'));
    let s = screen(&a, W, 40);
    assert!(s.contains("nginx-hangzhou (will be deleted)"), "{s}");
}

#[test]
fn yaml_editor_parses_as_you_type() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char('E'));
    assert!(matches!(a.mode, Mode::YamlEdit(_)));
    chars(&mut a, "{{");
    let s = screen(&a, W, 20);
    assert!(s.contains('✗'), "{s}");
    ctrl(&mut a, 's');
    assert!(
        matches!(a.mode, Mode::YamlEdit(_)),
        "invalid YAML is not previewed"
    );
}

/// Rewrites the open YAML editor's text with `f`.
fn edit_yaml(a: &mut App, f: impl Fn(&str) -> String) {
    let Mode::YamlEdit(editor) = &mut a.mode else {
        panic!("the YAML editor is not open");
    };
    let text = f(&editor.textarea.lines().join("\n"));
    editor.textarea = ratatui_textarea::TextArea::new(text.lines().map(str::to_owned).collect());
    editor.edit();
}

/// `text` with the value of the first `key:` after the line containing `after` replaced.
fn replace_after(text: &str, after: &str, key: &str, value: &str) -> String {
    let mut seen = false;
    let mut done = false;
    text.lines()
        .map(|l| {
            seen |= l.contains(after);
            match l.split_once(&format!("{key}:")) {
                Some((indent, _)) if seen && !done => {
                    done = true;
                    format!("{indent}{key}: {value}")
                }
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn yaml_editor_refuses_what_the_api_server_would_and_names_the_field() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char('E'));
    edit_yaml(&mut a, |t| {
        t.replacen(
            "      spec:\n        selector:",
            "      spec:\n        replicas: abc\n        selector:",
            1,
        )
    });
    let s = screen(&a, W, 30);
    assert!(!s.contains("✓ valid"), "{s}");
    assert!(
        s.contains("manifests[0]") && s.contains("spec.replicas"),
        "{s}"
    );
    assert!(ctrl(&mut a, 's').is_empty());
    assert!(
        matches!(a.mode, Mode::YamlEdit(_)),
        "not previewed, not saved"
    );
    let flash = format!("{:?}", a.flash);
    assert!(flash.contains("not saved"), "{flash}");

    edit_yaml(&mut a, |t| {
        t.replacen(
            "apiVersion: apps.kubeedge.io",
            "GapiVersion: apps.kubeedge.io",
            1,
        )
    });
    let s = screen(&a, W, 30);
    assert!(s.contains("GapiVersion: unknown field"), "{s}");
}

#[test]
fn negative_replicas_preview_says_the_group_is_kept_not_deleted() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char('E'));
    edit_yaml(&mut a, |t| {
        replace_after(t, "targetNodeGroups:", "replicas", "-1")
    });
    let s = screen(&a, W, 30);
    assert!(
        s.contains("will not be rendered") && s.contains("it keeps what"),
        "{s}"
    );
    ctrl(&mut a, 's');
    assert!(
        matches!(a.mode, Mode::Diff { .. }),
        "the API server accepts it"
    );
    let s = screen(&a, W, 40);
    assert!(!s.contains("will be deleted"), "{s}");
    assert!(s.contains("kept as it runs"), "{s}");
}

#[test]
fn new_group_previews_selected_nodes() {
    let mut a = app();
    key(&mut a, KeyCode::Char('c'));
    chars(&mut a, "west");
    key(&mut a, KeyCode::Tab);
    chars(&mut a, "kubernetes.io/hostname=node-g");
    insta::assert_snapshot!("new_group", screen(&a, W, 16));
    let effects = ctrl(&mut a, 's');
    match effects.as_slice() {
        [Effect::Create { object }] => {
            assert_eq!(object["metadata"]["name"], "west");
            assert_eq!(
                object["spec"]["matchLabels"]["kubernetes.io/hostname"],
                "node-g"
            );
        }
        other => panic!("expected a create, got {other:?}"),
    }
}

#[test]
fn readonly_reaches_no_write_path() {
    let mut a = readonly_app();
    let mut effects = Vec::new();
    for view in ["regions", "apps", "matrix", "nodes"] {
        command(&mut a, view);
        for c in ['e', 'E', '+', '-', 'a', 'x', 'c'] {
            effects.extend(key(&mut a, KeyCode::Char(c)));
            effects.extend(ctrl(&mut a, 's'));
            effects.extend(key(&mut a, KeyCode::Char('y')));
            key(&mut a, KeyCode::Esc);
        }
        effects.extend(ctrl(&mut a, 'd'));
        effects.extend(key(&mut a, KeyCode::Char('y')));
    }
    effects.extend(command(&mut a, "newgroup"));
    assert!(effects.iter().all(|e| !e.writes()), "{effects:?}");
    assert!(matches!(a.mode, Mode::Normal));
    command(&mut a, "matrix");
    insta::assert_snapshot!("readonly_matrix", screen(&a, W, 8));
}

#[test]
fn ctrl_d_asks_then_deletes_only_the_version_shown() {
    let mut a = app();
    command(&mut a, "apps");
    assert!(
        ctrl(&mut a, 'd').is_empty(),
        "nothing happens before the answer"
    );
    assert!(
        matches!(a.mode, Mode::ConfirmDelete { .. }),
        "{:?}",
        a.flash
    );
    assert!(
        screen(&a, W, 30).contains("Delete EdgeApplication"),
        "the prompt names the object"
    );
    let effects = key(&mut a, KeyCode::Char('y'));
    let app = &a.fleet.applications[0];
    match effects.as_slice() {
        [
            Effect::Delete {
                key,
                resource_version,
            },
        ] => {
            assert_eq!(key.kind, "EdgeApplication");
            assert_eq!(Some(key.name.as_str()), app.metadata.name.as_deref());
            assert_eq!(
                Some(resource_version.as_str()),
                app.metadata.resource_version.as_deref()
            );
        }
        other => panic!("expected one delete, got {other:?}"),
    }
    assert!(matches!(a.mode, Mode::Normal));

    // Any other key cancels.
    ctrl(&mut a, 'd');
    assert!(key(&mut a, KeyCode::Char('n')).is_empty());
    assert!(matches!(a.mode, Mode::Normal));

    // Regions: the selected NodeGroup. The fixture's groups carry no
    // resourceVersion, and a delete without a precondition is refused.
    command(&mut a, "regions");
    assert!(ctrl(&mut a, 'd').is_empty());
    assert!(matches!(a.mode, Mode::Normal));
    assert!(
        matches!(&a.flash, Some(Flash::Error(e)) if e.contains("NodeGroup beijing has no resourceVersion")),
        "{:?}",
        a.flash
    );
}

#[test]
fn the_selected_row_is_drawn_in_selection_colours_only() {
    let a = app();
    let t = terminal(&a, W, 12);
    let buf = t.backend().buffer();
    let row = (0..buf.area.height)
        .find(|&y| {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            line.contains("NotReady for 7m ·") && line.contains("beijing")
        })
        .expect("beijing row, selected first, with its NotReady warning");
    let (fg, bg) = (a.theme.selected_fg, a.theme.selected_bg);
    let text_cells: Vec<_> = (0..buf.area.width)
        .map(|x| &buf[(x, row)])
        .filter(|c| !c.symbol().trim().is_empty() && c.symbol() != "│")
        .collect();
    assert!(text_cells.len() > 20, "the row has text");
    let unhighlighted: Vec<&str> = text_cells
        .iter()
        .filter(|c| c.bg != bg)
        .map(|c| c.symbol())
        .collect();
    assert!(
        unhighlighted.is_empty(),
        "text off the highlight: {unhighlighted:?}"
    );
    let off: Vec<String> = text_cells
        .iter()
        .filter(|c| c.fg != fg)
        .map(|c| format!("{}:{:?}", c.symbol(), c.fg))
        .collect();
    assert!(
        off.is_empty(),
        "cells keep their own colour on the highlight: {off:?}"
    );
}

#[test]
fn draws_only_when_something_changed() {
    let mut a = app();
    assert!(a.take_dirty(), "first frame");
    assert!(!a.take_dirty());
    // Unbound key, same-second tick, same snapshot: nothing to draw.
    key(&mut a, KeyCode::F(9));
    a.update(Action::Tick(fixture::now()));
    let same = Arc::clone(&a.fleet);
    a.update(Action::FleetUpdated(same));
    assert!(!a.take_dirty());
    // Ticks on a view without ages do not redraw either.
    a.update(Action::Tick(
        fixture::now() + std::time::Duration::from_secs(3),
    ));
    assert!(!a.take_dirty());
    // Moving at the top edge does not redraw.
    key(&mut a, KeyCode::Char('k'));
    assert!(!a.take_dirty());
    key(&mut a, KeyCode::Char('j'));
    assert!(a.take_dirty());
    // The engine view shows ages: a new second redraws.
    command(&mut a, "engine");
    a.take_dirty();
    a.update(Action::Tick(
        fixture::now() + std::time::Duration::from_secs(5),
    ));
    assert!(a.take_dirty());
    // A new snapshot redraws.
    let mut next = fixture::demo_fleet();
    next.version = 2;
    a.update(Action::FleetUpdated(Arc::new(next)));
    assert!(a.take_dirty());
}

#[test]
fn colour_never_alone_notready_has_a_symbol() {
    let a = app();
    let mut a2 = app();
    key(&mut a2, KeyCode::Enter); // beijing
    let t = terminal(&a2, W, 30);
    let buf = t.backend().buffer();
    let mut found = false;
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        if let Some(col) = line.find("✗ NotReady") {
            let x = u16::try_from(line[..col].chars().count()).unwrap_or(0);
            assert_eq!(buf[(x, y)].fg, Color::Red);
            found = true;
        }
    }
    assert!(found);
    drop(a);
}

#[test]
fn generated_objects_of_unwatched_kinds_take_the_engines_recorded_status() {
    use super::model::Derived;
    use crate::api::ManifestCondition;
    let mut fleet = fixture::demo_fleet();
    let app = &mut fleet.applications[0];
    app.spec
        .workload_template
        .manifests
        .push(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nginx-conf"},
        "data": {"a": "b"}}));
    let conf = |f: &Fleet| {
        let derived = Derived::compute(f);
        let info = derived.apps.iter().find(|a| a.name == "nginx-app").cloned();
        let info = info.expect("nginx-app");
        let o = info
            .objects
            .iter()
            .find(|o| o.key.as_ref().is_some_and(|k| k.kind == "ConfigMap"));
        o.map(|o| o.condition).expect("the ConfigMap is rendered")
    };
    // The console does not watch ConfigMaps: without the engine's word it is pending…
    assert_eq!(conf(&fleet), ManifestCondition::Processing);
    // …and with it, what the engine recorded.
    let recorded: crate::api::EdgeApplicationStatus = serde_json::from_value(serde_json::json!({
        "workloadStatus": [{"identifier": {"ordinal": 2, "group": "", "version": "v1",
            "kind": "ConfigMap", "resource": "configmaps", "namespace": "default",
            "name": "nginx-conf"}, "conditions": "Available"}]}))
    .expect("status");
    fleet.applications[0].status = Some(recorded);
    assert_eq!(conf(&fleet), ManifestCondition::Available);
}

/// KubeEdge skips an overrider naming a container the template lacks; so
/// does edgedeck, and the console says so on that object (issue #13).
#[test]
fn a_skipped_overrider_is_shown_as_a_warning_in_app_detail() {
    let mut fleet = fixture::demo_fleet();
    let app = &mut fleet.applications[0];
    assert_eq!(app.metadata.name.as_deref(), Some("nginx-app"));
    app.spec.workload_scope.target_node_groups[0]
        .overriders
        .env_overriders = vec![crate::api::EnvOverrider {
        container_name: "ghost".into(),
        operator: crate::api::OverriderOperator::Add,
        value: vec![],
    }];
    let mut a = App::new(Arc::new(fleet), options());
    command(&mut a, "apps");
    key(&mut a, KeyCode::Enter);
    assert!(matches!(a.screen().view, View::AppDetail { .. }));
    let shown = screen(&a, 200, 34);
    assert!(
        shown.contains(
            "⚠ Deployment default/nginx-hangzhou: envOverriders[0] names container \"ghost\""
        ),
        "{shown}"
    );
}

#[test]
fn virtualized_tables_handle_ten_thousand_nodes() {
    let fleet = fixture::scale_fleet(500, 10_000);
    let mut a = App::new(Arc::new(fleet), options());
    assert_eq!(a.derived.groups.len(), 500);
    command(&mut a, "nodes");
    let s = screen(&a, W, 20);
    assert!(s.contains("[10000]"), "{s}");
    assert!(s.contains("edge-00000"));
    key(&mut a, KeyCode::Char('G'));
    let s = screen(&a, W, 20);
    assert!(s.contains("edge-09999"), "{s}");
    command(&mut a, "regions");
    key(&mut a, KeyCode::PageDown);
    let s = screen(&a, W, 20);
    assert!(s.contains("[501]"), "{s}");
    command(&mut a, "matrix");
    for _ in 0..30 {
        key(&mut a, KeyCode::Char('l'));
    }
    let s = screen(&a, W, 12);
    assert!(s.contains("region-0030"), "{s}");
}

#[test]
fn a_new_snapshot_keeps_the_selection_and_survives_broken_objects() {
    let mut a = app();
    command(&mut a, "nodes");
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j'));
    let before = a.selected_ref();
    let mut next: Fleet = fixture::demo_fleet();
    next.version = 7;
    // Nameless objects and a garbage workload must not panic anything.
    next.nodes.insert(0, Default::default());
    next.workloads
        .push(serde_json::json!({"kind": 5, "metadata": []}));
    next.applications[0]
        .spec
        .workload_template
        .manifests
        .push(serde_json::json!("not an object"));
    a.update(Action::FleetUpdated(Arc::new(next)));
    assert_eq!(a.selected_ref(), before);
    for v in ["regions", "apps", "matrix", "traffic", "engine", "nodes"] {
        command(&mut a, v);
        screen(&a, 60, 10);
        key(&mut a, KeyCode::Enter);
        screen(&a, 60, 10);
        key(&mut a, KeyCode::Char('d'));
        screen(&a, 60, 10);
    }
}

fn controlled_app(readonly: bool) -> App {
    let mut fleet = fixture::demo_fleet();
    fleet.controls = true;
    App::new(
        Arc::new(fleet),
        Options {
            readonly,
            ..options()
        },
    )
}

fn shift(app: &mut App, c: char) -> Vec<Effect> {
    app.update(Action::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::SHIFT,
    )))
}

#[test]
fn offline_keys_exist_only_with_fleet_controls() {
    let mut a = app();
    command(&mut a, "nodes");
    assert!(key(&mut a, KeyCode::Char('o')).is_empty());
    assert!(!screen(&a, W, 16).contains("offline"));
    command(&mut a, "regions");
    assert!(shift(&mut a, 'O').is_empty());
    key(&mut a, KeyCode::Char('?'));
    assert!(!screen(&a, W, 200).contains("simulator"));
}

#[test]
fn o_toggles_the_selected_node_and_shift_o_a_whole_region() {
    let mut a = controlled_app(false);
    command(&mut a, "nodes");
    assert!(screen(&a, W, 16).contains("o offline"), "hint shown");
    let first = a.derived.nodes[0].name.clone();
    assert_eq!(
        key(&mut a, KeyCode::Char('o')),
        vec![Effect::SetOffline {
            nodes: vec![first.clone()],
            offline: true
        }]
    );
    // Once the fleet says it is offline, `o` brings it back.
    let mut fleet = (*a.fleet).clone();
    fleet.version += 1;
    fleet.offline.insert(first.clone());
    a.update(Action::FleetUpdated(Arc::new(fleet)));
    assert_eq!(
        key(&mut a, KeyCode::Char('o')),
        vec![Effect::SetOffline {
            nodes: vec![first],
            offline: false
        }]
    );
    a.update(Action::WriteResult(WriteOutcome::Done {
        message: "hz-edge-01 back online".into(),
    }));
    assert!(screen(&a, W, 16).contains("✓ hz-edge-01 back online"));

    // Group detail: `o` on a member.
    command(&mut a, "regions");
    key(&mut a, KeyCode::Enter);
    let effects = key(&mut a, KeyCode::Char('o'));
    assert!(
        matches!(effects.as_slice(), [Effect::SetOffline { nodes, offline: true }] if nodes.len() == 1),
        "{effects:?}"
    );

    // Regions: `O` takes every member of the selected group offline.
    command(&mut a, "regions");
    let region = a.derived.groups[0].clone();
    let members: Vec<String> = region
        .members
        .iter()
        .map(|&i| a.derived.nodes[i].name.clone())
        .collect();
    assert!(!members.is_empty());
    assert_eq!(
        shift(&mut a, 'O'),
        vec![Effect::SetOffline {
            nodes: members,
            offline: true
        }]
    );
    assert!(screen(&a, W, 12).contains("O region-offline"));

    key(&mut a, KeyCode::Char('?'));
    let help = screen(&a, W, 200);
    assert!(help.contains("take the selected node offline"), "{help}");
    assert!(help.contains("take every node of the selected region offline"));
}

#[test]
fn readonly_refuses_the_offline_controls() {
    let mut a = controlled_app(true);
    command(&mut a, "nodes");
    assert!(key(&mut a, KeyCode::Char('o')).is_empty());
    assert!(screen(&a, W, 16).contains("read-only"));
    command(&mut a, "regions");
    assert!(shift(&mut a, 'O').is_empty());
}

#[test]
fn a_lost_connection_shows_a_banner_over_the_last_known_data() {
    let mut fleet = fixture::demo_fleet();
    fleet.connection = ConnectionState::Reconnecting {
        since: fixture::now() - std::time::Duration::from_secs(12),
        error: "client error (Connect): Connection refused".into(),
    };
    let a = App::new(Arc::new(fleet), options());
    insta::assert_snapshot!("reconnecting", screen(&a, W, 12));
}

#[test]
fn a_missing_crd_and_startup_progress_are_shown() {
    let mut fleet = fixture::demo_fleet();
    fleet.connection = ConnectionState::Partial {
        problems: vec![
            "NodeGroup CRD not installed: run `edgedeck crds | kubectl apply -f -`".into(),
        ],
    };
    let mut a = App::new(Arc::new(fleet.clone()), options());
    let s = screen(&a, W, 12);
    assert!(
        s.contains("◐ NodeGroup CRD not installed: run `edgedeck crds | kubectl apply -f -`"),
        "{s}"
    );
    fleet.version += 1;
    fleet.connection = ConnectionState::Connecting {
        step: "starting embedded cluster: seeding 60 objects…".into(),
    };
    a.update(Action::FleetUpdated(Arc::new(fleet)));
    let s = screen(&a, W, 12);
    assert!(
        s.contains("◌ starting embedded cluster: seeding 60 objects…"),
        "{s}"
    );
}

#[test]
fn the_header_shows_the_kubeconfig_and_help_the_log_file() {
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            kubeconfig_out: Some("/tmp/k".into()),
            log_path: Some("/state/edgedeck/edgedeck.log".into()),
            ..options()
        },
    );
    assert!(
        screen(&a, W, 8)
            .lines()
            .next()
            .is_some_and(|l| l.contains("kubeconfig /tmp/k"))
    );
    key(&mut a, KeyCode::Char('?'));
    assert!(screen(&a, W, 10).contains("Log file: /state/edgedeck/edgedeck.log"));
    command(&mut a, "engine");
    assert!(screen(&a, W, 16).contains("/state/edgedeck/edgedeck.log"));
}

#[test]
fn messages_expire_and_a_new_view_does_not_inherit_an_old_error() {
    let mut a = app();
    command(&mut a, "nosuchcommand");
    let shown = screen(&a, W, 8);
    let error = format!("{:?}", a.flash);
    assert!(matches!(a.flash, Some(Flash::Error(_))), "{error}");
    a.update(Action::Tick(
        fixture::now() + std::time::Duration::from_secs(3),
    ));
    assert_eq!(screen(&a, W, 8), shown, "still there after 3 s");
    a.update(Action::Tick(
        fixture::now() + std::time::Duration::from_secs(16),
    ));
    assert!(a.flash.is_none(), "an error goes after 15 s");
    assert_ne!(screen(&a, W, 8), shown);

    command(&mut a, "nosuchcommand");
    assert!(a.flash.is_some());
    key(&mut a, KeyCode::Char('2'));
    assert!(a.flash.is_none(), "switching views clears it");
    command(&mut a, "nosuchcommand");
    key(&mut a, KeyCode::Enter);
    assert!(a.flash.is_none(), "drilling in clears it");
}

#[test]
fn tab_twice_on_a_command_completes_it_then_lists_its_arguments() {
    let mut a = app();
    key(&mut a, KeyCode::Char(':'));
    chars(&mut a, "th");
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Tab);
    match &a.mode {
        Mode::Command { input } => assert_eq!(input, "theme "),
        _ => panic!("the command line is open"),
    }
    let s = screen(&a, W, 6);
    assert!(s.contains("dark") && s.contains("light"), "{s}");
}

#[test]
fn switching_views_and_back_keeps_the_selection_and_filter() {
    let mut a = app();
    command(&mut a, "nodes");
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char('j'));
    let selected = a.screen().table.selected_row();
    assert!(selected.is_some_and(|r| r > 0), "{selected:?}");
    command(&mut a, "apps");
    command(&mut a, "nodes");
    assert_eq!(a.screen().table.selected_row(), selected);
}

#[test]
fn a_command_with_extra_words_is_refused_not_half_done() {
    let mut a = app();
    let effects = command(&mut a, "ctx embedded foo");
    assert!(effects.is_empty(), "{effects:?}");
    let flash = format!("{:?}", a.flash);
    assert!(
        flash.contains(":ctx takes at most one argument") && flash.contains("foo"),
        "{flash}"
    );
}

#[test]
fn esc_then_a_key_read_by_the_terminal_as_alt_is_both_keys() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Enter);
    assert!(matches!(a.screen().view, View::AppDetail { .. }));
    a.update(Action::Key(KeyEvent::new(
        KeyCode::Char('3'),
        KeyModifiers::ALT,
    )));
    assert_eq!(a.screen().view, View::Matrix, "esc, then 3");
}

#[test]
fn a_new_group_that_selects_no_node_says_so_and_the_footer_says_create() {
    let mut a = app();
    key(&mut a, KeyCode::Char('c'));
    chars(&mut a, "west");
    key(&mut a, KeyCode::Tab);
    chars(&mut a, "zone=nowhere");
    let s = screen(&a, W, 16);
    assert!(s.contains("⚠ selects no node"), "{s}");
    assert!(!s.contains("ready to create"), "{s}");
    assert!(
        s.contains("ctrl-s create") && !s.contains("ctrl-s preview"),
        "{s}"
    );
}

/// The lines inside the body's border, without it.
fn body_lines(s: &str) -> Vec<String> {
    s.lines()
        .skip(2)
        .take_while(|l| !l.starts_with('└'))
        .map(|l| {
            l.trim_start_matches('│')
                .trim_end_matches('│')
                .trim_end()
                .to_owned()
        })
        .collect()
}

#[test]
fn describe_keeps_keys_as_they_are_lists_as_items_and_ends_with_events() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char('d'));
    let top = screen(&a, W, 40);
    assert!(
        top.contains("app:  nginx"),
        "a label key stays as it is:\n{top}"
    );
    assert!(!top.contains("App:"), "{top}");
    assert!(
        top.contains("- apiVersion:  apps/v1"),
        "list items are items:\n{top}"
    );
    assert!(!top.contains("-:"), "{top}");

    key(&mut a, KeyCode::Char('G'));
    let bottom = screen(&a, W, 40);
    let lines = body_lines(&bottom);
    assert!(
        lines.iter().all(|l| !l.is_empty()),
        "G shows a full last page:\n{bottom}"
    );
    assert!(bottom.contains("Events:"), "{bottom}");
    assert!(
        bottom.contains("Normal") && bottom.contains("edgeapplication"),
        "{bottom}"
    );
    // Up from the bottom moves at once (the scroll is bounded, not a million).
    key(&mut a, KeyCode::Char('k'));
    assert_ne!(screen(&a, W, 40), bottom);
}

#[test]
fn yaml_view_search_finds_highlights_and_steps_through_matches() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char('y'));
    screen(&a, W, 12);
    key(&mut a, KeyCode::Char('/'));
    chars(&mut a, "replicas");
    key(&mut a, KeyCode::Enter);
    let first = screen(&a, W, 12);
    let lines = body_lines(&first);
    assert!(
        lines[0].contains("replicas"),
        "the first match on top:\n{first}"
    );
    assert!(
        first.contains("/replicas:") && first.contains("n/N"),
        "{first}"
    );
    key(&mut a, KeyCode::Char('n'));
    let second = screen(&a, W, 12);
    assert_ne!(second, first, "n goes to the next match");
    assert!(
        body_lines(&second).iter().any(|l| l.contains("replicas")),
        "{second}"
    );
    key(&mut a, KeyCode::Char('N'));
    assert_eq!(screen(&a, W, 12), first, "N comes back");
}

#[test]
fn the_yaml_editor_numbers_its_lines() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char('E'));
    let s = screen(&a, W, 20);
    assert!(
        s.contains(" 1 apiVersion: apps.kubeedge.io/v1alpha1"),
        "{s}"
    );
}
