//! Issue #10: counts that contradict each other and black holes that are
//! not. Screen-level checks (so they hold whatever the model looks like)
//! on fixture fleets that have each condition, plus snapshots.

use std::sync::Arc;

use crossterm::event::KeyCode;

use super::app::App;
use super::fixture;
use super::model::{Derived, Fleet};
use super::tests::{W, chars, command, key, options, screen};
use super::views::View;

fn app_on(fleet: Fleet) -> App {
    App::new(Arc::new(fleet), options())
}

/// The first line of `s` containing every one of `needles`.
fn line<'s>(s: &'s str, needles: &[&str]) -> &'s str {
    s.lines()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line with {needles:?} in\n{s}"))
}

/// Every `a/b` of digits on the screen.
fn fractions(s: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for word in s.split(|c: char| !(c.is_ascii_digit() || c == '/')) {
        if let Some((a, b)) = word.split_once('/')
            && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
        {
            out.push((a, b));
        }
    }
    out
}

#[test]
fn a_failed_render_shows_what_still_runs_marked_failed_in_every_view() {
    let mut a = app_on(fixture::contradicting_counts_fleet());
    let regions = screen(&a, W, 10);
    let beijing = line(&regions, &["beijing"]);
    assert!(beijing.contains("failed"), "{beijing}");
    assert!(!beijing.contains('✓'), "{beijing}");
    insta::assert_snapshot!("regions_contradicting", regions);

    command(&mut a, "apps");
    let apps = screen(&a, W, 8);
    let nginx = line(&apps, &["nginx-app"]);
    assert!(nginx.contains("beijing ✗ 5/5 failed"), "{nginx}");
    insta::assert_snapshot!("apps_contradicting", apps);

    command(&mut a, "matrix");
    let matrix = screen(&a, W, 8);
    let nginx = line(&matrix, &["nginx-app"]);
    assert!(nginx.contains("✗ 5/5 failed"), "{nginx}");
    insta::assert_snapshot!("matrix_contradicting", matrix);
}

#[test]
fn no_check_mark_unless_the_current_generation_is_ready_and_ready_never_exceeds_desired() {
    let mut a = app_on(fixture::contradicting_counts_fleet());
    command(&mut a, "matrix");
    let matrix = screen(&a, W, 8);
    // nginx-hangzhou still runs 4 replicas of its old spec; 2 are rendered.
    assert!(line(&matrix, &["nginx-app"]).contains("▲ 2/2"), "{matrix}");
    // telemetry-beijing's generation 2 is not observed yet.
    assert!(
        line(&matrix, &["edge/telemetry"]).contains("▲ 1/1"),
        "{matrix}"
    );
    for view in ["regions", "apps", "matrix"] {
        command(&mut a, view);
        let s = screen(&a, W, 8);
        for (ready, desired) in fractions(&s) {
            assert!(ready <= desired, "{ready}/{desired} in {view}:\n{s}");
        }
    }
    // The group view says the same of each workload.
    command(&mut a, "regions");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.screen().view, View::Group("beijing".into()));
    let group = screen(&a, W, 30);
    assert!(
        line(&group, &["Deployment/nginx-beijing"]).contains("✗ 5/5 failed"),
        "{group}"
    );
    assert!(
        line(&group, &["Deployment/telemetry-beijing"]).contains("▲ 1/1"),
        "{group}"
    );
}

#[test]
fn a_service_of_an_app_not_deployed_in_a_group_is_no_black_hole() {
    let fleet = fixture::demo_fleet();
    let d = Derived::compute(&fleet);
    assert_eq!(d.group("shanghai").map(|g| g.black_holes), Some(0));

    let mut a = app_on(fleet);
    let regions = screen(&a, W, 10);
    assert!(
        !line(&regions, &["shanghai"]).contains("black hole"),
        "{regions}"
    );
    command(&mut a, "traffic");
    let traffic = screen(&a, W, 10);
    let row = line(&traffic, &["nginx-service", "shanghai"]);
    assert!(row.contains("not deployed here"), "{row}");
    assert!(!row.contains('✗'), "{row}");
}

#[test]
fn a_service_deployed_in_a_group_without_a_ready_endpoint_is_a_black_hole() {
    let mut fleet = fixture::demo_fleet();
    let nginx = &mut fleet.applications[0].spec.workload_scope.target_node_groups;
    let mut shanghai = nginx[0].clone();
    shanghai.name = "shanghai".into();
    nginx.push(shanghai);
    let d = Derived::compute(&fleet);
    assert_eq!(d.group("shanghai").map(|g| g.black_holes), Some(1));

    let mut a = app_on(fleet);
    command(&mut a, "traffic");
    let traffic = screen(&a, W, 10);
    assert!(
        line(&traffic, &["nginx-service", "shanghai"]).contains("✗ black hole"),
        "{traffic}"
    );
}

