//! EdgeApplication → the exact objects the cluster should hold.
//!
//! Workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod) are
//! rendered once per target, named `<name>-<group>` or `<name>-ls-<hash>`
//! and pinned there. Services are rendered once with the `range-nodegroup`
//! annotation; every other manifest once, unchanged. Every object gets the
//! application label and (when the application has a uid) a controller
//! ownerReference.
//!
//! Errors are values: a broken manifest or target never stops the others
//! from rendering. When the name an object would have had is known, the
//! error carries it so pruning keeps the object already in the cluster
//! instead of deleting it over what may be a typo.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::object::{ObjectKey, WorkloadKind, is_cluster_scoped};
use super::overrides::{Target, apply_target};
use super::{EngineError, EngineWarning};
use crate::api::{
    ANNOTATION_SERVICE_TOPOLOGY, API_VERSION, EdgeApplication, LABEL_EDGEAPPLICATION_NAME,
    MAX_LABEL_NAME_LEN, MAX_NAME_LEN, NameRule, Overriders, SERVICE_TOPOLOGY_RANGE_NODEGROUP,
    validate_label_value, validate_name,
};

/// One object the cluster should hold.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredObject {
    /// Index of the manifest it came from.
    pub ordinal: usize,
    /// Target suffix (group name or `ls-<hash>`) for per-target copies.
    pub target: Option<String>,
    pub key: ObjectKey,
    pub object: Value,
}

/// Something that could not be rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderError {
    /// Index of the manifest, when the error concerns one.
    pub ordinal: Option<usize>,
    pub target: Option<String>,
    /// The object that would have been generated, when known: pruning keeps it.
    pub key: Option<ObjectKey>,
    pub error: EngineError,
}

/// An object that rendered, but not entirely as written (an overrider was
/// skipped); it is applied all the same.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderWarning {
    pub ordinal: usize,
    pub target: Option<String>,
    pub key: ObjectKey,
    pub warning: EngineWarning,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    pub objects: Vec<DesiredObject>,
    pub errors: Vec<RenderError>,
    pub warnings: Vec<RenderWarning>,
}

impl Rendered {
    /// Keys of objects to keep although they were not rendered this time.
    pub fn retained(&self) -> impl Iterator<Item = &ObjectKey> {
        self.errors.iter().filter_map(|e| e.key.as_ref())
    }
}

/// Renders every manifest of `app` for every target of its workload scope.
pub fn render(app: &EdgeApplication) -> Rendered {
    let mut out = Rendered::default();
    let app_name = app.metadata.name.clone().unwrap_or_default();
    let app_namespace = app
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    if let Err(problem) = validate_label_value(&app_name) {
        // The name becomes a label value on every generated object; the API server would refuse them all.
        out.errors.push(RenderError {
            ordinal: None,
            target: None,
            key: None,
            error: EngineError::InvalidField {
                object: format!("EdgeApplication {app_namespace}/{app_name}"),
                field: "metadata.name".into(),
                problem: format!("cannot be a label value: {problem}"),
            },
        });
        return out;
    }
    let ctx = Context {
        app_name,
        app_namespace,
        owner: owner_reference(app),
    };
    let (targets, rejected) = targets(app);
    for (ordinal, manifest) in app.spec.workload_template.manifests.iter().enumerate() {
        render_manifest(&ctx, ordinal, manifest, &targets, &rejected, &mut out);
    }
    out
}

struct Context {
    app_name: String,
    app_namespace: String,
    owner: Option<Value>,
}

/// A target that cannot be rendered, with why.
struct RejectedTarget {
    suffix: String,
    error: EngineError,
}

