//! Leader election on a coordination.k8s.io/v1 Lease.
//!
//! # Protocol
//!
//! Every engine reads the Lease `namespace/name` and decides with
//! [`lease_decision`]: create it when absent, take it when nobody holds it
//! or the holder let it expire (`renewTime + leaseDurationSeconds < now`),
//! renew it when it is already ours, otherwise follow. Every write is a
//! create or a replace carrying the resourceVersion that was read, so when
//! two engines race for the same Lease the API server accepts one and
//! answers 409 to the other: at most one engine wins a round.
//!
//! The leader renews every `renew_every`. It stops its work as soon as the
//! next renewal would come too late to keep the lease ([`must_step_down`]),
//! i.e. at least one renew period *before* others may take over — like
//! client-go's renew deadline, this leaves room for clock skew between
//! engines, since expiry is judged against the holder's `renewTime`.
//!
//! Work gets until the lease runs out to stop; whatever still runs then is
//! dropped, so the elector is always back to renewing or following (a work
//! future must therefore not leave detached tasks behind).
//!
//! # Release
//!
//! On shutdown the leader stops its work, waits for it, then writes the
//! Lease with no `holderIdentity` and `leaseDurationSeconds: 1` (what
//! client-go's `ReleaseOnCancel` does), so a standby engine takes over on
//! its next attempt instead of waiting out the lease.
//!
//! # Identity
//!
//! An empty `LeaseOptions::identity` becomes `<hostname>-<pid>-<random>`:
//! the hostname (`$HOSTNAME`, else `/etc/hostname`) names the pod or
//! machine for humans, and the pid plus a random suffix keep two engines in
//! one process (tests, the console next to a headless engine) apart.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Context, EngineEvent, Outcome, Source};
use crate::api::FIELD_MANAGER;

#[derive(Debug, Clone)]
pub struct LeaseOptions {
    pub namespace: String,
    pub name: String,
    /// This engine's identity in `spec.holderIdentity`.
    pub identity: String,
    /// `spec.leaseDurationSeconds`: how long a silent holder keeps the lease.
    pub duration: Duration,
    /// How often the holder renews, and others retry.
    pub renew_every: Duration,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions {
            namespace: "kube-system".into(),
            name: "edgedeck-engine".into(),
            identity: String::new(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// Runs `work` while this engine holds the lease: waits to acquire it, runs
/// `work` with a token that is cancelled when leadership is lost, and tries
/// again, until `cancel` fires (then releases the lease).
pub async fn lead<F, Fut>(ctx: Arc<Context>, opts: LeaseOptions, cancel: CancellationToken, work: F)
where
    F: Fn(CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut elector = Elector::new(ctx, opts);
    loop {
        if let Some(lease) = elector.follow(&cancel).await {
            let (end, lease) = elector.hold(lease, &cancel, &work).await;
            match end {
                HoldEnd::Cancelled => {
                    elector.release(lease).await;
                    break;
                }
                HoldEnd::WorkFinished => {
                    elector.release(lease).await;
                    // Work meant to run forever ended: said so in hold();
                    // a pause keeps a work that ends at once from spinning.
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(elector.opts.renew_every) => {}
                    }
                }
                HoldEnd::Lost => {}
            }
        }
        if cancel.is_cancelled() {
            break;
        }
    }
}

/// Who holds the lease now, if anyone holds an unexpired one.
pub async fn current_holder(
    client: &Client,
    opts: &LeaseOptions,
) -> Result<Option<String>, kube::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &opts.namespace);
    let lease = api.get_opt(&opts.name).await?;
    Ok(lease.and_then(|l| valid_holder(&l, Timestamp::now(), opts.duration)))
}

/// What to do about the lease, as read at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No Lease object: create it, holding it.
    Create,
    /// Free or expired: take it over.
    Take,
    /// Ours: renew it.
    Renew,
    /// Someone else holds a live lease.
    Follow { holder: String },
}

