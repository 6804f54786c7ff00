//! The console's pure hot paths on the scale fleet (10,000 nodes in 500
//! groups, 50 applications of 10 target groups each):
//!
//! - `console/derive`: `Derived::compute`, what every store snapshot costs;
//! - `console/snapshot`: `App::update(FleetUpdated)`: derive plus refreshing
//!   (filtering and sorting) the tables of the open views;
//! - `console/draw/<view>`: one frame of a view into a 140x40 ratatui
//!   TestBackend (layout, widgets and the terminal's buffer diff).
//!
//! First-frame time and memory of the live console are measured against a
//! real cluster by scripts/measure-console.sh (see BENCHMARKS.md).

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use edgedeck::console::fixture::scale_fleet;
use edgedeck::console::{Action, App, Derived, Fleet, Options, ViewKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const GROUPS: usize = 500;
const NODES: usize = 10_000;
const WIDTH: u16 = 140;
const HEIGHT: u16 = 40;

fn fleet() -> Arc<Fleet> {
    Arc::new(scale_fleet(GROUPS, NODES))
}

fn app(fleet: &Arc<Fleet>) -> App {
    App::new(
        Arc::clone(fleet),
        Options {
            now: edgedeck::console::fixture::now(),
            ..Options::default()
        },
    )
}

fn derive(c: &mut Criterion) {
    let fleet = fleet();
    let mut group = c.benchmark_group("console");
    group.sample_size(20);
    group.bench_function("derive/500g_10000n", |b| {
        b.iter(|| Derived::compute(&fleet));
    });
    group.bench_function("snapshot/500g_10000n", |b| {
        let mut app = app(&fleet);
        let mut version = fleet.version;
        b.iter_batched(
            || {
                // A new snapshot object, as the stores deliver one per change
                // (built outside the measurement).
                version += 1;
                let mut next = (*fleet).clone();
                next.version = version;
                Arc::new(next)
            },
            |next| app.update(Action::FleetUpdated(next)),
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

/// The views to draw, each reached with the console's own actions.
fn views() -> Vec<(&'static str, Vec<Action>)> {
    vec![
        ("regions", vec![Action::Goto(ViewKind::Regions)]),
        (
            "group",
            vec![Action::Goto(ViewKind::Regions), Action::Enter],
        ),
        ("nodes", vec![Action::Goto(ViewKind::Nodes)]),
        ("apps", vec![Action::Goto(ViewKind::Apps)]),
        (
            "app_detail",
            vec![Action::Goto(ViewKind::Apps), Action::Enter],
        ),
        ("matrix", vec![Action::Goto(ViewKind::Matrix)]),
        ("traffic", vec![Action::Goto(ViewKind::Traffic)]),
        ("engine", vec![Action::Goto(ViewKind::Engine)]),
    ]
}

fn draw(c: &mut Criterion) {
    let fleet = fleet();
    let mut group = c.benchmark_group("console/draw");
    group.sample_size(30);
    for (name, actions) in views() {
        let mut app = app(&fleet);
        for action in actions {
            app.update(action);
        }
        let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT)).expect("backend");
        group.bench_function(name, |b| {
            b.iter(|| {
                // Each frame from a cleared buffer, as after a change: the
                // whole screen is diffed and written, not an empty diff.
                terminal.clear().expect("clear");
                terminal.draw(|f| app.draw(f)).expect("draw").area
            });
        });
    }
    group.finish();
}

criterion_group!(benches, derive, draw);
criterion_main!(benches);
