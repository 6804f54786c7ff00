//! NodeGroup controller: membership labels on nodes, group status,
//! finalizer, eviction.
//!
//! # Shape
//!
//! Two reflectors feed one `kube::runtime::applier`: NodeGroups (the
//! primary, reconciled by name) and Nodes (slimmed to name, labels and the
//! Ready condition). Both streams also feed one shared
//! [`MembershipIndex`], event by event, and each event queues exactly the
//! groups the index says it concerns (see [`plan::Feed`]): a node heartbeat
//! queues none, a relabelled node its old and new group, a group edit the
//! groups whose nodes changed hands. The stable `applier` is used instead of
//! `Controller` because mapping events onto groups needs that index, and
//! `Controller` only offers such mappers through unstable features.
//!
//! # One reconcile of group G
//!
//! G's share is read from the index under its lock — the nodes G claims or
//! whose labels name it, and G's status — without copying the fleet, then
//! written: labels on the nodes G won, removal of G's labels from the nodes
//! G lost (plus eviction of the pods pinned elsewhere on them), and G's
//! status — each only when it differs from what is there.
//!
//! Two groups reconciling at once (the node's old and new group) cannot
//! undo each other: a group sets keys only on nodes it won, and removes a
//! key only with a JSON patch that first tests the key still holds its own
//! name (see [`labels::guarded_removal`]). Label sets are JSON merge patches
//! of `metadata.labels` with just those keys, safe against concurrent edits
//! of anything else. Whichever of the two moves `belonging-to` away from
//! the old group evicts the pods pinned to it.
//!
//! # Not handled
//!
//! Evictions that failed are retried from memory (`pending`); after an
//! engine restart in between, pods pinned to the old group stay on a node
//! whose label is already gone. A `belonging-to` naming a group that no
//! longer exists (finalizer removed by hand) is overwritten when another
//! group wins the node, and otherwise left alone.

mod error;
mod finalizer;
mod labels;
mod plan;
mod writes;

use std::collections::{BTreeSet, HashMap};
use std::future::ready;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use kube::runtime::controller::{Action, ReconcileRequest};
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{Config, WatchStreamExt, applier, watcher};
use kube::{Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use self::error::{Error, retry_delay};
use self::finalizer::Step;
use self::plan::{Feed, NodeWork, plan_share, share_of};
use super::cluster::lock;
use super::served_schema::ServedSchema;
use super::supervisor::{self, WatchError, until_cancelled};
use super::{Context, EngineEvent, Outcome, Source};
use crate::api::{NodeGroup, SelectionStatus};
use crate::engine::membership::index::{Groups, MembershipIndex};
use crate::engine::status_schema::NodeGroupStatusSchema;
use crate::telemetry::{Controller, ErrorReason, kube_reason};

/// Periodic re-reconcile of every group, in case a watch event was missed.
const RESYNC: Duration = Duration::from_secs(300);
/// Coalesces bursts (a relabelled rack, a status write echoing back).
const DEBOUNCE: Duration = Duration::from_millis(100);
/// How long a reconcile waits for the node cache's first list.
const NODE_CACHE_WAIT: Duration = Duration::from_secs(30);

/// Runs until `cancel` fires; in-flight reconciles get
/// [`supervisor::STOP_GRACE`] to finish.
pub async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let client = ctx.client.clone();
    let (groups, group_writer) = reflector::store();
    let (nodes, node_writer) = reflector::store();
    let index = Arc::new(Mutex::new(MembershipIndex::default()));
    let state = Arc::new(State {
        ctx,
        nodes,
        groups: groups.clone(),
        index: index.clone(),
        pending: Mutex::default(),
        failures: Mutex::default(),
        schema: ServedSchema::new(
            "nodegroups.apps.kubeedge.io",
            NodeGroupStatusSchema::from_openapi,
            NodeGroupStatusSchema::EDGEDECK,
        ),
    });
    observe(&state);
    let queue = stream::select_all([
        group_requests(
            &client,
            state.ctx.watch_config(),
            group_writer,
            index.clone(),
        )
        .boxed(),
        node_requests(&client, state.ctx.watch_config(), node_writer, index).boxed(),
    ])
    .inspect(supervisor::mark_queued(&state.ctx, CONTROLLER))
    .take_until(cancel.clone().cancelled_owned());
    // Bounded: with hundreds of groups, unbounded reconciles would flood the API server.
    let config = Config::default()
        .debounce(DEBOUNCE)
        .concurrency(RECONCILE_CONCURRENCY);
    let controller = applier(
        |group, state| {
            Box::pin(async move {
                let ctx = state.ctx.clone();
                supervisor::measured(&ctx, CONTROLLER, &*group.clone(), reconcile(group, state))
                    .await
            })
        },
        error_policy,
        state.clone(),
        groups,
        queue,
        config,
    )
    .for_each(|result| {
        supervisor::report_applier(&state.ctx, Source::NodeGroup, result);
        ready(())
    });
    until_cancelled(controller, &cancel, || supervisor::grace_for(&state.groups))
        .await
        .log(Source::NodeGroup);
}

