//! The rollout state machine, driven against a fake cluster in which the
//! EdgeApplication controller and the workloads settle at once.

use super::*;
use crate::api::{
    EdgeApplicationStatus, ManifestCondition, ManifestStatus, ResourceIdentifier, RolloutSpec,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const GROUPS: [&str; 5] = ["chengdu", "hangzhou", "shanghai", "beijing", "xian"];

fn deployment(image: &str, replicas: i64, env: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web"},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
               "spec": {"containers": [{"name": "web", "image": image, "env": env}]}}}})
}

fn service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
}

fn spec(manifests: Vec<Value>, groups: &[(&str, Option<i32>)]) -> EdgeApplicationSpec {
    serde_json::from_value(json!({
        "workloadTemplate": {"manifests": manifests},
        "workloadScope": {"targetNodeGroups": groups.iter().map(|(g, r)| match r {
            Some(r) => json!({"name": g, "overriders": {"replicas": r}}),
            None => json!({"name": g}),
        }).collect::<Vec<_>>()}
    }))
    .expect("valid spec")
}

fn all_groups() -> Vec<(&'static str, Option<i32>)> {
    GROUPS.iter().map(|g| (*g, None)).collect()
}

fn app(spec: EdgeApplicationSpec) -> EdgeApplication {
    let mut app = EdgeApplication::new("web", spec);
    app.metadata.namespace = Some("default".into());
    app.metadata.uid = Some("uid-1".into());
    app.metadata.generation = Some(1);
    app
}

fn rollout(target: EdgeApplicationSpec, waves: Vec<WaveSpec>) -> Rollout {
    let mut r = Rollout::new(
        "web-rollout",
        RolloutSpec {
            edge_application: "web".into(),
            target,
            waves,
            soak_seconds: Some(10),
            progress_deadline_seconds: Some(60),
            ..RolloutSpec::default()
        },
    );
    r.metadata.generation = Some(1);
    r
}

fn groups(names: &[&str]) -> WaveSpec {
    WaveSpec {
        groups: names.iter().map(|s| s.to_string()).collect(),
        ..WaveSpec::default()
    }
}

/// What the EdgeApplication controller and the workloads would report:
/// every workload Available, except in groups whose rendered image is
/// `broken`-tagged.
fn settle(app: &mut EdgeApplication) {
    let rendered = render(app);
    let workload_status = rendered
        .objects
        .iter()
        .map(|o| {
            let broken = o
                .object
                .pointer("/spec/template/spec/containers/0/image")
                .and_then(Value::as_str)
                .is_some_and(|i| i.ends_with(":broken"));
            ManifestStatus {
                identifier: ResourceIdentifier {
                    ordinal: o.ordinal as i32,
                    kind: o.key.kind.clone(),
                    namespace: o.key.namespace.clone().unwrap_or_default(),
                    name: o.key.name.clone(),
                    ..ResourceIdentifier::default()
                },
                conditions: Some(if broken {
                    ManifestCondition::Processing
                } else {
                    ManifestCondition::Available
                }),
                reason: broken.then(|| "0 of 2 replicas ready".into()),
                warnings: vec![],
            }
        })
        .collect();
    app.status = Some(EdgeApplicationStatus {
        workload_status,
        observed_generation: app.metadata.generation,
        ..EdgeApplicationStatus::default()
    });
}

struct World {
    app: EdgeApplication,
    rollout: Rollout,
    now: Timestamp,
    writes: Vec<EdgeApplicationSpec>,
}

impl World {
    fn new(original: EdgeApplicationSpec, rollout: Rollout) -> Self {
        let mut app = app(original);
        settle(&mut app);
        World {
            app,
            rollout,
            now: "2026-01-01T00:00:00Z".parse().expect("timestamp"),
            writes: vec![],
        }
    }

    /// One reconcile: step, write, let the cluster settle, advance the clock.
    fn tick(&mut self) -> Step {
        let cluster = Cluster {
            app: &self.app,
            pods: &[],
            nodes: &[],
            slices: &[],
        };
        let step = step(&self.rollout, &cluster, self.now);
        if let Some(spec) = &step.write {
            self.app.spec = spec.clone();
            self.app.metadata.generation = Some(self.app.metadata.generation.unwrap_or(0) + 1);
            self.writes.push(spec.clone());
        }
        settle(&mut self.app);
        self.rollout.status = Some(step.status.clone());
        self.now += jiff::SignedDuration::from_secs(5);
        step
    }

