//! EdgeApplication controller: renders each application with the engine,
//! server-side applies what changed, prunes what is no longer wanted, and
//! writes `status` when it differs.
//!
//! Safety rules, in the order they bite:
//! - an object with a generated name that this application does not control
//!   is never taken over (someone else's Deployment is not ours to rewrite);
//! - an object whose render failed is kept, never pruned (see engine::render);
//! - one failing object does not stop the others;
//! - nothing is written when the live object already says what we want, so
//!   status changes of children do not turn into write storms.
//!
//! # Shape
//!
//! Six watches (the applications, and the metadata of five generated
//! kinds mapped to their owner) feed one `kube::runtime::applier`. Each
//! watch has its own backoff. kube-runtime's `Controller` puts one backoff
//! on all its watches together instead: after an API server restart every
//! watch fails at once (refused connections, then 410 Gone), each failure
//! pauses all six for a longer time, and only one failure is taken per
//! pause — edits went unnoticed for minutes (issue #10). Failed watches
//! are emitted as engine events, not dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::ready;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, TypeMeta,
};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, ReconcileRequest, trigger_owners, trigger_self};
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::{Config, WatchStreamExt, applier, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

mod revisions;
mod status;

use super::cluster::{self, KindCache};
use super::served_schema::ServedSchema;
use super::supervisor::{self, WatchError, until_cancelled};
use super::{Context, EngineEvent, Outcome, Source};
use crate::api::{EdgeApplication, FIELD_MANAGER, LABEL_EDGEAPPLICATION_NAME};
use crate::engine::object::split_api_version;
use crate::engine::ownership::{self, Ownership};
use crate::engine::render::{self, Rendered};
use crate::engine::status::{Observation, summarize};
use crate::engine::status_schema::StatusSchema;
use crate::engine::{ObjectKey, prune};
use crate::telemetry::{Controller, ErrorReason, kube_reason};

/// How often an application in sync is looked at again, to catch drift on
/// kinds the controller does not watch.
const RESYNC: Duration = Duration::from_secs(300);
const RETRY: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum Error {
    #[error("EdgeApplication {0} has no namespace or uid")]
    Incomplete(String),
    #[error("writing status: {0}")]
    Status(#[source] kube::Error),
}

struct State {
    ctx: Arc<Context>,
    kinds: KindCache,
    schemas: ServedSchema<StatusSchema>,
    reported: status::Reported,
    revisions: revisions::Recorded,
}

/// Runs until `cancel` fires; in-flight reconciles get
/// [`supervisor::STOP_GRACE`] to finish.
pub async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let client = ctx.client.clone();
    let (apps, writer) = reflector::store();
    let state = Arc::new(State {
        ctx,
        kinds: KindCache::default(),
        schemas: status::served_schema(),
        reported: status::Reported::default(),
        revisions: revisions::Recorded::default(),
    });
    let queue = stream::select_all([
        app_requests(&client, state.ctx.watch_config(), writer).boxed(),
        owner_requests::<Deployment>(&client, state.ctx.watch_config(), "deployments").boxed(),
        owner_requests::<StatefulSet>(&client, state.ctx.watch_config(), "statefulsets").boxed(),
        owner_requests::<DaemonSet>(&client, state.ctx.watch_config(), "daemonsets").boxed(),
        owner_requests::<Service>(&client, state.ctx.watch_config(), "services").boxed(),
        owner_requests::<ConfigMap>(&client, state.ctx.watch_config(), "configmaps").boxed(),
    ])
    .inspect(supervisor::mark_queued(&state.ctx, CONTROLLER))
    .take_until(cancel.clone().cancelled_owned());
    observe(&state.ctx, &apps);
    let controller = applier(
        |app, state| {
            Box::pin(async move {
                let ctx = state.ctx.clone();
                supervisor::measured(&ctx, CONTROLLER, &*app.clone(), reconcile(app, state)).await
            })
        },
        error_policy,
        state.clone(),
        apps.clone(),
        queue,
        Config::default(),
    )
    .for_each(|result| {
        supervisor::report_applier(&state.ctx, Source::EdgeApplication, result);
        ready(())
    });
    until_cancelled(controller, &cancel, || supervisor::grace_for(&apps))
        .await
        .log(Source::EdgeApplication);
}

type Request = Result<ReconcileRequest<EdgeApplication>, WatchError>;

const CONTROLLER: Controller = Controller::EdgeApplication;

impl ErrorReason for Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Incomplete(_) => "incomplete",
            Error::Status(e) => kube_reason(e),
        }
    }
}

