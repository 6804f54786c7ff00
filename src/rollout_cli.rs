//! `edgedeck rollout start|status|pause|resume|promote|abort|undo|history`:
//! the kubectl-style front of `rollouts.edgedeck.io`. Each command only reads
//! or patches the Rollout (the engine does the work), so the same can be done
//! with `kubectl edit rollout`. One Rollout per application, named like it.
//! `history` reads the application's ControllerRevisions (the engine records
//! them); `undo --to-revision N` writes the application itself unless asked
//! for waves.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ControllerRevision;
use kube::ResourceExt;
use kube::api::ListParams;

use crate::api::{EdgeApplication, Promotion, Rollout, RolloutSpec, WaveSpec};
use crate::engine::revision;

#[derive(Args, Debug)]
pub struct RolloutArgs {
    /// Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: its current context).
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// Namespace of the application.
    #[arg(short, long, default_value = "default", global = true)]
    pub namespace: String,
    #[command(subcommand)]
    pub command: RolloutCommand,
}

#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// Roll the change in FILE (the edited EdgeApplication) out to APP wave by wave.
    Start {
        app: String,
        /// The EdgeApplication as it should be once every wave is through (YAML or JSON).
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        /// One wave, in order: `chengdu,hangzhou` (groups), `1` (that many
        /// groups) or `25%` (up to that share of all). Groups no wave names
        /// join the last. Default: one wave of every group.
        #[arg(long = "wave", value_name = "WAVE")]
        waves: Vec<String>,
        /// Seconds a wave must stay healthy before it counts.
        #[arg(long, value_name = "SECONDS")]
        soak: Option<u32>,
        /// Seconds a wave may take to become healthy before the rollout pauses.
        #[arg(long, value_name = "SECONDS")]
        deadline: Option<u32>,
        /// Wait for `promote` after each healthy wave.
        #[arg(long)]
        manual: bool,
    },
    /// Show the rollout of APP: phase, wave, and each group.
    Status { app: String },
    /// Stop writing; the current wave stays as it is.
    Pause { app: String },
    /// Continue after a pause (the operator's or the engine's).
    Resume { app: String },
    /// Start the next wave of a manual rollout.
    Promote { app: String },
    /// Put APP back exactly as it was before the rollout.
    Abort { app: String },
    /// Roll APP back to its spec before the last rollout, itself in waves;
    /// or, with --to-revision, to that revision (directly unless --wave is given).
    Undo {
        app: String,
        /// The revision to return to (see `history`).
        #[arg(long = "to-revision", value_name = "N")]
        to_revision: Option<i64>,
        #[arg(long = "wave", value_name = "WAVE")]
        waves: Vec<String>,
        #[arg(long, value_name = "SECONDS")]
        soak: Option<u32>,
    },
    /// The revisions of APP (the last 10 applied specs); one with --revision,
    /// or the diff between two with --diff.
    History {
        app: String,
        /// Print the spec of this revision.
        #[arg(long, value_name = "N", conflicts_with = "diff")]
        revision: Option<i64>,
        /// A unified diff from revision A to revision B.
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        diff: Option<Vec<i64>>,
    },
}

/// Every `--wave`, in order.
fn parse_waves(waves: &[String]) -> Result<Vec<WaveSpec>, String> {
    waves.iter().map(|w| parse_wave(w)).collect()
}

/// Parses one `--wave` value.
pub fn parse_wave(text: &str) -> Result<WaveSpec, String> {
    let text = text.trim();
    if let Some(p) = text.strip_suffix('%') {
        let percent = p
            .trim()
            .parse()
            .map_err(|_| format!("--wave {text}: not a percentage"))?;
        return Ok(WaveSpec {
            percent: Some(percent),
            ..WaveSpec::default()
        });
    }
    if let Ok(count) = text.parse() {
        return Ok(WaveSpec {
            count: Some(count),
            ..WaveSpec::default()
        });
    }
    let groups: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    if groups.is_empty() {
        return Err(format!(
            "--wave {text:?}: name groups, a count or a percentage"
        ));
    }
    Ok(WaveSpec {
        groups,
        ..WaveSpec::default()
    })
}

/// The soak a rollout gets: `--soak`, else the config file's `soak_time`,
/// else the engine's default (left unset in the Rollout).
pub fn soak_seconds(flag: Option<u32>, config: Option<std::time::Duration>) -> Option<u32> {
    flag.or_else(|| config.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)))
}