    fn run_until(&mut self, phase: RolloutPhase) -> RolloutStatus {
        for _ in 0..200 {
            let step = self.tick();
            if step.status.phase == phase {
                return step.status;
            }
        }
        panic!("never reached {phase:?}: {:?}", self.rollout.status);
    }

    fn edit_rollout(&mut self, f: impl FnOnce(&mut RolloutSpec)) {
        f(&mut self.rollout.spec);
        self.rollout.metadata.generation = Some(self.rollout.metadata.generation.unwrap() + 1);
    }

    fn image_in(&self, group: &str) -> String {
        render(&self.app)
            .objects
            .iter()
            .find(|o| o.target.as_deref() == Some(group))
            .and_then(|o| o.object.pointer("/spec/template/spec/containers/0/image"))
            .and_then(Value::as_str)
            .expect("a workload in the group")
            .to_owned()
    }
}

fn original() -> EdgeApplicationSpec {
    spec(
        vec![
            deployment("nginx:1.0", 2, json!([{"name": "A", "value": "1"}])),
            service(),
        ],
        &all_groups(),
    )
}

fn changed(image: &str) -> EdgeApplicationSpec {
    spec(
        vec![
            deployment(
                image,
                2,
                json!([{"name": "A", "value": "2"}, {"name": "B", "value": "x"}]),
            ),
            service(),
        ],
        &all_groups(),
    )
}

fn three_waves() -> Vec<WaveSpec> {
    let rest = WaveSpec {
        percent: Some(100),
        ..WaveSpec::default()
    };
    vec![
        groups(&["chengdu"]),
        groups(&["hangzhou", "shanghai"]),
        rest,
    ]
}

#[test]
fn three_waves_complete_with_exactly_the_target_and_each_wave_reaches_only_its_groups() {
    let target = changed("reg.io/nginx:1.1");
    let mut world = World::new(original(), rollout(target.clone(), three_waves()));
    world.tick();
    assert_eq!(world.image_in("chengdu"), "reg.io/nginx:1.1");
    assert_eq!(world.image_in("hangzhou"), "nginx:1.0");
    assert_eq!(
        world.app.spec.workload_template,
        original().workload_template
    );
    let done = world.run_until(RolloutPhase::Completed);
    assert_eq!(world.app.spec, target, "the final spec is the direct edit");
    assert_eq!(
        world.writes.len(),
        3,
        "one write per wave: {:?}",
        world.writes
    );
    assert_eq!(done.waves.len(), 3);
    assert!(
        done.groups
            .iter()
            .all(|g| g.state == GroupRolloutState::Healthy)
    );
}

#[test]
fn a_healthy_wave_soaks_before_the_next_starts() {
    let mut world = World::new(original(), rollout(changed("nginx:1.1"), three_waves()));
    world.tick();
    let first = world.tick();
    assert_eq!(first.status.phase, RolloutPhase::Progressing);
    assert_eq!(first.status.current_wave, 0);
    assert!(
        first
            .status
            .groups
            .iter()
            .any(|g| g.state == GroupRolloutState::Soaking)
    );
    assert_eq!(world.image_in("hangzhou"), "nginx:1.0");
    // Still soaking five seconds later, and nothing to write about it.
    let again = world.tick();
    assert_eq!(again.status, first.status);
}

#[test]
fn a_broken_wave_pauses_at_its_deadline_with_reasons_and_abort_restores_the_original() {
    let mut world = World::new(original(), rollout(changed("nginx:broken"), three_waves()));
    let paused = world.run_until(RolloutPhase::Paused);
    assert_eq!(paused.current_wave, 0);
    let chengdu = paused.groups.iter().find(|g| g.name == "chengdu").unwrap();
    assert_eq!(chengdu.state, GroupRolloutState::Failed);
    assert!(
        chengdu
            .reason
            .as_deref()
            .unwrap()
            .contains("0 of 2 replicas ready")
    );
    assert!(paused.message.as_deref().unwrap().contains("chengdu:"));
    for g in ["hangzhou", "shanghai", "beijing", "xian"] {
        assert_eq!(world.image_in(g), "nginx:1.0", "{g} untouched");
    }
    // Paused means paused: further looks write nothing.
    let before = world.writes.len();
    world.tick();
    world.tick();
    assert_eq!(world.writes.len(), before);

    world.edit_rollout(|s| s.abort = true);
    let aborted = world.run_until(RolloutPhase::Aborted);
    assert_eq!(
        world.app.spec,
        original(),
        "abort restores exactly what ran before"
    );
    assert!(aborted.message.unwrap().contains("aborted"));
}