/// Resolves the workload scope into targets, in spec order (groups, then
/// label selectors). A target listed twice is rejected entirely: which of its
/// overriders were meant is unknowable, and its objects are kept as they are.
fn targets(app: &EdgeApplication) -> (Vec<(Target, &Overriders)>, Vec<RejectedTarget>) {
    let scope = &app.spec.workload_scope;
    let mut all: Vec<(Target, &Overriders)> = Vec::new();
    let mut rejected = Vec::new();
    for (index, group) in scope.target_node_groups.iter().enumerate() {
        if let Err(problem) = group_name_problem(&group.name) {
            rejected.push(RejectedTarget {
                // A name that cannot be an object name cannot key one either.
                suffix: String::new(),
                error: EngineError::InvalidField {
                    object: "workloadScope".into(),
                    field: format!("targetNodeGroups[{index}].name"),
                    problem,
                },
            });
            continue;
        }
        all.push((Target::Group(group.name.clone()), &group.overriders));
    }
    for labels in &scope.target_node_labels {
        all.push((
            Target::labels(labels.label_selector.clone()),
            &labels.overriders,
        ));
    }
    let mut seen = BTreeSet::new();
    let duplicated: BTreeSet<String> = all
        .iter()
        .filter(|(t, _)| !seen.insert(t.suffix().to_owned()))
        .map(|(t, _)| t.suffix().to_owned())
        .collect();
    for suffix in &duplicated {
        rejected.push(RejectedTarget {
            suffix: suffix.clone(),
            error: EngineError::DuplicateTarget {
                target: suffix.clone(),
            },
        });
    }
    all.retain(|(t, _)| !duplicated.contains(t.suffix()));
    (all, rejected)
}

/// A target group must be a name a NodeGroup can have (a DNS-1123
/// subdomain) that also fits the `belonging-to` label value (63). Anything
/// else could never select a node, and its generated names would be refused.
fn group_name_problem(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty group name".into());
    }
    validate_name(name, NameRule::Subdomain)
        .and_then(|()| validate_label_value(name))
        .map_err(|why| format!("{name:?} is not a valid NodeGroup name: {why}"))
}

fn render_manifest(
    ctx: &Context,
    ordinal: usize,
    manifest: &Value,
    targets: &[(Target, &Overriders)],
    rejected: &[RejectedTarget],
    out: &mut Rendered,
) {
    let base = match normalise(ctx, ordinal, manifest) {
        Ok(base) => base,
        Err(error) => {
            out.errors.push(RenderError {
                ordinal: Some(ordinal),
                target: None,
                key: ObjectKey::of(manifest),
                error,
            });
            return;
        }
    };
    let Some(key) = ObjectKey::of(&base) else {
        // normalise() guarantees apiVersion, kind and name; unreachable in practice.
        return;
    };
    match WorkloadKind::of(&key.api_version, &key.kind) {
        Some(kind) => {
            for (target, overriders) in targets {
                let result = apply_target(&base, kind, target, overriders).and_then(|applied| {
                    let object = check_name(kind, applied.object)?;
                    out.warnings
                        .extend(applied.warnings.into_iter().map(|warning| RenderWarning {
                            ordinal,
                            target: Some(target.suffix().to_owned()),
                            key: per_target_key(&key, target.suffix()),
                            warning,
                        }));
                    Ok(object)
                });
                push_result(ctx, ordinal, Some(target.suffix()), &key, result, out);
            }
            for r in rejected {
                out.errors.push(RenderError {
                    ordinal: Some(ordinal),
                    target: Some(r.suffix.clone()),
                    key: (!r.suffix.is_empty()).then(|| per_target_key(&key, &r.suffix)),
                    error: r.error.clone(),
                });
            }
        }
        None => {
            let mut object = base;
            if key.group().is_empty() && key.kind == "Service" {
                set_string(
                    &mut object,
                    &["metadata", "annotations"],
                    ANNOTATION_SERVICE_TOPOLOGY,
                    SERVICE_TOPOLOGY_RANGE_NODEGROUP,
                );
            }
            let result = if key.kind == "Service" && key.name.len() > MAX_LABEL_NAME_LEN {
                Err(name_too_long(&key.kind, &key.name, MAX_LABEL_NAME_LEN))
            } else if key.kind == "Service"
                && let Err(problem) = validate_name(&key.name, NameRule::Label)
            {
                Err(invalid_name(&key.kind, &key.name, problem))
            } else {
                Ok(object)
            };
            push_result(ctx, ordinal, None, &key, result, out);
        }
    }
}

fn push_result(
    ctx: &Context,
    ordinal: usize,
    target: Option<&str>,
    base_key: &ObjectKey,
    result: Result<Value, EngineError>,
    out: &mut Rendered,
) {
    match result {
        Ok(mut object) => {
            stamp(ctx, &mut object);
            let Some(key) = ObjectKey::of(&object) else {
                return;
            };
            out.objects.push(DesiredObject {
                ordinal,
                target: target.map(str::to_owned),
                key,
                object,
            });
        }
        Err(error) => out.errors.push(RenderError {
            ordinal: Some(ordinal),
            target: target.map(str::to_owned),
            key: Some(match target {
                Some(suffix) => per_target_key(base_key, suffix),
                None => base_key.clone(),
            }),
            error,
        }),
    }
}

