//! The invariants the soak checks after every quiet period, each computed
//! from the live objects with the engine's own pure functions
//! (`engine::render`, `engine::membership`), never from the soak's idea of
//! what it did.

use std::collections::{BTreeMap, BTreeSet};

use edgedeck::api::{EdgeApplication, LABEL_BELONGING_TO, LABEL_EDGEAPPLICATION_NAME, NodeGroup};
use edgedeck::engine::{membership, render};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Service};
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Everything the checks read, listed once.
pub struct Live {
    pub apps: Vec<EdgeApplication>,
    pub groups: Vec<NodeGroup>,
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    /// Generated objects (carrying the EdgeApplication label), by identity.
    pub generated: BTreeMap<(String, String, String), Value>,
}

async fn all<K>(client: &Client, params: &ListParams) -> Result<Vec<K>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    Ok(Api::<K>::all(client.clone()).list(params).await?.items)
}

fn identity(kind: &str, object: &Value) -> (String, String, String) {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (
        kind.to_owned(),
        text("/metadata/namespace"),
        text("/metadata/name"),
    )
}

async fn generated<K>(
    client: &Client,
    kind: &str,
    out: &mut BTreeMap<(String, String, String), Value>,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let params = ListParams::default().labels(LABEL_EDGEAPPLICATION_NAME);
    for object in all::<K>(client, &params).await? {
        let value = serde_json::to_value(&object).unwrap_or_default();
        out.insert(identity(kind, &value), value);
    }
    Ok(())
}

impl Live {
    pub async fn read(client: &Client) -> Result<Live, kube::Error> {
        let any = ListParams::default();
        let mut objects = BTreeMap::new();
        generated::<Deployment>(client, "Deployment", &mut objects).await?;
        generated::<StatefulSet>(client, "StatefulSet", &mut objects).await?;
        generated::<DaemonSet>(client, "DaemonSet", &mut objects).await?;
        generated::<Service>(client, "Service", &mut objects).await?;
        generated::<ConfigMap>(client, "ConfigMap", &mut objects).await?;
        Ok(Live {
            apps: all(client, &any).await?,
            groups: all(client, &any).await?,
            nodes: all(client, &any).await?,
            pods: all(client, &any).await?,
            generated: objects,
        })
    }
}

/// Whether every field of `want` is in `have` with the same value (the
/// server adds defaults, status and metadata of its own).
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| contains(hv, v))),
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(h, w)| contains(h, w))
        }
        (Value::Number(h), Value::Number(w)) => h.as_f64() == w.as_f64(),
        _ => have == want,
    }
}

/// Every violated invariant, in words; empty when the fleet is as it must be.
pub fn violations(live: &Live) -> Vec<String> {
    let mut out = Vec::new();
    rendered_objects(live, &mut out);
    orphans(live, &mut out);
    memberships(live, &mut out);
    generations(live, &mut out);
    out
}

/// Every targeted group has exactly the objects `render` gives, with the
/// spec it gives; none is missing, none is extra (a failed render keeps
/// what it retains).
fn rendered_objects(live: &Live, out: &mut Vec<String>) {
    for app in &live.apps {
        if app.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let rendered = render::render(app);
        let mut expected = BTreeSet::new();
        for desired in &rendered.objects {
            let id = identity(&desired.key.kind, &desired.object);
            match live.generated.get(&id) {
                None => out.push(format!("{}: {id:?} missing", app.name_any())),
                Some(have) => {
                    for field in ["spec", "data"] {
                        if let Some(want) = desired.object.get(field)
                            && !contains(have.get(field).unwrap_or(&Value::Null), want)
                        {
                            out.push(format!(
                                "{}: {id:?} has a {field} other than render gives",
                                app.name_any()
                            ));
                        }
                    }
                }
            }
            expected.insert(id);
        }
        for key in rendered.retained() {
            expected.insert((
                key.kind.clone(),
                key.namespace.clone().unwrap_or_default(),
                key.name.clone(),
            ));
        }
        let app_ns = app.namespace().unwrap_or_default();
        for (id, object) in &live.generated {
            let owner = object
                .pointer(&format!(
                    "/metadata/labels/{}",
                    LABEL_EDGEAPPLICATION_NAME.replace('/', "~1")
                ))
                .and_then(Value::as_str);
            if owner == Some(&*app.name_any()) && id.1 == app_ns && !expected.contains(id) {
                out.push(format!(
                    "{}: {id:?} exists but render does not give it",
                    app.name_any()
                ));
            }
        }
    }
}

/// No generated object outlives its EdgeApplication.
fn orphans(live: &Live, out: &mut Vec<String>) {
    let apps: BTreeSet<(String, String)> = live
        .apps
        .iter()
        .map(|a| (a.namespace().unwrap_or_default(), a.name_any()))
        .collect();
    for (id, object) in &live.generated {
        let owner = object
            .pointer(&format!(
                "/metadata/labels/{}",
                LABEL_EDGEAPPLICATION_NAME.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !apps.contains(&(id.1.clone(), owner.to_owned())) {
            out.push(format!("{id:?} outlived its EdgeApplication {owner}"));
        }
    }
}

/// Every node carries exactly the `belonging-to` membership gives, and no
/// pod pinned to a group runs on a node outside it.
fn memberships(live: &Live, out: &mut Vec<String>) {
    let membership = membership::compute(&live.nodes, &live.groups);
    let mut label_of = BTreeMap::new();
    for node in &live.nodes {
        let name = node.name_any();
        let have = node.labels().get(LABEL_BELONGING_TO).cloned();
        let want = membership.node_group.get(&name).cloned();
        if have != want {
            out.push(format!(
                "node {name}: belonging-to {have:?}, membership gives {want:?}"
            ));
        }
        label_of.insert(name, have);
    }
    for pod in &live.pods {
        let pinned = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.as_ref())
            .and_then(|s| s.get(LABEL_BELONGING_TO));
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_ref());
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if let (Some(group), Some(node)) = (pinned, node)
            && label_of.get(node).cloned().flatten().as_ref() != Some(group)
        {
            out.push(format!(
                "pod {}/{} pinned to {group} runs on {node}, outside it",
                pod.namespace().unwrap_or_default(),
                pod.name_any()
            ));
        }
    }
}

/// The status describes the current spec.
fn generations(live: &Live, out: &mut Vec<String>) {
    for app in &live.apps {
        let observed = app.status.as_ref().and_then(|s| s.observed_generation);
        if observed != app.metadata.generation {
            out.push(format!(
                "{}: observedGeneration {observed:?} behind generation {:?}",
                app.name_any(),
                app.metadata.generation
            ));
        }
    }
}
