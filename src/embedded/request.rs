//! Parsing of request paths, query parameters and bodies.

use std::time::Duration;

use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::operations::{DeleteOptions, ListOptions, Propagation, WriteOptions};
use super::resources::Registry;
use super::selectors::{FieldSelector, LabelSelector};

/// A path naming objects of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Version,
    CoreVersions,
    GroupList,
    Group(String),
    ResourceList { group: String, version: String },
    Health,
    OpenApiRoot,
    OpenApiGroupVersion { group: String, version: String },
    OpenApiV2,
    Resource(ResourcePath),
    Unknown,
}

/// Maps a URL path onto a route. `registry` disambiguates
/// `namespaces/{ns}/{plural}` from `namespaces/{name}/{subresource}`.
///
/// Like kube-apiserver (Go's `url.URL.Path`), the path is percent-decoded
/// before it is split, so `%2e%2e` is `..` and `a%2Fb` two segments. An
/// empty segment (`//`) routes nowhere; one trailing slash is ignored.
pub fn route(path: &str, registry: &Registry) -> Route {
    let decoded = percent_decode(path);
    let path = decoded.strip_suffix('/').unwrap_or(&decoded);
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Route::Unknown;
    }
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["openapi", "v3"] => Route::OpenApiRoot,
        ["openapi", "v3", "api", version] => Route::OpenApiGroupVersion {
            group: String::new(),
            version: (*version).to_string(),
        },
        ["openapi", "v3", "apis", group, version] => Route::OpenApiGroupVersion {
            group: (*group).to_string(),
            version: (*version).to_string(),
        },
        ["openapi", ..] => Route::OpenApiV2,
        ["api"] => Route::CoreVersions,
        ["api", "v1"] => Route::ResourceList {
            group: String::new(),
            version: "v1".into(),
        },
        ["api", "v1", rest @ ..] => resource_route("", "v1", rest, registry),
        ["apis"] => Route::GroupList,
        ["apis", group] => Route::Group((*group).to_string()),
        ["apis", group, version] => Route::ResourceList {
            group: (*group).to_string(),
            version: (*version).to_string(),
        },
        ["apis", group, version, rest @ ..] => resource_route(group, version, rest, registry),
        _ => Route::Unknown,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str], registry: &Registry) -> Route {
    let path = |namespace: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>| {
        Route::Resource(ResourcePath {
            group: group.to_string(),
            version: version.to_string(),
            namespace: namespace.map(str::to_string),
            plural: plural.to_string(),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        })
    };
    let is_namespaced_plural = |plural: &str| {
        registry
            .find(group, version, plural)
            .is_some_and(|r| r.namespaced)
    };
    match rest {
        [plural] => path(None, plural, None, None),
        [plural, name] => path(None, plural, Some(name), None),
        ["namespaces", ns, plural] if group.is_empty() || is_namespaced_plural(plural) => {
            if is_namespaced_plural(plural) {
                path(Some(ns), plural, None, None)
            } else {
                // `namespaces/{name}/status` and `/finalize`.
                path(None, "namespaces", Some(ns), Some(plural))
            }
        }
        ["namespaces", ns, plural] => path(Some(ns), plural, None, None),
        [plural, name, sub] => path(None, plural, Some(name), Some(sub)),
        ["namespaces", ns, plural, name] => path(Some(ns), plural, Some(name), None),
        ["namespaces", ns, plural, name, sub] => path(Some(ns), plural, Some(name), Some(sub)),
        _ => Route::Unknown,
    }
}

