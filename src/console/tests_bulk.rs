//! The App with bulk marks, the mouse and `$EDITOR`: snapshots at 80×24
//! and 160×45, and what each sends (or does not send) to the cluster.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::action::{Action, Effect, WriteOutcome};
use super::app::{App, Mode, Options};
use super::fixture;
use super::tests::{app, command, key, options, screen};
use super::views::View;

fn patch_names(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Patch {
                key,
                resource_version,
                ..
            } => Some((key.name.clone(), resource_version.clone())),
            _ => None,
        })
        .collect()
}

/// The matrix with nginx-app × beijing and telemetry × beijing marked.
fn two_marked() -> App {
    let mut a = app();
    command(&mut a, "matrix");
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char(' '));
    assert_eq!(a.marks.len(), 2);
    a
}

#[test]
fn snapshot_matrix_with_marks() {
    let a = two_marked();
    insta::assert_snapshot!("matrix_marks_80x24", screen(&a, 80, 24));
    insta::assert_snapshot!("matrix_marks_160x45", screen(&a, 160, 45));
}

#[test]
fn snapshot_app_detail_with_a_marked_target() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Enter);
    assert!(matches!(a.screen().view, View::AppDetail { .. }));
    key(&mut a, KeyCode::Char(' '));
    assert_eq!(a.marks.len(), 1);
    insta::assert_snapshot!("app_detail_mark_80x24", screen(&a, 80, 24));
    insta::assert_snapshot!("app_detail_mark_160x45", screen(&a, 160, 45));
}

#[test]
fn a_bulk_scale_is_one_preview_listing_every_application() {
    let mut a = two_marked();
    assert!(
        key(&mut a, KeyCode::Char('+')).is_empty(),
        "nothing written before y"
    );
    let Mode::Diff { preview, .. } = &a.mode else {
        panic!("expected the preview");
    };
    assert_eq!(preview.also.len(), 1, "two applications, one preview");
    insta::assert_snapshot!("bulk_preview_80x24", screen(&a, 80, 24));
    insta::assert_snapshot!("bulk_preview_160x45", screen(&a, 160, 45));
    let s = screen(&a, 160, 45);
    assert!(s.contains("default/nginx-app: scale beijing by +1"), "{s}");
    assert!(s.contains("edge/telemetry: scale beijing by +1"), "{s}");
}

#[test]
fn a_bulk_save_is_one_conflict_safe_write_per_application() {
    let mut a = two_marked();
    key(&mut a, KeyCode::Char('+'));
    let first = key(&mut a, KeyCode::Char('y'));
    assert_eq!(
        patch_names(&first),
        [("nginx-app".to_owned(), "100".to_owned())]
    );
    assert!(a.marks.is_empty(), "the marks went into the save");
    let mut written = a.fleet.applications[0].clone();
    written.metadata.resource_version = Some("101".into());
    let second = a.update(Action::WriteResult(WriteOutcome::Ok {
        what: "saved nginx-app".into(),
        written: Some(Box::new(written)),
    }));
    assert_eq!(
        patch_names(&second),
        [("telemetry".to_owned(), "200".to_owned())]
    );
    match second.as_slice() {
        [Effect::Patch { patch, .. }] => {
            let replicas =
                patch.pointer("/spec/workloadScope/targetNodeGroups/0/overriders/replicas");
            assert_eq!(replicas, Some(&serde_json::json!(2)), "{patch}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_409_on_one_application_does_not_lose_the_others() {
    let mut a = two_marked();
    key(&mut a, KeyCode::Char('+'));
    key(&mut a, KeyCode::Char('y'));
    // Someone changed nginx-app's spec meanwhile.
    let mut current = a.fleet.applications[0].clone();
    current.metadata.resource_version = Some("150".into());
    current.spec.workload_scope.target_node_groups[0]
        .overriders
        .replicas = Some(9);
    let next = a.update(Action::WriteResult(WriteOutcome::Conflict {
        current: Box::new(current),
    }));
    assert!(
        matches!(a.mode, Mode::Conflict(_)),
        "nginx-app's conflict is shown"
    );
    assert_eq!(
        patch_names(&next),
        [("telemetry".to_owned(), "200".to_owned())],
        "telemetry is still sent"
    );
    let flash = format!("{:?}", a.flash);
    assert!(flash.contains("409"), "{flash}");
    // And a failure of that one loses nothing else either.
    let after = a.update(Action::WriteResult(WriteOutcome::Failed {
        error: "connection refused".into(),
    }));
    assert!(after.is_empty());
    assert!(
        matches!(a.mode, Mode::Conflict(_)),
        "the conflict view stays"
    );
}

#[test]
fn marks_survive_live_updates_while_their_row_exists_and_esc_clears_them() {
    let mut a = two_marked();
    let mut fleet = (*a.fleet).clone();
    fleet.version += 1;
    a.update(Action::FleetUpdated(Arc::new(fleet.clone())));
    assert_eq!(a.marks.len(), 2, "the same rows, new snapshot");
    fleet.version += 1;
    fleet
        .applications
        .retain(|x| x.metadata.name.as_deref() != Some("telemetry"));
    a.update(Action::FleetUpdated(Arc::new(fleet)));
    assert_eq!(a.marks.len(), 1, "telemetry is gone, so is its mark");
    key(&mut a, KeyCode::Esc);
    assert!(a.marks.is_empty());
    assert_eq!(
        a.screen().view,
        View::Matrix,
        "esc cleared the marks, did not go back"
    );
}

#[test]
fn bulk_target_add_and_remove_skip_cells_they_would_not_change() {
    let mut a = app();
    command(&mut a, "matrix");
    // beijing (targeted by both) and hangzhou (only nginx-app) for telemetry.
    key(&mut a, KeyCode::Char('j'));
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char('l'));
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char('a'));
    let Mode::Diff { preview, .. } = &a.mode else {
        panic!("expected the preview");
    };
    assert_eq!(preview.pending.edit.describe(), "add target hangzhou");
    assert!(preview.also.is_empty());
    let s = screen(&a, 160, 45);
    assert!(
        s.contains("unchanged (not a target, or already one): telemetry×beijing"),
        "{s}"
    );
}

#[test]
fn bulk_edits_are_refused_read_only() {
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            readonly: true,
            ..options()
        },
    );
    command(&mut a, "matrix");
    key(&mut a, KeyCode::Char(' '));
    assert!(key(&mut a, KeyCode::Char('+')).is_empty());
    assert!(matches!(a.mode, Mode::Normal));
}

