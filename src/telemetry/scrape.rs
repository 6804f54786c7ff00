//! Reading another engine's figures from its `/metrics`, for the console's
//! Engine view when the engine that leads runs elsewhere (`edgedeck engine`
//! in the cluster, reached through `kubectl port-forward` or directly).
//!
//! The figures come from the same families [`super::Telemetry::figures`]
//! reads in-process, so the view shows one thing whichever way it got it.
//! What the exposition does not carry (time since the last progress) is
//! left empty rather than guessed.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use tokio::net::TcpStream;

use super::{Controller, ControllerFigures, EngineFigures};

/// How long one scrape may take, connection to last byte. The view reads
/// once a second; a slower answer is reported as a failure, not waited for.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// An exposition larger than this is not an edgedeck engine's (a few KiB).
const MAX_BODY: usize = 4 << 20;

/// Where a remote engine serves its metrics: `http://HOST:PORT[/PATH]`,
/// `/metrics` when no path is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsUrl(Uri);

impl std::str::FromStr for MetricsUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<MetricsUrl, String> {
        let uri: Uri = text
            .parse()
            .map_err(|e| format!("{text:?} is not a URL ({e}); expected http://HOST:PORT"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(format!(
                    "{text}: `edgedeck engine --metrics-listen` serves plain http; use http:// (through `kubectl port-forward` when the engine runs in a cluster)"
                ));
            }
            _ => return Err(format!("{text:?}: expected http://HOST:PORT")),
        }
        let Some(authority) = uri.authority() else {
            return Err(format!("{text:?}: expected http://HOST:PORT"));
        };
        let path = match uri.path() {
            "" | "/" => "/metrics",
            path => path,
        };
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority.as_str())
            .path_and_query(path)
            .build()
            .map_err(|e| format!("{text:?}: {e}"))?;
        Ok(MetricsUrl(uri))
    }
}

impl std::fmt::Display for MetricsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a remote engine's figures could not be read; the console shows it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScrapeError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no answer within {}s", SCRAPE_TIMEOUT.as_secs())]
    Timeout,
    #[error("HTTP {0}")]
    Status(StatusCode),
    #[error("reading the answer: {0}")]
    Read(String),
    #[error("not an edgedeck engine's metrics: {0}")]
    NotEdgedeck(String),
}

/// One `GET` of `url`, its body as text.
pub async fn fetch(url: &MetricsUrl) -> Result<String, ScrapeError> {
    tokio::time::timeout(SCRAPE_TIMEOUT, fetch_now(url))
        .await
        .unwrap_or(Err(ScrapeError::Timeout))
}

async fn fetch_now(url: &MetricsUrl) -> Result<String, ScrapeError> {
    let authority = url.0.authority().map(|a| a.as_str()).unwrap_or_default();
    let port = url
        .0
        .port_u16()
        .map_or_else(|| format!("{authority}:80"), |_| authority.to_owned());
    let stream = TcpStream::connect(&port)
        .await
        .map_err(|e| ScrapeError::Connect(e.to_string()))?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| ScrapeError::Connect(e.to_string()))?;
    // The connection is driven alongside the one request and dropped after.
    let driver = tokio::spawn(connection);
    let request = Request::get(url.0.clone())
        .header(http::header::HOST, authority)
        .header(http::header::ACCEPT, "text/plain")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ScrapeError::Connect(e.to_string()))?;
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ScrapeError::Read(e.to_string()))?;
        if response.status() != StatusCode::OK {
            return Err(ScrapeError::Status(response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| ScrapeError::Read(e.to_string()))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| ScrapeError::Read("not UTF-8".into()))
    }
    .await;
    driver.abort();
    result
}