/// `%XX` sequences decoded (bytes that are not UTF-8 become U+FFFD, as
/// they name nothing anyway); a `%` without two hex digits stays as it is.
fn percent_decode(path: &str) -> String {
    if !path.contains('%') {
        return path.to_owned();
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// kube-apiserver's `IsValidPathSegmentName`, for names and namespaces in
/// paths: a name that could move the path elsewhere is a 400, never a lookup.
pub fn check_path_segment(what: &str, name: &str) -> ApiResult<()> {
    let problem = match name {
        "." => Some("may not be '.'"),
        ".." => Some("may not be '..'"),
        _ if name.contains('/') => Some("may not contain '/'"),
        _ if name.contains('%') => Some("may not contain '%'"),
        _ => None,
    };
    match problem {
        Some(problem) => Err(ApiError::BadRequest(format!(
            "invalid {what} {name:?}: [{problem}]"
        ))),
        None => Ok(()),
    }
}

/// Query parameters in order of appearance.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> ApiResult<Query> {
        let Some(raw) = raw else {
            return Ok(Query::default());
        };
        let uri: axum::http::Uri = format!("/?{raw}")
            .parse()
            .map_err(|_| ApiError::BadRequest("malformed query string".into()))?;
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
                .map_err(|e| ApiError::BadRequest(format!("malformed query string: {e}")))?;
        Ok(Query(pairs))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> ApiResult<Option<T>> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| ApiError::BadRequest(format!("invalid value for {name}: {v:?}")))
            })
            .transpose()
    }

    pub fn is_watch(&self) -> bool {
        self.flag("watch")
    }

    pub fn resource_version(&self) -> ApiResult<Option<u64>> {
        self.number("resourceVersion")
    }

    pub fn timeout(&self) -> ApiResult<Option<Duration>> {
        Ok(self
            .number::<u64>("timeoutSeconds")?
            .map(Duration::from_secs))
    }

    pub fn list_options(&self, group: &str, plural: &str) -> ApiResult<ListOptions> {
        Ok(ListOptions {
            labels: LabelSelector::parse(self.get("labelSelector").unwrap_or(""))?,
            fields: FieldSelector::parse(self.get("fieldSelector").unwrap_or(""), group, plural)?,
            limit: self.number("limit")?,
            continue_token: self
                .get("continue")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        })
    }

    pub fn write_options(&self) -> WriteOptions {
        WriteOptions {
            dry_run: self.get("dryRun") == Some("All"),
            field_manager: self
                .get("fieldManager")
                .filter(|m| !m.is_empty())
                .map(str::to_string),
            force: self.flag("force"),
        }
    }

    /// DeleteOptions from the query, overridden by those in the body (if any).
    pub fn delete_options(&self, body: Option<&Value>) -> ApiResult<DeleteOptions> {
        let mut opts = DeleteOptions {
            propagation: self
                .get("propagationPolicy")
                .map(parse_propagation)
                .transpose()?,
            dry_run: self.get("dryRun") == Some("All"),
            ..Default::default()
        };
        if self.get("orphanDependents") == Some("true") {
            opts.propagation = Some(Propagation::Orphan);
        }
        if let Some(body) = body {
            if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
                opts.propagation = Some(parse_propagation(p)?);
            } else if body.get("orphanDependents") == Some(&Value::Bool(true)) {
                opts.propagation = Some(Propagation::Orphan);
            }
            if let Some(pre) = body.get("preconditions") {
                opts.precondition_uid = pre.get("uid").and_then(Value::as_str).map(str::to_string);
                opts.precondition_rv = pre
                    .get("resourceVersion")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            if let Some(Value::Array(modes)) = body.get("dryRun") {
                opts.dry_run |= modes.iter().any(|m| m == "All");
            }
        }
        Ok(opts)
    }
}

fn parse_propagation(value: &str) -> ApiResult<Propagation> {
    match value {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(ApiError::BadRequest(format!(
            "invalid propagationPolicy {other:?}: must be Orphan, Background or Foreground"
        ))),
    }
}

/// How a body is encoded, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Yaml,
}

/// Like kube-apiserver: JSON (also without a Content-Type, and the `+json`
/// patch types) or YAML (`application/yaml`, `+yaml`); anything else is
/// 415, which tells clients to fall back to JSON (client-go does so for
/// protobuf and CBOR).
fn body_format(content_type: &str) -> ApiResult<BodyFormat> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "" | "application/json" => Ok(BodyFormat::Json),
        "application/yaml" => Ok(BodyFormat::Yaml),
        m if m.starts_with("application/") && m.ends_with("+json") => Ok(BodyFormat::Json),
        m if m.starts_with("application/") && m.ends_with("+yaml") => Ok(BodyFormat::Yaml),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {media:?})"
        ))),
    }
}