/// Registers the cache `/readyz` waits for, and how many generated objects
/// the applications own (their statuses' entries that are not `Failed`).
fn observe(ctx: &Context, apps: &reflector::Store<EdgeApplication>) {
    let store = apps.clone();
    ctx.telemetry
        .cache(CONTROLLER, "edgeapplications", move || {
            store.wait_until_ready().now_or_never().is_some()
        });
    let store = apps.clone();
    ctx.telemetry.owned(CONTROLLER, move || {
        store
            .state()
            .iter()
            .filter_map(|a| a.status.as_ref())
            .flat_map(|s| &s.workload_status)
            .filter(|w| w.conditions != Some(crate::api::ManifestCondition::Failed))
            .count()
    });
}

/// Every change to an application reconciles it.
fn app_requests(
    client: &Client,
    config: watcher::Config,
    writer: Writer<EdgeApplication>,
) -> impl Stream<Item = Request> + Send + use<> {
    let apps = watcher(Api::<EdgeApplication>::all(client.clone()), config)
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .map_err(|source| WatchError {
            resource: "edgeapplications",
            source,
        });
    trigger_self(apps, ())
}

/// A change to a generated object reconciles the application owning it.
/// Only metadata is watched: the owner reference is all that is needed.
fn owner_requests<K>(
    client: &Client,
    config: watcher::Config,
    resource: &'static str,
) -> impl Stream<Item = Request> + Send + use<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let generated = config.labels(LABEL_EDGEAPPLICATION_NAME);
    let children = watcher(Api::<PartialObjectMeta<K>>::all(client.clone()), generated)
        .default_backoff()
        .touched_objects()
        .map_err(move |source| WatchError { resource, source });
    trigger_owners(children, (), ())
}

fn error_policy(app: Arc<EdgeApplication>, error: &Error, state: Arc<State>) -> Action {
    state.ctx.emit(EngineEvent::new(
        Source::EdgeApplication,
        app_id(&app),
        Outcome::Failed {
            reason: error.to_string(),
        },
    ));
    Action::requeue(RETRY)
}

fn app_id(app: &EdgeApplication) -> String {
    format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any())
}

/// What one pass found and did.
#[derive(Default)]
struct Pass {
    /// Generated objects in the cluster, by identity.
    live: BTreeMap<String, Value>,
    /// Keys of the objects this application controls, for pruning.
    owned: Vec<ObjectKey>,
    /// Objects that could not be inspected or written, and why.
    failures: BTreeMap<String, String>,
    changes: Vec<String>,
}

fn id(key: &ObjectKey) -> String {
    let (group, kind, namespace, name) = key.identity();
    format!("{group}/{kind}/{}/{name}", namespace.unwrap_or_default())
}

fn gvk_of(key: &ObjectKey) -> GroupVersionKind {
    let (group, version) = split_api_version(&key.api_version);
    GroupVersionKind::gvk(group, version, &key.kind)
}

async fn reconcile(app: Arc<EdgeApplication>, state: Arc<State>) -> Result<Action, Error> {
    let (Some(namespace), Some(uid)) = (app.namespace(), app.uid()) else {
        return Err(Error::Incomplete(app.name_any()));
    };
    if app.meta().deletion_timestamp.is_some() {
        // The garbage collector removes what we generated through ownerReferences.
        state.reported.forget(&uid);
        return Ok(Action::await_change());
    }
    let client = &state.ctx.client;
    let rendered = render::render(&app);
    let mut pass = Pass::default();

    for gvk in kinds_to_inspect(&app, &rendered) {
        inspect_kind(&state, &app, &namespace, &uid, &gvk, &rendered, &mut pass).await;
    }
    inspect_unlabelled(&state, &app, &namespace, &uid, &rendered, &mut pass).await;
    for desired in &rendered.objects {
        apply(&state, &namespace, &uid, &app, desired, &mut pass).await;
    }
    let doomed: Vec<ObjectKey> = prune::to_delete(&pass.owned, &rendered)
        .into_iter()
        .cloned()
        .collect();
    for gone in &doomed {
        delete(&state, &namespace, gone, &mut pass).await;
    }
    match revisions::record(client, &state.revisions, &app, &namespace, &uid).await {
        Ok(changes) => pass.changes.extend(changes),
        // Not a failure of the application: the next pass records it.
        Err(e) => {
            tracing::warn!(error = %e, "revision history");
            pass.changes.push(format!("revision not recorded: {e}"));
        }
    }

    let full_status = summarize(
        &rendered,
        |key| match pass.failures.get(&id(key)) {
            Some(reason) => Observation::Failed(reason),
            None => pass
                .live
                .get(&id(key))
                .map_or(Observation::Absent, Observation::Live),
        },
        app.meta().generation,
    );
    // Compared as it will read back, or a schema that prunes would make every pass write.
    let new_status = state.schemas.get(client).await.fit(full_status.clone());
    if app.status.as_ref() != Some(&new_status) {
        state.reported.record_new(client, &app, &full_status).await;
        status::write(client, &state.schemas, &app, &namespace, &new_status).await?;
        pass.changes.push(status::words(&new_status));
    }
    if !pass.changes.is_empty() || !pass.failures.is_empty() || !rendered.errors.is_empty() {
        let outcome = match failure_summary(&rendered, &pass) {
            Some(reason) => Outcome::Failed { reason },
            None => Outcome::Reconciled {
                changes: pass.changes,
            },
        };
        state.ctx.emit(EngineEvent::new(
            Source::EdgeApplication,
            app_id(&app),
            outcome,
        ));
    }
    Ok(Action::requeue(RESYNC))
}