fn per_target_key(base: &ObjectKey, suffix: &str) -> ObjectKey {
    ObjectKey {
        name: format!("{}-{suffix}", base.name),
        ..base.clone()
    }
}

/// Validates a manifest's identity, defaults its namespace and strips what
/// belongs to a live object (pasting `kubectl get -o yaml` output must work).
fn normalise(ctx: &Context, ordinal: usize, manifest: &Value) -> Result<Value, EngineError> {
    let Value::Object(_) = manifest else {
        return Err(EngineError::ManifestNotObject { ordinal });
    };
    let api_version =
        non_empty_str(manifest, &["apiVersion"]).ok_or(EngineError::ManifestMissingField {
            ordinal,
            field: "apiVersion",
        })?;
    let kind = non_empty_str(manifest, &["kind"]).ok_or(EngineError::ManifestMissingField {
        ordinal,
        field: "kind",
    })?;
    let name = non_empty_str(manifest, &["metadata", "name"]).ok_or(
        EngineError::ManifestMissingField {
            ordinal,
            field: "metadata.name",
        },
    )?;
    let object_name = format!("{kind} {name}");
    if is_cluster_scoped(api_version, kind) {
        // A namespaced owner cannot own a cluster-scoped object; the garbage collector would never clean it up.
        return Err(EngineError::InvalidField {
            object: object_name,
            field: "kind".into(),
            problem: "cluster-scoped kinds cannot be generated by a namespaced EdgeApplication"
                .into(),
        });
    }
    if let Some(ns) = non_empty_str(manifest, &["metadata", "namespace"])
        && ns != ctx.app_namespace
    {
        // Owner references do not cross namespaces: the garbage collector would delete the object at once.
        return Err(EngineError::InvalidField {
            object: object_name,
            field: "metadata.namespace".into(),
            problem: format!(
                "{ns:?} differs from the EdgeApplication's namespace {:?}",
                ctx.app_namespace
            ),
        });
    }
    let mut object = manifest.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
    }
    let meta = metadata_mut(&mut object);
    for live in [
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "ownerReferences",
        "generateName",
    ] {
        meta.remove(live);
    }
    meta.insert("namespace".into(), Value::String(ctx.app_namespace.clone()));
    Ok(object)
}

/// Adds the application label and the controller ownerReference.
fn stamp(ctx: &Context, object: &mut Value) {
    set_string(
        object,
        &["metadata", "labels"],
        LABEL_EDGEAPPLICATION_NAME,
        &ctx.app_name,
    );
    if let Some(owner) = &ctx.owner {
        metadata_mut(object).insert("ownerReferences".into(), Value::Array(vec![owner.clone()]));
    }
}

fn owner_reference(app: &EdgeApplication) -> Option<Value> {
    let uid = app.metadata.uid.as_deref()?;
    Some(json!({
        "apiVersion": API_VERSION,
        "kind": "EdgeApplication",
        "name": app.metadata.name.as_deref().unwrap_or_default(),
        "uid": uid,
        "controller": true,
        "blockOwnerDeletion": true,
    }))
}

/// StatefulSet pods carry a `controller-revision-hash` label of `<name>-<10 chars>`,
/// which must fit in 63, so Kubernetes effectively caps StatefulSet names at 52.
const MAX_STATEFULSET_NAME_LEN: usize = 52;

/// The generated name is one the API server accepts: a manifest named
/// `Web` or a target `Bad_Group` would otherwise render, then fail to apply.
fn check_name(kind: WorkloadKind, object: Value) -> Result<Value, EngineError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let max = match kind {
        WorkloadKind::StatefulSet => MAX_STATEFULSET_NAME_LEN,
        _ => MAX_NAME_LEN,
    };
    if name.len() > max {
        return Err(name_too_long(kind.kind(), name, max));
    }
    if let Err(problem) = validate_name(name, NameRule::Subdomain) {
        return Err(invalid_name(kind.kind(), name, problem));
    }
    Ok(object)
}

fn invalid_name(kind: &str, name: &str, problem: String) -> EngineError {
    EngineError::InvalidField {
        object: format!("generated {kind} {name:?}"),
        field: "metadata.name".into(),
        problem,
    }
}

fn name_too_long(kind: &str, name: &str, max: usize) -> EngineError {
    EngineError::NameTooLong {
        kind: kind.to_owned(),
        name: name.to_owned(),
        len: name.len(),
        max,
    }
}

