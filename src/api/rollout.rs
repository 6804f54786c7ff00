//! edgedeck's own `rollouts.edgedeck.io/v1alpha1` Rollout: a staged change
//! of one EdgeApplication. Not a KubeEdge kind; KubeEdge readers never need
//! it, because what it does is always written into the EdgeApplication as
//! plain KubeEdge API (see `engine::rollout` for how).
//!
//! The operator's intent is `spec` (kubectl-editable: pause, abort, approve
//! a wave); the engine's progress is `status` (a subresource, written by
//! the engine only), so a rollout survives console exits, engine restarts
//! and leader changes.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::EdgeApplicationSpec;

/// The API group of edgedeck's own kinds.
pub const EDGEDECK_GROUP: &str = "edgedeck.io";
/// Soak time when a rollout names none.
pub const DEFAULT_SOAK_SECONDS: u32 = 30;
/// How long a wave may stay unhealthy before the rollout pauses.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: u32 = 600;

// kube-derive takes one `printcolumn` attribute per column.
#[allow(clippy::duplicated_attributes)]
/// A change to one EdgeApplication, rolled out wave by wave of target groups.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "edgedeck.io",
    version = "v1alpha1",
    kind = "Rollout",
    plural = "rollouts",
    shortname = "ro",
    namespaced,
    status = "RolloutStatus",
    printcolumn(name = "App", type_ = "string", json_path = ".spec.edgeApplication"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Wave", type_ = "integer", json_path = ".status.currentWave"),
    printcolumn(name = "Message", type_ = "string", json_path = ".status.message"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// The EdgeApplication (same namespace) this rollout changes.
    pub edge_application: String,
    /// The EdgeApplication spec wanted once every wave is through.
    pub target: EdgeApplicationSpec,
    /// Waves in order; groups no wave names join the last one. Empty: one
    /// wave of every group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<WaveSpec>,
    /// How long a wave must stay healthy before it counts as healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_seconds: Option<u32>,
    /// How long a wave may take to become healthy before the rollout pauses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<u32>,
    #[serde(default)]
    pub promotion: Promotion,
    /// Manual promotion: how many waves after the first the operator has
    /// approved (`edgedeck rollout promote` raises it by one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub approved_waves: u32,
    /// Operator pause: nothing is written while true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Return the application to exactly what it was before the rollout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort: bool,
    /// Bumped by `resume`: a pause the engine made (deadline, hand edit)
    /// lasts until this changes, whatever else of the spec does.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub resumes: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One wave: explicit groups, or a share of all groups (cumulative).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaveSpec {
    /// These target groups (NodeGroup names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// This many more groups (alphabetical among those not yet in a wave).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Up to this share of all groups, counting the earlier waves (1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Promotion {
    /// A healthy wave starts the next one.
    #[default]
    Auto,
    /// A healthy wave waits for `approvedWaves` to reach the next one.
    Manual,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    #[serde(default)]
    pub phase: RolloutPhase,
    /// Index of the wave being rolled out (or last rolled out).
    #[serde(default)]
    pub current_wave: u32,
    /// The groups of each wave, resolved when the rollout started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<Vec<String>>,
    /// The application's spec before the rollout: what abort writes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<EdgeApplicationSpec>,
    /// The target as it was when the rollout started (later edits of
    /// `spec.target` are refused with a message, not followed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<EdgeApplicationSpec>,
    /// The spec this rollout last wrote; anything else found is a hand edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<EdgeApplicationSpec>,
    /// When the current wave was written (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_started_at: Option<String>,
    /// Since when every group of the current wave has been healthy (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_since: Option<String>,
    /// `spec.resumes` when the engine paused the rollout: the pause lasts
    /// until `resume` bumps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at_resumes: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupRolloutStatus>,
    /// One line for `kubectl get`: what is happening or why it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RolloutPhase {
    /// Not started yet.
    #[default]
    Pending,
    /// A wave is written and being watched.
    Progressing,
    /// A wave is healthy; the next waits for the operator (manual promotion).
    WaitingForPromotion,
    /// Stopped by the operator or the engine; `message` and groups say why.
    Paused,
    /// Every wave is through: the application holds exactly `target`.
    Completed,
    /// The application is back to exactly `original`.
    Aborted,
    /// Could not start (the change cannot be expressed per group, a bad
    /// wave, no such application); nothing was written.
    Failed,
}

impl RolloutPhase {
    /// Whether the engine is done with the rollout.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Aborted | Self::Failed)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupRolloutStatus {
    pub name: String,
    pub wave: u32,
    pub state: GroupRolloutState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum GroupRolloutState {
    /// Still runs the original.
    #[default]
    Pending,
    /// Runs the change; not yet healthy.
    Progressing,
    /// Healthy, soak time not yet over.
    Soaking,
    /// Healthy for the soak time (or a completed earlier wave).
    Healthy,
    /// Unhealthy; `reason` says why.
    Failed,
}
