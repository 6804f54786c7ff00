//! Every request the engine sends ends, one way or the other.
//!
//! After an API server restart the engine's open connections can go
//! silent instead of closing: the server (or a load balancer in front of
//! it) lost them, and a connection on which the client only listens never
//! sends the packet that would be reset. A watch on such a connection
//! delivers nothing, forever, without an error: the controller's cache
//! goes stale and no edit reaches the cluster, while every health signal
//! says all is well (nothing is queued, nothing fails). A request waiting
//! for its answer on one hangs the reconcile that sent it. kube's own read
//! timeout (295 s between two reads) bounds both, but only after minutes.
//!
//! So the engine's client gives every request a deadline of its own:
//!
//! - a watch asks the server to end it after `timeoutSeconds` (see
//!   [`watch_config`]), and its body must have ended [`WATCH_SLACK`] after
//!   that; a body still open then is cut with an error, and the watch is
//!   started again (with its backoff) on a fresh connection;
//! - any other request must have been answered, body included, within
//!   [`REQUEST_DEADLINE`].
//!
//! Cutting is always safe: reconciles are level-triggered, and a watcher
//! that lost its stream resumes from its last resourceVersion or relists.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use kube::Client;
use kube::client::Body;
use kube::runtime::watcher;
use tokio::time::{Instant, Sleep};

/// How long the controllers' watches last before the server ends them.
pub const WATCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How late after its `timeoutSeconds` a watch may still end by itself.
pub const WATCH_SLACK: Duration = Duration::from_secs(10);
/// The longest any other request may take, body included: far above a
/// list of 10,000 nodes, far below kube's 295 s read timeout.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(60);
/// What a watch without `timeoutSeconds` gets: the server's default.
const SERVER_WATCH_DEFAULT: Duration = Duration::from_secs(1800);

/// Watches that the server ends after `timeout` (rounded up to a second),
/// so that a silent one is noticed (see the module doc).
pub fn watch_config(timeout: Duration) -> watcher::Config {
    let secs = u32::try_from(timeout.as_secs().max(1)).unwrap_or(u32::MAX);
    watcher::Config::default().timeout(secs)
}

/// `client`, with a deadline on every request.
pub fn with_deadlines(client: Client) -> Client {
    let namespace = client.default_namespace().to_owned();
    Client::new(Deadlines { client }, namespace)
}

/// A request or watch cut at its deadline.
#[derive(Debug, thiserror::Error)]
#[error("no complete answer within {0:?}: the connection is taken for dead")]
pub struct DeadlineExceeded(pub Duration);

#[derive(Clone)]
struct Deadlines {
    client: Client,
}

impl tower::Service<Request<Body>> for Deadlines {
    type Response = Response<DeadlineBody>;
    type Error = kube::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, kube::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let budget = deadline_of(request.uri().query());
        let client = self.client.clone();
        Box::pin(async move {
            let until = Instant::now() + budget;
            let response = tokio::time::timeout_at(until, client.send(request))
                .await
                .map_err(|_| kube::Error::Service(Box::new(DeadlineExceeded(budget))))??;
            Ok(response.map(|body| DeadlineBody {
                inner: body,
                until: Box::pin(tokio::time::sleep_until(until)),
                budget,
            }))
        })
    }
}

/// How long a request with this query may take, body included.
fn deadline_of(query: Option<&str>) -> Duration {
    let mut watch = false;
    let mut timeout = None;
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("watch", v)) => watch = v == "true" || v == "1",
            Some(("timeoutSeconds", v)) => timeout = v.parse::<u64>().ok(),
            _ => {}
        }
    }
    if watch {
        timeout
            .map_or(SERVER_WATCH_DEFAULT, Duration::from_secs)
            .saturating_add(WATCH_SLACK)
    } else {
        REQUEST_DEADLINE
    }
}

/// A response body that fails once its deadline has passed.
pub struct DeadlineBody {
    inner: Body,
    until: Pin<Box<Sleep>>,
    budget: Duration,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.until.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(DeadlineExceeded(self.budget))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_must_end_soon_after_the_timeout_it_asked_for() {
        assert_eq!(
            deadline_of(Some("watch=true&timeoutSeconds=60&resourceVersion=7")),
            Duration::from_secs(60) + WATCH_SLACK
        );
        assert_eq!(
            deadline_of(Some("timeoutSeconds=5&watch=1")),
            Duration::from_secs(5) + WATCH_SLACK
        );
    }

    #[test]
    fn a_watch_without_a_timeout_gets_the_servers_default() {
        assert_eq!(
            deadline_of(Some("watch=true")),
            SERVER_WATCH_DEFAULT + WATCH_SLACK
        );
    }

    #[test]
    fn every_other_request_gets_the_request_deadline() {
        assert_eq!(deadline_of(None), REQUEST_DEADLINE);
        assert_eq!(deadline_of(Some("labelSelector=a%3Db")), REQUEST_DEADLINE);
        assert_eq!(deadline_of(Some("watch=false")), REQUEST_DEADLINE);
    }

    #[test]
    fn the_watch_config_asks_the_server_to_end_the_watch() {
        assert_eq!(watch_config(Duration::from_secs(60)).timeout, Some(60));
        assert_eq!(watch_config(Duration::from_millis(10)).timeout, Some(1));
    }
}
