//! EdgeApplication controller.
//! INTERFACE STUB — to be implemented.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Context;

/// Runs until `cancel` fires.
pub async fn run(_ctx: Arc<Context>, _cancel: CancellationToken) {
    todo!()
}