/// Every kind this application may have objects of: what it renders now and
/// what its status says it generated before (so removed manifests are pruned).
fn kinds_to_inspect(app: &EdgeApplication, rendered: &Rendered) -> Vec<GroupVersionKind> {
    let mut kinds: BTreeMap<(String, String), GroupVersionKind> = BTreeMap::new();
    let now = rendered
        .objects
        .iter()
        .map(|o| &o.key)
        .chain(rendered.retained())
        .map(gvk_of);
    let before = app
        .status
        .iter()
        .flat_map(|s| &s.workload_status)
        .filter_map(|entry| {
            let id = &entry.identifier;
            (!id.kind.is_empty() && !id.version.is_empty())
                .then(|| GroupVersionKind::gvk(&id.group, &id.version, &id.kind))
        });
    // One version per kind is enough to list it; prefer what the spec uses now.
    for gvk in now.chain(before) {
        kinds
            .entry((gvk.group.clone(), gvk.kind.clone()))
            .or_insert(gvk);
    }
    kinds.into_values().collect()
}

/// Lists the application's objects of one kind into `pass`.
async fn inspect_kind(
    state: &State,
    app: &EdgeApplication,
    namespace: &str,
    uid: &str,
    gvk: &GroupVersionKind,
    rendered: &Rendered,
    pass: &mut Pass,
) {
    let client = &state.ctx.client;
    let listed = match state.kinds.resolve(client, gvk).await {
        Ok(resource) => {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &resource);
            let selector = format!("{LABEL_EDGEAPPLICATION_NAME}={}", app.name_any());
            api.list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(format!(
            "kind {} {} is not served by the cluster: {e}",
            gvk.api_version(),
            gvk.kind
        )),
    };
    match listed {
        Ok(list) => {
            for mut object in list.items {
                // A real API server names apiVersion and kind on the list
                // only, not on its items: without them the object has no key,
                // and what cannot be keyed is never pruned.
                object.types = Some(TypeMeta {
                    api_version: gvk.api_version(),
                    kind: gvk.kind.clone(),
                });
                let Ok(value) = serde_json::to_value(&object) else {
                    continue;
                };
                let Some(key) = ObjectKey::of(&value) else {
                    continue;
                };
                if ownership::controlled_by(&value, uid) {
                    pass.owned.push(key.clone());
                    pass.live.insert(id(&key), value);
                }
            }
        }
        Err(reason) => {
            // Nothing of this kind can be applied or pruned this time; say so on each object.
            for desired in rendered.objects.iter().filter(|o| gvk_of(&o.key) == *gvk) {
                pass.failures.insert(id(&desired.key), reason.clone());
            }
        }
    }
}

