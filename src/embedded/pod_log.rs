//! `GET …/pods/NAME/log`: the embedded cluster has no containers, so it
//! makes up a plausible log per container — a line every few seconds since
//! the pod started, in a style picked from the image (web server access
//! lines for nginx-like images, an agent's status lines otherwise), and for
//! an image tagged `broken` the crash the simulator's crash loop stands
//! for. The text is a pure function of the pod and the clock, so tests can
//! say what a request returns. `follow=true` keeps the response open and
//! adds a line every [`FOLLOW_EVERY`] until the client goes or the server
//! stops; `tailLines`, `previous` and `container` behave as the kubelet's.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::request::Query;

/// One simulated line per this much of the pod's life.
const LINE_EVERY: u64 = 2;
/// How many lines of history a log holds at most.
const HISTORY: u64 = 2_000;
/// A followed log's new lines come this often.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(LINE_EVERY);

/// What a request asks, from the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogQuery {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub tail: Option<usize>,
}

impl LogQuery {
    pub fn parse(query: &Query) -> ApiResult<LogQuery> {
        let flag = |k: &str| matches!(query.get(k), Some("true" | "1"));
        let tail = match query.get("tailLines") {
            None => None,
            Some(t) => Some(t.parse::<i64>().map_err(|_| {
                ApiError::BadRequest(format!("tailLines: invalid value {t:?}: not an integer"))
            })?),
        };
        Ok(LogQuery {
            container: query.get("container").map(str::to_owned),
            follow: flag("follow"),
            previous: flag("previous"),
            tail: tail.map(|t| usize::try_from(t.max(0)).unwrap_or(0)),
        })
    }
}

/// The container a request is for, and its image.
fn container<'p>(pod: &'p Value, name: &str, asked: Option<&str>) -> ApiResult<(&'p str, &'p str)> {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let named = |c: &'p Value| {
        Some((
            c.get("name")?.as_str()?,
            c.get("image").and_then(Value::as_str).unwrap_or(""),
        ))
    };
    match asked {
        Some(want) => containers
            .iter()
            .filter_map(named)
            .find(|(n, _)| *n == want)
            .ok_or_else(|| {
                ApiError::BadRequest(format!("container {want} is not valid for pod {name}"))
            }),
        None if containers.len() > 1 => {
            let names: Vec<&str> = containers
                .iter()
                .filter_map(named)
                .map(|(n, _)| n)
                .collect();
            Err(ApiError::BadRequest(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )))
        }
        None => containers
            .iter()
            .find_map(named)
            .ok_or_else(|| ApiError::BadRequest(format!("pod {name} has no container"))),
    }
}

fn tag(image: &str) -> &str {
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map_or("latest", |(_, t)| t)
}

pub fn is_broken(image: &str) -> bool {
    tag(image) == "broken"
}

fn started(pod: &Value) -> SystemTime {
    pod.pointer("/status/startTime")
        .or_else(|| pod.pointer("/metadata/creationTimestamp"))
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(SystemTime::UNIX_EPOCH, SystemTime::from)
}

fn stamp(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_default()
}

/// Line `n` of a healthy container's log (n = 0 at start).
fn line(image: &str, container: &str, pod: &str, start: SystemTime, n: u64) -> String {
    let at = stamp(start + Duration::from_secs(n * LINE_EVERY));
    if n == 0 {
        return format!("{at} INFO {container}: starting {image} in pod {pod}");
    }
    let web = image.contains("nginx") || image.contains("httpd") || container.contains("web");
    if web {
        let paths = [
            "/",
            "/healthz",
            "/api/v1/items",
            "/static/app.js",
            "/metrics",
        ];
        let codes = [200, 200, 200, 304, 404];
        let i = (n as usize) % paths.len();
        format!(
            "10.128.{}.{} - - [{at}] \"GET {} HTTP/1.1\" {} {} \"-\" \"edge-client/1.0\"",
            n % 7,
            10 + n % 200,
            paths[i],
            codes[(n as usize / 3) % codes.len()],
            200 + (n * 37) % 4000
        )
    } else {
        let what = [
            "heartbeat ok",
            "flushed 128 samples to upstream",
            "config unchanged",
            "uplink latency 23ms",
        ];
        format!("{at} INFO {container}: {}", what[(n as usize) % what.len()])
    }
}

/// What a crashing container prints before it exits.
fn crash(image: &str, container: &str, start: SystemTime) -> Vec<String> {
    let at = stamp(start);
    vec![
        format!("{at} INFO {container}: starting {image}"),
        format!(
            "{at} ERROR {container}: cannot load configuration: image {image} is a broken build"
        ),
        format!("{at} FATAL {container}: exiting with status 1"),
    ]
}

