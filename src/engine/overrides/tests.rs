use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Target, apply_target, label_selector_suffix};
use crate::api::{
    CommandArgsOverrider, EnvOverrider, ImageComponent, ImageOverrider, ImagePredicate,
    LABEL_BELONGING_TO, OverriderOperator, Overriders, ResourcesOverrider,
};
use crate::engine::object::WorkloadKind;
use crate::engine::{EngineError, EngineWarning};

use ImageComponent::{Registry, Repository, Tag};
use OverriderOperator::{Add, Remove, Replace};

const OBJECT: &str = "Deployment default/nginx-hangzhou";
const IMAGE_0: &str = "/spec/template/spec/containers/0/image";

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                    "containers": [
                        {"name": "web", "image": "reg.io/nginx:1.25",
                         "command": ["nginx"], "args": ["-g", "daemon off;", "-g"],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}],
                         "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m"}}},
                        {"name": "sidecar", "image": "envoy:v1"}
                    ],
                    "unknownField": {"kept": true}
                }
            }
        }
    })
}

fn group() -> Target {
    Target::Group("hangzhou".into())
}

fn render(manifest: &Value, overriders: &Overriders) -> Result<Value, EngineError> {
    apply_target(manifest, WorkloadKind::Deployment, &group(), overriders).map(|a| a.object)
}

/// The warnings of a render that must succeed.
fn warnings(overriders: Overriders) -> Vec<EngineWarning> {
    apply_target(
        &deployment(),
        WorkloadKind::Deployment,
        &group(),
        &overriders,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .warnings
}

fn rendered(overriders: Overriders) -> Value {
    render(&deployment(), &overriders).unwrap_or_else(|e| panic!("{e}"))
}

fn render_err(manifest: &Value, overriders: Overriders) -> EngineError {
    match render(manifest, &overriders) {
        Ok(v) => panic!("expected an error, got {v:#}"),
        Err(e) => e,
    }
}

fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("nothing at {pointer} in {value:#}"))
}

fn image(
    predicate: Option<&str>,
    component: ImageComponent,
    operator: OverriderOperator,
    value: &str,
) -> ImageOverrider {
    ImageOverrider {
        predicate: predicate.map(|path| ImagePredicate { path: path.into() }),
        component,
        operator,
        value: value.into(),
    }
}

fn images(overriders: Vec<ImageOverrider>) -> Overriders {
    Overriders {
        image_overriders: overriders,
        ..Overriders::default()
    }
}

