//! What the console needs from the embedded fleet simulator: taking nodes
//! offline and back. Implemented by the embedded cluster once its simulator
//! driver offers it; `None` everywhere else (real clusters).

use std::collections::BTreeSet;

pub trait FleetControls: Send + Sync {
    /// Takes `nodes` offline (`true`) or brings them back online (`false`).
    fn set_offline(&self, nodes: &[String], offline: bool) -> Result<(), String>;
    /// The nodes offline now.
    fn offline(&self) -> BTreeSet<String>;
}
