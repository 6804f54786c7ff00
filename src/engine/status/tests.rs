//! Availability rules, the status summary and the ✓ rule.

use super::*;
use serde_json::json;

fn deployment(replicas: i64, generation: i64, status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default", "generation": generation},
           "spec": {"replicas": replicas}, "status": status})
}

#[test]
fn deployment_is_available_only_when_rolled_out_and_ready() {
    let ready =
        json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3});
    assert_eq!(
        availability(&deployment(3, 2, ready)),
        Availability::Available
    );

    let stale =
        json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3});
    assert!(
        matches!(availability(&deployment(3, 2, stale)), Availability::Processing(r) if r.contains("generation 2"))
    );

    let rolling =
        json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 4});
    assert_eq!(
        availability(&deployment(3, 2, rolling)),
        Availability::Processing("2 of 3 replicas updated".into())
    );

    let not_ready =
        json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 1});
    assert_eq!(
        availability(&deployment(3, 2, not_ready)),
        Availability::Processing("1 of 3 replicas ready".into())
    );
}

#[test]
fn scaled_to_zero_is_available_only_once_scaled_down() {
    let draining =
        json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2});
    assert_eq!(
        availability(&deployment(0, 3, draining)),
        Availability::Processing("2 old replicas pending termination".into())
    );
    let done = json!({"observedGeneration": 3});
    assert_eq!(
        availability(&deployment(0, 3, done)),
        Availability::Available
    );
}

#[test]
fn daemonset_statefulset_and_pod_rules() {
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "generation": 1},
                    "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberReady": 2}});
    assert_eq!(
        availability(&ds),
        Availability::Processing("2 of 3 daemon pods ready".into())
    );

    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s", "generation": 1},
                     "spec": {"replicas": 2, "updateStrategy": {"type": "OnDelete"}},
                     "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 0, "readyReplicas": 2}});
    assert_eq!(
        availability(&sts),
        Availability::Available,
        "OnDelete must not wait for updates"
    );

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}});
    assert!(matches!(availability(&pod), Availability::Processing(_)));

    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert_eq!(availability(&cm), Availability::Available);
}

fn rendered_example() -> Rendered {
    let text = include_str!("../../../examples/proposal/edgeapplication.yaml");
    let app: crate::api::EdgeApplication = serde_yaml_ng::from_str(text).expect("example parses");
    crate::engine::render::render(&app)
}

fn rolled_out(object: &Value, ready: i64) -> Value {
    let mut live = object.clone();
    let replicas = live["spec"]["replicas"].clone();
    live["metadata"]["generation"] = json!(1);
    live["status"] = json!({"observedGeneration": 1, "replicas": replicas,
                            "updatedReplicas": replicas, "readyReplicas": ready});
    live
}

#[test]
fn summary_of_the_proposal_example() {
    let rendered = rendered_example();
    let hangzhou = rolled_out(&rendered.objects[0].object, 2);
    let beijing = rolled_out(&rendered.objects[1].object, 1);
    let status = summarize(
        &rendered,
        |key| match key.name.as_str() {
            "nginx-hangzhou" => Observation::Live(&hangzhou),
            "nginx-beijing" => Observation::Live(&beijing),
            _ => Observation::Absent,
        },
        Some(7),
    );
    let rows: Vec<(String, String, Option<ManifestCondition>, Option<String>)> = status
        .workload_status
        .iter()
        .map(|e| {
            (
                e.identifier.name.clone(),
                format!(
                    "{}/{}/{}",
                    e.identifier.group, e.identifier.version, e.identifier.resource
                ),
                e.conditions,
                e.reason.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "nginx-beijing".into(),
                "apps/v1/deployments".into(),
                Some(ManifestCondition::Processing),
                Some("1 of 3 replicas ready".into())
            ),
            (
                "nginx-hangzhou".into(),
                "apps/v1/deployments".into(),
                Some(ManifestCondition::Available),
                None
            ),
            (
                "nginx-service".into(),
                "/v1/services".into(),
                Some(ManifestCondition::Processing),
                Some("not created yet".into())
            ),
        ]
    );
    assert_eq!(status.workload_status[2].identifier.ordinal, 1);
    assert_eq!(status.available.as_deref(), Some("1/3"));
    assert_eq!(status.observed_generation, Some(7));
    let groups: Vec<(String, i32, i32, i32, i32)> = status
        .groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                g.desired_replicas,
                g.ready_replicas,
                g.workloads,
                g.available_workloads,
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("beijing".into(), 3, 1, 1, 0),
            ("hangzhou".into(), 2, 2, 1, 1)
        ]
    );
}

fn group_counts(status: &EdgeApplicationStatus, name: &str) -> (i32, i32, i32, i32) {
    status
        .groups
        .iter()
        .find(|g| g.name == name)
        .map(|g| {
            (
                g.desired_replicas,
                g.ready_replicas,
                g.workloads,
                g.available_workloads,
            )
        })
        .unwrap_or_default()
}

