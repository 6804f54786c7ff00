//! KubeEdge's behaviour, pinned case by case: what edgedeck does the same,
//! and what it does differently on purpose (README, "How edgedeck reads the
//! KubeEdge API"). Each test names the KubeEdge behaviour it pins, as read in
//! KubeEdge's cloud/pkg/controllermanager (edgeapplication/overridemanager,
//! nodegroup) and cloud/pkg/dynamiccontroller/filter. A test here failing
//! means a migrating user would see a difference the README does not promise.

use std::collections::BTreeMap;
use std::process::Command;

use edgedeck::api::validation::validate_against_crd;
use edgedeck::api::{EdgeApplication, NodeGroup, crds};
use edgedeck::engine::render::{Rendered, render};
use edgedeck::engine::{membership, topology};
use k8s_openapi::api::core::v1::Node;
use serde_json::{Value, json};

/// One Deployment `web` (a container `web` and an init container `init`)
/// and one Service, for the given workload scope.
fn app(scope: Value) -> EdgeApplication {
    serde_json::from_value(json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": {
            "workloadTemplate": {"manifests": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"nodeSelector": {"disk": "ssd"},
                                                "initContainers": [{"name": "init", "image": "busybox:1.36"}],
                                                "containers": [{"name": "web", "image": "reg.io/web:1.0",
                                                                "env": [{"name": "MODE", "value": "a"}],
                                                                "resources": {"requests": {"cpu": "100m"}}}]}}}},
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                 "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
            ]},
            "workloadScope": scope
        }
    }))
    .expect("EdgeApplication")
}

fn group(name: &str, overriders: Value) -> Value {
    json!({"targetNodeGroups": [{"name": name, "overriders": overriders}]})
}

fn rendered(scope: Value) -> Rendered {
    let r = render(&app(scope));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r
}

fn deployment(r: &Rendered) -> &Value {
    &r.objects
        .iter()
        .find(|o| o.key.kind == "Deployment")
        .expect("a Deployment")
        .object
}

fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer)
        .unwrap_or_else(|| panic!("nothing at {pointer} in {v:#}"))
}

const POD: &str = "/spec/template/spec";

// ---- the same as KubeEdge ----

/// nameoverrider.go: `<name>-<group>` for a targetNodeGroups entry.
#[test]
fn group_copies_are_named_name_dash_group() {
    let r = rendered(group("hangzhou", json!({})));
    assert_eq!(r.objects[0].key.name, "web-hangzhou");
}

/// nameoverrider.go `CreateSuffixFromLabels`: `ls-` + 8 hex of sha256 over
/// the sorted matchLabels as key and value with no separator.
#[test]
fn label_copies_get_kubeedges_hashed_name() {
    for (labels, name) in [
        (json!({"tier": "edge", "region": "g"}), "web-ls-afc90c45"),
        (json!({"zone": "edge"}), "web-ls-d8b61491"),
    ] {
        let r = rendered(json!({"targetNodeLabels": [{"labelSelector": {"matchLabels": labels}}]}));
        assert_eq!(r.objects[0].key.name, name);
    }
}

/// nodeselectoroverrider.go: a label target is pinned by one required
/// node affinity term with an `In` requirement per label.
#[test]
fn label_copies_are_pinned_by_required_node_affinity() {
    let r = rendered(
        json!({"targetNodeLabels": [{"labelSelector": {"matchLabels": {"zone": "edge", "arch": "arm"}}}]}),
    );
    let terms = at(
        deployment(&r),
        &format!(
            "{POD}/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms"
        ),
    );
    assert_eq!(
        terms,
        &json!([{"matchExpressions": [
            {"key": "arch", "operator": "In", "values": ["arm"]},
            {"key": "zone", "operator": "In", "values": ["edge"]}]}])
    );
}

/// imageoverrider.go without a predicate: every image of `containers`,
/// none of `initContainers`.
#[test]
fn image_overriders_touch_containers_not_init_containers() {
    let r = rendered(group(
        "hz",
        json!({"imageOverriders": [{"component": "Registry", "operator": "replace", "value": "hz.io"}]}),
    ));
    let d = deployment(&r);
    assert_eq!(at(d, &format!("{POD}/containers/0/image")), "hz.io/web:1.0");
    assert_eq!(
        at(d, &format!("{POD}/initContainers/0/image")),
        "busybox:1.36"
    );
}