/// `default_duration` stands in for a missing `leaseDurationSeconds`.
pub fn lease_decision(
    lease: Option<&Lease>,
    now: Timestamp,
    identity: &str,
    default_duration: Duration,
) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    match holder_of(lease) {
        None => Decision::Take,
        Some(holder) if holder == identity => Decision::Renew,
        Some(_) if is_expired(lease, now, default_duration) => Decision::Take,
        Some(holder) => Decision::Follow {
            holder: holder.to_owned(),
        },
    }
}

/// The holder of an unexpired lease.
pub fn valid_holder(lease: &Lease, now: Timestamp, default_duration: Duration) -> Option<String> {
    let holder = holder_of(lease)?;
    (!is_expired(lease, now, default_duration)).then(|| holder.to_owned())
}

/// Whether the leader must stop now: the next renewal, `renew_every` from
/// now, would land after the lease (last renewed `since_renew` ago) expired.
pub fn must_step_down(since_renew: Duration, renew_every: Duration, duration: Duration) -> bool {
    since_renew.saturating_add(renew_every) >= duration
}

fn holder_of(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()?
        .holder_identity
        .as_deref()
        .filter(|h| !h.is_empty())
}

/// A lease without any timestamp has never been renewed: it is expired.
fn is_expired(lease: &Lease, now: Timestamp, default_duration: Duration) -> bool {
    let Some(spec) = lease.spec.as_ref() else {
        return true;
    };
    let Some(last) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return true;
    };
    let seconds = spec
        .lease_duration_seconds
        .map_or_else(|| duration_seconds(default_duration), i64::from);
    match last.0.checked_add(SignedDuration::from_secs(seconds)) {
        Ok(expiry) => expiry < now,
        Err(_) => false, // beyond the end of time: not expired
    }
}

fn duration_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX).max(1)
}

fn duration_i32(duration: Duration) -> i32 {
    i32::try_from(duration_seconds(duration)).unwrap_or(i32::MAX)
}

/// The Lease as this engine writes it when it creates, takes or renews it.
pub fn claimed(
    current: Option<&Lease>,
    opts: &LeaseOptions,
    identity: &str,
    now: Timestamp,
) -> Lease {
    let mut lease = current.cloned().unwrap_or_else(|| Lease {
        metadata: ObjectMeta {
            name: Some(opts.name.clone()),
            namespace: Some(opts.namespace.clone()),
            ..ObjectMeta::default()
        },
        spec: None,
    });
    let previous = lease.spec.take().unwrap_or_default();
    let renewing = previous.holder_identity.as_deref() == Some(identity);
    let transitions = previous.lease_transitions.unwrap_or(0);
    lease.spec = Some(LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(duration_i32(opts.duration)),
        acquire_time: if renewing {
            previous.acquire_time.clone()
        } else {
            None
        }
        .or(Some(MicroTime(now))),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if renewing || current.is_none() {
            transitions
        } else {
            transitions.saturating_add(1)
        }),
        ..previous
    });
    lease
}

/// The Lease as the leader leaves it on shutdown: free at once.
pub fn released(lease: &Lease, now: Timestamp) -> Lease {
    let mut lease = lease.clone();
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(now));
    lease
}

/// `<hostname>-<pid>-<6 random hex digits>`.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "edgedeck".to_owned());
    // RandomState is seeded randomly per instance: randomness without a dependency.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{host}-{}-{:06x}", std::process::id(), random & 0xff_ffff)
}

/// The result of one attempt at the lease.
enum Attempt {
    Leading(Box<Lease>),
    Following(String),
    /// Another engine wrote the Lease between our read and our write.
    Contended,
}

#[derive(Debug, thiserror::Error)]
enum LeaseError {
    #[error(
        "namespace {0:?} for the leader lease does not exist; create it or choose another lease namespace"
    )]
    NamespaceMissing(String),
    #[error("{what} lease {lease}: {source}")]
    Kube {
        what: &'static str,
        lease: String,
        #[source]
        source: kube::Error,
    },
    #[error("{what} lease {lease}: no answer within {after:?}")]
    Timeout {
        what: &'static str,
        lease: String,
        after: Duration,
    },
}

enum HoldEnd {
    Cancelled,
    Lost,
    WorkFinished,
}

