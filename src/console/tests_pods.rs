//! Issue #12 items 1–4: the Pods, Logs and Events views and node
//! heartbeats, on the fixture fleet (hand-built pod statuses: a
//! crash-looping pod, a Pending one with the scheduler's reason, a
//! Terminating one on the NotReady node). Behaviour checks, then snapshots
//! of every new view at 80×24 and 160×45.

use std::sync::Arc;

use crossterm::event::KeyCode;

use super::action::{Action, Effect, WriteOutcome};
use super::app::{App, Flash, Mode, Options};
use super::fixture;
use super::logs::LogChunk;
use super::tests::{app, chars, command, ctrl, key, options, screen};
use super::views::View;
use super::views::pods::PodScope;

fn line<'s>(s: &'s str, needle: &str) -> &'s str {
    s.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{s}"))
}

fn select(a: &mut App, needle: &str) {
    key(a, KeyCode::Char('/'));
    chars(a, needle);
    key(a, KeyCode::Enter);
}

#[test]
fn pods_show_kubectl_statuses_with_node_group_and_reason() {
    let mut a = app();
    command(&mut a, "pods");
    assert_eq!(a.screen().view, View::Pods(PodScope::All));
    let s = screen(&a, 160, 45);
    let crash = line(&s, "telemetry-shanghai-8b4c2-zz9q1");
    for want in ["0/1", "✗ CrashLoopBackOff", " 7 ", "node-f", "shanghai"] {
        assert!(crash.contains(want), "{want:?} in {crash}");
    }
    let pending = line(&s, "telemetry-shanghai-8b4c2-pend1");
    assert!(
        pending.contains("▲ Pending") && pending.contains("<none>"),
        "{pending}"
    );
    assert!(pending.contains("0/7 nodes are available"), "{pending}");
    // Unscheduled, yet its nodeSelector says where it belongs.
    assert!(pending.contains("<none> shanghai"), "{pending}");
    let terminating = line(&s, "nginx-beijing-5c6d8-x2k9p");
    assert!(terminating.contains("▲ Terminating"), "{terminating}");
    assert!(line(&s, "nginx-hangzhou-7d9f4-abcde").contains("✓ Running"));
}

#[test]
fn p_lists_the_pods_of_a_region_a_node_and_a_generated_workload() {
    let mut a = app();
    // Regions: beijing is the first row.
    key(&mut a, KeyCode::Char('p'));
    assert_eq!(
        a.screen().view,
        View::Pods(PodScope::Group("beijing".into()))
    );
    let s = screen(&a, 160, 20);
    assert!(s.contains("nginx-beijing-5c6d8-klmno") && s.contains("telemetry-beijing"));
    assert!(!s.contains("hangzhou-7d9f4"), "{s}");

    command(&mut a, "nodes");
    select(&mut a, "node-d");
    key(&mut a, KeyCode::Char('p'));
    assert_eq!(a.screen().view, View::Pods(PodScope::Node("node-d".into())));
    let s = screen(&a, 160, 20);
    assert!(s.contains("nginx-beijing-5c6d8-pqrst") && s.contains("telemetry-beijing-6f7b9"));
    assert!(!s.contains("klmno"), "{s}");

    command(&mut a, "apps");
    key(&mut a, KeyCode::Enter); // nginx-app
    select(&mut a, "hangzhou");
    key(&mut a, KeyCode::Char('p'));
    assert_eq!(
        a.screen().view,
        View::Pods(PodScope::Workload {
            namespace: "default".into(),
            name: "nginx-hangzhou".into()
        })
    );
    let s = screen(&a, 160, 20);
    assert!(
        s.contains("abcde") && s.contains("fghij") && !s.contains("beijing-5c6d8"),
        "{s}"
    );
}

#[test]
fn pods_filter_and_sort_like_every_table() {
    let mut a = app();
    command(&mut a, "pods");
    select(&mut a, "crashloop");
    let s = screen(&a, 160, 20);
    assert!(s.contains("zz9q1") && !s.contains("abcde"), "{s}");
    key(&mut a, KeyCode::Esc);
    // RESTARTS is the fifth column: s five times, S for most first.
    for _ in 0..5 {
        key(&mut a, KeyCode::Char('s'));
    }
    key(&mut a, KeyCode::Char('S'));
    let s = screen(&a, 160, 20);
    let first = s
        .lines()
        .find(|l| l.contains("default") || l.contains("edge "))
        .unwrap_or("");
    assert!(first.contains("zz9q1"), "most restarts first:\n{s}");
}

