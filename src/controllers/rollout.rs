//! Rollout controller: drives each `rollouts.edgedeck.io` Rollout with the
//! pure state machine in `engine::rollout` — fetch the application and what
//! runs, call [`step`], write the application (conflict-safe) and then the
//! Rollout's status.
//!
//! Safety rules, in the order they bite:
//! - the application is written with its resourceVersion: an edit that
//!   lands between our read and our write is a 409, retried on a fresh read,
//!   where the engine sees it as a hand edit and pauses;
//! - the application is written before the status, so a stop in between
//!   leaves a status that lags, which the engine recognises (the live spec
//!   is then the wave's own spec), never a status that claims a write that
//!   did not happen;
//! - the status is replaced whole on its resourceVersion, so an older
//!   engine (a lost leader) cannot overwrite a newer one's progress.
//!
//! # Shape
//!
//! kube-runtime's `Controller` over Rollouts, also woken by every change of
//! an EdgeApplication a Rollout names. Pods, nodes and EndpointSlices are
//! not watched: each step says when to look again (soak left, deadline), and
//! a rollout in progress is looked at every few seconds anyway. Pods and
//! EndpointSlices are listed per namespace on each look, which is fine for
//! the few rollouts that run at a time, not for thousands. No finalizer: a
//! Rollout owns nothing to clean up; deleting one leaves the application as
//! the rollout last wrote it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::Value;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::{Context, EngineEvent, Outcome, Source};
use crate::api::{EdgeApplication, Rollout, RolloutPhase};
use crate::engine::rollout::{Cluster, Step, step};

/// A rollout with nothing scheduled is still looked at this often: pods
/// crash and endpoints go without the application changing.
const IDLE_LOOK: Duration = Duration::from_secs(30);
/// After a failed reconcile.
const RETRY: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum Error {
    #[error("Rollout {0} has no namespace")]
    Incomplete(String),
    #[error("reading {what}: {source}")]
    Read {
        what: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("writing EdgeApplication {name}: {source}")]
    WriteApp {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status: {0}")]
    Status(#[source] kube::Error),
}

/// Runs until `cancel` fires.
pub async fn run(ctx: Arc<Context>, cancel: CancellationToken) {
    let client = ctx.client.clone();
    let rollouts: Api<Rollout> = Api::all(client.clone());
    let controller = Controller::new(rollouts, watcher::Config::default());
    let store = controller.store();
    let apps: Api<EdgeApplication> = Api::all(client);
    controller
        .watches(apps, watcher::Config::default(), move |app| {
            let (name, namespace) = (app.name_any(), app.namespace());
            store
                .state()
                .into_iter()
                .filter(|r| r.spec.edge_application == name && r.namespace() == namespace)
                .map(|r| ObjectRef::from_obj(&*r))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(cancel.cancelled_owned())
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| {
            if let Err(e) = result {
                tracing::debug!(error = %e, "rollout controller");
            }
            futures::future::ready(())
        })
        .await;
}

fn error_policy(rollout: Arc<Rollout>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.emit(EngineEvent::new(
        Source::Rollout,
        id(&rollout),
        Outcome::Failed {
            reason: error.to_string(),
        },
    ));
    Action::requeue(RETRY)
}

fn id(rollout: &Rollout) -> String {
    format!(
        "{}/{}",
        rollout.namespace().unwrap_or_default(),
        rollout.name_any()
    )
}

#[tracing::instrument(skip_all, fields(rollout = %id(&rollout)))]
async fn reconcile(rollout: Arc<Rollout>, ctx: Arc<Context>) -> Result<Action, Error> {
    let Some(namespace) = rollout.namespace() else {
        return Err(Error::Incomplete(rollout.name_any()));
    };
    if rollout
        .status
        .as_ref()
        .is_some_and(|s| s.phase.is_terminal())
    {
        return Ok(Action::await_change());
    }
    let client = &ctx.client;
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), &namespace);
    let app_name = &rollout.spec.edge_application;
    let read = |what| move |source| Error::Read { what, source };
    let Some(app) = apps
        .get_opt(app_name)
        .await
        .map_err(read("the EdgeApplication"))?
    else {
        let mut status = rollout.status.clone().unwrap_or_default();
        status.phase = RolloutPhase::Failed;
        status.message = Some(format!("no EdgeApplication {app_name} in {namespace}"));
        write_status(&ctx, &rollout, status).await?;
        return Ok(Action::await_change());
    };
    let pods = list::<Pod>(Api::namespaced(client.clone(), &namespace), "pods").await?;
    let pods: Vec<Value> = pods
        .iter()
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect();
    let nodes = list::<Node>(Api::all(client.clone()), "nodes").await?;
    let slices = list::<EndpointSlice>(
        Api::namespaced(client.clone(), &namespace),
        "endpointslices",
    )
    .await?;
    let cluster = Cluster {
        app: &app,
        pods: &pods,
        nodes: &nodes,
        slices: &slices,
    };
    let Step {
        write,
        status,
        requeue_after,
    } = step(&rollout, &cluster, Timestamp::now());
    if let Some(spec) = write {
        let mut next = app.clone();
        next.spec = spec;
        let params = PostParams {
            // Names the change in the revision history.
            field_manager: Some(crate::engine::revision::ROLLOUT_MANAGER.into()),
            ..PostParams::default()
        };
        apps.replace(app_name, &params, &next)
            .await
            .map_err(|source| Error::WriteApp {
                name: app_name.clone(),
                source,
            })?;
        tracing::info!(wave = status.current_wave, phase = ?status.phase, "application written");
    }
    let phase = status.phase;
    let message = status.message.clone().unwrap_or_default();
    let changed = rollout.status.as_ref() != Some(&status);
    if changed {
        write_status(&ctx, &rollout, status).await?;
        ctx.emit(EngineEvent::new(
            Source::Rollout,
            id(&rollout),
            Outcome::Reconciled {
                changes: vec![format!("{phase:?}: {message}")],
            },
        ));
    }
    Ok(match requeue_after {
        Some(s) => Action::requeue(Duration::from_secs(s.max(1))),
        None if phase.is_terminal() => Action::await_change(),
        None => Action::requeue(IDLE_LOOK),
    })
}

async fn list<K>(api: Api<K>, what: &'static str) -> Result<Vec<K>, Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default())
        .await
        .map(|l| l.items)
        .map_err(|source| Error::Read { what, source })
}

async fn write_status(
    ctx: &Context,
    rollout: &Rollout,
    status: crate::api::RolloutStatus,
) -> Result<(), Error> {
    let namespace = rollout.namespace().unwrap_or_default();
    let api: Api<Rollout> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut next = rollout.clone();
    next.status = Some(status);
    api.replace_status(&rollout.name_any(), &PostParams::default(), &next)
        .await
        .map(|_| ())
        .map_err(Error::Status)
}