#[test]
fn a_hand_edit_during_a_rollout_pauses_with_a_reason_and_is_not_overwritten() {
    let mut world = World::new(original(), rollout(changed("nginx:1.1"), three_waves()));
    world.tick();
    world.app.spec.workload_scope.target_node_groups[1]
        .overriders
        .replicas = Some(7);
    let hand = world.app.spec.clone();
    let paused = world.tick();
    assert_eq!(paused.status.phase, RolloutPhase::Paused);
    let message = paused.status.message.unwrap();
    assert!(message.contains("edited during the rollout"), "{message}");
    assert!(
        message.contains("/workloadScope/targetNodeGroups/1/overriders"),
        "{message}"
    );
    world.tick();
    assert_eq!(world.app.spec, hand, "the hand edit stays");

    // Resume is the operator's choice: the wave is written again.
    world.edit_rollout(|s| s.resumes += 1);
    world.run_until(RolloutPhase::Completed);
    assert_eq!(world.app.spec, changed("nginx:1.1"));
}

#[test]
fn the_operator_pause_writes_nothing_until_resumed() {
    let mut world = World::new(original(), rollout(changed("nginx:1.1"), three_waves()));
    world.tick();
    world.edit_rollout(|s| s.paused = true);
    let writes = world.writes.len();
    for _ in 0..20 {
        assert_eq!(world.tick().status.phase, RolloutPhase::Paused);
    }
    assert_eq!(world.writes.len(), writes);
    assert_eq!(world.image_in("hangzhou"), "nginx:1.0");
    world.edit_rollout(|s| s.paused = false);
    world.run_until(RolloutPhase::Completed);
}

#[test]
fn manual_promotion_waits_for_approval() {
    let mut r = rollout(changed("nginx:1.1"), three_waves());
    r.spec.promotion = Promotion::Manual;
    let mut world = World::new(original(), r);
    let waiting = world.run_until(RolloutPhase::WaitingForPromotion);
    assert_eq!(waiting.current_wave, 0);
    for _ in 0..5 {
        world.tick();
    }
    assert_eq!(world.image_in("hangzhou"), "nginx:1.0");
    world.edit_rollout(|s| s.approved_waves = 1);
    world.tick();
    world.tick();
    assert_eq!(world.image_in("hangzhou"), "nginx:1.1");
    assert_eq!(world.image_in("xian"), "nginx:1.0");
}

#[test]
fn a_change_outside_the_overriders_fails_before_anything_is_written() {
    let mut target = original();
    target.workload_template.manifests[0]["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "data", "emptyDir": {}}]);
    let mut world = World::new(original(), rollout(target, three_waves()));
    let failed = world.tick();
    assert_eq!(failed.status.phase, RolloutPhase::Failed);
    let message = failed.status.message.unwrap();
    assert!(message.contains("/spec/template/spec/volumes"), "{message}");
    assert!(message.contains("cannot express"), "{message}");
    assert!(world.writes.is_empty());
}

#[test]
fn a_shared_manifest_change_is_refused_with_the_reason() {
    let mut target = original();
    target.workload_template.manifests[1]["spec"]["ports"][0]["port"] = json!(8080);
    let mut world = World::new(original(), rollout(target, vec![]));
    let message = world.tick().status.message.unwrap();
    assert!(message.contains("manifest 1 (Service web)"), "{message}");
    assert!(world.writes.is_empty());
}

#[test]
fn an_env_reorder_that_overriders_cannot_reproduce_is_refused() {
    let two = json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    let swapped = json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]);
    let original = spec(vec![deployment("nginx:1", 2, two)], &all_groups());
    let target = spec(vec![deployment("nginx:1", 2, swapped)], &all_groups());
    let mut world = World::new(original, rollout(target, vec![]));
    let message = world.tick().status.message.unwrap();
    assert!(
        message.contains("cannot reproduce this change exactly"),
        "{message}"
    );
}

#[test]
fn waves_of_one_then_a_quarter_then_all() {
    let o = spec(vec![deployment("a:1", 1, json!([]))], &all_groups());
    let waves = vec![
        WaveSpec {
            count: Some(1),
            ..WaveSpec::default()
        },
        WaveSpec {
            percent: Some(25),
            ..WaveSpec::default()
        },
        WaveSpec {
            percent: Some(100),
            ..WaveSpec::default()
        },
    ];
    let resolved = resolve_waves(&o, &o, &waves).unwrap();
    assert_eq!(
        resolved,
        vec![
            vec!["beijing"],
            vec!["chengdu"],
            vec!["hangzhou", "shanghai", "xian"]
        ]
    );
    let bad = resolve_waves(&o, &o, &[groups(&["nowhere"])]).unwrap_err();
    assert!(bad.contains("\"nowhere\""), "{bad}");
    let twice = resolve_waves(&o, &o, &[groups(&["xian"]), groups(&["xian"])]).unwrap_err();
    assert!(twice.contains("more than one wave"), "{twice}");
    let empty = resolve_waves(&o, &o, &[WaveSpec::default()]).unwrap_err();
    assert!(empty.contains("exactly one of"), "{empty}");
}