/// `default_soak` is the config file's `soak_time`, read by the caller.
pub async fn run(
    args: RolloutArgs,
    default_soak: Option<std::time::Duration>,
) -> Result<(), String> {
    let client = crate::connect::client(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let rollouts: Api<Rollout> = Api::namespaced(client.clone(), &args.namespace);
    let apps: Api<EdgeApplication> = Api::namespaced(client.clone(), &args.namespace);
    let revisions: Api<ControllerRevision> = Api::namespaced(client, &args.namespace);
    let patch = |app: String, body: serde_json::Value| {
        let rollouts = rollouts.clone();
        async move {
            rollouts
                .patch(&app, &PatchParams::default(), &Patch::Merge(&body))
                .await
                .map_err(|e| format!("rollout {app}: {e}"))?;
            println!("rollout {app} patched");
            Ok::<(), String>(())
        }
    };
    match args.command {
        RolloutCommand::Start {
            app,
            file,
            waves,
            soak,
            deadline,
            manual,
        } => {
            let target = read_target(&file, &app)?;
            let spec = RolloutSpec {
                edge_application: app.clone(),
                target,
                waves: parse_waves(&waves)?,
                soak_seconds: soak_seconds(soak, default_soak),
                progress_deadline_seconds: deadline,
                promotion: if manual {
                    Promotion::Manual
                } else {
                    Promotion::Auto
                },
                ..RolloutSpec::default()
            };
            create(&rollouts, &apps, &app, spec).await
        }
        RolloutCommand::Status { app } => {
            let rollout = rollouts
                .get(&app)
                .await
                .map_err(|e| format!("rollout {app}: {e}"))?;
            print!("{}", describe(&rollout));
            Ok(())
        }
        RolloutCommand::Pause { app } => patch(app, json!({"spec": {"paused": true}})).await,
        RolloutCommand::Resume { app } => {
            let current = rollouts
                .get(&app)
                .await
                .map_err(|e| format!("rollout {app}: {e}"))?;
            let resumes = current.spec.resumes + 1;
            patch(app, json!({"spec": {"paused": false, "resumes": resumes}})).await
        }
        RolloutCommand::Promote { app } => {
            let current = rollouts
                .get(&app)
                .await
                .map_err(|e| format!("rollout {app}: {e}"))?;
            let wave = current.status.map_or(0, |s| s.current_wave);
            let approved = current.spec.approved_waves.max(wave + 1);
            patch(app, json!({"spec": {"approvedWaves": approved}})).await
        }
        RolloutCommand::Abort { app } => patch(app, json!({"spec": {"abort": true}})).await,
        RolloutCommand::History {
            app,
            revision: None,
            diff: None,
        } => {
            let (_, history) = history(&apps, &revisions, &app).await?;
            print!("{}", history_table(&history, Timestamp::now()));
            Ok(())
        }
        RolloutCommand::History {
            app,
            revision: Some(n),
            ..
        } => {
            let (_, history) = history(&apps, &revisions, &app).await?;
            let spec = revision::spec_of(find(&history, &app, n)?)?;
            print!("{}", revision::spec_yaml(&spec));
            Ok(())
        }
        RolloutCommand::History {
            app,
            diff: Some(pair),
            ..
        } => {
            let (_, history) = history(&apps, &revisions, &app).await?;
            let [a, b] = pair[..] else {
                return Err("--diff takes two revisions".into());
            };
            let old = revision::spec_of(find(&history, &app, a)?)?;
            let new = revision::spec_of(find(&history, &app, b)?)?;
            print!("{}", revision::diff((a, &old), (b, &new)));
            Ok(())
        }
        RolloutCommand::Undo {
            app,
            to_revision: Some(n),
            waves,
            soak,
        } => {
            let (current, history) = history(&apps, &revisions, &app).await?;
            let target = revision::spec_of(find(&history, &app, n)?)?;
            if !waves.is_empty() {
                let spec = RolloutSpec {
                    edge_application: app.clone(),
                    target,
                    waves: parse_waves(&waves)?,
                    soak_seconds: soak_seconds(soak, default_soak),
                    ..RolloutSpec::default()
                };
                return create(&rollouts, &apps, &app, spec).await;
            }
            if soak.is_some() {
                return Err("--soak applies to a staged undo: give --wave too".into());
            }
            undo_directly(&rollouts, &apps, current, target, n).await
        }
        RolloutCommand::Undo {
            app,
            to_revision: None,
            waves,
            soak,
        } => {
            let last = rollouts
                .get(&app)
                .await
                .map_err(|e| format!("rollout {app}: {e}"))?;
            let original = last
                .status
                .and_then(|s| s.original)
                .ok_or_else(|| format!("rollout {app} never started: nothing to undo"))?;
            let spec = RolloutSpec {
                edge_application: app.clone(),
                target: original,
                waves: parse_waves(&waves)?,
                soak_seconds: soak_seconds(soak, default_soak),
                ..RolloutSpec::default()
            };
            create(&rollouts, &apps, &app, spec).await
        }
    }
}

fn read_target(
    file: &std::path::Path,
    app: &str,
) -> Result<crate::api::EdgeApplicationSpec, String> {
    let path = file.display().to_string();
    let objects = crate::manifests::read_file(&path).map_err(|e| e.to_string())?;
    let [object] = objects.as_slice() else {
        return Err(format!(
            "{path}: expected one EdgeApplication, found {} objects",
            objects.len()
        ));
    };
    let edited: EdgeApplication = object.decode().map_err(|e| format!("{path}: {e}"))?;
    if edited.metadata.name.as_deref() != Some(app) {
        return Err(format!(
            "{path} is EdgeApplication {:?}, not {app}",
            edited.metadata.name.as_deref().unwrap_or_default()
        ));
    }
    Ok(edited.spec)
}

/// Creates the application's Rollout, replacing a finished one.
async fn create(
    rollouts: &Api<Rollout>,
    apps: &Api<EdgeApplication>,
    app: &str,
    spec: RolloutSpec,
) -> Result<(), String> {
    apps.get(app)
        .await
        .map_err(|e| format!("EdgeApplication {app}: {e}"))?;
    if let Some(existing) = rollouts.get_opt(app).await.map_err(|e| e.to_string())? {
        let running = existing
            .status
            .as_ref()
            .is_none_or(|s| !s.phase.is_terminal());
        if running {
            return Err(format!(
                "rollout {app} is still running: abort it or wait for it to finish"
            ));
        }
        rollouts
            .delete(app, &DeleteParams::default())
            .await
            .map_err(|e| format!("replacing the finished rollout {app}: {e}"))?;
    }
    rollouts
        .create(&PostParams::default(), &Rollout::new(app, spec))
        .await
        .map_err(|e| format!("creating rollout {app}: {e}"))?;
    println!("rollout {app} created");
    Ok(())
}

/// The application and its revisions, oldest first.
async fn history(
    apps: &Api<EdgeApplication>,
    revisions: &Api<ControllerRevision>,
    app: &str,
) -> Result<(EdgeApplication, Vec<ControllerRevision>), String> {
    let current = apps
        .get_opt(app)
        .await
        .map_err(|e| format!("EdgeApplication {app}: {e}"))?
        .ok_or_else(|| format!("no EdgeApplication {app} in this namespace"))?;
    let uid = current.uid().unwrap_or_default();
    let selector = format!("{}={app}", revision::APP_LABEL);
    let mut list = revisions
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| format!("revisions of {app}: {e}"))?
        .items;
    list.retain(|r| r.owner_references().iter().any(|o| o.uid == uid));
    list.sort_by_key(revision::number);
    Ok((current, list))
}