/// env/command/args/resources overriders: a containerName that matches no
/// container patches nothing and is no error; the copy is still generated.
#[test]
fn an_overrider_for_a_missing_container_is_skipped_not_fatal() {
    let r = rendered(group(
        "hz",
        json!({"replicas": 2,
               "envOverriders": [{"containerName": "init", "operator": "add", "value": [{"name": "X", "value": "1"}]}],
               "commandOverriders": [{"containerName": "ghost", "operator": "add", "value": ["sh"]}]}),
    ));
    let d = deployment(&r);
    assert_eq!(
        at(d, "/spec/replicas"),
        2,
        "the rest of the overriders apply"
    );
    assert!(d.pointer(&format!("{POD}/initContainers/0/env")).is_none());
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
}

/// envoverrider.go `replaceEnv`: replace upserts by name, in place.
#[test]
fn env_replace_upserts_in_place() {
    let r = rendered(group(
        "hz",
        json!({"envOverriders": [{"containerName": "web", "operator": "replace",
                                  "value": [{"name": "MODE", "value": "b"}, {"name": "NEW", "value": "1"}]}]}),
    ));
    assert_eq!(
        at(deployment(&r), &format!("{POD}/containers/0/env")),
        &json!([{"name": "MODE", "value": "b"}, {"name": "NEW", "value": "1"}])
    );
}

/// edgeapplicationcontroller.go: Services once, unrenamed, annotated
/// range-nodegroup; every object owned by the application as controller.
#[test]
fn services_once_with_the_topology_annotation_and_controller_owner() {
    let r = rendered(json!({"targetNodeGroups": [{"name": "a"}, {"name": "b"}]}));
    let services: Vec<_> = r
        .objects
        .iter()
        .filter(|o| o.key.kind == "Service")
        .collect();
    assert_eq!(services.len(), 1);
    assert_eq!(services[0].key.name, "web");
    assert_eq!(
        at(
            &services[0].object,
            "/metadata/annotations/apps.kubeedge.io~1service-topology"
        ),
        "range-nodegroup"
    );
    for o in &r.objects {
        let owner = at(&o.object, "/metadata/ownerReferences/0");
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["blockOwnerDeletion"], true);
        assert_eq!(owner["uid"], "u1");
    }
}

/// filter/util.go `IsBelongToSameGroup`: a node always sees its own
/// endpoints, and a grouped node those of its own group only.
#[test]
fn grouped_nodes_see_their_group_and_themselves() {
    let nodes: Vec<Node> = [
        ("a1", Some("a")),
        ("a2", Some("a")),
        ("b1", Some("b")),
        ("lone", None),
    ]
    .iter()
    .map(|(name, g)| {
        let labels: BTreeMap<&str, &str> = g
            .iter()
            .map(|g| ("apps.kubeedge.io/belonging-to", *g))
            .collect();
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).expect("node")
    })
    .collect();
    let index = topology::node_group_index(&nodes);
    assert!(topology::visible("a2", "a1", &index));
    assert!(!topology::visible("b1", "a1", &index));
    assert!(!topology::visible("lone", "a1", &index));
    assert!(topology::visible("lone", "lone", &index));
}

// ---- different on purpose (each a row of the README's table) ----

/// KubeEdge replaces the whole nodeSelector with the group label, dropping
/// `disk: ssd`; edgedeck merges, so the template's constraints hold.
#[test]
fn differs_node_selector_is_merged_not_replaced() {
    let r = rendered(group("hz", json!({})));
    assert_eq!(
        at(deployment(&r), &format!("{POD}/nodeSelector")),
        &json!({"disk": "ssd", "apps.kubeedge.io/belonging-to": "hz"})
    );
}

/// KubeEdge ignores matchExpressions (an entry with only expressions keeps
/// the template's name and is pinned by nothing); edgedeck honours them in
/// the affinity and gives such an entry a name of its own.
#[test]
fn differs_match_expressions_are_honoured() {
    let r = rendered(json!({"targetNodeLabels": [{"labelSelector": {
        "matchExpressions": [{"key": "arch", "operator": "In", "values": ["arm"]}]}}]}));
    let d = &r.objects[0];
    assert!(d.key.name.starts_with("web-ls-") && d.key.name.len() == "web-ls-".len() + 8);
    assert_eq!(
        at(
            &d.object,
            &format!(
                "{POD}/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0"
            )
        ),
        &json!({"key": "arch", "operator": "In", "values": ["arm"]})
    );
}

/// KubeEdge's env `add` appends a second MODE (the kubelet lets the last
/// win); edgedeck replaces it where it stands.
#[test]
fn differs_env_add_of_an_existing_name_does_not_duplicate() {
    let r = rendered(group(
        "hz",
        json!({"envOverriders": [{"containerName": "web", "operator": "add", "value": [{"name": "MODE", "value": "b"}]}]}),
    ));
    assert_eq!(
        at(deployment(&r), &format!("{POD}/containers/0/env")),
        &json!([{"name": "MODE", "value": "b"}])
    );
}

