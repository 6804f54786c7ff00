//! Query parameters of list, get and watch requests on filtered paths.
//!
//! `limit` and `continue` are accepted and ignored: a server may always
//! answer a paged list in one piece, and clients (client-go, kube-rs) then
//! see no `continue` token and stop.

use std::time::Duration;

use axum::extract::Query;
use axum::http::Uri;
use serde::Deserialize;

use super::selector::{FieldSelector, LabelSelector, SelectorError};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQuery {
    watch: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    resource_version: Option<String>,
    timeout_seconds: Option<String>,
    allow_watch_bookmarks: Option<String>,
    send_initial_events: Option<String>,
}

/// The parameters the edge API acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params {
    pub watch: bool,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// As sent; empty means absent.
    pub resource_version: String,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QueryError {
    #[error("invalid query string: {0}")]
    Malformed(String),
    #[error("invalid value {value:?} for {name}: {expected}")]
    Value {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(transparent)]
    Selector(#[from] SelectorError),
}

impl Params {
    pub(crate) fn from_uri(uri: &Uri) -> Result<Params, QueryError> {
        let Query(raw) = Query::<RawQuery>::try_from_uri(uri)
            .map_err(|e| QueryError::Malformed(e.body_text()))?;
        let flag = |name: &'static str, value: &Option<String>| match value.as_deref() {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| QueryError::Value {
                name,
                value: v.to_owned(),
                expected: "a boolean",
            }),
        };
        let timeout = match raw.timeout_seconds.as_deref() {
            None | Some("") => None,
            Some(v) => Some(Duration::from_secs(v.parse().map_err(|_| {
                QueryError::Value {
                    name: "timeoutSeconds",
                    value: v.to_owned(),
                    expected: "a non-negative integer",
                }
            })?)),
        };
        Ok(Params {
            watch: flag("watch", &raw.watch)?,
            labels: LabelSelector::parse(raw.label_selector.as_deref().unwrap_or_default())?,
            fields: FieldSelector::parse(raw.field_selector.as_deref().unwrap_or_default())?,
            resource_version: raw.resource_version.unwrap_or_default(),
            timeout,
            bookmarks: flag("allowWatchBookmarks", &raw.allow_watch_bookmarks)?,
            send_initial_events: flag("sendInitialEvents", &raw.send_initial_events)?,
        })
    }
}

/// Whether a request is a watch (`watch=true`), on any path: passed-through
/// queries are not validated here, only looked at.
pub(crate) fn is_watch(uri: &Uri) -> bool {
    let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) else {
        return false;
    };
    pairs
        .iter()
        .any(|(name, value)| name == "watch" && parse_bool(value) == Some(true))
}

/// Go's `strconv.ParseBool`, which the API server uses; an empty value is false.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Result<Params, QueryError> {
        let uri: Uri = format!("/edge/n/api/v1/endpoints?{query}")
            .parse()
            .expect("valid uri");
        Params::from_uri(&uri)
    }

    #[test]
    fn parses_a_kube_proxy_watch() {
        let p = params(
            "allowWatchBookmarks=true&labelSelector=%21service.kubernetes.io%2Fheadless\
             &resourceVersion=17&timeoutSeconds=412&watch=true&limit=500",
        )
        .expect("valid");
        assert!(p.watch && p.bookmarks && !p.send_initial_events);
        assert_eq!(p.resource_version, "17");
        assert_eq!(p.timeout, Some(Duration::from_secs(412)));
        assert_eq!(
            p.labels,
            LabelSelector::parse("!service.kubernetes.io/headless").expect("valid")
        );
    }

    #[test]
    fn defaults_without_a_query() {
        let uri: Uri = "/edge/n/api/v1/endpoints".parse().expect("valid uri");
        assert_eq!(Params::from_uri(&uri), Ok(Params::default()));
        assert!(params("watch=1").expect("valid").watch);
        assert!(!params("watch=0").expect("valid").watch);
        assert!(!params("watch=").expect("valid").watch);
    }

    #[test]
    fn tells_watches_from_other_requests() {
        let watch = |q: &str| is_watch(&format!("/x?{q}").parse().expect("uri"));
        assert!(watch("watch=true") && watch("watch=1") && watch("a=b&watch=True"));
        assert!(!watch("watch=false") && !watch("watch=") && !watch("watching=true"));
        assert!(!is_watch(&"/x".parse().expect("uri")));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(matches!(
            params("watch=yes"),
            Err(QueryError::Value { name: "watch", .. })
        ));
        assert!(matches!(
            params("timeoutSeconds=-1"),
            Err(QueryError::Value {
                name: "timeoutSeconds",
                ..
            })
        ));
        assert!(matches!(
            params("labelSelector=a,,b"),
            Err(QueryError::Selector(_))
        ));
        assert!(matches!(
            params("fieldSelector=spec.nodeName%3Dx"),
            Err(QueryError::Selector(_))
        ));
    }
}
