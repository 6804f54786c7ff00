//! Streams a pod's log through `pods/log` (kube's `Api::log_stream`) and
//! reports it to the App as [`LogChunk`]s on the results channel: lines
//! in batches of whatever has arrived (one redraw per batch, not per line),
//! then the end or the API server's error in its own words. One stream at
//! a time: a new request, or closing the view, aborts the one running.

use futures::{AsyncBufReadExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, LogParams};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::stores::short_error;
use crate::console::action::WriteOutcome;
use crate::console::logs::{LogChunk, LogRequest};

/// Lines sent at most in one chunk.
const BATCH: usize = 512;

pub fn params(request: &LogRequest) -> LogParams {
    LogParams {
        container: Some(request.target.container.clone()),
        follow: request.follow,
        previous: request.previous,
        tail_lines: request.tail,
        ..LogParams::default()
    }
}

/// Runs one request until its log ends, it fails, or the handle is aborted.
pub fn spawn(
    client: Client,
    request: LogRequest,
    results: mpsc::UnboundedSender<WriteOutcome>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let id = request.id;
        let send = |chunk| {
            let _ = results.send(WriteOutcome::Log(chunk));
        };
        let api: Api<Pod> = Api::namespaced(client, &request.target.namespace);
        let reader = match api.log_stream(&request.target.pod, &params(&request)).await {
            Ok(r) => r,
            Err(e) => {
                send(LogChunk::Failed {
                    id,
                    error: short_error(&e),
                });
                return;
            }
        };
        let mut batches = std::pin::pin!(reader.lines().ready_chunks(BATCH));
        while let Some(batch) = batches.next().await {
            let mut lines = Vec::with_capacity(batch.len());
            let mut failed = None;
            for line in batch {
                match line {
                    Ok(l) => lines.push(l),
                    Err(e) => failed = Some(e.to_string()),
                }
            }
            if !lines.is_empty() {
                send(LogChunk::Lines { id, lines });
            }
            if let Some(error) = failed {
                send(LogChunk::Failed { id, error });
                return;
            }
        }
        send(LogChunk::Ended { id });
    })
}