#[test]
fn a_failed_render_counts_what_its_kept_live_workload_runs() {
    let mut rendered = rendered_example();
    let kept = rendered.objects.remove(1);
    assert_eq!(kept.key.name, "nginx-beijing");
    rendered.errors.push(crate::engine::render::RenderError {
        ordinal: Some(0),
        target: Some("beijing".into()),
        key: Some(kept.key.clone()),
        error: crate::engine::EngineError::NegativeReplicas {
            target: "beijing".into(),
            value: -1,
        },
    });
    let mut live = kept.object.clone();
    live["spec"]["replicas"] = json!(5);
    let live = rolled_out(&live, 5);
    let status = summarize(
        &rendered,
        |key| match key.name.as_str() {
            "nginx-beijing" => Observation::Live(&live),
            _ => Observation::Absent,
        },
        None,
    );
    // 5 pods run: the summary says so, not 0/0; the workload is not available.
    assert_eq!(group_counts(&status, "beijing"), (5, 5, 1, 0));
}

#[test]
fn ready_replicas_never_exceed_desired_and_an_unapplied_spec_is_not_available() {
    let rendered = rendered_example();
    // hangzhou renders 2 replicas; the live object still runs its old 4.
    let mut old = rendered.objects[0].object.clone();
    old["spec"]["replicas"] = json!(4);
    let old = rolled_out(&old, 4);
    let status = summarize(
        &rendered,
        |key| match key.name.as_str() {
            "nginx-hangzhou" => Observation::Live(&old),
            _ => Observation::Absent,
        },
        None,
    );
    assert_eq!(group_counts(&status, "hangzhou"), (2, 2, 1, 0));
    let entry = status
        .workload_status
        .iter()
        .find(|e| e.identifier.name == "nginx-hangzhou")
        .expect("listed");
    assert_eq!(entry.conditions, Some(ManifestCondition::Processing));
    assert_eq!(
        entry.reason.as_deref(),
        Some("4 replicas live, 2 desired: not applied yet")
    );
}

#[test]
fn a_check_mark_needs_every_workload_available_and_no_failure() {
    let rendered = rendered_example();
    let hangzhou = rolled_out(&rendered.objects[0].object, 2);
    let beijing = rolled_out(&rendered.objects[1].object, 1);
    let observe = |key: &ObjectKey| match key.name.as_str() {
        "nginx-hangzhou" => Observation::Live(&hangzhou),
        "nginx-beijing" => Observation::Live(&beijing),
        _ => Observation::Absent,
    };
    let status = summarize(&rendered, observe, None);
    let standing = |status: &EdgeApplicationStatus, group| {
        group_standing(status, &rendered, group).map(|s| (s.ready, s.desired, s.verdict))
    };
    assert_eq!(
        standing(&status, "hangzhou"),
        Some((2, 2, Verdict::Available))
    );
    assert_eq!(
        standing(&status, "beijing"),
        Some((1, 3, Verdict::Progressing))
    );
    assert_eq!(standing(&status, "shanghai"), None);

    // A write failure there fails the group whatever its counts say.
    let failing = summarize(
        &rendered,
        |key| match key.name.as_str() {
            "nginx-hangzhou" => Observation::Failed("quota exceeded"),
            _ => observe(key),
        },
        None,
    );
    let failed = group_standing(&failing, &rendered, "hangzhou").expect("summarised");
    assert_eq!(failed.verdict, Verdict::Failed);
    assert_eq!(failed.reason.as_deref(), Some("quota exceeded"));

    // Combined (all applications of a group): a ✓ only if each has one.
    let ok = Standing {
        ready: 2,
        desired: 2,
        verdict: Verdict::Available,
        reason: None,
    };
    let both = ok.combine(&ok);
    assert_eq!(
        (both.ready, both.desired, both.verdict),
        (4, 4, Verdict::Available)
    );
    let mixed = ok.combine(&failed);
    assert_eq!(mixed.verdict, Verdict::Failed);
    assert_eq!(mixed.reason.as_deref(), Some("quota exceeded"));
}

#[test]
fn apply_and_render_failures_are_failed_entries_with_reasons() {
    let mut rendered = rendered_example();
    rendered.errors.push(crate::engine::render::RenderError {
        ordinal: Some(0),
        target: Some("shanghai".into()),
        key: Some(ObjectKey::new(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-shanghai",
        )),
        error: crate::engine::EngineError::NegativeReplicas {
            target: "shanghai".into(),
            value: -1,
        },
    });
    let status = summarize(
        &rendered,
        |key| {
            if key.kind == "Service" {
                Observation::Failed("admission webhook denied it")
            } else {
                Observation::Absent
            }
        },
        None,
    );
    let failed: Vec<(&str, &str)> = status
        .workload_status
        .iter()
        .filter(|e| e.conditions == Some(ManifestCondition::Failed))
        .map(|e| {
            (
                e.identifier.name.as_str(),
                e.reason.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    // Sorted by manifest ordinal: the Deployment (0) before the Service (1).
    assert_eq!(
        failed,
        [
            (
                "nginx-shanghai",
                "shanghai: replicas must not be negative (got -1)"
            ),
            ("nginx-service", "admission webhook denied it"),
        ]
    );
    let shanghai = status
        .groups
        .iter()
        .find(|g| g.name == "shanghai")
        .expect("failed target listed");
    assert_eq!((shanghai.workloads, shanghai.available_workloads), (1, 0));
    assert_eq!(status.available.as_deref(), Some("0/4"));
}
