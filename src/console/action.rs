//! The one [`Action`] enum every input and store change becomes, and the
//! [`Effect`]s the App asks its I/O layer to perform.

use std::sync::Arc;
use std::time::SystemTime;

use crossterm::event::{KeyEvent, MouseEvent};
use serde_json::Value;

use super::logs::{LogChunk, LogRequest};
use super::model::Fleet;
use crate::api::EdgeApplication;
use crate::engine::ObjectKey;

/// Top-level views reachable from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKind {
    Regions,
    Apps,
    Matrix,
    Traffic,
    Engine,
    Nodes,
    Pods,
    Events,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// A key press; resolved through the keymap or the focused editor.
    Key(KeyEvent),
    /// Wall-clock tick (relative ages); redraws only when an age shown changed.
    Tick(SystemTime),
    /// A new snapshot of the stores.
    FleetUpdated(Arc<Fleet>),
    /// Outcome of an [`Effect`] that writes.
    WriteResult(WriteOutcome),
    /// A mouse event (only with mouse capture on), and when it came, to
    /// tell a double-click.
    Mouse {
        event: MouseEvent,
        at: SystemTime,
    },
    /// The `$EDITOR` of [`Effect::EditExternally`] returned: the file's text,
    /// or why there is none (the editor failed to start or exited non-zero).
    ExternalEdited(Result<String, String>),

    Quit,
    Back,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    StartFilter,
    /// Text views: the next / previous line matching the `/` search.
    NextMatch,
    PrevMatch,
    StartCommand,
    Help,
    Yaml,
    Describe,
    SortNext,
    SortReverse,
    Edit,
    EditYaml,
    ScaleUp,
    ScaleDown,
    AddTarget,
    RemoveTarget,
    NewGroup,
    /// Embedded fleet simulator: take the selected node offline, or back online.
    ToggleOffline,
    /// Embedded fleet simulator: take every node of the selected region offline, or back online.
    ToggleRegionOffline,
    /// `ctrl-d`: delete the selected EdgeApplication or NodeGroup, after a confirmation.
    Delete,
    /// `space`: mark the selected matrix cell or target row for a bulk edit (or unmark it).
    ToggleMark,
    Goto(ViewKind),
    SetTheme(String),
    SetContext(Option<String>),
    SetNamespace(Option<String>),
    /// `p`: the pods of the selected group, node or generated workload.
    Pods,
    /// `l`: the selected pod's log (a generated workload: pick one of its pods).
    Logs,
    /// Logs view: follow on/off, previous container on/off, next container,
    /// next tail length, wrap on/off.
    LogFollow,
    LogPrevious,
    LogContainer,
    LogTail,
    LogWrap,
}

/// What the I/O layer reports back about a write.
#[derive(Debug, Clone)]
pub enum WriteOutcome {
    /// Done; `what` says what happened in the executor's words ("saved X",
    /// "deleted X", "X was already gone"), shown as it is.
    Ok {
        what: String,
        /// The application as the server answered the write, when one was
        /// written: the base of the next queued edit of it.
        written: Option<Box<EdgeApplication>>,
    },
    /// 409: the object changed since it was read; `current` is what the server holds now.
    Conflict {
        current: Box<EdgeApplication>,
    },
    Failed {
        error: String,
    },
    /// Something that is not an object write succeeded (simulator controls).
    Done {
        message: String,
    },
    /// Something that is not an object write failed (context switch, kubeconfig).
    Error {
        message: String,
    },
    /// Lines (or the end) of the log stream the Logs view asked for.
    Log(LogChunk),
}

/// I/O the App wants done. The App never performs I/O itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// JSON merge patch of one object. `patch` carries
    /// `metadata.resourceVersion`, so the API server answers 409 if the object
    /// changed since it was read.
    Patch {
        key: ObjectKey,
        patch: Value,
        resource_version: String,
    },
    /// Full replace (PUT) with a resourceVersion precondition.
    Replace {
        object: Value,
        resource_version: String,
    },
    /// Create a new object.
    Create {
        object: Value,
    },
    /// Switch kube context (None: list/keep current).
    SwitchContext(String),
    /// Restrict namespaced views (None: all namespaces).
    SwitchNamespace(Option<String>),
    /// Delete one object, only if it is still the version the operator saw.
    Delete {
        key: ObjectKey,
        resource_version: String,
    },
    /// Stream a pod's log (`pods/log`); replaces the stream running.
    StreamLogs(LogRequest),
    /// The Logs view closed: stop the stream.
    StopLogs,
    /// Embedded fleet simulator: take `nodes` offline (or back online).
    SetOffline {
        nodes: Vec<String>,
        offline: bool,
    },
    /// Suspend the TUI, open `text` in `editor` (`$KUBE_EDITOR`/`$EDITOR`,
    /// run by `sh -c` as kubectl does), and answer with
    /// [`Action::ExternalEdited`]. Writes nothing itself.
    EditExternally {
        editor: String,
        text: String,
    },
    Quit,
}

impl Effect {
    /// Changes the cluster (or the simulated fleet): refused with --readonly.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Effect::Patch { .. }
                | Effect::Replace { .. }
                | Effect::Create { .. }
                | Effect::Delete { .. }
                | Effect::SetOffline { .. }
        )
    }
}