fn strings(container: &str, operator: OverriderOperator, values: &[&str]) -> CommandArgsOverrider {
    CommandArgsOverrider {
        container_name: container.into(),
        operator,
        value: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn env(operator: OverriderOperator, vars: Vec<EnvVar>) -> Overriders {
    env_in("web", operator, vars)
}

fn env_in(container: &str, operator: OverriderOperator, vars: Vec<EnvVar>) -> Overriders {
    Overriders {
        env_overriders: vec![EnvOverrider {
            container_name: container.into(),
            operator,
            value: vars,
        }],
        ..Overriders::default()
    }
}

fn env_of(manifest: &Value) -> Vec<(String, String)> {
    at(manifest, "/spec/template/spec/containers/0/env")
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["name"].as_str().unwrap_or("").to_owned(),
                e["value"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn selector(
    labels: &[(&str, &str)],
    expressions: Vec<(&str, &str, Option<Vec<&str>>)>,
) -> LabelSelector {
    LabelSelector {
        match_labels: (!labels.is_empty()).then(|| {
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }),
        match_expressions: (!expressions.is_empty()).then(|| {
            expressions
                .into_iter()
                .map(|(key, operator, values)| LabelSelectorRequirement {
                    key: key.into(),
                    operator: operator.into(),
                    values: values.map(|vs| vs.into_iter().map(String::from).collect()),
                })
                .collect()
        }),
    }
}

// ---- name, replicas, target pinning ----

#[test]
fn renames_and_pins_to_the_group_keeping_unknown_fields() {
    let out = rendered(Overriders::default());
    assert_eq!(at(&out, "/metadata/name"), "nginx-hangzhou");
    assert_eq!(
        at(&out, "/spec/template/spec/nodeSelector"),
        &json!({LABEL_BELONGING_TO: "hangzhou"})
    );
    assert_eq!(
        at(&out, "/spec/template/spec/unknownField"),
        &json!({"kept": true})
    );
    assert_eq!(at(&out, "/spec/replicas"), 1);
}

#[test]
fn group_node_selector_merges_and_wins() {
    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["nodeSelector"] =
        json!({"disk": "ssd", LABEL_BELONGING_TO: "other"});
    let out = render(&manifest, &Overriders::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        at(&out, "/spec/template/spec/nodeSelector"),
        &json!({"disk": "ssd", LABEL_BELONGING_TO: "hangzhou"})
    );
}

#[test]
fn missing_or_malformed_name_is_an_invalid_field() {
    for metadata in [json!({}), json!({"name": 5}), json!({"name": ""})] {
        let mut manifest = deployment();
        manifest["metadata"] = metadata;
        let err = render_err(&manifest, Overriders::default());
        assert!(
            matches!(&err, EngineError::InvalidField { field, .. } if field == "/metadata/name"),
            "{err}"
        );
    }
}

#[test]
fn replicas_are_set_for_kinds_that_have_them() {
    let out = rendered(Overriders {
        replicas: Some(3),
        ..Overriders::default()
    });
    assert_eq!(at(&out, "/spec/replicas"), 3);
}

#[test]
fn replicas_on_a_daemon_set_or_pod_are_not_applicable() {
    let overriders = Overriders {
        replicas: Some(3),
        ..Overriders::default()
    };
    for kind in [WorkloadKind::DaemonSet, WorkloadKind::Pod] {
        let err = apply_target(&deployment(), kind, &group(), &overriders);
        assert!(
            matches!(
                &err,
                Err(EngineError::OverriderNotApplicable {
                    overrider: "replicas",
                    ..
                })
            ),
            "{err:?}"
        );
    }
}

#[test]
fn negative_replicas_are_refused() {
    let err = render_err(
        &deployment(),
        Overriders {
            replicas: Some(-1),
            ..Overriders::default()
        },
    );
    assert_eq!(
        err,
        EngineError::NegativeReplicas {
            target: OBJECT.into(),
            value: -1
        }
    );
}

#[test]
fn error_object_names_kind_namespace_and_the_copy() {
    let mut manifest = deployment();
    if let Some(meta) = manifest["metadata"].as_object_mut() {
        meta.remove("namespace");
    }
    let err = render_err(
        &manifest,
        Overriders {
            replicas: Some(-2),
            ..Overriders::default()
        },
    );
    assert_eq!(
        err.to_string(),
        "Deployment nginx-hangzhou: replicas must not be negative (got -2)"
    );
}

#[test]
fn pod_kind_uses_spec_as_pod_spec() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {"containers": [{"name": "c", "image": "app:1"}]}});
    let out = apply_target(
        &pod,
        WorkloadKind::Pod,
        &group(),
        &images(vec![image(None, Tag, Replace, "2")]),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .object;
    assert_eq!(at(&out, "/spec/containers/0/image"), "app:2");
    assert_eq!(
        at(&out, "/spec/nodeSelector"),
        &json!({LABEL_BELONGING_TO: "hangzhou"})
    );
}

// ---- label selector targets ----

#[test]
fn labels_target_adds_a_required_node_affinity_term() {
    let target = Target::labels(selector(&[("zone", "east")], vec![("gpu", "Exists", None)]));
    let out = apply_target(
        &deployment(),
        WorkloadKind::Deployment,
        &target,
        &Overriders::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .object;
    assert_eq!(
        at(&out, "/metadata/name"),
        &json!(format!("nginx-{}", target.suffix()))
    );
    let terms = at(
        &out,
        "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
    );
    assert_eq!(
        terms,
        &json!([{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["east"]},
            {"key": "gpu", "operator": "Exists"}
        ]}])
    );
    assert!(out.pointer("/spec/template/spec/nodeSelector").is_none());
}

#[test]
fn labels_target_is_anded_into_every_existing_term() {
    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [
        {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["arm64"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["east"]}]}
    ]}}});
    let target = Target::labels(selector(&[("zone", "east")], vec![]));
    let out = apply_target(
        &manifest,
        WorkloadKind::Deployment,
        &target,
        &Overriders::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .object;
    let ours = json!({"key": "zone", "operator": "In", "values": ["east"]});
    let terms = at(
        &out,
        "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms",
    );
    assert_eq!(
        terms,
        &json!([
            {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["arm64"]}, ours]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}], "matchExpressions": [ours]},
            {"matchExpressions": [ours]}
        ])
    );
}