/// KubeEdge labels nothing it generates, so after a migration the label
/// lists above miss its objects; its status names them. An object named
/// there, found neither by label nor among what renders now (which apply
/// looks up itself), is fetched by name: if it is this application's, it is
/// pruned like any other. Once the status is rewritten such entries are gone,
/// so this costs nothing in the steady state.
async fn inspect_unlabelled(
    state: &State,
    app: &EdgeApplication,
    namespace: &str,
    uid: &str,
    rendered: &Rendered,
    pass: &mut Pass,
) {
    let wanted: BTreeSet<String> = rendered
        .objects
        .iter()
        .map(|o| id(&o.key))
        .chain(rendered.retained().map(id))
        .collect();
    let named = app
        .status
        .iter()
        .flat_map(|s| &s.workload_status)
        .filter_map(|entry| {
            let at = &entry.identifier;
            let here = at.namespace.is_empty() || at.namespace == namespace;
            let complete = !at.kind.is_empty() && !at.version.is_empty() && !at.name.is_empty();
            (here && complete).then(|| {
                let gvk = GroupVersionKind::gvk(&at.group, &at.version, &at.kind);
                ObjectKey::new(gvk.api_version(), &at.kind, Some(namespace), &at.name)
            })
        });
    let client = &state.ctx.client;
    for key in named.collect::<Vec<_>>() {
        let key_id = id(&key);
        if pass.live.contains_key(&key_id) || wanted.contains(&key_id) {
            continue;
        }
        let Ok(resource) = state.kinds.resolve(client, &gvk_of(&key)).await else {
            continue;
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        if let Ok(Some(object)) = api.get_opt(&key.name).await
            && let Ok(value) = serde_json::to_value(&object)
            && ownership::controlled_by(&value, uid)
        {
            pass.owned.push(key);
            pass.live.insert(key_id, value);
        }
    }
}

async fn apply(
    state: &State,
    namespace: &str,
    uid: &str,
    app: &EdgeApplication,
    desired: &render::DesiredObject,
    pass: &mut Pass,
) {
    let key_id = id(&desired.key);
    if pass.failures.contains_key(&key_id) {
        return;
    }
    if pass
        .live
        .get(&key_id)
        .is_some_and(|live| cluster::covers(live, &desired.object))
    {
        return;
    }
    let client = &state.ctx.client;
    let resource = match state.kinds.resolve(client, &gvk_of(&desired.key)).await {
        Ok(resource) => resource,
        Err(e) => {
            pass.failures
                .insert(key_id, format!("kind is not served by the cluster: {e}"));
            return;
        }
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    if !pass.live.contains_key(&key_id) {
        // Not ours (yet): make sure we are not about to take over someone else's object.
        match api.get_opt(&desired.key.name).await {
            Ok(Some(existing)) => {
                let value = serde_json::to_value(&existing).unwrap_or(Value::Null);
                match ownership::ownership(&value, uid) {
                    Ownership::Controlled => {}
                    Ownership::OrphanedByKubeEdge => {
                        pass.changes
                            .push(format!("adopted {} generated by KubeEdge", desired.key));
                    }
                    Ownership::Foreign(why) => {
                        pass.failures.insert(
                            key_id,
                            format!(
                                "{} already exists and is not EdgeApplication {}'s: {why}; refusing to take it over",
                                desired.key,
                                app.name_any()
                            ),
                        );
                        return;
                    }
                }
            }
            Ok(None) => {}
            Err(e) => {
                pass.failures.insert(key_id, e.to_string());
                return;
            }
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api
        .patch(&desired.key.name, &params, &Patch::Apply(&desired.object))
        .await
    {
        Ok(applied) => {
            if let Ok(value) = serde_json::to_value(&applied) {
                pass.live.insert(key_id, value);
            }
            pass.changes.push(format!("applied {}", desired.key));
        }
        Err(e) => {
            pass.failures.insert(key_id, format!("apply failed: {e}"));
        }
    }
}

async fn delete(state: &State, namespace: &str, key: &ObjectKey, pass: &mut Pass) {
    let client = &state.ctx.client;
    let result = match state.kinds.resolve(client, &gvk_of(key)).await {
        Ok(resource) => {
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &resource);
            let params = DeleteParams::background();
            match api.delete(&key.name, &params).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => pass.changes.push(format!("pruned {key}")),
        Err(reason) => {
            pass.failures
                .insert(id(key), format!("prune failed: {reason}"));
        }
    }
}

fn failure_summary(rendered: &Rendered, pass: &Pass) -> Option<String> {
    let mut reasons: Vec<String> = rendered
        .errors
        .iter()
        .map(|e| e.error.to_string())
        .collect();
    reasons.extend(pass.failures.values().cloned());
    (!reasons.is_empty()).then(|| reasons.join("; "))
}