#[test]
fn an_empty_group_counts_no_black_holes() {
    let fleet = fixture::empty_group_fleet();
    let d = Derived::compute(&fleet);
    assert_eq!(d.group("chengdu").map(|g| g.black_holes), Some(0));

    let mut a = app_on(fleet);
    let regions = screen(&a, W, 10);
    assert!(
        !line(&regions, &["chengdu"]).contains("black hole"),
        "{regions}"
    );
    command(&mut a, "traffic");
    let traffic = screen(&a, W, 10);
    let row = line(&traffic, &["nginx-service", "chengdu"]);
    assert!(!row.contains('✗'), "{row}");
    assert!(row.contains("no nodes"), "{row}");
}

#[test]
fn a_range_nodegroup_service_no_application_renders_is_expected_everywhere() {
    // Nobody says where it is meant to run, so a missing endpoint is never hidden.
    let mut fleet = fixture::demo_fleet();
    fleet.services.push(
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "hand-made", "namespace": "default",
                         "annotations": {"apps.kubeedge.io/service-topology": "range-nodegroup"}},
            "spec": {"ports": [{"port": 80}]}
        }))
        .expect("service"),
    );
    let d = Derived::compute(&fleet);
    let holes: Vec<(&str, usize)> = d
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.black_holes))
        .collect();
    assert_eq!(holes, [("beijing", 1), ("hangzhou", 1), ("shanghai", 1)]);
}

#[test]
fn an_app_the_engine_is_behind_on_is_shown_lagging_never_with_a_check_mark() {
    let healthy = fixture::demo_fleet();
    let mut a = app_on(healthy.clone());
    command(&mut a, "apps");
    let before = screen(&a, W, 8);
    assert!(line(&before, &["nginx-app"]).contains('✓'), "{before}");

    let app = &healthy.applications[0];
    assert_eq!(app.metadata.name.as_deref(), Some("nginx-app"));
    let generation = app.metadata.generation.unwrap_or(1) + 1;
    let lagging = Fleet {
        lagging: vec![super::model::AppLag {
            namespace: app.metadata.namespace.clone().unwrap_or_default(),
            name: "nginx-app".into(),
            generation,
            observed: Some(generation - 2),
            since: fixture::now() - std::time::Duration::from_secs(40),
        }],
        ..healthy
    };
    let mut a = app_on(lagging);
    command(&mut a, "apps");
    let apps = screen(&a, W, 8);
    let nginx = line(&apps, &["nginx-app"]);
    assert!(!nginx.contains('✓'), "{nginx}");
    assert!(nginx.contains("⧗ lag 40s"), "{nginx}");
    assert!(nginx.contains("hangzhou ⧗ 2/2 lagging"), "{nginx}");
    assert!(
        apps.contains("⧗ engine behind on 1 app(s)"),
        "the status bar says it:\n{apps}"
    );
    insta::assert_snapshot!("apps_lagging", apps);

    command(&mut a, "matrix");
    let matrix = screen(&a, W, 8);
    let nginx = line(&matrix, &["nginx-app"]);
    assert!(!nginx.contains('✓') && nginx.contains("lagging"), "{nginx}");

    command(&mut a, "regions");
    let regions = screen(&a, W, 10);
    assert!(
        !line(&regions, &["hangzhou"]).contains('✓'),
        "no group total counts a lagging app as ready:\n{regions}"
    );

    command(&mut a, "engine");
    let engine = screen(&a, W, 20);
    let row = line(&engine, &["Lagging:", "nginx-app"]);
    assert!(
        row.contains(&format!(
            "generation {generation} not reconciled (observed {})",
            generation - 2
        )) && row.contains("for 40s"),
        "{row}"
    );

    command(&mut a, "apps");
    key(&mut a, KeyCode::Enter);
    let detail = screen(&a, W, 30);
    assert!(detail.contains("⧗ engine behind: generation"), "{detail}");
    assert!(!line(&detail, &["hangzhou"]).contains('✓'), "{detail}");
}

/// `text` appears in `line` whole, or cut and followed by `…`.
fn whole_or_ellipsis(line: &str, text: &str) -> bool {
    if line.contains(text) {
        return true;
    }
    let mut cut = text.to_owned();
    while cut.chars().count() > 1 {
        cut.pop();
        if let Some(at) = line.find(&cut) {
            return line[at + cut.len()..].starts_with('…');
        }
    }
    false
}