// ---- mouse ----

fn mouse(a: &mut App, kind: MouseEventKind, column: u16, row: u16, ms: u64) -> Vec<Effect> {
    a.update(Action::Mouse {
        event: MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        },
        at: fixture::now() + Duration::from_millis(ms),
    })
}

const CLICK: MouseEventKind = MouseEventKind::Down(MouseButton::Left);

#[test]
fn a_click_selects_the_row_under_it_and_a_double_click_drills_in() {
    let mut a = app();
    screen(&a, 80, 24); // what the operator sees: where the rows are
    // Header, table border, column titles: the second row is on line 4.
    mouse(&mut a, CLICK, 10, 4, 0);
    assert_eq!(a.screen().table.selected, 1);
    assert_eq!(a.screen().view, View::Regions);
    mouse(&mut a, CLICK, 10, 4, 300);
    assert!(
        matches!(a.screen().view, View::Group(_)),
        "double-click drills in"
    );
    // Two clicks far apart in time are two clicks.
    let mut b = app();
    screen(&b, 80, 24);
    mouse(&mut b, CLICK, 10, 4, 0);
    mouse(&mut b, CLICK, 10, 4, 2_000);
    assert_eq!(b.screen().view, View::Regions);
}

#[test]
fn the_wheel_scrolls_and_a_breadcrumb_goes_back() {
    let mut a = app();
    screen(&a, 80, 24);
    mouse(&mut a, MouseEventKind::ScrollDown, 10, 10, 0);
    mouse(&mut a, MouseEventKind::ScrollDown, 10, 10, 10);
    assert_eq!(a.screen().table.selected, 2);
    mouse(&mut a, MouseEventKind::ScrollUp, 10, 10, 20);
    assert_eq!(a.screen().table.selected, 1);
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Char('d'));
    assert_eq!(a.stack.len(), 3);
    screen(&a, 80, 24);
    // "edgedeck › Regions › …": Regions starts at column 11.
    mouse(&mut a, CLICK, 12, 0, 5_000);
    assert_eq!(a.stack.len(), 1);
    assert_eq!(a.screen().view, View::Regions);
}

#[test]
fn a_click_in_the_matrix_selects_the_cell() {
    let mut a = app();
    command(&mut a, "matrix");
    screen(&a, 160, 45);
    // Border, APPLICATION (22), a space, then 17-wide cells a space apart.
    let second_group = 1 + 22 + 1 + 18 + 3;
    mouse(&mut a, CLICK, second_group, 4, 0);
    assert_eq!(a.screen().table.selected, 1);
    assert_eq!(a.screen().column, 1);
}