type Request = Result<ReconcileRequest<NodeGroup>, WatchError>;
type Labels = std::collections::BTreeMap<String, String>;

const CONTROLLER: Controller = Controller::NodeGroup;

/// Registers the caches `/readyz` waits for, and how many nodes the groups
/// hold (their statuses' `Succeeded` entries), read at scrape time.
fn observe(state: &State) {
    let telemetry = &state.ctx.telemetry;
    let (groups, nodes) = (state.groups.clone(), state.nodes.clone());
    telemetry.cache(CONTROLLER, "nodegroups", move || is_ready(&groups));
    telemetry.cache(CONTROLLER, "nodes", move || is_ready(&nodes));
    let groups = state.groups.clone();
    telemetry.owned(CONTROLLER, move || {
        groups
            .state()
            .iter()
            .filter_map(|g| g.status.as_ref())
            .flat_map(|s| &s.node_statuses)
            .filter(|n| n.selection_status == SelectionStatus::Succeeded)
            .count()
    });
}

fn is_ready<K>(store: &Store<K>) -> bool
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store.wait_until_ready().now_or_never().is_some()
}

fn request(name: String) -> Request {
    Ok(ReconcileRequest::from(ObjectRef::new(&name)))
}

fn requests(names: Groups) -> impl Stream<Item = Request> {
    stream::iter(names.into_iter().map(request))
}

/// Group events feed the index; the groups they concern are reconciled
/// (a changed group always itself).
fn group_requests(
    client: &Client,
    config: watcher::Config,
    writer: Writer<NodeGroup>,
    index: Arc<Mutex<MembershipIndex>>,
) -> impl Stream<Item = Request> + Send + use<> {
    let mut feed = Feed::default();
    watcher(Api::<NodeGroup>::all(client.clone()), config)
        .default_backoff()
        .reflect(writer)
        .map_err(|source| WatchError {
            resource: "nodegroups",
            source,
        })
        .map_ok(move |event| requests(feed.on_group(&event, &mut lock(&index))))
        .try_flatten()
}

fn node_requests(
    client: &Client,
    config: watcher::Config,
    writer: Writer<Node>,
    index: Arc<Mutex<MembershipIndex>>,
) -> impl Stream<Item = Request> + Send + use<> {
    let mut feed = Feed::default();
    watcher(Api::<Node>::all(client.clone()), config)
        .modify(labels::slim)
        .default_backoff()
        .reflect(writer)
        .map_err(|source| WatchError {
            resource: "nodes",
            source,
        })
        .map_ok(move |event| requests(feed.on_node(&event, &mut lock(&index))))
        .try_flatten()
}

/// Reconciles running at once (kube-runtime's default is unbounded).
const RECONCILE_CONCURRENCY: u16 = 4;

