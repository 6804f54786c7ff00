//! Loading a seed onto any cluster (`edgedeck seed`): the objects an
//! embedded cluster starts with, written through the public API, so a user
//! with kind, k3d or a real control plane sees what `--embedded` shows.
//!
//! - Every object goes through server-side apply under [`FIELD_MANAGER`],
//!   forced: the seed is the author of these fields, and a second load is a
//!   no-op because the API server neither writes nor bumps resourceVersion
//!   when an apply changes nothing.
//! - Order: CRDs, namespaces, then the rest in seed order. A new CRD is not
//!   served the instant it is created, so the load waits (bounded by
//!   [`LoadOptions::patience`]) until each is Established, its resource
//!   answers a list and discovery names its kind.
//! - Namespaces that already exist are left alone: a seed says nothing about
//!   them but their name, and edgedeck's field manager on `kube-system`
//!   would only be noise in `kubectl get -o yaml`.
//! - Nodes belong to a kubelet or to kwok, which write their status. They
//!   are applied only when asked ([`Nodes::Kwok`]), marked so that kwok's
//!   `--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake` takes
//!   them over.
//! - `status` is stripped from every object: seeds hold what users author,
//!   and on a real server status belongs to the subresource's writers.
//! - Not handled: pruning what an earlier, different seed applied. The first
//!   failure stops the load; everything before it stays applied, and a rerun
//!   continues where it stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::{Discovery, Scope};
use serde_json::Value;
use thiserror::Error;

use super::object;

mod plan;
mod served;

use plan::Plan;

/// The field manager every seeded field is recorded under.
pub const FIELD_MANAGER: &str = "edgedeck-seed";
/// Annotation (and value) kwok selects the nodes it manages by.
pub const KWOK_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");
/// Label kwok's own examples put on fake nodes, so `-l type=kwok` finds them.
pub const KWOK_LABEL: (&str, &str) = ("type", "kwok");

/// What to do with the seed's Nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nodes {
    /// Leave them out: the cluster's own nodes are the fleet.
    Skip,
    /// Apply them, marked for kwok to take over.
    Kwok,
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub nodes: Nodes,
    /// How long new CRDs may take to be served before the load gives up.
    pub patience: Duration,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            nodes: Nodes::Skip,
            patience: Duration::from_secs(60),
        }
    }
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Objects applied, per kind.
    pub applied: BTreeMap<String, usize>,
    /// Namespaces left alone because they already existed.
    pub existing_namespaces: Vec<String>,
    /// Nodes left out ([`Nodes::Skip`]).
    pub skipped_nodes: usize,
    /// The `key=value` labels the seeded NodeGroups select nodes by.
    pub group_selectors: BTreeSet<String>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: usize = self.applied.values().sum();
        let kinds: Vec<String> = self
            .applied
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        write!(f, "applied {total} objects: {}", kinds.join(", "))?;
        if !self.existing_namespaces.is_empty() {
            let names = self.existing_namespaces.join(", ");
            write!(f, "\nnamespaces already present, left alone: {names}")?;
        }
        if self.skipped_nodes > 0 {
            write!(f, "\nskipped {} Node", self.skipped_nodes)?;
        }
        Ok(())
    }
}

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("object #{index} cannot be applied: {why}")]
    Invalid { index: usize, why: String },
    #[error("cannot discover the API server's resources: {}", describe(.0))]
    Discovery(#[source] kube::Error),
    #[error("{object}: the API server does not serve {api_version} {kind}")]
    Unserved {
        object: String,
        api_version: String,
        kind: String,
    },
    #[error("{verb} {object}: {}", describe(.source))]
    Request {
        verb: &'static str,
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error("CustomResourceDefinition {name} was refused: {message}")]
    Rejected { name: String, message: String },
    #[error("CustomResourceDefinition {name} not served after {}s: {reason}", .waited.as_secs())]
    NotServed {
        name: String,
        waited: Duration,
        reason: String,
    },
}

/// Applies `objects` (CRDs first, as [`crate::console::live::embedded::initial_objects`]
/// gives them) to the cluster behind `client`.
pub async fn load(
    client: &Client,
    objects: Vec<Value>,
    options: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    let plan = Plan::new(objects, options.nodes)?;
    let mut report = LoadReport {
        skipped_nodes: plan.skipped_nodes,
        group_selectors: plan.group_selectors.clone(),
        ..LoadReport::default()
    };
    let mut discovery = discover(client, &plan.groups).await?;
    for crd in &plan.crds {
        apply(client, &discovery, crd, &mut report).await?;
    }
    if !plan.crds.is_empty() {
        discovery = served::wait(client, &plan, options.patience).await?;
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for namespace in &plan.namespaces {
        let name = object::name(namespace);
        let existing = namespaces
            .get_opt(name)
            .await
            .map_err(|source| request("reading", namespace, source))?;
        match existing {
            Some(_) => report.existing_namespaces.push(name.to_owned()),
            None => apply(client, &discovery, namespace, &mut report).await?,
        }
    }
    for object in &plan.rest {
        apply(client, &discovery, object, &mut report).await?;
    }
    Ok(report)
}

async fn discover(client: &Client, groups: &[String]) -> Result<Discovery, LoadError> {
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    Discovery::new(client.clone())
        .filter(&groups)
        .run()
        .await
        .map_err(LoadError::Discovery)
}

async fn apply(
    client: &Client,
    discovery: &Discovery,
    object: &Value,
    report: &mut LoadReport,
) -> Result<(), LoadError> {
    let kind = object::kind(object);
    let api_version = object::api_version(object);
    let gvk = api_version
        .parse::<GroupVersion>()
        .map(|gv| gv.with_kind(kind))
        .ok();
    let Some((resource, caps)) = gvk.and_then(|gvk| discovery.resolve_gvk(&gvk)) else {
        return Err(LoadError::Unserved {
            object: identity(object),
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        });
    };
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Cluster => Api::all_with(client.clone(), &resource),
        Scope::Namespaced => match object::namespace(object) {
            "" => Api::default_namespaced_with(client.clone(), &resource),
            namespace => Api::namespaced_with(client.clone(), namespace, &resource),
        },
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(object::name(object), &params, &Patch::Apply(object))
        .await
        .map_err(|source| request("applying", object, source))?;
    *report.applied.entry(kind.to_owned()).or_default() += 1;
    Ok(())
}

fn request(verb: &'static str, object: &Value, source: kube::Error) -> LoadError {
    LoadError::Request {
        verb,
        object: identity(object),
        source,
    }
}

/// `Kind namespace/name`, or `Kind name` for cluster-scoped objects.
fn identity(object: &Value) -> String {
    match object::namespace(object) {
        "" => format!("{} {}", object::kind(object), object::name(object)),
        ns => format!("{} {ns}/{}", object::kind(object), object::name(object)),
    }
}

/// The API server's own message for a refused request; otherwise the whole
/// cause chain, since kube's top-level text for a transport failure ("client
/// error (Connect)") leaves out the reason ("Connection refused").
fn describe(error: &kube::Error) -> String {
    if let kube::Error::Api(status) = error {
        return match (status.message.as_str(), status.reason.as_str()) {
            ("", reason) => format!("{reason} ({})", status.code),
            (message, _) => message.to_owned(),
        };
    }
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = e.source();
    }
    text
}