fn find<'a>(
    history: &'a [ControllerRevision],
    app: &str,
    n: i64,
) -> Result<&'a ControllerRevision, String> {
    history
        .iter()
        .find(|r| revision::number(r) == n)
        .ok_or_else(|| match (history.first(), history.last()) {
            (Some(first), Some(last)) => format!(
                "{app} has no revision {n} (it keeps {} to {})",
                revision::number(first),
                revision::number(last)
            ),
            _ => format!("{app} has no revisions yet (the engine records them)"),
        })
}

/// Writes `target` into the application on its resourceVersion, so an edit
/// made since it was read fails instead of being overwritten.
async fn undo_directly(
    rollouts: &Api<Rollout>,
    apps: &Api<EdgeApplication>,
    current: EdgeApplication,
    target: crate::api::EdgeApplicationSpec,
    n: i64,
) -> Result<(), String> {
    let app = current.name_any();
    if let Some(running) = rollouts.get_opt(&app).await.map_err(|e| e.to_string())?
        && running
            .status
            .as_ref()
            .is_none_or(|s| !s.phase.is_terminal())
    {
        return Err(format!("rollout {app} is running: abort it before an undo"));
    }
    if current.spec == target {
        println!("EdgeApplication {app} already runs revision {n}'s spec");
        return Ok(());
    }
    let params = PostParams {
        field_manager: Some(revision::UNDO_MANAGER.into()),
        ..PostParams::default()
    };
    let read_spec = current.spec.clone();
    let mut next = current;
    // The engine's status writes move the resourceVersion too: a conflict
    // is retried on the fresh object as long as nobody changed its spec.
    for _ in 0..5 {
        next.spec = target.clone();
        match apps.replace(&app, &params, &next).await {
            Ok(_) => {
                println!("EdgeApplication {app} rolled back to revision {n}");
                return Ok(());
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                next = apps
                    .get(&app)
                    .await
                    .map_err(|e| format!("reading EdgeApplication {app}: {e}"))?;
                if next.spec != read_spec {
                    return Err(format!(
                        "EdgeApplication {app} was edited during the undo: nothing written; run it again"
                    ));
                }
            }
            Err(e) => return Err(format!("writing EdgeApplication {app}: {e}")),
        }
    }
    Err(format!(
        "writing EdgeApplication {app}: still conflicting after 5 tries; nothing written"
    ))
}