#[test]
fn y_and_d_on_a_pod_show_it_with_its_cluster_events() {
    let mut a = app();
    command(&mut a, "pods");
    select(&mut a, "zz9q1");
    key(&mut a, KeyCode::Char('d'));
    let s = screen(&a, 160, 45);
    assert!(
        s.contains("Describe pod/edge/telemetry-shanghai-8b4c2-zz9q1"),
        "{s}"
    );
    assert!(s.contains("CrashLoopBackOff"), "{s}");
    assert!(
        s.contains("Warning") && s.contains("BackOff: Back-off restarting failed container agent"),
        "the events.k8s.io event is in describe:\n{s}"
    );
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('y'));
    let s = screen(&a, 160, 45);
    assert!(
        s.contains("kind: Pod") && s.contains("nodeName: node-f"),
        "{s}"
    );
    assert!(
        s.contains("# The console keeps pods slim: env, ports, probes"),
        "what the console left out is said:\n{s}"
    );
}

#[test]
fn describe_of_a_node_lists_the_clusters_events_about_it() {
    let mut a = app();
    command(&mut a, "nodes");
    select(&mut a, "node-e");
    key(&mut a, KeyCode::Char('d'));
    let s = screen(&a, 160, 45);
    assert!(
        s.contains("NodeNotReady: Node node-e status is now: NodeNotReady"),
        "{s}"
    );
}

#[test]
fn ctrl_d_on_a_pod_asks_then_deletes_only_the_version_shown() {
    let mut a = app();
    command(&mut a, "pods");
    select(&mut a, "zz9q1");
    assert!(ctrl(&mut a, 'd').is_empty());
    assert!(matches!(a.mode, Mode::ConfirmDelete { .. }));
    assert!(screen(&a, 160, 30).contains("Delete Pod edge/telemetry-shanghai-8b4c2-zz9q1?"));
    match key(&mut a, KeyCode::Char('y')).as_slice() {
        [
            Effect::Delete {
                key,
                resource_version,
            },
        ] => {
            assert_eq!((key.api_version.as_str(), key.kind.as_str()), ("v1", "Pod"));
            assert_eq!(key.namespace.as_deref(), Some("edge"));
            assert_eq!(resource_version, "500");
        }
        other => panic!("expected one delete, got {other:?}"),
    }
}

#[test]
fn ctrl_d_on_a_pod_is_refused_read_only() {
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            readonly: true,
            ..options()
        },
    );
    command(&mut a, "pods");
    let mut effects = ctrl(&mut a, 'd');
    assert!(
        matches!(&a.flash, Some(Flash::Error(e)) if e.contains("read-only")),
        "{:?}",
        a.flash
    );
    assert!(matches!(a.mode, Mode::Normal), "no question asked");
    effects.extend(key(&mut a, KeyCode::Char('y')));
    assert!(effects.iter().all(|e| !e.writes()), "{effects:?}");
}

/// Opens the log of the crash-looping pod; returns the request's id.
fn open_log(a: &mut App) -> u64 {
    command(a, "pods");
    select(a, "zz9q1");
    match key(a, KeyCode::Char('l')).as_slice() {
        [Effect::StreamLogs(r)] => {
            assert_eq!(
                (r.target.pod.as_str(), r.target.container.as_str()),
                ("telemetry-shanghai-8b4c2-zz9q1", "agent")
            );
            assert!(r.follow && !r.previous && r.tail == Some(100));
            r.id
        }
        other => panic!("expected a log stream, got {other:?}"),
    }
}

fn lines(a: &mut App, id: u64, range: std::ops::Range<usize>) {
    let lines = range.map(|i| format!("line {i}")).collect();
    a.update(Action::WriteResult(WriteOutcome::Log(LogChunk::Lines {
        id,
        lines,
    })));
}

#[test]
fn logs_stream_follow_and_pause_when_scrolled_up() {
    let mut a = app();
    let id = open_log(&mut a);
    lines(&mut a, id, 0..100);
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("line 99") && s.contains("streaming"),
        "follows the end:\n{s}"
    );
    key(&mut a, KeyCode::Char('k'));
    key(&mut a, KeyCode::Char('k'));
    lines(&mut a, id, 100..110);
    let s = screen(&a, 80, 24);
    assert!(
        !s.contains("line 109") && s.contains("paused"),
        "scrolled up, it stays:\n{s}"
    );
    key(&mut a, KeyCode::Char('G'));
    screen(&a, 80, 24);
    lines(&mut a, id, 110..111);
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("line 110") && !s.contains("paused"),
        "G follows again:\n{s}"
    );
}