#[test]
fn a_group_added_by_the_change_joins_in_its_wave() {
    let mut target_groups = all_groups();
    target_groups.push(("lhasa", Some(1)));
    let target = spec(vec![deployment("nginx:1.1", 2, json!([]))], &target_groups);
    let original = spec(vec![deployment("nginx:1.0", 2, json!([]))], &all_groups());
    let original_template = original.workload_template.clone();
    let mut world = World::new(
        original,
        rollout(target.clone(), vec![groups(&["lhasa"]), groups(&["xian"])]),
    );
    world.tick();
    assert_eq!(world.image_in("lhasa"), "nginx:1.1");
    assert_eq!(world.image_in("xian"), "nginx:1.0");
    assert_eq!(world.app.spec.workload_template, original_template);
    world.run_until(RolloutPhase::Completed);
    assert_eq!(world.app.spec, target);
}

/// Image, replicas, env and args of the one container.
type Change = (String, i64, Vec<(String, String)>, Option<Vec<String>>);

/// A generated template change within the overriders' reach.
fn arb_change() -> impl Strategy<Value = Change> {
    let image = prop_oneof![
        Just("nginx:1.0".to_owned()),
        Just("nginx:1.1".to_owned()),
        Just("reg.io/mirror/nginx:2".to_owned()),
        Just("localhost:5000/nginx".to_owned()),
    ];
    let env = proptest::collection::btree_map("[A-D]", "[0-9]", 0..4)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    let args = proptest::option::of(proptest::collection::vec("[a-c]", 1..3));
    (image, 0i64..4, env, args)
}