/// KubeEdge replaces `resources` whole (a limits-only overrider drops the
/// template's requests); edgedeck merges per quantity.
#[test]
fn differs_resources_are_merged_per_quantity() {
    let r = rendered(group(
        "hz",
        json!({"resourcesOverriders": [{"containerName": "web", "value": {"limits": {"memory": "1Gi"}}}]}),
    ));
    assert_eq!(
        at(deployment(&r), &format!("{POD}/containers/0/resources")),
        &json!({"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}})
    );
}

/// KubeEdge's command/args `remove` on an absent list writes `[]`;
/// edgedeck leaves it absent (the same to the kubelet: the image's default).
#[test]
fn differs_remove_from_an_absent_command_creates_nothing() {
    let r = rendered(group(
        "hz",
        json!({"commandOverriders": [{"containerName": "web", "operator": "remove", "value": ["sh"]}]}),
    ));
    assert!(
        deployment(&r)
            .pointer(&format!("{POD}/containers/0/command"))
            .is_none()
    );
}

/// Older KubeEdge drops the digest of `tag@digest`; edgedeck keeps both.
#[test]
fn differs_tag_and_digest_are_both_kept() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let mut app = app(group(
        "hz",
        json!({"imageOverriders": [{"component": "Registry", "operator": "replace", "value": "hz.io"}]}),
    ));
    app.spec.workload_template.manifests[0]["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!(format!("reg.io/web:1.0@{digest}"));
    let r = render(&app);
    assert_eq!(
        at(deployment(&r), &format!("{POD}/containers/0/image")),
        &json!(format!("hz.io/web:1.0@{digest}"))
    );
}

/// KubeEdge writes whatever string an image overrider produces; edgedeck
/// refuses an invalid image for that group, with the reason, and keeps what runs.
#[test]
fn differs_invalid_images_are_refused() {
    let r = render(&app(group(
        "hz",
        json!({"imageOverriders": [{"component": "Tag", "operator": "replace", "value": "not a tag"}]}),
    )));
    assert!(r.objects.iter().all(|o| o.key.kind != "Deployment"));
    assert_eq!(
        r.retained().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["web-hz"]
    );
}

/// KubeEdge overrides only Deployments; edgedeck renders per-group copies
/// of StatefulSets and DaemonSets too.
#[test]
fn differs_statefulsets_get_per_group_copies() {
    let mut app = app(group("hz", json!({})));
    app.spec.workload_template.manifests[0]["kind"] = json!("StatefulSet");
    let r = render(&app);
    assert_eq!(r.objects[0].key.name, "web-hz");
}

/// KubeEdge's filter compares `"" == ""`, so two nodes in no group see each
/// other's endpoints; edgedeck shows an ungrouped node only its own.
#[test]
fn differs_ungrouped_nodes_do_not_see_each_other() {
    let index = topology::node_group_index(&[]);
    assert!(!topology::visible("lone-1", "lone-2", &index));
}

/// KubeEdge's NodeGroup `matchLabels: {}` selects every node
/// (`labels.SelectorFromSet`); edgedeck's selects none, like an absent one.
#[test]
fn differs_empty_match_labels_select_nothing() {
    let node: Node =
        serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"zone": "x"}}}))
            .expect("node");
    let group: NodeGroup = serde_json::from_value(json!({
        "apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "all"}, "spec": {"matchLabels": {}}}))
    .expect("group");
    let m = membership::compute(&[node], &[group]);
    assert!(!m.node_group.contains_key("n1"));
}

// ---- the schema accepts what KubeEdge's accepts ----

/// Objects valid under KubeEdge's EdgeApplication CRD (build/crds/apps)
/// that the first edgedeck CRD refused or would have pruned.
#[test]
fn kubeedge_valid_objects_are_valid_under_our_crd() {
    let crds = crds();
    let eapp_crd = crds
        .iter()
        .find(|c| c.spec.names.kind == "EdgeApplication")
        .expect("CRD");
    let cases = [
        (
            "targetNodeLabels without labelSelector",
            json!({"targetNodeLabels": [{}]}),
        ),
        (
            "configMapKeyRef and secretKeyRef with only key",
            group(
                "hz",
                json!({"envOverriders": [{"containerName": "web", "operator": "add", "value": [
                {"name": "A", "valueFrom": {"configMapKeyRef": {"key": "a"}}},
                {"name": "B", "valueFrom": {"secretKeyRef": {"key": "b"}}}]}]}),
            ),
        ),
        (
            "resourcesOverriders without value",
            group(
                "hz",
                json!({"resourcesOverriders": [{"containerName": "web"}]}),
            ),
        ),
    ];
    for (what, scope) in cases {
        let object = serde_json::to_value(app(scope)).expect("json");
        let findings = validate_against_crd(eapp_crd, &object);
        assert!(findings.is_empty(), "{what}: {findings:?}");
    }
    let names = &eapp_crd.spec.names;
    assert_eq!(names.list_kind.as_deref(), Some("EdgeApplicationList"));
}

/// KubeEdge's CRD has `add|remove` for command and args; ours must not
/// promise `replace`, which render could not do.
#[test]
fn command_replace_is_refused_by_the_schema_as_by_kubeedges() {
    let crds = crds();
    let text = serde_json::to_string(&crds).expect("json");
    let schema: Value = serde_json::from_str(&text).expect("json");
    let eapp = schema
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|c| c["spec"]["names"]["kind"] == "EdgeApplication")
        })
        .expect("CRD");
    let overriders = &eapp["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"]["workloadScope"]["properties"]["targetNodeGroups"]["items"]["properties"]["overriders"]
        ["properties"];
    for list in ["commandOverriders", "argsOverriders"] {
        assert_eq!(
            overriders[list]["items"]["properties"]["operator"]["enum"],
            json!(["add", "remove"]),
            "{list}"
        );
    }
    assert_eq!(
        overriders["envOverriders"]["items"]["properties"]["operator"]["enum"],
        json!(["add", "remove", "replace"])
    );
}

