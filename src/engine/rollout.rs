//! Staged rollouts: a change to an EdgeApplication reaches its target
//! groups wave by wave, each wave promoted only when healthy. Pure: the
//! controller reads the Rollout, the application and what runs, calls
//! [`step`], and writes what comes back.
//!
//! **How a rollout looks in the KubeEdge API.** Between waves the
//! EdgeApplication is always a plain, valid KubeEdge object, and what any
//! KubeEdge reader renders from it is exactly what runs:
//! - The template keeps the *old* value until the last wave. Each promoted
//!   group gets the change as per-group overriders (the template change as
//!   overriders — [`delta::template_delta`] — followed by the group's own
//!   overriders from the target). Groups not yet promoted keep their entry
//!   exactly as it was, so most of the object is untouched during the early
//!   waves and abort only has promoted entries to give back.
//! - The last wave writes the target spec itself: the template is folded
//!   and the temporary overriders go. Every group then already runs the new
//!   value, so the fold renders the same objects (no second rollout).
//! - Why not the reverse (new template, unpromoted groups pinned to the old
//!   value)? It rewrites every group's entry at wave one, so a reader of the
//!   template sees a value most regions do not run, and a bad change is one
//!   forgotten pin away from reaching every region at once.
//!
//! Overriders only reach replicas and, per container, image, env, command,
//! args and resources. A change outside that set (a label, a volume, an
//! init container, a Service or ConfigMap of the template) has no per-group
//! form: the rollout is refused before anything is written (`Failed`, with
//! the path that differs). Every per-group form is also checked by
//! rendering it and comparing it with a direct edit, so a rollout never
//! runs an approximation. A group added by the change joins in its wave; a
//! group the change removes, and `targetNodeLabels` entries, change at the
//! fold.
//!
//! **Where the state lives.** A `rollouts.edgedeck.io/v1alpha1` Rollout
//! (`crate::api::RolloutSpec`): the operator's intent in `spec`, the
//! engine's progress in the `status` subresource — the original spec (what
//! abort writes back), the target as started, the spec last written (any
//! other spec found on the application is a hand edit), the current wave
//! and its timestamps. It survives console exits and engine restarts, and
//! kubectl shows and changes it.
//!
//! **Rules, in the order they bite:** terminal phases do nothing; abort
//! writes the original back; a pause the engine made lasts until `resume`; a hand edit of the application pauses (nothing is overwritten
//! until the operator resumes or aborts); an operator pause writes nothing;
//! otherwise the current wave is written, judged ([`health::group_health`])
//! and soaked, then promoted (auto, or once approved), or paused with
//! per-group reasons once its deadline passes.

pub mod delta;
pub mod health;

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::api::{
    DEFAULT_PROGRESS_DEADLINE_SECONDS, DEFAULT_SOAK_SECONDS, EdgeApplication, EdgeApplicationSpec,
    GroupRolloutState, GroupRolloutStatus, Promotion, Rollout, RolloutPhase, RolloutStatus,
    TargetNodeGroup, WaveSpec,
};
use crate::engine::render::{Rendered, render};
pub use health::Cluster;

/// What the controller should do after one look.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The application spec to write (conflict-safe, on the application's
    /// resourceVersion), if it must change.
    pub write: Option<EdgeApplicationSpec>,
    pub status: RolloutStatus,
    /// Look again after this many seconds (`None`: only on a change).
    pub requeue_after: Option<u64>,
}