#[test]
fn with_the_mouse_off_events_do_nothing() {
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            mouse: false,
            ..options()
        },
    );
    screen(&a, 80, 24);
    mouse(&mut a, CLICK, 10, 4, 0);
    mouse(&mut a, MouseEventKind::ScrollDown, 10, 4, 10);
    assert_eq!(a.screen().table.selected, 0);
    assert!(!a.is_dirty() || a.take_dirty());
}

// ---- $EDITOR ----

fn with_editor() -> App {
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            external_editor: Some("vi".into()),
            ..options()
        },
    );
    command(&mut a, "apps");
    a
}

fn opened(effects: &[Effect]) -> String {
    match effects {
        [Effect::EditExternally { editor, text }] => {
            assert_eq!(editor, "vi");
            text.clone()
        }
        other => panic!("expected the editor, got {other:?}"),
    }
}

#[test]
fn e_opens_the_external_editor_and_its_edit_is_previewed_then_saved_with_the_resource_version() {
    let mut a = with_editor();
    let text = opened(&key(&mut a, KeyCode::Char('E')));
    assert!(text.starts_with("# Editing EdgeApplication default/nginx-app at resourceVersion 100"));
    assert!(text.contains("replicas: 3"), "{text}");
    let edited = text.replace("replicas: 3", "replicas: 5");
    assert!(a.update(Action::ExternalEdited(Ok(edited))).is_empty());
    assert!(matches!(a.mode, Mode::Diff { .. }));
    insta::assert_snapshot!("external_edit_preview_80x24", screen(&a, 80, 24));
    insta::assert_snapshot!("external_edit_preview_160x45", screen(&a, 160, 45));
    let saved = key(&mut a, KeyCode::Char('y'));
    match saved.as_slice() {
        [
            Effect::Patch {
                patch,
                resource_version,
                ..
            },
        ] => {
            assert_eq!(resource_version, "100");
            assert!(patch.to_string().contains("\"replicas\":5"), "{patch}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unchanged_file_cancels_and_writes_nothing() {
    let mut a = with_editor();
    let text = opened(&key(&mut a, KeyCode::Char('E')));
    assert!(a.update(Action::ExternalEdited(Ok(text))).is_empty());
    assert!(matches!(a.mode, Mode::Normal));
    assert!(format!("{:?}", a.flash).contains("Edit cancelled, no changes made"));
    // An emptied file too; a failed editor writes nothing either.
    let _ = key(&mut a, KeyCode::Char('E'));
    assert!(
        a.update(Action::ExternalEdited(Ok(String::new())))
            .is_empty()
    );
    let _ = key(&mut a, KeyCode::Char('E'));
    assert!(
        a.update(Action::ExternalEdited(Err("vi exited with 1".into())))
            .is_empty()
    );
    assert!(format!("{:?}", a.flash).contains("nothing saved"));
}

#[test]
fn a_refused_edit_reopens_the_editor_with_the_reasons_as_comments() {
    let mut a = with_editor();
    let text = opened(&key(&mut a, KeyCode::Char('E')));
    let bad = text.replace("replicas: 3", "replicas: three");
    let again = opened(&a.update(Action::ExternalEdited(Ok(bad))));
    assert!(
        again.starts_with("# edgedeck did not save this edit:\n#   ✗ "),
        "{again}"
    );
    assert!(again.contains("replicas"), "{again}");
    assert!(
        again.contains("replicas: three"),
        "the operator's text is kept: {again}"
    );
    insta::assert_snapshot!("external_edit_refused_80x24", screen(&a, 80, 24));
    insta::assert_snapshot!("external_edit_refused_160x45", screen(&a, 160, 45));
    // Fixed: saved. The old reasons (comments) do not get in the way.
    let fixed = again.replace("replicas: three", "replicas: 6");
    a.update(Action::ExternalEdited(Ok(fixed)));
    assert!(matches!(a.mode, Mode::Diff { .. }));
    let saved = key(&mut a, KeyCode::Char('y'));
    assert_eq!(
        patch_names(&saved),
        [("nginx-app".to_owned(), "100".to_owned())]
    );
    // The server refuses: the editor opens again with its words.
    let reopened = opened(&a.update(Action::WriteResult(WriteOutcome::Failed {
        error: "admission webhook denied".into(),
    })));
    assert!(
        reopened.contains("#   ✗ the API server: admission webhook denied"),
        "{reopened}"
    );
    // Closed unchanged after an error: given up, nothing written.
    assert!(a.update(Action::ExternalEdited(Ok(reopened))).is_empty());
    assert!(matches!(a.mode, Mode::Normal));
}

#[test]
fn the_external_editor_is_refused_read_only() {
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            readonly: true,
            external_editor: Some("vi".into()),
            ..options()
        },
    );
    command(&mut a, "apps");
    assert!(key(&mut a, KeyCode::Char('E')).is_empty());
    assert!(format!("{:?}", a.flash).contains("read-only"));
}

#[test]
fn without_an_external_editor_e_is_the_built_in_one() {
    let mut a = app();
    command(&mut a, "apps");
    assert!(key(&mut a, KeyCode::Char('E')).is_empty());
    assert!(matches!(a.mode, Mode::YamlEdit(_)));
}

// ---- config ----

#[test]
fn the_config_files_rebinding_is_what_the_app_answers_to() {
    let config = super::config::parse(
        "keys:\n  scale_up: \"=\"\n",
        std::path::Path::new("/cfg/config.yaml"),
    )
    .expect("config");
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            keys: config.keys,
            ..options()
        },
    );
    command(&mut a, "matrix");
    assert!(
        key(&mut a, KeyCode::Char('+')).is_empty(),
        "+ is no longer bound"
    );
    assert_eq!(patch_names(&key(&mut a, KeyCode::Char('='))).len(), 1);
    let help = {
        key(&mut a, KeyCode::Char('?'));
        screen(&a, 160, 120)
    };
    assert!(
        help.contains("=         scale this group up by one"),
        "{help}"
    );
}