#[test]
fn invalid_selectors_are_refused() {
    for (sel, expected) in [
        (selector(&[], vec![]), "would select every node"),
        (
            LabelSelector {
                match_labels: Some(BTreeMap::new()),
                match_expressions: Some(vec![]),
            },
            "every node",
        ),
        (
            selector(&[], vec![("k", "Gt", Some(vec!["1"]))]),
            "unknown operator \"Gt\"",
        ),
        (
            selector(&[], vec![("k", "in", Some(vec!["1"]))]),
            "unknown operator",
        ),
        (
            selector(&[], vec![("k", "In", None)]),
            "needs at least one value",
        ),
        (
            selector(&[], vec![("k", "NotIn", Some(vec![]))]),
            "needs at least one value",
        ),
        (
            selector(&[], vec![("k", "Exists", Some(vec!["x"]))]),
            "must not have values",
        ),
        (selector(&[], vec![("", "Exists", None)]), "empty key"),
        (selector(&[("", "v")], vec![]), "empty key"),
    ] {
        let target = Target::labels(sel);
        let err = apply_target(
            &deployment(),
            WorkloadKind::Deployment,
            &target,
            &Overriders::default(),
        );
        match err {
            Err(EngineError::InvalidSelector { problem, .. }) => {
                assert!(problem.contains(expected), "{problem}")
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
}

#[test]
fn selector_suffix_is_canonical() {
    let a = selector(
        &[("b", "2"), ("a", "1")],
        vec![("x", "In", Some(vec!["q", "p"])), ("e", "Exists", None)],
    );
    let b = selector(
        &[("a", "1"), ("b", "2")],
        vec![("e", "Exists", None), ("x", "In", Some(vec!["p", "q"]))],
    );
    let suffix = label_selector_suffix(&a);
    assert_eq!(suffix, label_selector_suffix(&b));
    assert_eq!(suffix.len(), 11);
    assert!(
        suffix.starts_with("ls-")
            && suffix[3..]
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    );
    assert_ne!(
        suffix,
        label_selector_suffix(&selector(&[("a", "1")], vec![]))
    );
}

/// KubeEdge's name overrider: sha256 over the sorted matchLabels as
/// `k1v1k2v2`, first 8 hex digits. `web-ls-afc90c45` is the name KubeEdge
/// gives `{region: g, tier: edge}`; a different one would run a second copy
/// in the region after a migration.
#[test]
fn match_labels_only_selectors_get_kubeedges_name() {
    let sel = selector(&[("tier", "edge"), ("region", "g")], vec![]);
    assert_eq!(label_selector_suffix(&sel), "ls-afc90c45");
    let no_expressions = LabelSelector {
        match_expressions: Some(vec![]),
        ..sel.clone()
    };
    assert_eq!(label_selector_suffix(&no_expressions), "ls-afc90c45");
}

#[test]
fn selector_suffix_hashes_the_documented_form() {
    use sha2::{Digest, Sha256};
    let sel = selector(
        &[("zone", "east")],
        vec![
            ("gpu", "Exists", None),
            ("arch", "NotIn", Some(vec!["x86", "arm"])),
        ],
    );
    let hash = Sha256::digest(b"zone=east\narch NotIn arm,x86\ngpu Exists ");
    let expected: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    assert_eq!(label_selector_suffix(&sel), format!("ls-{expected}"));
}

// ---- images ----

/// KubeEdge's image overrider without a predicate walks `spec.containers`
/// only; init containers keep their image.
#[test]
fn image_without_predicate_covers_containers_but_not_init_containers() {
    let out = rendered(images(vec![image(None, Registry, Replace, "mirror.cn")]));
    assert_eq!(at(&out, IMAGE_0), "mirror.cn/nginx:1.25");
    assert_eq!(
        at(&out, "/spec/template/spec/containers/1/image"),
        "mirror.cn/envoy:v1"
    );
    assert_eq!(
        at(&out, "/spec/template/spec/initContainers/0/image"),
        "busybox:1.36"
    );
}

#[test]
fn a_predicate_can_still_reach_an_init_container() {
    let init = "/spec/template/spec/initContainers/0/image";
    let out = rendered(images(vec![image(Some(init), Tag, Replace, "1.37")]));
    assert_eq!(at(&out, init), "busybox:1.37");
}

#[test]
fn image_overriders_apply_in_sequence() {
    let out = rendered(images(vec![
        image(Some(IMAGE_0), Registry, Add, ".cn"),
        image(None, Tag, Add, "-alpine"),
        image(Some(IMAGE_0), Tag, Replace, "1.26"),
    ]));
    assert_eq!(at(&out, IMAGE_0), "reg.io.cn/nginx:1.26");
    assert_eq!(
        at(&out, "/spec/template/spec/containers/1/image"),
        "envoy:v1-alpine"
    );
}

/// Appending to an absent registry gives `.cn/envoy:v1`, which is no image:
/// the overrider fails rather than skipping the images it cannot apply to.
#[test]
fn registry_add_on_an_image_without_registry_fails() {
    let err = render_err(
        &deployment(),
        images(vec![image(None, Registry, Add, ".cn")]),
    );
    assert!(
        matches!(&err, EngineError::InvalidImage { path, .. } if path == "/spec/template/spec/containers/1/image"),
        "{err}"
    );
}

#[test]
fn image_with_predicate_touches_only_that_image() {
    let out = rendered(images(vec![image(
        Some("/spec/template/spec/containers/1/image"),
        Tag,
        Remove,
        "",
    )]));
    assert_eq!(at(&out, "/spec/template/spec/containers/1/image"), "envoy");
    assert_eq!(at(&out, IMAGE_0), "reg.io/nginx:1.25");
}

#[test]
fn image_predicate_pointer_escapes() {
    let mut manifest = deployment();
    manifest["metadata"]["annotations"] = json!({"images/a~b": "app:1"});
    let out = render(
        &manifest,
        &images(vec![image(
            Some("/metadata/annotations/images~1a~0b"),
            Tag,
            Replace,
            "2",
        )]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(at(&out, "/metadata/annotations/images~1a~0b"), "app:2");
}

#[test]
fn bad_image_predicates_say_what_is_wrong() {
    for (path, expected) in [
        ("spec/template", "must start with '/'"),
        (
            "/spec/template/spec/containers/5/image",
            "index 5 is out of range at /spec/template/spec/containers (2 elements)",
        ),
        (
            "/spec/template/spec/containers/01/image",
            "not an array index",
        ),
        ("/spec/template/spec/containers/-/image", "end of the array"),
        (
            "/spec/template/spec/containers/x/image",
            "not an array index",
        ),
        ("/spec/nope/x", "/spec has no key \"nope\""),
        ("/spec/replicas/x", "/spec/replicas is a number"),
        ("/spec/replicas", "points at a number, not an image string"),
        ("/spec/template/spec/containers/0", "points at an object"),
        ("", "points at an object"),
        ("/a~2", "'~' not followed by 0 or 1"),
        ("/a~", "'~' not followed by 0 or 1"),
    ] {
        let err = render_err(
            &deployment(),
            images(vec![image(Some(path), Tag, Replace, "v1")]),
        );
        match err {
            EngineError::BadImagePredicate {
                object,
                path: p,
                problem,
            } => {
                assert_eq!((object.as_str(), p.as_str()), (OBJECT, path));
                assert!(problem.contains(expected), "{path}: {problem}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[test]
fn invalid_existing_image_names_its_path() {
    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["containers"][1]["image"] = json!("Envoy:v1");
    let err = render_err(&manifest, images(vec![image(None, Tag, Replace, "v2")]));
    match err {
        EngineError::InvalidImage {
            path,
            image,
            problem,
            ..
        } => {
            assert_eq!(
                (path.as_str(), image.as_str()),
                ("/spec/template/spec/containers/1/image", "Envoy:v1")
            );
            assert!(problem.contains("lowercase"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_result_image_is_an_invalid_image() {
    let err = render_err(
        &deployment(),
        images(vec![image(Some(IMAGE_0), Tag, Replace, "x y")]),
    );
    match err {
        EngineError::InvalidImage {
            path,
            image,
            problem,
            ..
        } => {
            assert_eq!(
                (path.as_str(), image.as_str()),
                (IMAGE_0, "reg.io/nginx:1.25")
            );
            assert!(
                problem.contains("imageOverriders[0]: tag \"x y\" has invalid characters"),
                "{problem}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn broken_image_overriders_are_reported_as_such() {
    for overrider in [
        image(None, Repository, Remove, ""),
        image(None, Tag, Add, ""),
    ] {
        let err = render_err(&deployment(), images(vec![overrider]));
        assert!(
            matches!(&err, EngineError::BadImageOverrider { problem, .. } if problem.starts_with("imageOverriders[0]")),
            "{err:?}"
        );
    }
}

#[test]
fn container_image_missing_or_not_a_string() {
    for (image_value, problem) in [
        (json!(null), "is null, not a string"),
        (json!(7), "is a number, not a string"),
    ] {
        let mut manifest = deployment();
        manifest["spec"]["template"]["spec"]["containers"][1]["image"] = image_value;
        let err = render_err(&manifest, images(vec![image(None, Tag, Replace, "v2")]));
        assert_eq!(
            err,
            EngineError::InvalidField {
                object: OBJECT.into(),
                field: "/spec/template/spec/containers/1/image".into(),
                problem: problem.into(),
            }
        );
    }
    let mut manifest = deployment();
    if let Some(c) = manifest["spec"]["template"]["spec"]["containers"][1].as_object_mut() {
        c.remove("image");
    }
    let err = render_err(&manifest, images(vec![image(None, Tag, Replace, "v2")]));
    assert!(
        matches!(&err, EngineError::InvalidField { problem, .. } if problem == "is missing"),
        "{err}"
    );
}

/// The predicate is evaluated on the renamed copy, and before the pod is
/// pinned: swapping the steps would change both outcomes below.
#[test]
fn reference_order_name_then_image_then_node_selector() {
    let out = rendered(images(vec![image(
        Some("/metadata/name"),
        Tag,
        Replace,
        "v1",
    )]));
    assert_eq!(at(&out, "/metadata/name"), "nginx-hangzhou:v1");

    let pinned = "/spec/template/spec/nodeSelector/apps.kubeedge.io~1belonging-to";
    let err = render_err(
        &deployment(),
        images(vec![image(Some(pinned), Tag, Replace, "v1")]),
    );
    assert!(
        matches!(&err, EngineError::BadImagePredicate { problem, .. } if problem.contains("no key \"nodeSelector\"")),
        "{err}"
    );
}

#[test]
fn reference_order_command_before_args_before_env_before_resources() {
    // Each step sees the previous one's output, so skipped overriders are
    // reported in the reference order whatever order the fields are given in.
    let skipped = warnings(Overriders {
        resources_overriders: vec![ResourcesOverrider {
            container_name: "ghost-res".into(),
            value: ResourceRequirements::default(),
        }],
        env_overriders: env_in("ghost-env", Add, vec![]).env_overriders,
        args_overriders: vec![strings("ghost-args", Add, &["x"])],
        command_overriders: vec![strings("ghost-cmd", Add, &["x"])],
        ..Overriders::default()
    });
    let containers: Vec<&str> = skipped
        .iter()
        .map(|EngineWarning::UnknownContainer { container, .. }| container.as_str())
        .collect();
    assert_eq!(
        containers,
        ["ghost-cmd", "ghost-args", "ghost-env", "ghost-res"]
    );
    let err = render_err(
        &deployment(),
        Overriders {
            replicas: Some(-1),
            image_overriders: vec![image(Some("/nope"), Tag, Replace, "v1")],
            ..Overriders::default()
        },
    );
    assert!(
        matches!(&err, EngineError::NegativeReplicas { .. }),
        "{err}"
    );
}

// ---- command and args ----

#[test]
fn command_and_args_add_and_remove() {
    let out = rendered(Overriders {
        command_overriders: vec![strings("web", Add, &["-c", "/etc/nginx.conf"])],
        args_overriders: vec![
            strings("web", Remove, &["-g", "absent"]),
            strings("sidecar", Add, &["--v=2"]),
        ],
        ..Overriders::default()
    });
    let web = "/spec/template/spec/containers/0";
    assert_eq!(
        at(&out, &format!("{web}/command")),
        &json!(["nginx", "-c", "/etc/nginx.conf"])
    );
    assert_eq!(at(&out, &format!("{web}/args")), &json!(["daemon off;"]));
    assert_eq!(
        at(&out, "/spec/template/spec/containers/1/args"),
        &json!(["--v=2"])
    );
    assert!(
        out.pointer("/spec/template/spec/containers/1/command")
            .is_none()
    );
}

/// KubeEdge looks containerName up in `spec.containers` only: an init
/// container's name is as unknown as a typo, and its command stays as written.
#[test]
fn command_overriders_skip_init_containers() {
    let overriders = Overriders {
        command_overriders: vec![strings("init", Add, &["sh"])],
        ..Overriders::default()
    };
    let out = rendered(overriders.clone());
    assert!(
        out.pointer("/spec/template/spec/initContainers/0/command")
            .is_none()
    );
    assert_eq!(
        warnings(overriders),
        [EngineWarning::UnknownContainer {
            object: OBJECT.into(),
            overrider: "commandOverriders[0]".into(),
            container: "init".into()
        }]
    );
}

#[test]
fn remove_on_absent_list_creates_nothing() {
    let out = rendered(Overriders {
        args_overriders: vec![strings("sidecar", Remove, &["x"])],
        ..Overriders::default()
    });
    assert!(
        out.pointer("/spec/template/spec/containers/1/args")
            .is_none()
    );
}

/// The schema refuses `replace` for command and args (as KubeEdge's does);
/// an object that got past an older schema is refused at render, naming it.
#[test]
fn replace_is_not_valid_for_command_or_args() {
    // Still decoded: one such stored object must not break every list of them.
    let stored: CommandArgsOverrider = serde_json::from_value(
        json!({"containerName": "web", "operator": "replace", "value": ["x"]}),
    )
    .expect("an object stored under an older schema decodes");
    assert_eq!(stored.operator, Replace);
    let err = render_err(
        &deployment(),
        Overriders {
            args_overriders: vec![strings("web", Replace, &["x"])],
            ..Overriders::default()
        },
    );
    assert!(
        matches!(&err, EngineError::InvalidField { field, .. } if field == "argsOverriders[0].operator"),
        "{err}"
    );
    let err = render_err(
        &deployment(),
        Overriders {
            command_overriders: vec![strings("web", Replace, &[])],
            ..Overriders::default()
        },
    );
    assert!(
        matches!(&err, EngineError::InvalidField { field, .. } if field == "commandOverriders[0].operator"),
        "{err}"
    );
}

#[test]
fn an_unknown_container_skips_that_overrider_only_and_names_it() {
    let overriders = Overriders {
        command_overriders: vec![strings("ghost", Add, &["x"]), strings("web", Add, &["-q"])],
        env_overriders: env_in("ghost", Add, vec![]).env_overriders,
        resources_overriders: vec![ResourcesOverrider {
            container_name: "ghost".into(),
            value: ResourceRequirements::default(),
        }],
        ..Overriders::default()
    };
    let out = rendered(overriders.clone());
    assert_eq!(
        at(&out, "/spec/template/spec/containers/0/command"),
        &json!(["nginx", "-q"]),
        "the other overriders still apply"
    );
    let skipped = warnings(overriders);
    let named: Vec<String> = skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        named,
        [
            "Deployment default/nginx-hangzhou: commandOverriders[0] names container \"ghost\", which spec.containers does not have; skipped, as KubeEdge does",
            "Deployment default/nginx-hangzhou: envOverriders[0] names container \"ghost\", which spec.containers does not have; skipped, as KubeEdge does",
            "Deployment default/nginx-hangzhou: resourcesOverriders[0] names container \"ghost\", which spec.containers does not have; skipped, as KubeEdge does",
        ]
    );
}

/// Damages a well-formed manifest in one place.
type Breakage = Box<dyn Fn(&mut Value)>;

#[test]
fn malformed_pod_templates_are_invalid_fields() {
    let spec = "/spec/template/spec";
    let cases: Vec<(Breakage, String, &str)> = vec![
        (
            Box::new(|m| {
                m["spec"]["template"]["spec"]
                    .as_object_mut()
                    .map(|s| s.remove("containers"));
            }),
            format!("{spec}/containers"),
            "is missing",
        ),
        (
            Box::new(|m| m["spec"]["template"]["spec"]["containers"] = json!({"a": 1})),
            format!("{spec}/containers"),
            "is an object, not an array",
        ),
        (
            Box::new(|m| m["spec"]["template"]["spec"]["containers"][1] = json!(3)),
            format!("{spec}/containers/1"),
            "is a number, not an object",
        ),
        (
            Box::new(|m| {
                m["spec"]["template"]["spec"]["containers"][1]
                    .as_object_mut()
                    .map(|c| c.remove("name"));
            }),
            format!("{spec}/containers/1/name"),
            "is missing",
        ),
        (
            Box::new(|m| m["spec"]["template"]["spec"]["containers"][0]["name"] = json!(["web"])),
            format!("{spec}/containers/0/name"),
            "is an array, not a string",
        ),
        (
            Box::new(|m| m["spec"]["template"] = json!(null)),
            "/spec/template".into(),
            "is null, not an object",
        ),
        (
            Box::new(|m| {
                m["spec"].as_object_mut().map(|s| s.remove("template"));
            }),
            "/spec/template".into(),
            "is missing",
        ),
        (
            Box::new(|m| {
                m["spec"]["template"]["spec"]["containers"][0]["command"] = json!("nginx")
            }),
            format!("{spec}/containers/0/command"),
            "is a string, not an array",
        ),
    ];
    let overriders = Overriders {
        command_overriders: vec![strings("web", Add, &["x"])],
        ..Overriders::default()
    };
    for (break_it, field, problem) in cases {
        let mut manifest = deployment();
        break_it(&mut manifest);
        let err = render_err(&manifest, overriders.clone());
        assert_eq!(
            err,
            EngineError::InvalidField {
                object: OBJECT.into(),
                field: field.clone(),
                problem: problem.into()
            },
            "{field}"
        );
    }
}

#[test]
fn node_selector_and_affinity_of_the_wrong_type_are_invalid_fields() {
    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["nodeSelector"] = json!(["x"]);
    let err = render_err(&manifest, Overriders::default());
    assert!(
        matches!(&err, EngineError::InvalidField { field, .. } if field == "/spec/template/spec/nodeSelector"),
        "{err}"
    );

    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [7]}}});
    let target = Target::labels(selector(&[("a", "b")], vec![]));
    let err = apply_target(
        &manifest,
        WorkloadKind::Deployment,
        &target,
        &Overriders::default(),
    );
    assert!(
        matches!(&err, Err(EngineError::InvalidField { field, .. })
            if field == "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0"),
        "{err:?}"
    );
}

// ---- env ----

#[test]
fn env_add_appends_new_and_replaces_existing_in_place() {
    let out = rendered(env(Add, vec![var("D", "4"), var("B", "20")]));
    assert_eq!(
        env_of(&out),
        pairs(&[("A", "1"), ("B", "20"), ("C", "3"), ("D", "4")])
    );
}

#[test]
fn env_replace_keeps_order_and_appends_missing_in_given_order() {
    let out = rendered(env(
        Replace,
        vec![
            var("Z", "26"),
            var("C", "30"),
            var("A", "10"),
            var("Y", "25"),
        ],
    ));
    assert_eq!(
        env_of(&out),
        pairs(&[
            ("A", "10"),
            ("B", "2"),
            ("C", "30"),
            ("Z", "26"),
            ("Y", "25")
        ])
    );
}

#[test]
fn env_replace_covers_duplicates_and_value_from() {
    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}, {"noname": true}]);
    let from_field = EnvVar {
        name: "A".into(),
        value: None,
        value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
            field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                field_path: "metadata.name".into(),
                api_version: None,
            }),
            ..Default::default()
        }),
    };
    let out = render(&manifest, &env(Replace, vec![from_field])).unwrap_or_else(|e| panic!("{e}"));
    let expected = json!({"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}});
    assert_eq!(
        at(&out, "/spec/template/spec/containers/0/env"),
        &json!([expected, expected, {"noname": true}])
    );
}

#[test]
fn env_remove_by_name() {
    let out = rendered(env(Remove, vec![var("B", "ignored"), var("Q", "")]));
    assert_eq!(env_of(&out), pairs(&[("A", "1"), ("C", "3")]));
}

#[test]
fn env_on_container_without_env_creates_it_only_when_adding() {
    let mut overriders = env_in("sidecar", Add, vec![var("X", "1")]);
    let out = rendered(overriders.clone());
    assert_eq!(
        at(&out, "/spec/template/spec/containers/1/env"),
        &json!([{"name": "X", "value": "1"}])
    );
    overriders.env_overriders[0].operator = Remove;
    let out = rendered(overriders);
    assert!(
        out.pointer("/spec/template/spec/containers/1/env")
            .is_none()
    );
}

#[test]
fn env_var_without_name_is_refused() {
    let err = render_err(&deployment(), env(Add, vec![var("", "1")]));
    assert!(
        matches!(&err, EngineError::InvalidField { field, .. } if field == "envOverriders[0].value[0].name"),
        "{err}"
    );
}

#[test]
fn env_of_the_wrong_type_is_an_invalid_field() {
    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = json!({"A": "1"});
    for operator in [Add, Remove] {
        let err = render_err(&manifest, env(operator, vec![var("A", "1")]));
        assert!(
            matches!(&err, EngineError::InvalidField { field, .. } if field == "/spec/template/spec/containers/0/env"),
            "{err}"
        );
    }
}

// ---- resources ----

fn quantities(items: &[(&str, &str)]) -> Option<BTreeMap<String, Quantity>> {
    Some(
        items
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect(),
    )
}

#[test]
fn resources_merge_only_what_is_given() {
    let out = rendered(Overriders {
        resources_overriders: vec![ResourcesOverrider {
            container_name: "web".into(),
            value: ResourceRequirements {
                limits: quantities(&[("memory", "2Gi")]),
                requests: quantities(&[("memory", "512Mi")]),
                claims: None,
            },
        }],
        ..Overriders::default()
    });
    assert_eq!(
        at(&out, "/spec/template/spec/containers/0/resources"),
        &json!({"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "100m", "memory": "512Mi"}})
    );
}

#[test]
fn resources_on_a_container_without_any() {
    let out = rendered(Overriders {
        resources_overriders: vec![
            ResourcesOverrider {
                container_name: "sidecar".into(),
                value: ResourceRequirements::default(),
            },
            ResourcesOverrider {
                container_name: "sidecar".into(),
                value: ResourceRequirements {
                    limits: quantities(&[("cpu", "1")]),
                    ..Default::default()
                },
            },
        ],
        ..Overriders::default()
    });
    assert_eq!(
        at(&out, "/spec/template/spec/containers/1/resources"),
        &json!({"limits": {"cpu": "1"}}),
        "an empty value adds nothing; a given one creates the map KubeEdge would fail on"
    );
    assert!(
        out.pointer("/spec/template/spec/initContainers/0/resources")
            .is_none()
    );
}

#[test]
fn resources_of_the_wrong_type_are_invalid_fields() {
    let mut manifest = deployment();
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] = json!("lots");
    let err = render_err(
        &manifest,
        Overriders {
            resources_overriders: vec![ResourcesOverrider {
                container_name: "web".into(),
                value: ResourceRequirements {
                    limits: quantities(&[("cpu", "2")]),
                    ..Default::default()
                },
            }],
            ..Overriders::default()
        },
    );
    assert!(
        matches!(&err, EngineError::InvalidField { field, .. } if field == "/spec/template/spec/containers/0/resources/limits"),
        "{err}"
    );
}

#[test]
fn input_manifest_is_not_modified() {
    let manifest = deployment();
    let _ = render(&manifest, &env(Add, vec![var("D", "4")]));
    assert_eq!(manifest, deployment());
}

// ---- properties ----

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("nginx:1"),
            Just("reg.io/a/b:v1"),
            Just("web"),
            Just("A")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("name".to_owned()),
            Just("image".to_owned()),
            Just("containers".to_owned()),
            Just("env".to_owned()),
            Just("spec".to_owned()),
            "\\PC{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Something that is usually what the field should hold, sometimes anything.
fn usually<T: std::fmt::Debug + Clone + 'static>(
    typical: impl Strategy<Value = T> + 'static,
    other: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<T> {
    prop_oneof![9 => typical, 1 => other].boxed()
}

fn arb_image() -> impl Strategy<Value = Value> {
    let valid = prop_oneof![
        Just("nginx"),
        Just("reg.io/a/b:v1"),
        Just(
            "localhost:5000/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ),
    ];
    usually(valid.prop_map(Value::from), arb_json())
}

fn arb_env_list() -> impl Strategy<Value = Value> {
    let entry =
        ("[A-D]", "\\PC{0,3}").prop_map(|(name, value)| json!({"name": name, "value": value}));
    let list = prop::collection::vec(entry, 0..4).prop_map(Value::Array);
    usually(prop_oneof![Just(Value::Null), list], arb_json())
}

fn arb_string_list() -> impl Strategy<Value = Value> {
    let list = prop::collection::vec("\\PC{0,3}", 0..4).prop_map(|items| json!(items));
    usually(prop_oneof![Just(Value::Null), list], arb_json())
}

fn arb_container() -> impl Strategy<Value = Value> {
    let name = usually(
        prop_oneof![Just("web".to_owned()), Just("side".to_owned())],
        "\\PC{0,4}",
    );
    let container = (
        name,
        arb_image(),
        arb_env_list(),
        arb_string_list(),
        arb_string_list(),
    )
        .prop_map(|(name, image, env, command, args)| {
            json!({"name": name, "image": image, "env": env, "command": command, "args": args,
                   "resources": {"limits": {"cpu": "1"}}})
        });
    usually(container, arb_json())
}

/// Mostly deployments whose fields overriders touch are well-formed or
/// arbitrary, so every step is reached; plus fully arbitrary JSON.
fn arb_manifest() -> impl Strategy<Value = Value> {
    let affinity = usually(Just(Value::Null), arb_json());
    let node_selector = usually(Just(json!({"disk": "ssd"})), arb_json());
    let skeleton = (prop::collection::vec(arb_container(), 0..3), affinity, node_selector).prop_map(
        |(containers, affinity, node_selector)| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
                   "spec": {"template": {"spec": {"containers": containers,
                                                  "initContainers": [{"name": "init", "image": "busybox"}],
                                                  "affinity": affinity, "nodeSelector": node_selector}}}})
        },
    );
    prop_oneof![4 => skeleton, 1 => arb_json()]
}

fn arb_operator() -> impl Strategy<Value = OverriderOperator> {
    prop_oneof![Just(Add), Just(Remove), Just(Replace)]
}

fn arb_name() -> impl Strategy<Value = String> {
    usually(
        prop_oneof![Just("web".to_owned()), Just("init".to_owned())],
        "\\PC{0,4}",
    )
}

fn arb_strings() -> impl Strategy<Value = CommandArgsOverrider> {
    let operator = usually(prop_oneof![Just(Add), Just(Remove)], Just(Replace));
    (
        arb_name(),
        operator,
        prop::collection::vec("\\PC{0,4}", 0..3),
    )
        .prop_map(|(container_name, operator, value)| CommandArgsOverrider {
            container_name,
            operator,
            value,
        })
}

fn arb_overriders() -> impl Strategy<Value = Overriders> {
    let image = (
        prop::option::weighted(
            0.3,
            prop_oneof![
                Just(IMAGE_0.to_owned()),
                "(/[a-z0-9~]{0,6}){0,5}",
                "\\PC{0,10}"
            ],
        ),
        prop_oneof![Just(Registry), Just(Repository), Just(Tag)],
        arb_operator(),
        usually(
            prop_oneof![Just("v2".to_owned()), Just("mirror.io".to_owned())],
            "\\PC{0,10}",
        ),
    )
        .prop_map(|(path, component, operator, value)| ImageOverrider {
            predicate: path.map(|path| ImagePredicate { path }),
            component,
            operator,
            value,
        });
    let env = (
        arb_name(),
        arb_operator(),
        prop::collection::vec((usually("[A-C]", Just(String::new())), "\\PC{0,3}"), 0..3),
    )
        .prop_map(|(container_name, operator, vars)| EnvOverrider {
            container_name,
            operator,
            value: vars.into_iter().map(|(n, v)| var(&n, &v)).collect(),
        });
    let resources =
        (arb_name(), "[0-9]{1,3}m").prop_map(|(container_name, cpu)| ResourcesOverrider {
            container_name,
            value: ResourceRequirements {
                limits: quantities(&[("cpu", &cpu)]),
                ..Default::default()
            },
        });
    (
        prop::option::weighted(0.3, usually(0..5i32, any::<i32>())),
        prop::collection::vec(image, 0..3),
        prop::collection::vec(arb_strings(), 0..2),
        prop::collection::vec(arb_strings(), 0..2),
        prop::collection::vec(env, 0..2),
        prop::collection::vec(resources, 0..2),
    )
        .prop_map(
            |(
                replicas,
                image_overriders,
                command_overriders,
                args_overriders,
                env_overriders,
                resources_overriders,
            )| {
                Overriders {
                    replicas,
                    image_overriders,
                    command_overriders,
                    args_overriders,
                    env_overriders,
                    resources_overriders,
                }
            },
        )
}

fn arb_target() -> impl Strategy<Value = Target> {
    let requirement = (
        "\\PC{0,3}",
        prop_oneof![
            Just("In"),
            Just("NotIn"),
            Just("Exists"),
            Just("DoesNotExist"),
            Just("Gt")
        ],
        prop::option::of(prop::collection::vec("\\PC{0,3}", 0..3)),
    )
        .prop_map(|(key, operator, values)| LabelSelectorRequirement {
            key,
            operator: operator.into(),
            values,
        });
    let labels = (
        prop::option::of(prop::collection::btree_map("\\PC{0,3}", "\\PC{0,3}", 0..3)),
        prop::option::of(prop::collection::vec(requirement, 0..3)),
    )
        .prop_map(|(match_labels, match_expressions)| {
            Target::labels(LabelSelector {
                match_labels,
                match_expressions,
            })
        });
    prop_oneof![3 => "[a-z]{1,8}".prop_map(Target::Group), 1 => "\\PC{0,8}".prop_map(Target::Group), 2 => labels]
}

fn arb_kind() -> impl Strategy<Value = WorkloadKind> {
    prop_oneof![
        Just(WorkloadKind::Deployment),
        Just(WorkloadKind::StatefulSet),
        Just(WorkloadKind::DaemonSet),
        Just(WorkloadKind::ReplicaSet),
        Just(WorkloadKind::Pod),
    ]
}

fn env_names(env: &Value) -> Vec<String> {
    env.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn applying_arbitrary_overriders_never_panics(
        manifest in arb_manifest(),
        kind in arb_kind(),
        target in arb_target(),
        overriders in arb_overriders(),
    ) {
        if let Ok(out) = apply_target(&manifest, kind, &target, &overriders).map(|a| a.object) {
            let name = out.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            prop_assert!(name.ends_with(&format!("-{}", target.suffix())), "{}", name);
            let pod_spec = out.pointer(kind.pod_spec_pointer()).cloned().unwrap_or_default();
            let pinned = match &target {
                Target::Group(group) => pod_spec.pointer("/nodeSelector/apps.kubeedge.io~1belonging-to") == Some(&json!(group)),
                Target::Labels { .. } => pod_spec
                    .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
                    .and_then(Value::as_array)
                    .is_some_and(|terms| !terms.is_empty()),
            };
            prop_assert!(pinned, "{:#}", out);
        }
    }

    #[test]
    fn env_upserts_are_deterministic_and_keep_existing_order(
        existing in prop::collection::btree_map("[A-F]", "[0-9]", 0..6),
        order in prop::collection::vec(any::<u8>(), 6),
        given in prop::collection::vec(("[A-H]", "[a-z]"), 0..6),
        operator in prop_oneof![Just(Add), Just(Replace)],
    ) {
        // Existing names in a scrambled but fixed order.
        let mut names: Vec<(String, String)> = existing.into_iter().collect();
        names.sort_by_key(|(name, _)| order.get(name.as_bytes()[0] as usize - b'A' as usize).copied());
        let mut manifest = deployment();
        manifest["spec"]["template"]["spec"]["containers"][0]["env"] =
            Value::Array(names.iter().map(|(n, v)| json!({"name": n, "value": v})).collect());
        let overriders = env(operator, given.iter().map(|(n, v)| var(n, v)).collect());

        let once = render(&manifest, &overriders);
        prop_assert_eq!(&once, &render(&manifest, &overriders));
        let once = once.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let result = env_names(at(&once, "/spec/template/spec/containers/0/env"));

        // Existing entries keep their places; new names follow in given order.
        let existing_names: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
        prop_assert_eq!(&result[..existing_names.len()], &existing_names[..]);
        let mut appended: Vec<String> = Vec::new();
        for (name, _) in &given {
            if !existing_names.contains(name) && !appended.contains(name) {
                appended.push(name.clone());
            }
        }
        prop_assert_eq!(&result[existing_names.len()..], &appended[..]);

        // Upserting again changes nothing: no spurious rollouts.
        let twice = render(&once, &overriders).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            at(&twice, "/spec/template/spec/containers/0/env"),
            at(&once, "/spec/template/spec/containers/0/env")
        );
    }
}