/// The groups of each wave: explicit lists first-come, `count` and `percent`
/// waves take the alphabetically first groups not yet placed, and groups no
/// wave reaches join the last wave. Groups are the target's and the
/// original's `targetNodeGroups`.
pub fn resolve_waves(
    original: &EdgeApplicationSpec,
    target: &EdgeApplicationSpec,
    waves: &[WaveSpec],
) -> Result<Vec<Vec<String>>, String> {
    let all: BTreeSet<String> = group_names(target)
        .chain(group_names(original))
        .map(str::to_owned)
        .collect();
    if all.is_empty() {
        return Err("the application has no target node group to roll out to".into());
    }
    let mut placed = BTreeSet::new();
    let mut out: Vec<Vec<String>> = Vec::new();
    for (i, wave) in waves.iter().enumerate() {
        let kinds = usize::from(!wave.groups.is_empty())
            + usize::from(wave.count.is_some())
            + usize::from(wave.percent.is_some());
        if kinds != 1 {
            return Err(format!(
                "wave {i} must give exactly one of groups, count or percent"
            ));
        }
        let mut groups = Vec::new();
        for g in &wave.groups {
            if !all.contains(g) {
                return Err(format!(
                    "wave {i} names group {g:?}, which the application does not target"
                ));
            }
            if !placed.insert(g.clone()) {
                return Err(format!("group {g:?} is in more than one wave"));
            }
            groups.push(g.clone());
        }
        let more = match (wave.count, wave.percent) {
            (Some(0), _) => return Err(format!("wave {i}: count must be at least 1")),
            (Some(n), _) => n as usize,
            (_, Some(p)) if p == 0 || p > 100 => {
                return Err(format!("wave {i}: percent must be 1 to 100, not {p}"));
            }
            // Cumulative share, rounded up, and at least one more group:
            // "1, then 25 %, then all" must not stall on a small fleet.
            (_, Some(p)) => (all.len() * p as usize)
                .div_ceil(100)
                .saturating_sub(placed.len())
                .max(1),
            _ => 0,
        };
        let fresh: Vec<String> = all
            .iter()
            .filter(|g| !placed.contains(*g))
            .take(more)
            .cloned()
            .collect();
        placed.extend(fresh.iter().cloned());
        groups.extend(fresh);
        if !groups.is_empty() {
            out.push(groups);
        }
    }
    let rest: Vec<String> = all
        .iter()
        .filter(|g| !placed.contains(*g))
        .cloned()
        .collect();
    match out.last_mut() {
        Some(last) => last.extend(rest),
        None => out.push(rest),
    }
    Ok(out)
}

fn group_names(spec: &EdgeApplicationSpec) -> impl Iterator<Item = &str> {
    spec.workload_scope
        .target_node_groups
        .iter()
        .map(|g| g.name.as_str())
}

/// The application spec while `promoted` groups run the change and the
/// others the original; with every wave through (`fold`), the target itself.
pub fn wave_spec(
    original: &EdgeApplicationSpec,
    target: &EdgeApplicationSpec,
    promoted: &BTreeSet<String>,
    fold: bool,
) -> Result<EdgeApplicationSpec, String> {
    if fold {
        return Ok(target.clone());
    }
    let delta = delta::template_delta(
        &original.workload_template.manifests,
        &target.workload_template.manifests,
    )?;
    let changed = |name: &str| -> Option<TargetNodeGroup> {
        let own = target
            .workload_scope
            .target_node_groups
            .iter()
            .find(|t| t.name == name)?;
        Some(TargetNodeGroup {
            name: name.to_owned(),
            overriders: delta::compose(&delta, &own.overriders),
        })
    };
    let mut spec = original.clone();
    for entry in &mut spec.workload_scope.target_node_groups {
        if promoted.contains(&entry.name)
            && let Some(new) = changed(&entry.name)
        {
            *entry = new;
        }
    }
    for name in group_names(target) {
        let present = group_names(original).any(|n| n == name);
        if !present
            && promoted.contains(name)
            && let Some(new) = changed(name)
        {
            spec.workload_scope.target_node_groups.push(new);
        }
    }
    Ok(spec)
}

/// Checks that the per-group form renders, for every group, exactly what a
/// direct edit would: `Err` names the first group and field that differ.
pub fn check_expressible(
    app: &EdgeApplication,
    original: &EdgeApplicationSpec,
    target: &EdgeApplicationSpec,
    groups: &BTreeSet<String>,
) -> Result<(), String> {
    let staged = wave_spec(original, target, groups, false)?;
    let staged = render(&with_spec(app, staged));
    let direct = render(&with_spec(app, target.clone()));
    for group in group_names(target) {
        let pick = |r: &Rendered| {
            let objects: Vec<_> = r
                .objects
                .iter()
                .filter(|o| o.target.as_deref() == Some(group))
                .map(|o| o.object.clone())
                .collect();
            let errors: Vec<_> = r
                .errors
                .iter()
                .filter(|e| e.target.as_deref() == Some(group))
                .map(|e| e.error.to_string())
                .collect();
            (objects, errors)
        };
        let (a, b) = (pick(&staged), pick(&direct));
        if a.1 != b.1 {
            return Err(format!(
                "group {group}: as per-group overriders the change renders with errors \
                 a direct edit would not have: {}",
                a.1.join("; ")
            ));
        }
        let a = serde_json::Value::Array(a.0);
        let b = serde_json::Value::Array(b.0);
        if let Some(path) = delta::first_difference(&a, &b, "") {
            return Err(format!(
                "group {group}: KubeEdge overriders cannot reproduce this change exactly \
                 (the rendered objects differ at {path})"
            ));
        }
    }
    Ok(())
}

/// `app` with another spec (metadata kept, so renders compare equal).
pub fn with_spec(app: &EdgeApplication, spec: EdgeApplicationSpec) -> EdgeApplication {
    EdgeApplication {
        metadata: app.metadata.clone(),
        spec,
        status: app.status.clone(),
    }
}