#[test]
fn a_log_starts_with_the_config_files_tail_and_t_steps_on_from_it() {
    let mut a = App::new(
        Arc::new(fixture::demo_fleet()),
        Options {
            log_tail: Some(500),
            ..options()
        },
    );
    command(&mut a, "pods");
    select(&mut a, "zz9q1");
    let tail = |effects: Vec<Effect>| match effects.as_slice() {
        [Effect::StreamLogs(r)] => r.tail,
        other => panic!("expected a log stream, got {other:?}"),
    };
    assert_eq!(tail(key(&mut a, KeyCode::Char('l'))), Some(500));
    assert_eq!(tail(key(&mut a, KeyCode::Char('t'))), Some(1000));
}

#[test]
fn log_options_restart_the_stream_and_old_chunks_are_dropped() {
    let mut a = app();
    let id = open_log(&mut a);
    let restarted = |effects: Vec<Effect>| match effects.as_slice() {
        [Effect::StreamLogs(r)] => r.clone(),
        other => panic!("expected a new stream, got {other:?}"),
    };
    let r = restarted(key(&mut a, KeyCode::Char('p')));
    assert!(r.previous && r.id > id);
    let r = restarted(key(&mut a, KeyCode::Char('f')));
    assert!(!r.follow);
    let r = restarted(key(&mut a, KeyCode::Char('t')));
    assert_eq!(r.tail, Some(1000));
    lines(&mut a, id, 0..3);
    assert!(
        !screen(&a, 80, 24).contains("line 0"),
        "a replaced stream's lines are dropped"
    );
    // One container: c says so and asks nothing.
    assert!(key(&mut a, KeyCode::Char('c')).is_empty());
    // Leaving stops the stream.
    assert_eq!(key(&mut a, KeyCode::Esc), vec![Effect::StopLogs]);
}

#[test]
fn log_search_finds_a_line_and_wrap_cuts_long_lines() {
    let mut a = app();
    let id = open_log(&mut a);
    let long = format!("start {} end", "x".repeat(150));
    a.update(Action::WriteResult(WriteOutcome::Log(LogChunk::Lines {
        id,
        lines: vec!["boot ok".into(), "FATAL agent: exiting".into(), long],
    })));
    screen(&a, 80, 24);
    key(&mut a, KeyCode::Char('/'));
    chars(&mut a, "fatal");
    key(&mut a, KeyCode::Enter);
    key(&mut a, KeyCode::Char('n'));
    let s = screen(&a, 80, 24);
    assert_eq!(
        a.screen().text.current.get(),
        Some(1),
        "n went to the FATAL line:\n{s}"
    );
    assert_eq!(a.screen().text.matches("fatal"), 1);
    assert!(
        !s.contains(" end"),
        "unwrapped, the long line is cut at the edge:\n{s}"
    );
    key(&mut a, KeyCode::Char('w'));
    let s = screen(&a, 80, 24);
    assert!(s.contains("end") && s.contains("wrap"), "{s}");
}

#[test]
fn a_log_the_cluster_cannot_serve_says_why() {
    let mut a = app();
    let id = open_log(&mut a);
    a.update(Action::WriteResult(WriteOutcome::Log(LogChunk::Failed {
        id,
        error: "the server could not find the requested resource (404)".into(),
    })));
    let s = screen(&a, 80, 24);
    assert!(
        s.contains("✗ the server could not find the requested resource"),
        "{s}"
    );
    assert!(s.contains("failed"), "{s}");
}

#[test]
fn l_on_a_generated_workload_lists_its_pods_to_pick_from() {
    let mut a = app();
    command(&mut a, "apps");
    key(&mut a, KeyCode::Enter);
    select(&mut a, "beijing");
    assert!(key(&mut a, KeyCode::Char('l')).is_empty());
    assert!(matches!(
        a.screen().view,
        View::Pods(PodScope::Workload { .. })
    ));
    assert!(matches!(&a.flash, Some(Flash::Info(m)) if m.contains("pick a pod")));
    assert!(matches!(
        key(&mut a, KeyCode::Char('l')).as_slice(),
        [Effect::StreamLogs(_)]
    ));
}