// ---- edgedeck render, as a migrating user first tries it ----

fn render_cli(text: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("in.yaml");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_edgedeck"))
        .arg("render")
        .arg("-f")
        .arg(&file)
        .output()
        .expect("run edgedeck render");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const HEADER: &str =
    "apiVersion: apps.kubeedge.io/v1alpha1\nkind: EdgeApplication\nmetadata: {name: web}\n";

#[test]
fn render_warns_on_a_skipped_overrider_and_still_renders() {
    let (ok, stdout, stderr) = render_cli(&format!(
        "{HEADER}spec:\n  workloadTemplate:\n    manifests:\n    - {{apiVersion: apps/v1, kind: Deployment, metadata: {{name: web}}, spec: {{template: {{spec: {{containers: [{{name: web, image: web:1}}]}}}}}}}}\n  workloadScope:\n    targetNodeGroups:\n    - {{name: hz, overriders: {{envOverriders: [{{containerName: ghost, operator: add, value: [{{name: A, value: b}}]}}]}}}}\n"
    ));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("name: web-hz"), "{stdout}");
    assert!(
        stderr.contains("warning:")
            && stderr.contains("envOverriders[0] names container \"ghost\""),
        "{stderr}"
    );
}

#[test]
fn render_refuses_names_the_api_server_would_refuse() {
    let (ok, _, stderr) = render_cli(&format!(
        "{HEADER}spec:\n  workloadTemplate:\n    manifests:\n    - {{apiVersion: apps/v1, kind: Deployment, metadata: {{name: web}}, spec: {{template: {{spec: {{containers: [{{name: web, image: web:1}}]}}}}}}}}\n  workloadScope:\n    targetNodeGroups: [{{name: Bad_Group}}]\n"
    ));
    assert!(!ok);
    assert!(
        stderr.contains("targetNodeGroups[0].name: \"Bad_Group\" is not a valid NodeGroup name"),
        "{stderr}"
    );
}

#[test]
fn render_says_when_nothing_was_rendered() {
    let (ok, stdout, stderr) = render_cli("");
    assert!(!ok && stdout.is_empty());
    assert!(
        stderr.contains("no objects in the input: nothing was rendered"),
        "{stderr}"
    );

    let (ok, stdout, stderr) = render_cli(&format!("{HEADER}spec: {{}}\n"));
    assert!(ok, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("renders nothing: spec.workloadTemplate.manifests is empty"),
        "{stderr}"
    );

    let (ok, _, stderr) = render_cli(HEADER);
    assert!(!ok);
    assert!(
        stderr.contains("EdgeApplication web: spec: missing field `spec`"),
        "{stderr}"
    );
}

#[test]
fn render_names_the_list_item_at_fault() {
    let (ok, _, stderr) = render_cli(
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: apps.kubeedge.io/v1alpha1, kind: NodeGroup, metadata: {name: a}, spec: {}}\n- {apiVersion: apps.kubeedge.io/v1alpha1, kind: NodeGroup, metadata: {name: b}, spec: {nodes: 3}}\n",
    );
    assert!(!ok);
    assert!(
        stderr.contains("#1 items[1]: NodeGroup b: spec.nodes"),
        "{stderr}"
    );
}