/// Decodes a JSON or YAML body (YAML is a superset of JSON, so YAML content
/// types accept both). Both decoders stop at 128 levels of nesting, so a
/// deeply nested body is a 400, not a stack overflow.
pub fn decode_body(content_type: &str, bytes: &[u8]) -> ApiResult<Value> {
    let format = body_format(content_type)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest("the request body is empty".into()));
    }
    let parsed = match format {
        BodyFormat::Yaml => serde_yaml_ng::from_slice::<Value>(bytes).map_err(|e| e.to_string()),
        // Go's decoder reads bytes that are not UTF-8 as U+FFFD; so does
        // kube-apiserver, which then refuses the value (a name) as invalid.
        BodyFormat::Json => match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str::<Value>(text),
            Err(_) => serde_json::from_str::<Value>(&String::from_utf8_lossy(bytes)),
        }
        .map_err(|e| e.to_string()),
    };
    parsed.map_err(|e| {
        ApiError::BadRequest(format!(
            "the request body could not be decoded as {}: {e}",
            if format == BodyFormat::Yaml {
                "YAML"
            } else {
                "JSON"
            }
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(path: &str) -> Route {
        route(path, &Registry::build(&[]))
    }

    #[test]
    fn routes() {
        assert_eq!(
            r("/api/v1/namespaces/default/pods/web"),
            Route::Resource(ResourcePath {
                group: "".into(),
                version: "v1".into(),
                namespace: Some("default".into()),
                plural: "pods".into(),
                name: Some("web".into()),
                subresource: None,
            })
        );
        let Route::Resource(ns) = r("/api/v1/namespaces/default") else {
            panic!("namespace object route");
        };
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref(), ns.namespace),
            ("namespaces", Some("default"), None)
        );
        let Route::Resource(status) = r("/api/v1/namespaces/default/status") else {
            panic!("namespace status route");
        };
        assert_eq!(status.subresource.as_deref(), Some("status"));
        let Route::Resource(scale) = r("/apis/apps/v1/namespaces/x/deployments/d/scale") else {
            panic!("scale route");
        };
        assert_eq!(scale.subresource.as_deref(), Some("scale"));
        assert_eq!(
            r("/apis/apps/v1"),
            Route::ResourceList {
                group: "apps".into(),
                version: "v1".into()
            }
        );
        assert_eq!(r("/nope"), Route::Unknown);
        assert_eq!(r("/api/v1/namespaces//configmaps"), Route::Unknown);
        assert_eq!(r("//api/v1/namespaces"), Route::Unknown);
        assert!(matches!(r("/api/v1/namespaces/"), Route::Resource(_)));
        let Route::Resource(dots) = r("/api/v1/namespaces/default/configmaps/%2e%2e") else {
            panic!("a name route");
        };
        assert_eq!(dots.name.as_deref(), Some(".."));
        let Route::Resource(split) = r("/api/v1/namespaces/default/configmaps/a%2Fb") else {
            panic!("decoded before splitting: a subresource route");
        };
        assert_eq!(split.subresource.as_deref(), Some("b"));
    }

    #[test]
    fn path_segments_that_could_move_the_path_are_refused() {
        for bad in [".", "..", "a/b", "a%b"] {
            assert!(check_path_segment("name", bad).is_err(), "{bad}");
        }
        for good in ["web", "a..b", ".hidden", "x.y"] {
            assert!(check_path_segment("name", good).is_ok(), "{good}");
        }
        assert_eq!(percent_decode("a%2e%2E%zz%4"), "a..%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn query_parsing() {
        let q = Query::parse(Some("watch=1&labelSelector=app%3Dweb&limit=5")).expect("parses");
        assert!(q.is_watch());
        assert_eq!(q.get("labelSelector"), Some("app=web"));
        assert!(q.list_options("", "pods").expect("valid").limit == Some(5));
        assert!(
            Query::parse(Some("limit=x"))
                .expect("parses")
                .list_options("", "pods")
                .is_err()
        );
    }
}