/// What `history` prints: REVISION, CHANGE-CAUSE, AGE.
pub fn history_table(history: &[ControllerRevision], now: Timestamp) -> String {
    let mut out = format!("{:<10}{:<32}{}\n", "REVISION", "CHANGE-CAUSE", "AGE");
    for r in history {
        let cause = r
            .annotations()
            .get(revision::CAUSE_ANNOTATION)
            .map_or("<none>", String::as_str);
        let age = r
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or_else(|| "<unknown>".to_owned(), |t| age(t.0, now));
        let _ = writeln!(out, "{:<10}{:<32}{age}", revision::number(r), cause);
    }
    out
}

/// kubectl's short age: 45s, 12m, 3h, 5d.
fn age(at: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(at.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// What `status` prints.
pub fn describe(rollout: &Rollout) -> String {
    let mut out = String::new();
    let status = rollout.status.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "rollout {} of EdgeApplication {}: {:?}, wave {} of {}",
        rollout.metadata.name.as_deref().unwrap_or_default(),
        rollout.spec.edge_application,
        status.phase,
        status.current_wave + 1,
        status.waves.len().max(1)
    );
    if let Some(message) = &status.message {
        let _ = writeln!(out, "  {message}");
    }
    for group in &status.groups {
        let _ = writeln!(
            out,
            "  wave {:<2} {:<24} {:<12} {}",
            group.wave + 1,
            group.name,
            format!("{:?}", group.state),
            group.reason.as_deref().unwrap_or_default()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_config_files_soak_time() {
        let config = Some(std::time::Duration::from_secs(45));
        assert_eq!(soak_seconds(Some(5), config), Some(5));
        assert_eq!(soak_seconds(None, config), Some(45));
        assert_eq!(soak_seconds(None, None), None);
    }

    #[test]
    fn waves_parse_as_groups_counts_and_shares() {
        assert_eq!(parse_wave("1").unwrap().count, Some(1));
        assert_eq!(parse_wave("25%").unwrap().percent, Some(25));
        assert_eq!(
            parse_wave("chengdu, hangzhou").unwrap().groups,
            ["chengdu", "hangzhou"]
        );
        assert!(parse_wave("x%").unwrap_err().contains("not a percentage"));
        assert!(parse_wave(" , ").is_err());
    }

    #[test]
    fn the_history_table_shows_number_cause_and_age() {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let revision = |n: i64, cause: Option<&str>, at: &str| {
            let mut r = ControllerRevision {
                revision: n,
                ..ControllerRevision::default()
            };
            r.metadata.creation_timestamp = Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at.parse().unwrap()),
            );
            if let Some(c) = cause {
                r.metadata.annotations =
                    Some([(revision::CAUSE_ANNOTATION.to_owned(), c.to_owned())].into());
            }
            r
        };
        let table = history_table(
            &[
                revision(1, Some("kubectl-create"), "2025-12-29T12:00:00Z"),
                revision(2, None, "2026-01-01T11:00:00Z"),
                revision(3, Some("edgedeck-rollout"), "2026-01-01T11:59:30Z"),
            ],
            now,
        );
        let lines: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            lines,
            [
                vec!["REVISION", "CHANGE-CAUSE", "AGE"],
                vec!["1", "kubectl-create", "3d"],
                vec!["2", "<none>", "60m"],
                vec!["3", "edgedeck-rollout", "30s"],
            ]
        );
    }
}
