use super::*;

#[test]
fn every_family_is_exposed_with_its_type() {
    let t = Arc::new(Telemetry::default());
    // Families without a series are left out: give each one.
    t.controller_started(Controller::NodeGroup);
    t.reconcile(Controller::NodeGroup, None, "g")
        .finished(Some("conflict"));
    t.watch_restarted(Controller::NodeGroup, "nodes");
    t.wrote(&WriteLabels {
        resource: "nodes".into(),
        verb: "patch",
    });
    t.edge_sent("beijing", 10);
    t.edge_filtered("beijing", Duration::from_micros(20));
    let text = t.encode();
    for (name, kind) in [
        ("edgedeck_reconciles_total", "counter"),
        ("edgedeck_reconcile_errors_total", "counter"),
        ("edgedeck_reconcile_duration_seconds", "histogram"),
        ("edgedeck_queue_depth", "gauge"),
        ("edgedeck_queue_oldest_seconds", "gauge"),
        ("edgedeck_api_writes_total", "counter"),
        ("edgedeck_watch_restarts_total", "counter"),
        ("edgedeck_leader", "gauge"),
        ("edgedeck_edge_api_sent_bytes_total", "counter"),
        ("edgedeck_edge_api_filter_duration_seconds", "histogram"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} {kind} in:\n{text}"
        );
    }
    assert!(text.contains("edgedeck_build_info{version=\""), "{text}");
}

#[test]
fn a_reconcile_moves_the_counters_and_leaves_the_queue() {
    let t = Arc::new(Telemetry::default());
    t.controller_started(Controller::NodeGroup);
    t.queued(Controller::NodeGroup, None, "beijing");
    assert_eq!(t.figures().controllers[0].1.queued, 1);
    let guard = t.reconcile(Controller::NodeGroup, None, "beijing");
    assert_eq!(t.figures().controllers[0].1.in_flight, 1);
    guard.finished(Some("conflict"));
    let figures = &t.figures().controllers[0].1;
    assert_eq!(
        (
            figures.queued,
            figures.in_flight,
            figures.reconciles,
            figures.errors
        ),
        (0, 0, 1, 1)
    );
    let text = t.encode();
    assert!(
        text.contains("edgedeck_reconciles_total{controller=\"nodegroup\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "edgedeck_reconcile_errors_total{controller=\"nodegroup\",reason=\"conflict\"} 1"
        ),
        "{text}"
    );
}

#[test]
fn a_cancelled_reconcile_is_not_counted() {
    let t = Arc::new(Telemetry::default());
    t.controller_started(Controller::EdgeApplication);
    drop(t.reconcile(Controller::EdgeApplication, Some("ns"), "app"));
    let figures = &t.figures().controllers[1].1;
    assert_eq!((figures.in_flight, figures.reconciles), (0, 0));
}

#[test]
fn readiness_asks_controllers_only_while_leading() {
    let t = Telemetry::default();
    assert_eq!(t.readiness(), Readiness::Ready, "a standby is ready");
    t.set_leading(true);
    let Readiness::NotReady(problems) = t.readiness() else {
        panic!("controllers not running yet");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    for c in Controller::ALL {
        t.controller_started(c);
    }
    t.cache(Controller::NodeGroup, "nodes", || false);
    assert_eq!(
        t.readiness(),
        Readiness::NotReady(vec!["nodegroup: the nodes cache has not listed yet".into()])
    );
    t.controller_started(Controller::NodeGroup);
    assert_eq!(t.readiness(), Readiness::Ready);
    t.edge_cache(|| false);
    assert!(matches!(t.readiness(), Readiness::NotReady(_)));
}

#[test]
fn kube_errors_become_a_few_reasons() {
    let api = |code| {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    };
    assert_eq!(kube_reason(&api(409)), "conflict");
    assert_eq!(kube_reason(&api(503)), "server_error");
    assert_eq!(kube_reason(&api(418)), "client_error");
}

#[test]
fn a_fresh_heartbeat_is_alive() {
    let t = Telemetry::default();
    assert!(t.is_alive());
}