#[test]
fn events_are_newest_first_warnings_marked_and_filterable_by_group_and_app() {
    let mut a = app();
    command(&mut a, "events");
    let s = screen(&a, 160, 45);
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("Warning") || l.contains("Normal"))
        .collect();
    assert!(rows[0].contains("BackOff"), "newest first:\n{s}");
    assert!(rows[0].contains("⚠ Warning"), "{s}");
    assert!(rows.last().is_some_and(|r| r.contains("Started")), "{s}");
    // A generated Deployment's event belongs to the group it is pinned to.
    let scaled = line(&s, "ScalingReplicaSet");
    assert!(
        scaled.contains("beijing") && scaled.contains("nginx-app"),
        "{scaled}"
    );
    select(&mut a, "beijing");
    let s = screen(&a, 160, 45);
    assert!(
        s.contains("NodeNotReady") && !s.contains("BackOff"),
        "by group:\n{s}"
    );
    key(&mut a, KeyCode::Esc);
    select(&mut a, "telemetry");
    let s = screen(&a, 160, 45);
    assert!(
        s.contains("FailedScheduling") && s.contains("BackOff"),
        "by app:\n{s}"
    );
    assert!(!s.contains("NodeNotReady"), "{s}");
}

#[test]
fn d_on_an_event_describes_the_object_it_is_about() {
    let mut a = app();
    command(&mut a, "events");
    select(&mut a, "NodeNotReady");
    key(&mut a, KeyCode::Char('d'));
    assert_eq!(
        a.screen().view,
        View::Describe(super::views::ObjRef::Node("node-e".into()))
    );
    command(&mut a, "events");
    key(&mut a, KeyCode::Esc);
    select(&mut a, "Started");
    key(&mut a, KeyCode::Enter);
    assert!(screen(&a, 160, 45).contains("Describe pod/default/nginx-hangzhou-7d9f4-abcde"));
}

#[test]
fn the_group_view_and_app_detail_show_their_last_events() {
    let mut a = app();
    key(&mut a, KeyCode::Enter); // beijing
    let s = screen(&a, 160, 45);
    assert!(s.contains("NodeNotReady"), "{s}");
    command(&mut a, "apps");
    select(&mut a, "telemetry");
    key(&mut a, KeyCode::Enter);
    let s = screen(&a, 160, 45);
    assert!(s.contains("Cluster events") && s.contains("BackOff"), "{s}");
}

#[test]
fn nodes_show_heartbeat_age_offline_since_and_bound_pods() {
    let mut a = app();
    command(&mut a, "nodes");
    let s = screen(&a, 160, 20);
    let e = line(&s, "node-e");
    // Lease renewed 7m ago; NotReady since then; one pod still bound.
    assert!(e.contains("7m") && e.contains("✗ 7m ago"), "{e}");
    let d = line(&s, "node-d");
    assert!(d.contains("5s") && !d.contains("ago"), "{d}");
    let pods: Vec<&str> = d.split_whitespace().collect();
    assert!(pods.contains(&"2"), "two pods on node-d: {d}");
    // The group view says the same.
    command(&mut a, "regions");
    key(&mut a, KeyCode::Enter);
    let s = screen(&a, 160, 45);
    assert!(line(&s, "node-e").contains("✗ 7m ago"), "{s}");
}

#[test]
fn regions_say_how_long_a_region_has_been_degraded() {
    let a = app();
    let s = screen(&a, 160, 20);
    assert!(line(&s, "beijing").contains("✗ 1 NotReady for 7m"), "{s}");
    assert!(!line(&s, "hangzhou").contains(" for "), "{s}");
}

#[test]
fn snapshots_of_the_new_views() {
    for (w, h) in [(80u16, 24u16), (160, 45)] {
        let mut a = app();
        command(&mut a, "pods");
        insta::assert_snapshot!(format!("pods_{w}x{h}"), screen(&a, w, h));
        command(&mut a, "events");
        insta::assert_snapshot!(format!("events_{w}x{h}"), screen(&a, w, h));
        let id = open_log(&mut a);
        let lines = (0..60)
            .map(|i| {
                format!(
                    "2023-11-14T22:{:02}:{:02}Z INFO agent: heartbeat ok",
                    i / 60 + 12,
                    i % 60
                )
            })
            .chain(["2023-11-14T22:13:00Z FATAL agent: exiting with status 1".to_owned()])
            .collect();
        a.update(Action::WriteResult(WriteOutcome::Log(LogChunk::Lines {
            id,
            lines,
        })));
        insta::assert_snapshot!(format!("logs_{w}x{h}"), screen(&a, w, h));
        command(&mut a, "nodes");
        insta::assert_snapshot!(format!("nodes_heartbeats_{w}x{h}"), screen(&a, w, h));
    }
}