/// The figures in a Prometheus text exposition of an edgedeck engine, as of `at`.
pub fn figures_from_text(text: &str, at: Instant) -> Result<EngineFigures, ScrapeError> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines)
        .map_err(|e| ScrapeError::NotEdgedeck(e.to_string()))?;
    let samples = Samples(&scrape.samples);
    if !samples.has("edgedeck_build_info") {
        return Err(ScrapeError::NotEdgedeck("no edgedeck_build_info".into()));
    }
    let controllers = Controller::ALL
        .iter()
        .map(|&c| {
            let of = |name| samples.sum(name, Some(c));
            let oldest = of("edgedeck_queue_oldest_seconds");
            let figures = ControllerFigures {
                reconciles: of("edgedeck_reconciles_total") as u64,
                errors: of("edgedeck_reconcile_errors_total") as u64,
                queued: of("edgedeck_queue_depth") as usize,
                in_flight: of("edgedeck_reconciles_in_flight") as usize,
                // The engine exports "nothing waits" as 0.
                oldest: (oldest > 0.0).then(|| Duration::from_secs_f64(oldest)),
                since_progress: None,
                owned: of("edgedeck_objects_owned") as usize,
                stalled: of("edgedeck_controller_stalled") > 0.0,
            };
            (c, figures)
        })
        .collect();
    Ok(EngineFigures {
        at,
        leading: samples.sum("edgedeck_leader", None) > 0.0,
        writes: samples.sum("edgedeck_api_writes_total", None) as u64,
        controllers,
    })
}

struct Samples<'a>(&'a [prometheus_parse::Sample]);

impl Samples<'_> {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|s| s.metric == name)
    }

    /// The sum of `name`'s plain values, of one controller when given.
    fn sum(&self, name: &str, controller: Option<Controller>) -> f64 {
        self.0
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| controller.is_none_or(|c| s.labels.get("controller") == Some(c.as_str())))
            .filter_map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => Some(v),
                _ => None,
            })
            .filter(|v| v.is_finite())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::telemetry::Telemetry;

    #[test]
    fn urls_default_to_metrics_and_refuse_https() {
        let url: MetricsUrl = "http://127.0.0.1:9090".parse().expect("url");
        assert_eq!(url.to_string(), "http://127.0.0.1:9090/metrics");
        let url: MetricsUrl = "http://engine:9090/custom".parse().expect("url");
        assert_eq!(url.to_string(), "http://engine:9090/custom");
        let https = "https://engine:9090".parse::<MetricsUrl>().unwrap_err();
        assert!(https.contains("plain http"), "{https}");
        let bare = "engine:9090".parse::<MetricsUrl>().unwrap_err();
        assert!(bare.contains("expected http://HOST:PORT"), "{bare}");
    }

    #[test]
    fn the_exposition_gives_the_same_figures_as_reading_in_process() {
        let telemetry = Arc::new(Telemetry::default());
        telemetry.set_leading(true);
        telemetry.wrote(&crate::telemetry::WriteLabels {
            resource: "deployments".into(),
            verb: "patch",
        });
        telemetry.controller_started(Controller::EdgeApplication);
        telemetry.controller_started(Controller::NodeGroup);
        for error in [None, Some("conflict"), None] {
            telemetry
                .reconcile(Controller::EdgeApplication, Some("default"), "web")
                .finished(error);
        }
        telemetry.queued(Controller::NodeGroup, None, "hangzhou");
        telemetry.owned(Controller::EdgeApplication, || 7);
        let at = Instant::now();
        let remote = figures_from_text(&telemetry.encode(), at).expect("parsed");
        let local = telemetry.figures();
        assert_eq!(remote.leading, local.leading);
        assert_eq!(remote.writes, 1);
        assert_eq!(remote.writes, local.writes);
        let strip = |f: &EngineFigures| {
            f.controllers
                .iter()
                .map(|(c, f)| {
                    let mut f = f.clone();
                    f.since_progress = None;
                    // Read at two instants: the same wait, a few µs apart.
                    f.oldest = f.oldest.map(|_| Duration::ZERO);
                    (*c, f)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&remote), strip(&local));
        let app = &remote.controllers[1].1;
        assert_eq!((app.reconciles, app.errors, app.owned), (3, 1, 7));
        let groups = &remote.controllers[0].1;
        assert_eq!(groups.queued, 1);
    }

    #[test]
    fn other_expositions_are_named_as_such() {
        let other = "# TYPE up gauge\nup 1\n";
        assert!(matches!(
            figures_from_text(other, Instant::now()),
            Err(ScrapeError::NotEdgedeck(_))
        ));
        assert!(matches!(
            figures_from_text("<html>nope</html>", Instant::now()),
            Err(ScrapeError::NotEdgedeck(_))
        ));
    }
}
