//! Leader election on a coordination.k8s.io/v1 Lease.
//! INTERFACE STUB — to be implemented.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio_util::sync::CancellationToken;

use super::Context;

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
pub async fn lead<F, Fut>(_ctx: Arc<Context>, _opts: LeaseOptions, _cancel: CancellationToken, _work: F)
where
    F: Fn(CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    todo!()
}

/// Who holds the lease now, if anyone holds an unexpired one.
pub async fn current_holder(_client: &Client, _opts: &LeaseOptions) -> Result<Option<String>, kube::Error> {
    todo!()
}
