//! Waiting on the console's published fleet snapshots.

use std::sync::Arc;

use edgedeck::console::model::Fleet;
use tokio::sync::watch;

use super::PATIENCE;

/// The first value `pick` finds in a published fleet, or a panic naming
/// `what` and the state of the last fleet seen.
pub async fn fleet_where<T>(
    rx: &mut watch::Receiver<Arc<Fleet>>,
    what: &str,
    pick: impl Fn(&Arc<Fleet>) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let fleet = rx.borrow_and_update().clone();
        if let Some(found) = pick(&fleet) {
            return found;
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => panic!("fleet channel closed waiting for: {what}"),
            Err(_) => panic!(
                "timed out waiting for: {what}; last fleet: connection {:?}, {} nodes",
                fleet.connection,
                fleet.nodes.len()
            ),
        }
    }
}

/// The first published fleet for which `ok` holds.
pub async fn fleet_matching(
    rx: &mut watch::Receiver<Arc<Fleet>>,
    what: &str,
    ok: impl Fn(&Fleet) -> bool,
) -> Arc<Fleet> {
    fleet_where(rx, what, |fleet| ok(fleet).then(|| Arc::clone(fleet))).await
}