fn manifest_of(change: &Change) -> Value {
    let env: Vec<Value> = change
        .2
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    let mut d = deployment(&change.0, change.1, Value::Array(env));
    if let Some(args) = &change.3 {
        d["spec"]["template"]["spec"]["containers"][0]["args"] = json!(args);
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the change and the wave split: every intermediate spec
    /// renders the target for promoted groups and the original for the
    /// others (when the change is expressible at all), the last wave is
    /// the direct edit and abort is the original, exactly.
    #[test]
    fn every_wave_renders_old_or_new_exactly(
        before in arb_change(),
        after in arb_change(),
        split in proptest::collection::vec(0usize..3, GROUPS.len()),
        replicas in proptest::collection::vec(proptest::option::of(0i32..5), GROUPS.len()),
    ) {
        let with = |c, r: &[Option<i32>]| {
            let gs: Vec<_> = GROUPS.iter().zip(r).map(|(g, r)| (*g, *r)).collect();
            spec(vec![manifest_of(c), service()], &gs)
        };
        let original = with(&before, &vec![None; GROUPS.len()]);
        let target = with(&after, &replicas);
        let live = app(original.clone());
        let everyone: BTreeSet<String> = GROUPS.iter().map(|g| g.to_string()).collect();
        prop_assume!(check_expressible(&live, &original, &target, &everyone).is_ok());
        let waves: Vec<WaveSpec> = (0..3)
            .map(|w| {
                let names: Vec<&str> = GROUPS.iter().zip(&split)
                    .filter(|(_, s)| **s == w).map(|(g, _)| *g).collect();
                groups(&names)
            })
            .filter(|w| !w.groups.is_empty())
            .collect();
        let resolved = resolve_waves(&original, &target, &waves).unwrap();
        let old = render(&live);
        let new = render(&with_spec(&live, target.clone()));
        let of = |r: &Rendered, g: &str| -> Vec<Value> {
            r.objects.iter().filter(|o| o.target.as_deref() == Some(g))
                .map(|o| o.object.clone()).collect()
        };
        let mut promoted = BTreeSet::new();
        for (i, wave) in resolved.iter().enumerate() {
            promoted.extend(wave.iter().cloned());
            let last = i + 1 == resolved.len();
            let staged = wave_spec(&original, &target, &promoted, last).unwrap();
            let rendered = render(&with_spec(&live, staged.clone()));
            for g in GROUPS {
                let want = if promoted.contains(g) { of(&new, g) } else { of(&old, g) };
                prop_assert_eq!(of(&rendered, g), want, "wave {} group {}", i, g);
            }
            if last {
                prop_assert_eq!(&staged, &target);
            }
        }
        prop_assert_eq!(wave_spec(&original, &target, &BTreeSet::new(), false).unwrap(), original);
    }
}

fn settled_app() -> EdgeApplication {
    let mut live = app(original());
    settle(&mut live);
    live
}

#[test]
fn a_crash_looping_pod_makes_its_group_unhealthy() {
    let live = settled_app();
    let pod = json!({"metadata": {"name": "web-chengdu-5d9f-x1", "namespace": "default",
        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-chengdu-5d9f"}]},
        "status": {"containerStatuses": [{"name": "web", "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
    let pods = [pod];
    let cluster = Cluster {
        app: &live,
        pods: &pods,
        nodes: &[],
        slices: &[],
    };
    let rendered = render(&live);
    let why = health::group_health(&cluster, &rendered, "chengdu").unwrap_err();
    assert_eq!(
        why,
        "pod web-chengdu-5d9f-x1: container web CrashLoopBackOff (4 restarts)"
    );
    assert_eq!(
        health::group_health(&cluster, &rendered, "hangzhou"),
        Ok(())
    );
}

#[test]
fn a_black_hole_service_makes_its_group_unhealthy() {
    let live = settled_app();
    let node = |name: &str, group: &str| -> k8s_openapi::api::core::v1::Node {
        serde_json::from_value(json!({"metadata": {"name": name,
            "labels": {crate::api::LABEL_BELONGING_TO: group}}}))
        .unwrap()
    };
    let nodes = [node("n1", "chengdu"), node("n2", "hangzhou")];
    let slice: EndpointSliceT = serde_json::from_value(json!({
        "metadata": {"name": "web-abc", "namespace": "default",
            "labels": {crate::api::LABEL_SERVICE_NAME: "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.0.1"], "nodeName": "n1", "conditions": {"ready": false}},
            {"addresses": ["10.0.0.2"], "nodeName": "n2", "conditions": {"ready": true}}]}))
    .unwrap();
    let slices = [slice];
    let cluster = Cluster {
        app: &live,
        pods: &[],
        nodes: &nodes,
        slices: &slices,
    };
    let rendered = render(&live);
    let why = health::group_health(&cluster, &rendered, "chengdu").unwrap_err();
    assert!(
        why.contains("Service web has no ready endpoint in chengdu"),
        "{why}"
    );
    assert_eq!(
        health::group_health(&cluster, &rendered, "hangzhou"),
        Ok(())
    );
}

type EndpointSliceT = k8s_openapi::api::discovery::v1::EndpointSlice;

#[test]
fn a_stale_application_status_is_not_health() {
    let mut live = settled_app();
    live.metadata.generation = Some(2);
    let cluster = Cluster {
        app: &live,
        pods: &[],
        nodes: &[],
        slices: &[],
    };
    let why = health::group_health(&cluster, &render(&live), "chengdu").unwrap_err();
    assert!(why.contains("generation 2"), "{why}");
}

#[test]
fn an_engine_restart_mid_wave_resumes_from_the_status() {
    let mut world = World::new(original(), rollout(changed("nginx:1.1"), three_waves()));
    while world
        .rollout
        .status
        .as_ref()
        .is_none_or(|s| s.current_wave < 1)
    {
        world.tick();
    }
    world.tick();
    let writes = world.writes.len();
    // A new engine knows only what the cluster holds: the Rollout with its
    // status and the application.
    let stored: Rollout =
        serde_json::from_value(serde_json::to_value(&world.rollout).unwrap()).unwrap();
    world.rollout = stored;
    let next = world.tick();
    assert_eq!(next.status.current_wave, 1);
    assert_eq!(world.writes.len(), writes, "the wave is not written again");
    assert_eq!(world.image_in("hangzhou"), "nginx:1.1");
    assert_eq!(world.image_in("xian"), "nginx:1.0");
}

#[test]
fn a_write_whose_status_was_lost_is_not_taken_for_a_hand_edit() {
    let mut world = World::new(original(), rollout(changed("nginx:1.1"), three_waves()));
    while world
        .rollout
        .status
        .as_ref()
        .is_none_or(|s| s.current_wave < 1)
    {
        world.tick();
    }
    let before_write = world.rollout.status.clone();
    let step = world.tick();
    assert!(step.write.is_some(), "wave 1 is written");
    // The engine stopped after writing the application, before its status.
    world.rollout.status = before_write;
    let next = world.tick();
    assert_ne!(
        next.status.phase,
        RolloutPhase::Paused,
        "{:?}",
        next.status.message
    );
    world.run_until(RolloutPhase::Completed);
}