#[test]
fn long_names_fit_when_there_is_room_and_are_cut_with_an_ellipsis_when_not() {
    let mut fleet = fixture::demo_fleet();
    let app = &mut fleet.applications[1];
    app.metadata.name = Some("video-analytics-pipeline".into());
    let targets = &mut app.spec.workload_scope.target_node_groups;
    let mut hangzhou = targets[0].clone();
    hangzhou.name = "hangzhou".into();
    targets.push(hangzhou);
    let names = "beijing,shanghai,hangzhou";

    let mut a = app_on(fleet);
    command(&mut a, "apps");
    let wide = screen(&a, 160, 8);
    let row = line(&wide, &["video-analytics-pipeline"]);
    assert!(
        row.contains(names),
        "at 160 columns the targets fit whole:\n{wide}"
    );

    let narrow = screen(&a, 80, 8);
    let row = line(&narrow, &["video-analyt"]);
    assert!(whole_or_ellipsis(row, "video-analytics-pipeline"), "{row}");
    assert!(whole_or_ellipsis(row, names), "{row}");

    command(&mut a, "matrix");
    let matrix = screen(&a, 80, 8);
    let row = line(&matrix, &["video-anal"]);
    assert!(
        whole_or_ellipsis(row, "edge/video-analytics-pipeline"),
        "{row}"
    );
    let footer = matrix.lines().last().unwrap_or_default();
    assert!(
        footer.trim_end().ends_with('…'),
        "the footer says it is cut: {footer}"
    );
}

#[test]
fn everything_stays_usable_at_80_by_24() {
    let mut a = app_on(fixture::demo_fleet());
    command(&mut a, "apps");
    let apps = screen(&a, 80, 24);
    assert!(
        line(&apps, &["nginx-app"]).contains("beijing ▲ 2/3"),
        "per-group counts stay:\n{apps}"
    );

    key(&mut a, KeyCode::Enter);
    let detail = screen(&a, 80, 24);
    let events = detail
        .lines()
        .skip_while(|l| !l.contains("Recent engine events"))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .filter(|l| l.contains("edgeapplication"))
        .count();
    assert!(events >= 2, "the events pane has rows:\n{detail}");

    // A long breadcrumb and a long kubeconfig path share the header, cut with …
    let mut long = app_on(fixture::demo_fleet());
    long.kubeconfig_out = Some("/home/operator/.local/state/edgedeck/embedded.kubeconfig".into());
    command(&mut long, "apps");
    key(&mut long, KeyCode::Enter);
    let header = screen(&long, 80, 24)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(header.contains("› App "), "{header}");
    assert!(header.contains('…'), "{header}");

    // The override form shows a field's error, not its syntax, in the title.
    command(&mut a, "matrix");
    key(&mut a, KeyCode::Char('e'));
    key(&mut a, KeyCode::End);
    chars(&mut a, "x");
    let form = screen(&a, 80, 24);
    assert!(form.contains("is not a whole number"), "{form}");
}

/// Every view and mode at the two sizes operators use most: 80×24 (a
/// laptop split) and 160×45 (a full screen).
#[test]
fn snapshots_of_every_view_at_80x24_and_160x45() {
    fn open(a: &mut App, what: &str) {
        match what {
            "app_detail" => {
                command(a, "apps");
                key(a, KeyCode::Enter);
            }
            "group" => {
                command(a, "regions");
                key(a, KeyCode::Enter);
            }
            "yaml" => {
                command(a, "apps");
                key(a, KeyCode::Char('y'));
            }
            "describe" => {
                command(a, "apps");
                key(a, KeyCode::Char('d'));
            }
            "help" => {
                key(a, KeyCode::Char('?'));
            }
            "override_form" => {
                command(a, "matrix");
                key(a, KeyCode::Char('e'));
            }
            "yaml_editor" => {
                command(a, "apps");
                key(a, KeyCode::Char('E'));
            }
            "diff" => {
                command(a, "matrix");
                key(a, KeyCode::Char('e'));
                key(a, KeyCode::End);
                chars(a, "0");
                super::tests::ctrl(a, 's');
            }
            "new_group" => {
                key(a, KeyCode::Char('c'));
                chars(a, "west");
            }
            view => {
                command(a, view);
            }
        }
    }
    for what in [
        "regions",
        "apps",
        "matrix",
        "traffic",
        "engine",
        "nodes",
        "app_detail",
        "group",
        "yaml",
        "describe",
        "help",
        "override_form",
        "yaml_editor",
        "diff",
        "new_group",
    ] {
        for (w, h) in [(80, 24), (160, 45)] {
            let mut a = app_on(fixture::demo_fleet());
            open(&mut a, what);
            insta::assert_snapshot!(format!("{what}_{w}x{h}"), screen(&a, w, h));
        }
    }
}