/// One look at a rollout: what to write, the new status, when to look again.
pub fn step(rollout: &Rollout, cluster: &Cluster, now: Timestamp) -> Step {
    let generation = rollout.metadata.generation.unwrap_or_default();
    let mut status = rollout.status.clone().unwrap_or_default();
    status.observed_generation = Some(generation);
    let done = |status: RolloutStatus| Step {
        write: None,
        status,
        requeue_after: None,
    };
    if status.phase.is_terminal() {
        return done(status);
    }
    let spec = &rollout.spec;
    let live = &cluster.app.spec;
    let (original, target) = match (&status.original, &status.target) {
        (Some(o), Some(t)) => (o.clone(), t.clone()),
        _ => match start(rollout, cluster.app) {
            Ok(waves) => {
                status.original = Some(live.clone());
                status.target = Some(spec.target.clone());
                status.waves = waves;
                status.current_wave = 0;
                (live.clone(), spec.target.clone())
            }
            Err(reason) => {
                status.phase = RolloutPhase::Failed;
                status.message = Some(reason);
                return done(status);
            }
        },
    };
    if spec.abort {
        status.phase = RolloutPhase::Aborted;
        status.message =
            Some("aborted: the application is back to its spec before the rollout".into());
        status.last_applied = Some(original.clone());
        status.groups.iter_mut().for_each(|g| {
            g.state = GroupRolloutState::Pending;
            g.reason = None;
        });
        return Step {
            write: (*live != original).then_some(original),
            status,
            requeue_after: None,
        };
    }
    match status.paused_at_resumes {
        Some(r) if r == spec.resumes => return done(status),
        Some(_) => {
            // Resumed: the wave starts over, and is written again even if
            // a hand edit was what paused it (the operator chose to).
            status.paused_at_resumes = None;
            status.last_applied = None;
            status.healthy_since = None;
        }
        None => {}
    }
    let wave = status.current_wave as usize;
    let last_wave = wave + 1 >= status.waves.len();
    let promoted: BTreeSet<String> = status
        .waves
        .iter()
        .take(wave + 1)
        .flatten()
        .cloned()
        .collect();
    let desired = match wave_spec(&original, &target, &promoted, last_wave) {
        Ok(d) => d,
        Err(reason) => return pause(status, spec.resumes, reason),
    };
    // The wave's spec equal to the live one is the rollout's own write
    // whose status did not land (an engine stopped between the two): no
    // hand edit.
    if let Some(last) = &status.last_applied
        && last != live
        && *live != desired
    {
        let path = delta::first_difference(
            &serde_json::to_value(live).unwrap_or_default(),
            &serde_json::to_value(last).unwrap_or_default(),
            "",
        )
        .unwrap_or_default();
        let wave = status.current_wave;
        return pause(
            status,
            spec.resumes,
            format!(
                "EdgeApplication {} was edited during the rollout (spec{path} differs from \
                 what the rollout wrote): nothing is overwritten; `resume` re-applies wave {wave}, \
                 `abort` restores the spec from before the rollout",
                cluster.app.metadata.name.as_deref().unwrap_or_default(),
            ),
        );
    }
    if spec.paused {
        status.phase = RolloutPhase::Paused;
        status.message = Some("paused by the operator".into());
        return done(status);
    }
    if status.last_applied.as_ref() != Some(&desired) {
        let write = (*live != desired).then(|| desired.clone());
        status.last_applied = Some(desired);
        status.wave_started_at = Some(now.to_string());
        status.healthy_since = None;
        status.phase = RolloutPhase::Progressing;
        status.message = Some(format!("wave {wave} written"));
        set_groups(&mut status, wave, |_| {
            (GroupRolloutState::Progressing, None)
        });
        return Step {
            write,
            status,
            requeue_after: Some(1),
        };
    }
    judge(rollout, cluster, status, now)
}

fn start(rollout: &Rollout, app: &EdgeApplication) -> Result<Vec<Vec<String>>, String> {
    let spec = &rollout.spec;
    let waves = resolve_waves(&app.spec, &spec.target, &spec.waves)?;
    let everyone: BTreeSet<String> = waves.iter().flatten().cloned().collect();
    check_expressible(app, &app.spec, &spec.target, &everyone)?;
    Ok(waves)
}

fn pause(mut status: RolloutStatus, resumes: u32, reason: String) -> Step {
    status.phase = RolloutPhase::Paused;
    status.paused_at_resumes = Some(resumes);
    status.message = Some(reason);
    Step {
        write: None,
        status,
        requeue_after: None,
    }
}

