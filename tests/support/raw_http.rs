//! HTTP/1.1 written by hand, over TCP or TLS, for requests no well-behaved
//! client would send: truncated or oversized bodies, bytes that are not
//! UTF-8, paths with `..` and `//` kept as they are (URL libraries normalise
//! them away), and clients that dribble a byte at a time.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A hang guard: any answer is expected long before this.
const PATIENCE: Duration = Duration::from_secs(30);

/// Where to send: plain http, or https trusting `ca_pem`.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub ca_pem: Option<String>,
    /// `Authorization: Bearer …` added to every request built by [`request`].
    pub token: Option<String>,
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct Connection {
    stream: Pin<Box<dyn Io>>,
    /// Bytes read past the response head.
    buffered: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a Kubernetes `Status` failure with this code and returns its reason.
    pub fn status_failure(&self, code: u16) -> String {
        assert_eq!(
            self.status,
            code,
            "expected HTTP {code}, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "a Status is JSON: {:?}",
            self.headers
        );
        let status = self.json();
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["apiVersion"], "v1", "{status}");
        assert_eq!(status["status"], "Failure", "{status}");
        assert_eq!(status["code"], code, "{status}");
        assert!(
            status["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{status}"
        );
        status["reason"].as_str().unwrap_or_default().to_owned()
    }
}

pub async fn connect(target: &Target) -> Connection {
    let tcp = tokio::time::timeout(PATIENCE, TcpStream::connect(target.addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let stream: Pin<Box<dyn Io>> = match &target.ca_pem {
        None => Box::pin(tcp),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.expect("CA PEM")).expect("CA");
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocols")
                .with_root_certificates(roots)
                .with_no_client_auth();
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let name = ServerName::from(target.addr.ip());
            let tls = tokio::time::timeout(PATIENCE, connector.connect(name, tcp))
                .await
                .expect("handshake in time")
                .expect("handshake");
            Box::pin(tls)
        }
    };
    Connection {
        stream,
        buffered: Vec::new(),
    }
}

impl Connection {
    /// Writes bytes; false once the server has closed the connection.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        let written = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        matches!(tokio::time::timeout(PATIENCE, written).await, Ok(Ok(())))
    }

    /// Reads the status line and headers, leaving the body to come.
    pub async fn head(&mut self) -> Option<Response> {
        let mut data = std::mem::take(&mut self.buffered);
        let end = loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
                .await
                .expect("a response head in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            data.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        self.buffered = data[end + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .expect("status line");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Some(Response {
            status,
            headers,
            body: Vec::new(),
        })
    }

    /// Reads a whole response (the request asked for `Connection: close`).
    pub async fn response(mut self) -> Option<Response> {
        let mut response = self.head().await?;
        let mut body = std::mem::take(&mut self.buffered);
        tokio::time::timeout(PATIENCE, self.stream.read_to_end(&mut body))
            .await
            .expect("the body in time")
            .ok();
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
        response.body = if chunked { dechunk(&body) } else { body };
        Some(response)
    }

    /// Reads what follows the head until `needle` appears (true) or the
    /// connection ends (false).
    pub async fn read_until(&mut self, needle: &str) -> bool {
        let needle = needle.as_bytes();
        let mut seen = std::mem::take(&mut self.buffered);
        let search = async {
            loop {
                if seen.windows(needle.len()).any(|w| w == needle) {
                    return true;
                }
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
        };
        tokio::time::timeout(PATIENCE, search)
            .await
            .unwrap_or(false)
    }

    /// Whether the server closes the connection (EOF or reset) before the
    /// hang guard runs out, discarding whatever it sends first.
    pub async fn closed_by_server(&mut self) -> bool {
        let drain = async {
            let mut chunk = [0u8; 4096];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(PATIENCE, drain).await.is_ok()
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
    out
}

/// The bytes of a request with `Host`, `Connection: close`, the target's
/// token, `Content-Length` when there is a body, and `headers`.
pub fn encode(
    target: &Target,
    method: &str,
    path: &[u8],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut line = |name: &str, value: &str| {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    };
    line("Host", &target.addr.to_string());
    line("Connection", "close");
    if let Some(token) = &target.token {
        line("Authorization", &format!("Bearer {token}"));
    }
    if !body.is_empty() {
        line("Content-Length", &body.len().to_string());
    }
    for (name, value) in headers {
        line(name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// One request on a fresh connection, answered in full.
pub async fn request(
    target: &Target,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    request_bytes(target, method, path.as_bytes(), headers, body).await
}

/// [`request`] with a path that need not be UTF-8.
pub async fn request_bytes(
    target: &Target,
    method: &str,
    path: &[u8],
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut connection = connect(target).await;
    connection
        .write(&encode(target, method, path, headers, body))
        .await;
    connection.response().await.expect("a response")
}
