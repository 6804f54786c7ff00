//! A TCP proxy in front of an API server that can be frozen: while frozen
//! it forwards nothing from the client, so every request hangs unanswered,
//! while what the server sends (watch events) still arrives. That is a
//! stalled controller as the engine sees one — triggered, reconciling, and
//! never hearing back — without touching the cluster itself.
//!
//! It can also *sever* the connections open at that moment, the way an API
//! server restart behind a load balancer (or on a host that went away)
//! leaves them: nothing more arrives on them, and the first bytes the
//! client sends on one close it, as the reset it would get. A client that
//! only listens (a watch, a request waiting for its answer) is never told.
//! New connections reach the server as before.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct FreezingProxy {
    pub addr: SocketAddr,
    frozen: watch::Sender<bool>,
    /// Bumped by [`FreezingProxy::sever`]; a connection from an older epoch is severed.
    epoch: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl FreezingProxy {
    pub async fn start(upstream: SocketAddr) -> FreezingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (frozen, watch) = watch::channel(false);
        let (epoch, epochs) = watch::channel(0u64);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watch = watch.clone();
                let epochs = epochs.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, watch, epochs).await;
                    }
                });
            }
        });
        FreezingProxy {
            addr,
            frozen,
            epoch,
            task,
        }
    }

    pub fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }

    /// Severs every connection open now (see the module doc) and thaws
    /// the proxy for the connections that come after.
    pub fn sever(&self) {
        self.epoch.send_modify(|e| *e += 1);
        self.frozen.send_replace(false);
    }
}

impl Drop for FreezingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    mut frozen: watch::Receiver<bool>,
    epochs: watch::Receiver<u64>,
) {
    let born = *epochs.borrow();
    let severed = {
        let epochs = epochs.clone();
        move || {
            let now = *epochs.borrow();
            now != born
        }
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if frozen.wait_for(|f| !*f).await.is_err() {
                return;
            }
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            // Read while thawed, but frozen since: hold it until thawed.
            if frozen.wait_for(|f| !*f).await.is_err() {
                return;
            }
            // Bytes on a severed connection reset it.
            if severed() || server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = async move {
        let mut epochs = epochs;
        // The guard wait_for returns is not Send: make it a plain value at once.
        let severed = async move { epochs.wait_for(|e| *e != born).await.map(|_| ()) };
        tokio::select! {
            _ = tokio::io::copy(&mut server_read, &mut client_write) => {}
            _ = severed => {
                // Severed: silence, with the connection left open.
                std::future::pending::<()>().await;
            }
        }
    };
    // Either side ending ends the connection (both halves are dropped).
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

/// A copy of the kubeconfig at `kubeconfig`, written beside it as
/// `file_name`, whose server is a [`FreezingProxy`] in front of the cluster.
pub async fn kubeconfig_behind(
    kubeconfig: &std::path::Path,
    file_name: &str,
) -> (std::path::PathBuf, FreezingProxy) {
    let text = std::fs::read_to_string(kubeconfig).expect("kubeconfig");
    let mut config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("yaml");
    let server = config["clusters"][0]["cluster"]["server"]
        .as_str()
        .expect("server")
        .to_owned();
    let upstream: SocketAddr = server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .parse()
        .expect("the test clusters listen on an IP address");
    let proxy = FreezingProxy::start(upstream).await;
    // The certificates name 127.0.0.1, not a port: TLS passes through unchanged.
    config["clusters"][0]["cluster"]["server"] = format!("https://{}", proxy.addr).into();
    let path = kubeconfig.with_file_name(file_name);
    std::fs::write(&path, serde_yaml_ng::to_string(&config).expect("yaml")).expect("write");
    (path, proxy)
}