/// The log text of a request at `now`, one entry per line.
pub fn lines(pod: &Value, q: &LogQuery, now: SystemTime) -> ApiResult<Vec<String>> {
    let name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (cname, image) = container(pod, name, q.container.as_deref())?;
    if pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(ApiError::BadRequest(format!(
            "container \"{cname}\" in pod \"{name}\" is waiting to start: the pod is not scheduled"
        )));
    }
    let start = started(pod);
    let restarts = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(cname))
        })
        .and_then(|c| c.get("restartCount"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut out = if is_broken(image) {
        crash(image, cname, start)
    } else if q.previous {
        if restarts == 0 {
            return Err(ApiError::BadRequest(format!(
                "previous terminated container \"{cname}\" in pod \"{name}\" not found"
            )));
        }
        crash(image, cname, start)
    } else {
        let alive = now.duration_since(start).unwrap_or_default().as_secs() / LINE_EVERY;
        let first = alive.saturating_sub(HISTORY);
        (first..=alive)
            .map(|n| line(image, cname, name, start, n))
            .collect()
    };
    if let Some(t) = q.tail {
        let skip = out.len().saturating_sub(t);
        out.drain(..skip);
    }
    Ok(out)
}

/// The response: the log so far and, when followed, new lines as they come.
pub fn respond(
    pod: Value,
    q: LogQuery,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> ApiResult<Response> {
    let now = SystemTime::now();
    let first = lines(&pod, &q, now)?;
    let mut text = first.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    let head = futures::stream::once(async move {
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(text))
    });
    let follows = q.follow && {
        let (_, image) = container(
            &pod,
            pod.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or(""),
            q.container.as_deref(),
        )?;
        !is_broken(image) && !q.previous
    };
    let body = if follows {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let (cname, image) = container(&pod, &name, q.container.as_deref())
            .map(|(c, i)| (c.to_owned(), i.to_owned()))?;
        let start = started(&pod);
        let next = now.duration_since(start).unwrap_or_default().as_secs() / LINE_EVERY + 1;
        // Mark the value seen: only a change (the server stopping) ends the stream.
        shutdown.borrow_and_update();
        let tail = futures::stream::unfold(next, move |n| {
            let (cname, image, name) = (cname.clone(), image.clone(), name.clone());
            let mut shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    () = tokio::time::sleep(FOLLOW_EVERY) => {}
                    _ = shutdown.changed() => return None,
                }
                let l = line(&image, &cname, &name, start, n) + "\n";
                Some((Ok(bytes::Bytes::from(l)), n + 1))
            }
        });
        Body::from_stream(futures::StreamExt::chain(head, tail))
    } else {
        Body::from_stream(head)
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(body)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(image: &str, node: Option<&str>, restarts: u64) -> Value {
        json!({
            "metadata": {"name": "web-1", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node, "containers": [{"name": "web", "image": image},
                                                         {"name": "agent", "image": "reg.io/agent:1"}]},
            "status": {"containerStatuses": [{"name": "web", "restartCount": restarts}]}
        })
    }

    fn at(secs: u64) -> SystemTime {
        "2026-01-01T00:00:00Z"
            .parse::<jiff::Timestamp>()
            .map(SystemTime::from)
            .unwrap_or(SystemTime::UNIX_EPOCH)
            + Duration::from_secs(secs)
    }

    fn q(container: &str) -> LogQuery {
        LogQuery {
            container: Some(container.into()),
            follow: false,
            previous: false,
            tail: None,
        }
    }

    #[test]
    fn a_healthy_container_logs_a_line_every_few_seconds_in_its_own_style() {
        let p = pod("nginx:1.27", Some("node-a"), 0);
        let web = lines(&p, &q("web"), at(20)).expect("log");
        assert_eq!(web.len(), 11);
        assert!(web[0].contains("starting nginx:1.27"), "{web:?}");
        assert!(web[1].contains("\"GET "), "{web:?}");
        let agent = lines(&p, &q("agent"), at(20)).expect("log");
        assert!(agent[1].contains("INFO agent"), "{agent:?}");
        let tail = lines(
            &p,
            &LogQuery {
                tail: Some(3),
                ..q("web")
            },
            at(20),
        )
        .expect("log");
        assert_eq!(tail, web[8..]);
    }

    #[test]
    fn a_broken_image_logs_its_crash() {
        let p = pod("reg.io/web:broken", Some("node-a"), 3);
        let log = lines(&p, &q("web"), at(500)).expect("log");
        assert!(log.iter().any(|l| l.contains("FATAL")), "{log:?}");
        assert!(is_broken("localhost:5000/a/b:broken") && !is_broken("broken:1"));
    }

    #[test]
    fn the_kubelets_refusals_are_kept() {
        let p = pod("nginx:1", Some("node-a"), 0);
        let two = LogQuery {
            container: None,
            ..q("")
        };
        let e = lines(&p, &two, at(5)).expect_err("two containers");
        assert!(e.to_string().contains("choose one of: [web agent]"), "{e}");
        let e = lines(&p, &q("db"), at(5)).expect_err("no such container");
        assert!(e.to_string().contains("container db is not valid"), "{e}");
        let prev = LogQuery {
            previous: true,
            ..q("web")
        };
        let e = lines(&p, &prev, at(5)).expect_err("never restarted");
        assert!(
            e.to_string().contains("previous terminated container"),
            "{e}"
        );
        let pending = pod("nginx:1", None, 0);
        let e = lines(&pending, &q("web"), at(5)).expect_err("not scheduled");
        assert!(e.to_string().contains("waiting to start"), "{e}");
        let restarted = pod("nginx:1", Some("node-a"), 2);
        assert!(lines(&restarted, &prev, at(5)).is_ok());
    }
}