struct Elector {
    ctx: Arc<Context>,
    api: Api<Lease>,
    opts: LeaseOptions,
    identity: String,
    /// Last reported (holder, we_lead), so only changes are emitted.
    reported: Option<(Option<String>, bool)>,
    /// Last reported failure, so a retry loop does not flood the event log.
    failure: Option<String>,
}

impl Elector {
    fn new(ctx: Arc<Context>, mut opts: LeaseOptions) -> Self {
        if opts.identity.is_empty() {
            opts.identity = default_identity();
        }
        opts.renew_every = opts.renew_every.max(Duration::from_millis(100));
        Elector {
            api: Api::namespaced(ctx.client.clone(), &opts.namespace),
            identity: opts.identity.clone(),
            ctx,
            opts,
            reported: None,
            failure: None,
        }
    }

    fn lease_name(&self) -> String {
        format!("{}/{}", self.opts.namespace, self.opts.name)
    }

    /// Tries every `renew_every` until the lease is ours; `None` once cancelled.
    async fn follow(&mut self, cancel: &CancellationToken) -> Option<Lease> {
        loop {
            match self.attempt().await {
                Ok(Attempt::Leading(lease)) => {
                    self.report_leader(Some(self.identity.clone()));
                    return Some(*lease);
                }
                Ok(Attempt::Following(holder)) => self.report_leader(Some(holder)),
                Ok(Attempt::Contended) => {}
                Err(e) => self.report_failure(&e),
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(self.opts.renew_every) => {}
            }
        }
    }

    /// Runs `work` and renews until cancelled, lost, or `work` ends by itself.
    async fn hold<F, Fut>(
        &mut self,
        mut lease: Lease,
        cancel: &CancellationToken,
        work: &F,
    ) -> (HoldEnd, Lease)
    where
        F: Fn(CancellationToken) -> Fut,
        Fut: Future<Output = ()>,
    {
        let token = cancel.child_token();
        let work_future = work(token.clone());
        tokio::pin!(work_future);
        let mut renewed_at = Instant::now();
        let end = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break HoldEnd::Cancelled,
                _ = &mut work_future => {
                    self.emit(Outcome::Failed {
                        reason: "the controllers ended while leading; stepping down and trying again".into(),
                    });
                    token.cancel();
                    return (HoldEnd::WorkFinished, lease);
                }
                _ = tokio::time::sleep(self.opts.renew_every) => {}
            }
            let started = Instant::now();
            match self.attempt().await {
                Ok(Attempt::Leading(renewed)) => {
                    lease = *renewed;
                    renewed_at = started;
                    self.failure = None;
                }
                Ok(Attempt::Following(holder)) => {
                    self.report_leader(Some(holder));
                    break HoldEnd::Lost;
                }
                Ok(Attempt::Contended) => {}
                Err(e) => self.report_failure(&e),
            }
            if must_step_down(
                renewed_at.elapsed(),
                self.opts.renew_every,
                self.opts.duration,
            ) {
                tracing::warn!(lease = %self.lease_name(), "lease not renewed in time; stepping down");
                self.report_leader(None);
                break HoldEnd::Lost;
            }
        };
        // Work stops before the lease is released, so two leaders never overlap.
        token.cancel();
        let left = (renewed_at + self.opts.duration).saturating_duration_since(Instant::now());
        // Others may take over once the lease runs out: work still going
        // then is dropped, which stops it. Waiting longer is how the engine
        // once hung for good — a controller cancelled before its first list
        // never returned, and this loop never renewed or tried again.
        if tokio::time::timeout(left, &mut work_future).await.is_err() {
            self.emit(Outcome::Failed {
                reason: format!(
                    "the controllers did not stop within {left:?} of the end of leadership; stopped them"
                ),
            });
        }
        (end, lease)
    }

    /// Gives the lease up if it is still ours as we last wrote it.
    async fn release(&mut self, lease: Lease) {
        let (params, freed) = (post_params(), released(&lease, Timestamp::now()));
        let write = self.api.replace(&self.opts.name, &params, &freed);
        match tokio::time::timeout(self.opts.renew_every, write).await {
            Ok(Ok(_)) => self.report_leader(None),
            // 409: someone else wrote it since, so it is not ours to release.
            Ok(Err(e)) => tracing::debug!(error = %e, "lease not released"),
            Err(_) => tracing::debug!("lease release timed out"),
        }
    }

    /// Reads the lease and acts on [`lease_decision`], bounded in time so a
    /// hung request cannot keep a leader past its deadline.
    async fn attempt(&self) -> Result<Attempt, LeaseError> {
        let after = self.opts.renew_every;
        tokio::time::timeout(after, self.attempt_unbounded())
            .await
            .unwrap_or_else(|_| {
                Err(LeaseError::Timeout {
                    what: "acquiring or renewing",
                    lease: self.lease_name(),
                    after,
                })
            })
    }

    async fn attempt_unbounded(&self) -> Result<Attempt, LeaseError> {
        let current = self
            .api
            .get_opt(&self.opts.name)
            .await
            .map_err(|e| self.kube_error("reading", e))?;
        let now = Timestamp::now();
        let wanted = claimed(current.as_ref(), &self.opts, &self.identity, now);
        let written =
            match lease_decision(current.as_ref(), now, &self.identity, self.opts.duration) {
                Decision::Follow { holder } => return Ok(Attempt::Following(holder)),
                Decision::Create => self.api.create(&post_params(), &wanted).await,
                Decision::Take | Decision::Renew => {
                    self.api
                        .replace(&self.opts.name, &post_params(), &wanted)
                        .await
                }
            };
        match written {
            Ok(lease) => Ok(Attempt::Leading(Box::new(lease))),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Contended),
            Err(kube::Error::Api(s)) if s.code == 404 => {
                Err(LeaseError::NamespaceMissing(self.opts.namespace.clone()))
            }
            Err(e) => Err(self.kube_error("writing", e)),
        }
    }

    fn kube_error(&self, what: &'static str, source: kube::Error) -> LeaseError {
        LeaseError::Kube {
            what,
            lease: self.lease_name(),
            source,
        }
    }

    fn report_leader(&mut self, holder: Option<String>) {
        self.failure = None;
        let we_lead = holder.as_deref() == Some(self.identity.as_str());
        let now = (holder, we_lead);
        if self.reported.as_ref() == Some(&now) {
            return;
        }
        self.reported = Some(now.clone());
        let (holder, we_lead) = now;
        self.emit(Outcome::Leadership { holder, we_lead });
    }

    fn report_failure(&mut self, error: &LeaseError) {
        let reason = error.to_string();
        if self.failure.as_ref() == Some(&reason) {
            return;
        }
        self.failure = Some(reason.clone());
        self.emit(Outcome::Failed { reason });
    }

    fn emit(&self, outcome: Outcome) {
        self.ctx
            .emit(EngineEvent::new(Source::Leader, self.lease_name(), outcome));
    }
}