/// Health, soak, promotion and the deadline of the current wave.
fn judge(rollout: &Rollout, cluster: &Cluster, mut status: RolloutStatus, now: Timestamp) -> Step {
    let spec = &rollout.spec;
    let done = |status| Step {
        write: None,
        status,
        requeue_after: None,
    };
    let wave = status.current_wave as usize;
    let rendered = render(cluster.app);
    let verdicts: Vec<(String, Result<(), String>)> = status.waves[wave]
        .iter()
        .map(|g| (g.clone(), health::group_health(cluster, &rendered, g)))
        .collect();
    let soak = i64::from(spec.soak_seconds.unwrap_or(DEFAULT_SOAK_SECONDS));
    let deadline = i64::from(
        spec.progress_deadline_seconds
            .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS),
    );
    let since = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map_or(0, |t| now.as_second() - t.as_second())
    };
    if verdicts.iter().all(|(_, v)| v.is_ok()) {
        if status.healthy_since.is_none() {
            status.healthy_since = Some(now.to_string());
        }
        let soaked = since(&status.healthy_since);
        if soaked < soak {
            let left = soak - soaked;
            // The end of the soak, not the seconds left: a status that
            // changed with every look would be a write every look.
            let until = status
                .healthy_since
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .unwrap_or(now)
                .checked_add(jiff::SignedDuration::from_secs(soak))
                .map_or_else(
                    |_| format!("{left}s from now"),
                    |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                );
            set_groups(&mut status, wave, |_| {
                (
                    GroupRolloutState::Soaking,
                    Some(format!("healthy; soaking until {until}")),
                )
            });
            status.phase = RolloutPhase::Progressing;
            status.message = Some(format!("wave {wave} soaking until {until}"));
            return requeue(status, left.max(1) as u64);
        }
        set_groups(&mut status, wave, |_| (GroupRolloutState::Healthy, None));
        if wave + 1 >= status.waves.len() {
            status.phase = RolloutPhase::Completed;
            status.message = Some("every wave is healthy: the application holds the target".into());
            return done(status);
        }
        if spec.promotion == Promotion::Manual && (spec.approved_waves as usize) < wave + 1 {
            status.phase = RolloutPhase::WaitingForPromotion;
            status.message = Some(format!(
                "wave {wave} is healthy; `edgedeck rollout promote` starts wave {}",
                wave + 1
            ));
            return done(status);
        }
        status.current_wave += 1;
        status.healthy_since = None;
        status.message = Some(format!("wave {wave} healthy; promoting"));
        return requeue(status, 0);
    }
    status.healthy_since = None;
    let failed = |g: &str| {
        verdicts
            .iter()
            .find(|(n, _)| n == g)
            .and_then(|(_, v)| v.clone().err())
    };
    let overdue = since(&status.wave_started_at) >= deadline;
    set_groups(&mut status, wave, |g| match failed(g) {
        Some(reason) if overdue => (GroupRolloutState::Failed, Some(reason)),
        Some(reason) => (GroupRolloutState::Progressing, Some(reason)),
        None => (GroupRolloutState::Healthy, None),
    });
    if overdue {
        let reasons: Vec<String> = verdicts
            .iter()
            .filter_map(|(g, v)| v.as_ref().err().map(|r| format!("{g}: {r}")))
            .collect();
        return pause(
            status,
            spec.resumes,
            format!(
                "wave {wave} not healthy after {deadline}s: {}",
                reasons.join("; ")
            ),
        );
    }
    status.phase = RolloutPhase::Progressing;
    status.message = Some(format!("wave {wave} progressing"));
    requeue(status, 2)
}

fn requeue(status: RolloutStatus, seconds: u64) -> Step {
    Step {
        write: None,
        status,
        requeue_after: Some(seconds),
    }
}

/// Rewrites `status.groups`: earlier waves Healthy, `wave` as `current`
/// says, later waves Pending.
fn set_groups(
    status: &mut RolloutStatus,
    wave: usize,
    current: impl Fn(&str) -> (GroupRolloutState, Option<String>),
) {
    status.groups = status
        .waves
        .iter()
        .enumerate()
        .flat_map(|(i, groups)| groups.iter().map(move |g| (i, g)))
        .map(|(i, g)| {
            let (state, reason) = match i.cmp(&wave) {
                std::cmp::Ordering::Less => (GroupRolloutState::Healthy, None),
                std::cmp::Ordering::Equal => current(g),
                std::cmp::Ordering::Greater => (GroupRolloutState::Pending, None),
            };
            GroupRolloutStatus {
                name: g.clone(),
                wave: i as u32,
                state,
                reason,
            }
        })
        .collect();
}

#[cfg(test)]
mod tests;
