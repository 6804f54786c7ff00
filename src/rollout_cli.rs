//! `edgedeck rollout start|status|pause|resume|promote|abort|undo`: the
//! kubectl-style front of `rollouts.edgedeck.io`. Each command only reads or
//! patches the Rollout (the engine does the work), so the same can be done
//! with `kubectl edit rollout`. One Rollout per application, named like it.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::api::{EdgeApplication, Promotion, Rollout, RolloutSpec, WaveSpec};

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
    /// Roll APP back to its spec before the last rollout, itself in waves.
    Undo {
        app: String,
        #[arg(long = "wave", value_name = "WAVE")]
        waves: Vec<String>,
        #[arg(long, value_name = "SECONDS")]
        soak: Option<u32>,
    },
}

/// Parses `--wave` values.
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

pub async fn run(args: RolloutArgs) -> Result<(), String> {
    let client = crate::connect::client(args.kubeconfig.as_deref(), args.context.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let rollouts: Api<Rollout> = Api::namespaced(client.clone(), &args.namespace);
    let apps: Api<EdgeApplication> = Api::namespaced(client, &args.namespace);
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
                waves: waves
                    .iter()
                    .map(|w| parse_wave(w))
                    .collect::<Result<_, _>>()?,
                soak_seconds: soak,
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
        RolloutCommand::Undo { app, waves, soak } => {
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
                waves: waves
                    .iter()
                    .map(|w| parse_wave(w))
                    .collect::<Result<_, _>>()?,
                soak_seconds: soak,
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
}
