//! Accepting connections, over TLS or plain, with the timeouts that keep a
//! slow client from holding a connection (and its task and buffers) open
//! forever: the TLS handshake (within 10 s at most) and each request's
//! headers must arrive within [`EdgeLimits::header_timeout`](super::EdgeLimits). A request's body is
//! never read (the API is read-only), so it needs no timeout of its own.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long open connections get to finish once serving stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The most a TLS handshake may take (a shorter header timeout wins).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on every accepted connection until `cancel` fires.
pub(super) async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    header_timeout: Duration,
    cancel: CancellationToken,
) {
    loop {
        let tcp = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    // e.g. out of file descriptors: back off instead of spinning
                    tracing::warn!(%error, "edge API: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let stop = cancel.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection(tcp, app, header_timeout, stop).await,
                Some(acceptor) => {
                    let limit = header_timeout.min(HANDSHAKE_TIMEOUT);
                    let handshake = tokio::time::timeout(limit, acceptor.accept(tcp));
                    if let Ok(Ok(stream)) = handshake.await {
                        connection(stream, app, header_timeout, stop).await;
                    }
                }
            }
        });
    }
}

/// One HTTP/1.1 connection: requests until the client closes, its headers
/// time out, or serving stops (then in-flight requests get a grace period).
async fn connection<I>(io: I, app: axum::Router, header_timeout: Duration, stop: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
}