fn non_empty_str<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut at = value;
    for segment in path {
        at = at.get(segment)?;
    }
    at.as_str().filter(|s| !s.is_empty())
}

/// `metadata` as a map, creating or replacing it when absent or not an object.
fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    let root = ensure_object(object);
    ensure_object(root.entry("metadata").or_insert(Value::Null))
}

/// Sets `object[path…][key] = val`, creating maps along the way.
fn set_string(object: &mut Value, path: &[&str], key: &str, val: &str) {
    let mut map = ensure_object(object);
    for segment in path {
        map = ensure_object(map.entry(*segment).or_insert(Value::Null));
    }
    map.insert(key.to_owned(), Value::String(val.to_owned()));
}

/// The value as a map, replacing anything that is not one.
fn ensure_object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("replaced by an object above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        EdgeApplicationSpec, ImageComponent, ImageOverrider, OverriderOperator, TargetNodeGroup,
        TargetNodeLabel,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use proptest::prelude::*;

    fn nginx_app() -> EdgeApplication {
        let text = include_str!("../../examples/proposal/edgeapplication.yaml");
        let mut app: EdgeApplication = serde_yaml_ng::from_str(text).expect("example parses");
        app.metadata.uid = Some("uid-1".into());
        app
    }

    fn object<'a>(r: &'a Rendered, kind: &str, name: &str) -> &'a Value {
        &r.objects
            .iter()
            .find(|o| o.key.kind == kind && o.key.name == name)
            .unwrap_or_else(|| panic!("{kind} {name} rendered: {r:#?}"))
            .object
    }

    #[test]
    fn proposal_example() {
        let r = render(&nginx_app());
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let names: Vec<_> = r.objects.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(
            names,
            [
                "Deployment default/nginx-hangzhou",
                "Deployment default/nginx-beijing",
                "Service default/nginx-service"
            ]
        );
        for (group, replicas) in [("hangzhou", 2), ("beijing", 3)] {
            let d = object(&r, "Deployment", &format!("nginx-{group}"));
            assert_eq!(d["spec"]["replicas"], replicas);
            assert_eq!(
                d["spec"]["template"]["spec"]["containers"][0]["image"],
                format!("{group}.registry.io/nginx:latest")
            );
            assert_eq!(
                d["spec"]["template"]["spec"]["nodeSelector"],
                json!({"apps.kubeedge.io/belonging-to": group})
            );
            assert_eq!(
                d["metadata"]["labels"]["apps.kubeedge.io/edgeapplication-name"],
                "nginx-app"
            );
            assert_eq!(
                d["metadata"]["ownerReferences"],
                json!([{"apiVersion": "apps.kubeedge.io/v1alpha1", "kind": "EdgeApplication", "name": "nginx-app",
                        "uid": "uid-1", "controller": true, "blockOwnerDeletion": true}])
            );
        }
        let svc = object(&r, "Service", "nginx-service");
        assert_eq!(
            svc["metadata"]["annotations"]["apps.kubeedge.io/service-topology"],
            "range-nodegroup"
        );
        assert_eq!(svc["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert!(svc["spec"].get("nodeSelector").is_none());
    }

    #[test]
    fn namespace_defaults_to_the_applications_and_live_fields_are_stripped() {
        let mut app = nginx_app();
        app.metadata.namespace = Some("edge".into());
        app.spec.workload_template.manifests = vec![json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "resourceVersion": "42", "uid": "old", "managedFields": [],
                         "ownerReferences": [{"kind": "Other"}]},
            "data": {"k": "v"}, "status": {"x": 1}})];
        let r = render(&app);
        let cm = object(&r, "ConfigMap", "cfg");
        assert_eq!(cm["metadata"]["namespace"], "edge");
        assert_eq!(
            cm["data"],
            json!({"k": "v"}),
            "other kinds are applied unchanged"
        );
        for live in ["resourceVersion", "uid", "managedFields"] {
            assert!(cm["metadata"].get(live).is_none(), "{live} stripped");
        }
        assert_eq!(
            cm["metadata"]["ownerReferences"][0]["kind"],
            "EdgeApplication"
        );
        assert!(cm.get("status").is_none());
    }

    #[test]
    fn foreign_namespace_and_cluster_scoped_manifests_are_refused() {
        let mut app = nginx_app();
        app.spec.workload_template.manifests = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "kube-system"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}),
            json!("not an object"),
            json!({"kind": "ConfigMap", "metadata": {"name": "c"}}),
        ];
        let r = render(&app);
        assert!(r.objects.is_empty());
        let messages: Vec<String> = r.errors.iter().map(|e| e.error.to_string()).collect();
        assert_eq!(
            messages,
            [
                "ConfigMap a: metadata.namespace: \"kube-system\" differs from the EdgeApplication's namespace \"default\"",
                "Namespace b: kind: cluster-scoped kinds cannot be generated by a namespaced EdgeApplication",
                "manifest 2: not an object",
                "manifest 3: missing or empty apiVersion",
            ]
        );
    }

    #[test]
    fn duplicate_targets_render_nothing_for_that_group_but_keep_its_objects() {
        let mut app = nginx_app();
        app.spec
            .workload_scope
            .target_node_groups
            .push(TargetNodeGroup {
                name: "hangzhou".into(),
                overriders: Overriders::default(),
            });
        let r = render(&app);
        let names: Vec<_> = r.objects.iter().map(|o| o.key.name.as_str()).collect();
        assert_eq!(names, ["nginx-beijing", "nginx-service"]);
        let retained: Vec<_> = r.retained().map(|k| k.name.as_str()).collect();
        assert_eq!(retained, ["nginx-hangzhou"]);
        assert_eq!(
            r.errors[0].error,
            EngineError::DuplicateTarget {
                target: "hangzhou".into()
            }
        );
    }

    #[test]
    fn a_failing_target_keeps_its_object_and_the_others_render() {
        let mut app = nginx_app();
        app.spec.workload_scope.target_node_groups[0]
            .overriders
            .image_overriders = vec![ImageOverrider {
            predicate: None,
            component: ImageComponent::Tag,
            operator: OverriderOperator::Replace,
            value: "not a tag".into(),
        }];
        let r = render(&app);
        assert_eq!(r.objects.len(), 2);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(
            r.errors[0].key.as_ref().map(|k| k.name.as_str()),
            Some("nginx-hangzhou")
        );
        assert_eq!(r.errors[0].target.as_deref(), Some("hangzhou"));
    }

    #[test]
    fn names_over_the_limit_are_refused() {
        let mut app = nginx_app();
        app.spec.workload_scope.target_node_groups[1].name = "b".repeat(60);
        app.spec.workload_template.manifests[0]["kind"] = json!("StatefulSet");
        app.spec.workload_scope.target_node_groups[0].name = "g".repeat(47);
        let r = render(&app);
        let too_long: Vec<_> = r
            .errors
            .iter()
            .filter_map(|e| match &e.error {
                EngineError::NameTooLong { kind, max, .. } => Some((kind.as_str(), *max)),
                _ => None,
            })
            .collect();
        // nginx- + 47 = 53 > 52 for a StatefulSet.
        assert_eq!(too_long, [("StatefulSet", 52), ("StatefulSet", 52)]);
    }

    #[test]
    fn a_skipped_overrider_renders_the_group_with_a_warning_on_its_object() {
        let mut app = nginx_app();
        app.spec.workload_scope.target_node_groups[1]
            .overriders
            .env_overriders = vec![crate::api::EnvOverrider {
            container_name: "ghost".into(),
            operator: OverriderOperator::Add,
            value: vec![],
        }];
        let r = render(&app);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.objects.len(), 3, "beijing still renders");
        let keys: Vec<_> = r.warnings.iter().map(|w| w.key.name.as_str()).collect();
        assert_eq!(keys, ["nginx-beijing"]);
        assert_eq!(r.warnings[0].target.as_deref(), Some("beijing"));
        let status = crate::engine::status::summarize(
            &r,
            |_| crate::engine::status::Observation::Absent,
            None,
        );
        let warned: Vec<_> = status
            .workload_status
            .iter()
            .filter(|e| !e.warnings.is_empty())
            .map(|e| e.identifier.name.as_str())
            .collect();
        assert_eq!(warned, ["nginx-beijing"], "the warning sits on its entry");
    }

    #[test]
    fn names_the_api_server_would_refuse_are_refused_at_render() {
        let mut app = nginx_app();
        app.spec.workload_scope.target_node_groups[0].name = "Bad_Group".into();
        app.spec.workload_scope.target_node_groups[1].name = "g".repeat(64);
        let r = render(&app);
        let names: Vec<_> = r.objects.iter().map(|o| o.key.name.as_str()).collect();
        assert_eq!(names, ["nginx-service"], "no Deployment renders");
        let fields: Vec<String> = r
            .errors
            .iter()
            .filter_map(|e| match &e.error {
                EngineError::InvalidField { field, problem, .. } => Some(format!(
                    "{field}: {}",
                    &problem[..problem.find(':').unwrap_or(0)]
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            fields,
            [
                "targetNodeGroups[0].name: \"Bad_Group\" is not a valid NodeGroup name",
                format!(
                    "targetNodeGroups[1].name: {:?} is not a valid NodeGroup name",
                    "g".repeat(64)
                )
                .as_str(),
            ]
        );

        let mut app = nginx_app();
        app.metadata.name = Some("-app".into());
        let r = render(&app);
        assert!(r.objects.is_empty());
        assert!(
            r.errors[0]
                .error
                .to_string()
                .contains("metadata.name: cannot be a label value"),
            "{}",
            r.errors[0].error
        );

        let mut app = nginx_app();
        app.spec.workload_template.manifests[0]["metadata"]["name"] = json!("Nginx");
        app.spec.workload_template.manifests[1]["metadata"]["name"] = json!("web.svc");
        let r = render(&app);
        assert!(r.objects.is_empty());
        let messages: Vec<String> = r.errors.iter().map(|e| e.error.to_string()).collect();
        assert!(
            messages[0].starts_with("generated Deployment \"Nginx-hangzhou\": metadata.name: a lowercase RFC 1123 subdomain"),
            "{messages:?}"
        );
        assert_eq!(
            messages.last().map(String::as_str),
            Some("generated Service \"web.svc\": metadata.name: must not contain dots")
        );
    }

    #[test]
    fn label_targets_get_hashed_names_and_affinity() {
        let mut app = nginx_app();
        app.spec.workload_scope.target_node_groups.clear();
        app.spec.workload_scope.target_node_labels = vec![TargetNodeLabel {
            label_selector: LabelSelector {
                match_labels: Some([("tier".to_owned(), "gpu".to_owned())].into()),
                match_expressions: None,
            },
            overriders: Overriders::default(),
        }];
        let r = render(&app);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let d = &r.objects[0];
        let suffix = d.target.clone().unwrap();
        assert!(suffix.starts_with("ls-") && suffix.len() == 11, "{suffix}");
        assert_eq!(d.key.name, format!("nginx-{suffix}"));
        assert!(
            d.object
                .pointer("/spec/template/spec/affinity/nodeAffinity")
                .is_some()
        );
    }

    #[test]
    fn no_targets_means_no_workloads_but_shared_objects_still_render() {
        let mut app = nginx_app();
        app.spec.workload_scope = Default::default();
        let r = render(&app);
        let names: Vec<_> = r.objects.iter().map(|o| o.key.name.as_str()).collect();
        assert_eq!(names, ["nginx-service"]);
    }

    #[test]
    fn without_uid_there_is_no_owner_reference() {
        let mut app = nginx_app();
        app.metadata.uid = None;
        let r = render(&app);
        assert!(
            r.objects
                .iter()
                .all(|o| o.object["metadata"].get("ownerReferences").is_none())
        );
    }

    proptest! {
        #[test]
        fn render_is_deterministic(
            groups in proptest::collection::vec("[a-z]{1,8}", 0..6),
            env in proptest::collection::vec(("[A-Z]{1,4}", "[a-z0-9]{0,4}"), 0..5),
            replicas in proptest::option::of(-2i32..5),
        ) {
            let mut app = EdgeApplication::new("app", EdgeApplicationSpec::default());
            app.metadata.namespace = Some("ns".into());
            app.metadata.uid = Some("u".into());
            let env: Vec<Value> = env.iter().map(|(n, v)| json!({"name": n, "value": v})).collect();
            app.spec.workload_template.manifests = vec![json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "web:1", "env": env}]}}}})];
            app.spec.workload_scope.target_node_groups = groups.iter().map(|g| TargetNodeGroup {
                name: g.clone(),
                overriders: Overriders { replicas, ..Overriders::default() },
            }).collect();
            let first = render(&app);
            let second = render(&app.clone());
            prop_assert_eq!(&first, &second);
            let a: Vec<String> = first.objects.iter().map(|o| serde_json::to_string(&o.object).unwrap()).collect();
            let b: Vec<String> = second.objects.iter().map(|o| serde_json::to_string(&o.object).unwrap()).collect();
            prop_assert_eq!(a, b);
        }
    }
}