struct State {
    ctx: Arc<Context>,
    nodes: Store<Node>,
    groups: Store<NodeGroup>,
    /// Fleet membership, kept up to date by both watch streams.
    index: Arc<Mutex<MembershipIndex>>,
    /// Per group: nodes it left whose pods could not all be evicted yet.
    pending: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Per group: consecutive failed reconciles, for the retry backoff.
    failures: Mutex<HashMap<String, u32>>,
    /// What the served NodeGroup CRD keeps of a status.
    schema: ServedSchema<NodeGroupStatusSchema>,
}

async fn reconcile(group: Arc<NodeGroup>, state: Arc<State>) -> Result<Action, Error> {
    let result = state.reconcile(&group).await;
    state.report(&group, &result).await;
    result.map(|_| Action::requeue(RESYNC))
}

impl ErrorReason for Error {
    fn reason(&self) -> &'static str {
        match self {
            Error::Unnamed => "unnamed",
            Error::NodesNotSynced => "cache_not_synced",
            Error::Kube { source, .. } => kube_reason(source),
            Error::Patch(_) => "patch",
            Error::Several(errors) => errors.first().map_or("several", ErrorReason::reason),
        }
    }
}

fn error_policy(group: Arc<NodeGroup>, _error: &Error, state: Arc<State>) -> Action {
    let mut failures = lock(&state.failures);
    let attempt = failures.entry(group.name_any()).or_default();
    *attempt = attempt.saturating_add(1);
    Action::requeue(retry_delay(*attempt))
}

impl State {
    /// One reconcile; returns what was changed.
    async fn reconcile(&self, group: &NodeGroup) -> Result<Vec<String>, Error> {
        let name = group.metadata.name.clone().ok_or(Error::Unnamed)?;
        let client = &self.ctx.client;
        match finalizer::step(group) {
            Step::AddFinalizerThenApply => {
                writes::add_finalizer(client, group).await?;
                let mut changes = vec!["finalizer added".to_owned()];
                changes.extend(self.apply(group, &name).await?);
                Ok(changes)
            }
            Step::Apply => self.apply(group, &name).await,
            Step::Cleanup => {
                let mut changes = self.cleanup(&name).await?;
                writes::remove_finalizer(client, group).await?;
                changes.push("finalizer removed".to_owned());
                Ok(changes)
            }
            Step::Done => Ok(Vec::new()),
        }
    }

    async fn apply(&self, group: &NodeGroup, name: &str) -> Result<Vec<String>, Error> {
        self.nodes_synced().await?;
        // Compared as it will read back, or a schema that prunes would make every pass write.
        let schema = self.schema.get(&self.ctx.client).await;
        let pending = self.pending_of(name);
        let (work, wanted) = {
            let index = lock(&self.index);
            let share = share_of(name, &index, &pending);
            let work = plan_share(
                name,
                share.iter().map(|(n, l)| (n.as_str(), l)),
                &index,
                &pending,
            );
            let mut wanted = index.status(name);
            if let Some(status) = &mut wanted {
                schema.fit(status);
            }
            (work, wanted)
        };
        let mut changes = Vec::new();
        let mut errors = Vec::new();
        self.sync_nodes(name, work, &mut changes, &mut errors).await;
        if let Some(wanted) = wanted
            && group.status.as_ref() != Some(&wanted)
        {
            match writes::patch_status(&self.ctx.client, name, &wanted).await {
                Ok(()) => changes.push(plan::describe_status(&wanted)),
                Err(e) => errors.push(e),
            }
        }
        Error::from_many(errors).map_or(Ok(changes), Err)
    }

