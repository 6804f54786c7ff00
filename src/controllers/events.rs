//! What the engine tells its embedder (the console, or the headless log).

use std::fmt;
use std::time::SystemTime;

/// Which part of the engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    NodeGroup,
    EdgeApplication,
    Rollout,
    Leader,
    Engine,
}

impl Source {
    /// The controller this source is, for its metrics.
    pub fn controller(self) -> Option<crate::telemetry::Controller> {
        use crate::telemetry::Controller;
        match self {
            Source::NodeGroup => Some(Controller::NodeGroup),
            Source::EdgeApplication => Some(Controller::EdgeApplication),
            // Not yet among the metered controllers (`telemetry::Controller`).
            Source::Rollout | Source::Leader | Source::Engine => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::NodeGroup => "nodegroup",
            Source::EdgeApplication => "edgeapplication",
            Source::Rollout => "rollout",
            Source::Leader => "leader",
            Source::Engine => "engine",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A reconcile finished; `changes` says what was written (empty: nothing needed).
    Reconciled { changes: Vec<String> },
    /// A reconcile failed and will be retried.
    Failed { reason: String },
    /// Leadership changed hands; `holder` is who leads now (None: nobody).
    Leadership {
        holder: Option<String>,
        we_lead: bool,
    },
    /// Started or stopped.
    Lifecycle { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineEvent {
    pub at: SystemTime,
    pub source: Source,
    /// `namespace/name` or `name` of the object concerned; empty for engine-wide events.
    pub object: String,
    pub outcome: Outcome,
    /// How many identical events directly before this one it stands for
    /// (the console collapses repeats; `at` is the latest).
    pub repeats: u32,
}

impl EngineEvent {
    /// Whether `other` says the same thing of the same object (time aside).
    pub fn repeats(&self, other: &EngineEvent) -> bool {
        self.source == other.source && self.object == other.object && self.outcome == other.outcome
    }

    pub fn new(source: Source, object: impl Into<String>, outcome: Outcome) -> Self {
        EngineEvent {
            at: SystemTime::now(),
            source,
            object: object.into(),
            outcome,
            repeats: 0,
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, Outcome::Failed { .. })
    }
}

impl fmt::Display for EngineEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.source, self.object)?;
        match &self.outcome {
            Outcome::Reconciled { changes } if changes.is_empty() => f.write_str("in sync"),
            Outcome::Reconciled { changes } => write!(f, "{}", changes.join("; ")),
            Outcome::Failed { reason } => write!(f, "failed: {reason}"),
            Outcome::Leadership {
                holder: Some(h),
                we_lead,
            } => {
                write!(
                    f,
                    "leader is {h}{}",
                    if *we_lead { " (this engine)" } else { "" }
                )
            }
            Outcome::Leadership { holder: None, .. } => f.write_str("no leader"),
            Outcome::Lifecycle { message } => f.write_str(message),
        }?;
        if self.repeats > 0 {
            write!(f, " (×{})", self.repeats + 1)?;
        }
        Ok(())
    }
}