#[test]
fn the_override_form_on_a_marked_cell_sets_the_changed_field_in_every_marked_cell() {
    let mut a = two_marked();
    key(&mut a, KeyCode::Char('k')); // back on nginx-app × beijing (marked)
    key(&mut a, KeyCode::Char('e'));
    assert!(matches!(a.mode, Mode::Form(_)));
    // Replicas is the first field: 3 → 7.
    key(&mut a, KeyCode::End);
    key(&mut a, KeyCode::Backspace);
    super::tests::chars(&mut a, "7");
    super::tests::ctrl(&mut a, 's');
    let Mode::Diff { preview, .. } = &a.mode else {
        panic!("expected the preview, flash {:?}", a.flash);
    };
    assert_eq!(preview.also.len(), 1);
    let first = key(&mut a, KeyCode::Char('y'));
    let Some(Effect::Patch { patch, .. }) = first.first() else {
        panic!("{first:?}");
    };
    let beijing = &patch["spec"]["workloadScope"]["targetNodeGroups"][1]["overriders"];
    assert_eq!(beijing["replicas"], 7, "{patch}");
    let second = a.update(Action::WriteResult(WriteOutcome::Ok {
        what: "saved".into(),
        written: None,
    }));
    let Some(Effect::Patch { patch, key, .. }) = second.first() else {
        panic!("{second:?}");
    };
    assert_eq!(key.name, "telemetry");
    let cell = &patch["spec"]["workloadScope"]["targetNodeGroups"][0]["overriders"];
    assert_eq!(
        cell["replicas"], 7,
        "only replicas changed, and it did: {patch}"
    );
    assert!(
        cell.get("imageOverriders").is_none(),
        "nginx-app's image is not copied: {patch}"
    );
}

#[test]
fn an_application_row_marks_every_target_and_plus_scales_them_in_one_write() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char(' '));
    assert_eq!(a.marks.len(), 2, "nginx-app targets hangzhou and beijing");
    insta::assert_snapshot!("apps_marks_80x24", screen(&a, 80, 24));
    insta::assert_snapshot!("apps_marks_160x45", screen(&a, 160, 45));
    key(&mut a, KeyCode::Char('+'));
    let Mode::Diff { preview, .. } = &a.mode else {
        panic!("expected the preview, flash {:?}", a.flash);
    };
    assert!(preview.also.is_empty(), "one application");
    let saved = key(&mut a, KeyCode::Char('y'));
    let [Effect::Patch { patch, .. }] = saved.as_slice() else {
        panic!("one write: {saved:?}");
    };
    let targets = &patch["spec"]["workloadScope"]["targetNodeGroups"];
    assert_eq!(targets[0]["overriders"]["replicas"], 3, "{patch}");
    assert_eq!(targets[1]["overriders"]["replicas"], 4, "{patch}");
    // Space again on a fully marked row unmarks it.
    command(&mut a, "apps");
    key(&mut a, KeyCode::Char(' '));
    key(&mut a, KeyCode::Char(' '));
    assert!(a.marks.is_empty());
}