    /// Strips G's labels from every node the API server says carries them.
    async fn cleanup(&self, name: &str) -> Result<Vec<String>, Error> {
        self.nodes_synced().await?;
        let listed = writes::nodes_labelled(&self.ctx.client, name).await?;
        let mut pending = self.pending_of(name);
        let mut nodes: Vec<(String, Labels)> = listed
            .into_iter()
            .filter_map(|n| Some((n.metadata.name?, n.metadata.labels.unwrap_or_default())))
            .collect();
        // Nodes whose eviction failed earlier no longer carry the label.
        for (listed, _) in &nodes {
            pending.remove(listed);
        }
        let work = {
            let index = lock(&self.index);
            nodes.extend(
                pending
                    .iter()
                    .filter_map(|n| Some((n.clone(), index.labels(n)?.clone()))),
            );
            plan_share(
                name,
                nodes.iter().map(|(n, l)| (n.as_str(), l)),
                &index,
                &pending,
            )
        };
        let mut changes = Vec::new();
        let mut errors = Vec::new();
        self.sync_nodes(name, work, &mut changes, &mut errors).await;
        Error::from_many(errors).map_or(Ok(changes), Err)
    }

    /// The index is complete once the node cache has its first list (both
    /// are fed by the same stream, the index right after the cache).
    async fn nodes_synced(&self) -> Result<(), Error> {
        tokio::time::timeout(NODE_CACHE_WAIT, self.nodes.wait_until_ready())
            .await
            .map_err(|_| Error::NodesNotSynced)?
            .map_err(|_| Error::NodesNotSynced)
    }

    /// Runs G's share of node writes; failed evictions are remembered.
    async fn sync_nodes(
        &self,
        group: &str,
        work: Vec<NodeWork>,
        changes: &mut Vec<String>,
        errors: &mut Vec<Error>,
    ) {
        let mut still_pending = BTreeSet::new();
        for work in work {
            if let Err(e) = self.do_work(group, &work, changes).await {
                errors.push(e);
                if work.evict {
                    still_pending.insert(work.node.clone());
                }
            }
        }
        let mut all = lock(&self.pending);
        if still_pending.is_empty() {
            all.remove(group);
        } else {
            all.insert(group.to_owned(), still_pending);
        }
    }

    /// Labels first, then evictions: evicted pods pinned to the old group
    /// must not be scheduled right back onto the node.
    async fn do_work(
        &self,
        group: &str,
        work: &NodeWork,
        changes: &mut Vec<String>,
    ) -> Result<(), Error> {
        let client = &self.ctx.client;
        if let Some(patch) = &work.labels {
            match writes::write_labels(client, &work.node, group, patch).await? {
                // Node deleted: nothing left to label or evict.
                None => return Ok(()),
                Some(applied) if !applied.is_empty() => {
                    changes.push(plan::describe_label_change(&work.node, &applied));
                }
                Some(_) => {}
            }
        }
        if work.evict {
            let evicted = writes::evict_pinned(client, &work.node, work.now_in.as_deref()).await?;
            changes.extend(
                evicted
                    .into_iter()
                    .map(|pod| format!("evicted pod {pod} from node {}", work.node)),
            );
        }
        Ok(())
    }

    fn pending_of(&self, group: &str) -> BTreeSet<String> {
        let pending = lock(&self.pending);
        pending.get(group).cloned().unwrap_or_default()
    }

    async fn report(&self, group: &NodeGroup, result: &Result<Vec<String>, Error>) {
        let name = group.name_any();
        let outcome = match result {
            Ok(changes) => {
                lock(&self.failures).remove(&name);
                Outcome::Reconciled {
                    changes: changes.clone(),
                }
            }
            Err(e) => {
                self.record_failure(group, e).await;
                Outcome::Failed {
                    reason: e.to_string(),
                }
            }
        };
        self.ctx
            .emit(EngineEvent::new(Source::NodeGroup, name, outcome));
    }

    /// A Warning Event on the group for `kubectl describe` (best effort).
    async fn record_failure(&self, group: &NodeGroup, error: &Error) {
        let regarding = group.object_ref(&());
        super::cluster::warn(
            &self.ctx.client,
            regarding,
            "ReconcileFailed",
            &error.to_string(),
        )
        .await;
    }
}
