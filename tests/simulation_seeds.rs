//! Seeds: shape of the demo fleet, every object well-formed, the demo
//! EdgeApplications decode and render through the engine, and the scale seed
//! loads (and boots) 10,000 nodes.

use std::collections::{BTreeMap, BTreeSet};

use edgedeck::api::EdgeApplication;
use edgedeck::engine::render::render;
use edgedeck::simulation::{self, Config, Kind, Offline, World, object, seed};
use serde_json::Value;

fn kinds(objects: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for o in objects {
        *out.entry(object::kind(o).to_string()).or_default() += 1;
    }
    out
}

#[test]
fn every_seed_object_has_api_version_kind_and_name() {
    for objects in [seed::demo(), seed::empty(), seed::scale(50, 5, 3)] {
        for o in &objects {
            assert!(!object::api_version(o).is_empty(), "{o}");
            assert!(!object::kind(o).is_empty(), "{o}");
            assert!(!object::name(o).is_empty(), "{o}");
        }
    }
}

#[test]
fn demo_has_four_to_six_regions_of_three_to_eight_nodes() {
    let objects = seed::demo();
    let mut regions: BTreeMap<String, usize> = BTreeMap::new();
    let mut ungrouped = Vec::new();
    for node in objects.iter().filter(|o| Kind::of(o) == Some(Kind::Node)) {
        match object::label(node, seed::LABEL_LOCATION) {
            Some(l) => *regions.entry(l.to_string()).or_default() += 1,
            None => ungrouped.push(object::name(node).to_string()),
        }
    }
    assert!((4..=6).contains(&regions.len()), "{regions:?}");
    assert!(regions.values().all(|n| (3..=8).contains(n)), "{regions:?}");
    assert_eq!(ungrouped, ["control-01"]);
    let groups: BTreeSet<String> = objects
        .iter()
        .filter(|o| object::kind(o) == "NodeGroup")
        .map(|o| {
            assert_eq!(object::api_version(o), "apps.kubeedge.io/v1alpha1");
            let location = o
                .pointer("/spec/matchLabels/location")
                .and_then(Value::as_str)
                .unwrap_or("");
            location.to_string()
        })
        .collect();
    assert_eq!(groups, regions.keys().cloned().collect());
    // No engine output in the seed.
    for o in &objects {
        assert!(
            object::label(o, "apps.kubeedge.io/belonging-to").is_none(),
            "{o}"
        );
        assert!(
            object::label(o, "apps.kubeedge.io/edgeapplication-name").is_none(),
            "{o}"
        );
        assert_ne!(object::kind(o), "Deployment", "generated workloads in seed");
    }
    // A plain Service (not from an EdgeApplication) for contrast.
    let plain: Vec<&Value> = objects
        .iter()
        .filter(|o| object::kind(o) == "Service")
        .collect();
    assert_eq!(plain.len(), 1);
    assert!(
        plain[0]
            .pointer("/metadata/annotations/apps.kubeedge.io~1service-topology")
            .is_none()
    );
}

#[test]
fn demo_edge_applications_decode_and_render() {
    let objects = seed::demo();
    let apps: Vec<&Value> = objects
        .iter()
        .filter(|o| object::kind(o) == "EdgeApplication")
        .collect();
    assert_eq!(apps.len(), 2);
    for raw in apps {
        let mut app: EdgeApplication = match serde_json::from_value(raw.clone()) {
            Ok(app) => app,
            Err(e) => panic!("{} does not decode: {e}", object::name(raw)),
        };
        app.metadata.namespace = Some(seed::DEMO_NAMESPACE.into());
        let rendered = render(&app);
        assert!(rendered.errors.is_empty(), "{:?}", rendered.errors);
        let by_kind = rendered.objects.iter().fold(BTreeMap::new(), |mut m, d| {
            *m.entry(d.key.kind.clone()).or_insert(0usize) += 1;
            m
        });
        let targets = app.spec.workload_scope.target_node_groups.len();
        assert_eq!(by_kind.get("Deployment"), Some(&targets));
        assert_eq!(by_kind.get("Service"), Some(&1));
        assert_eq!(by_kind.get("ConfigMap"), Some(&1));
        // Per-group overrides are visible in the rendered objects.
        let overridden = rendered.objects.iter().any(|d| {
            d.key.kind == "Deployment"
                && d.object
                    .pointer("/spec/template/spec/containers/0/image")
                    .and_then(Value::as_str)
                    .is_some_and(|i| {
                        i.contains("edge.example.com")
                            || i.ends_with("-arm64")
                            || i.ends_with("-alpine")
                    })
        });
        assert!(
            overridden,
            "{}",
            app.metadata.name.clone().unwrap_or_default()
        );
    }
}

#[test]
fn scale_seed_has_ten_thousand_nodes_and_they_boot() {
    let objects = seed::scale(10_000, 500, 50);
    let counts = kinds(&objects);
    assert_eq!(counts["Node"], 10_000);
    assert_eq!(counts["NodeGroup"], 500);
    assert_eq!(counts["EdgeApplication"], 50);
    assert_eq!(objects, seed::scale(10_000, 500, 50), "deterministic");

    // One step brings every node up with its own pod network.
    let world = World::from_objects(objects.iter());
    let now = jiff::Timestamp::from_second(1_750_000_000).unwrap_or_default();
    let mutations = simulation::step(&world, &Offline::new(), now, &Config::default());
    assert_eq!(mutations.len(), 10_000);
    let mut cidrs = BTreeSet::new();
    for m in &mutations {
        let node = m.object().unwrap_or(&Value::Null);
        assert!(simulation::nodes::is_ready(node));
        cidrs.insert(
            object::str_at(node, "/spec/podCIDR")
                .unwrap_or("")
                .to_string(),
        );
    }
    assert_eq!(cidrs.len(), 10_000);
}

#[test]
fn scale_apps_target_a_window_of_groups() {
    let objects = seed::scale(100, 30, 4);
    for raw in objects
        .iter()
        .filter(|o| object::kind(o) == "EdgeApplication")
    {
        let app: EdgeApplication = serde_json::from_value(raw.clone()).expect("decodes");
        assert_eq!(
            app.spec.workload_scope.target_node_groups.len(),
            seed::SCALE_GROUPS_PER_APP
        );
        assert!(render(&app).errors.is_empty());
    }
}