fn post_params() -> PostParams {
    PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn lease(holder: Option<&str>, renewed: Option<i64>, duration: Option<i32>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some("l".into()),
                namespace: Some("ns".into()),
                resource_version: Some("5".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(String::from),
                renew_time: renewed.map(|s| MicroTime(at(s))),
                lease_duration_seconds: duration,
                lease_transitions: Some(2),
                acquire_time: renewed.map(|s| MicroTime(at(s - 100))),
                ..Default::default()
            }),
        }
    }

    fn decide(l: Option<&Lease>, now: i64) -> Decision {
        lease_decision(l, at(now), "me", 15 * SECOND)
    }

    #[test]
    fn absent_lease_is_created() {
        assert_eq!(decide(None, 100), Decision::Create);
    }

    #[test]
    fn free_lease_is_taken() {
        assert_eq!(
            decide(Some(&lease(None, Some(100), Some(15))), 100),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&lease(Some(""), Some(100), Some(15))), 100),
            Decision::Take
        );
    }

    #[test]
    fn live_lease_of_another_is_followed() {
        let l = lease(Some("other"), Some(100), Some(15));
        assert_eq!(
            decide(Some(&l), 110),
            Decision::Follow {
                holder: "other".into()
            }
        );
        // renewTime + duration == now: not yet expired (strictly less than).
        assert_eq!(
            decide(Some(&l), 115),
            Decision::Follow {
                holder: "other".into()
            }
        );
    }

    #[test]
    fn expired_lease_is_taken() {
        assert_eq!(
            decide(Some(&lease(Some("other"), Some(100), Some(15))), 116),
            Decision::Take
        );
    }

    #[test]
    fn missing_duration_uses_the_default_and_missing_times_mean_expired() {
        let no_duration = lease(Some("other"), Some(100), None);
        assert_eq!(
            decide(Some(&no_duration), 114),
            Decision::Follow {
                holder: "other".into()
            }
        );
        assert_eq!(decide(Some(&no_duration), 116), Decision::Take);
        assert_eq!(
            decide(Some(&lease(Some("other"), None, Some(15))), 0),
            Decision::Take
        );
        let no_spec = Lease {
            spec: None,
            ..lease(None, None, None)
        };
        assert_eq!(decide(Some(&no_spec), 0), Decision::Take);
    }

    #[test]
    fn own_lease_is_renewed_even_when_expired() {
        assert_eq!(
            decide(Some(&lease(Some("me"), Some(100), Some(15))), 110),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&lease(Some("me"), Some(100), Some(15))), 999),
            Decision::Renew
        );
    }

    #[test]
    fn valid_holder_ignores_expired_and_released_leases() {
        let l = lease(Some("other"), Some(100), Some(15));
        assert_eq!(valid_holder(&l, at(110), 15 * SECOND), Some("other".into()));
        assert_eq!(valid_holder(&l, at(200), 15 * SECOND), None);
        let freed = released(&l, at(110));
        assert_eq!(valid_holder(&freed, at(110), 15 * SECOND), None);
    }

    fn opts() -> LeaseOptions {
        LeaseOptions {
            namespace: "ns".into(),
            name: "l".into(),
            identity: "me".into(),
            duration: 15 * SECOND,
            renew_every: 5 * SECOND,
        }
    }

    #[test]
    fn creating_claims_a_fresh_lease() {
        let l = claimed(None, &opts(), "me", at(50));
        assert_eq!(l.metadata.name.as_deref(), Some("l"));
        assert_eq!(l.metadata.namespace.as_deref(), Some("ns"));
        let spec = l.spec.unwrap_or_default();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(50))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(50))));
        assert_eq!(spec.lease_transitions, Some(0));
    }

    #[test]
    fn taking_over_counts_a_transition_and_keeps_the_resource_version() {
        let l = claimed(
            Some(&lease(Some("other"), Some(10), Some(15))),
            &opts(),
            "me",
            at(50),
        );
        assert_eq!(l.metadata.resource_version.as_deref(), Some("5"));
        let spec = l.spec.unwrap_or_default();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(50))));
        assert_eq!(spec.lease_transitions, Some(3));
    }

    #[test]
    fn renewing_keeps_acquire_time_and_transitions() {
        let l = claimed(
            Some(&lease(Some("me"), Some(40), Some(15))),
            &opts(),
            "me",
            at(50),
        );
        let spec = l.spec.unwrap_or_default();
        assert_eq!(spec.acquire_time, Some(MicroTime(at(-60))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(50))));
        assert_eq!(spec.lease_transitions, Some(2));
    }

    #[test]
    fn releasing_frees_the_lease_at_once() {
        let freed = released(&lease(Some("me"), Some(40), Some(15)), at(50));
        let spec = freed.spec.clone().unwrap_or_default();
        assert_eq!(spec.holder_identity, None);
        assert_eq!(spec.lease_duration_seconds, Some(1));
        assert_eq!(freed.metadata.resource_version.as_deref(), Some("5"));
        assert_eq!(
            lease_decision(Some(&freed), at(50), "other", 15 * SECOND),
            Decision::Take
        );
    }

    #[test]
    fn leader_steps_down_a_renew_period_before_expiry() {
        let (every, duration) = (5 * SECOND, 15 * SECOND);
        assert!(!must_step_down(Duration::ZERO, every, duration));
        assert!(!must_step_down(9 * SECOND, every, duration));
        assert!(must_step_down(10 * SECOND, every, duration));
        assert!(must_step_down(Duration::MAX, every, duration));
    }

    #[test]
    fn default_identities_differ_within_one_process() {
        let (a, b) = (default_identity(), default_identity());
        assert_ne!(a, b);
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
