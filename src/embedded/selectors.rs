//! Label and field selectors in the string syntax of list/watch query
//! parameters (`app=web,tier!=db,env in (a,b),!legacy`).

use serde_json::Value;

use super::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn parse(input: &str) -> ApiResult<LabelSelector> {
        let mut requirements = Vec::new();
        if input.trim().is_empty() {
            return Ok(LabelSelector { requirements });
        }
        for part in split_top_level(input) {
            let part = part.trim();
            // Like kube-apiserver's parser: `a,,b` and `a,` name no requirement.
            if part.is_empty() {
                return Err(ApiError::BadRequest(format!(
                    "unable to parse requirement: found ',', expected: identifier in {input:?}"
                )));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        self.requirements.iter().all(|r| {
            let value = labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str);
            match (&r.op, value) {
                (Op::Equals(v), Some(actual)) => actual == v,
                (Op::Equals(_), None) => false,
                (Op::NotEquals(v), actual) => actual != Some(v.as_str()),
                (Op::In(vs), Some(actual)) => vs.iter().any(|v| v == actual),
                (Op::In(_), None) => false,
                (Op::NotIn(vs), actual) => actual.is_none_or(|a| !vs.iter().any(|v| v == a)),
                (Op::Exists, actual) => actual.is_some(),
                (Op::DoesNotExist, actual) => actual.is_none(),
                (Op::GreaterThan(n), Some(actual)) => actual.parse::<i64>().is_ok_and(|a| a > *n),
                (Op::LessThan(n), Some(actual)) => actual.parse::<i64>().is_ok_and(|a| a < *n),
                (Op::GreaterThan(_) | Op::LessThan(_), None) => false,
            }
        })
    }
}

/// Splits on commas that are not inside `( … )`.
fn split_top_level(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

fn bad_selector(input: &str, why: &str) -> ApiError {
    ApiError::BadRequest(format!("unable to parse requirement: {why}: {input:?}"))
}

fn validate_key(key: &str, whole: &str) -> ApiResult<String> {
    let ok = !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(key.to_string())
    } else {
        Err(bad_selector(whole, "invalid label key"))
    }
}

fn validate_value(value: &str, whole: &str) -> ApiResult<String> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(bad_selector(whole, "invalid label value"))
    }
}

fn parse_set(rest: &str, whole: &str) -> ApiResult<Vec<String>> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad_selector(whole, "expected a parenthesised set of values"))?;
    inner
        .split(',')
        .map(|v| validate_value(v.trim(), whole))
        .collect()
}

fn parse_requirement(part: &str) -> ApiResult<Requirement> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement {
            key: validate_key(key.trim(), part)?,
            op: Op::DoesNotExist,
        });
    }
    // Set-based forms: `key in (…)` / `key notin (…)`.
    let words: Vec<&str> = part.splitn(3, char::is_whitespace).collect();
    if words.len() >= 2 && matches!(words[1], "in" | "notin") {
        let key = validate_key(words[0], part)?;
        let rest = part[words[0].len()..].trim_start()[words[1].len()..].trim();
        let values = parse_set(rest, part)?;
        let op = if words[1] == "in" {
            Op::In(values)
        } else {
            Op::NotIn(values)
        };
        return Ok(Requirement { key, op });
    }
    for (token, make) in [
        ("!=", (|v| Op::NotEquals(v)) as fn(String) -> Op),
        ("==", Op::Equals),
        ("=", Op::Equals),
    ] {
        if let Some((key, value)) = part.split_once(token) {
            return Ok(Requirement {
                key: validate_key(key.trim(), part)?,
                op: make(validate_value(value.trim(), part)?),
            });
        }
    }
    for (token, greater) in [(">", true), ("<", false)] {
        if let Some((key, value)) = part.split_once(token) {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| bad_selector(part, "expected an integer"))?;
            let op = if greater {
                Op::GreaterThan(n)
            } else {
                Op::LessThan(n)
            };
            return Ok(Requirement {
                key: validate_key(key.trim(), part)?,
                op,
            });
        }
    }
    Ok(Requirement {
        key: validate_key(part, part)?,
        op: Op::Exists,
    })
}

/// A parsed field selector: only `=`, `==` and `!=` on supported fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

/// Fields every resource supports, plus the per-resource extras kubectl and
/// controllers use. Anything else is refused, like the real API server does.
fn field_supported(group: &str, resource: &str, field: &str) -> bool {
    if matches!(field, "metadata.name" | "metadata.namespace") {
        return true;
    }
    match (group, resource) {
        ("", "pods") => matches!(
            field,
            "spec.nodeName"
                | "spec.restartPolicy"
                | "spec.schedulerName"
                | "spec.serviceAccountName"
                | "spec.hostNetwork"
                | "status.phase"
                | "status.podIP"
                | "status.nominatedNodeName"
        ),
        ("", "events") => {
            field.starts_with("involvedObject.")
                || matches!(field, "reason" | "type" | "source" | "reportingComponent")
        }
        // kube-proxy lists Services with `spec.clusterIP!=None`.
        ("", "services") => matches!(field, "spec.clusterIP" | "spec.type"),
        ("", "secrets") => field == "type",
        ("", "nodes") => field == "spec.unschedulable",
        ("", "namespaces") => field == "status.phase",
        _ => false,
    }
}

impl FieldSelector {
    pub fn parse(input: &str, group: &str, resource: &str) -> ApiResult<FieldSelector> {
        let mut terms = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::BadRequest(format!(
                    "invalid field selector: {part:?}: expected field=value or field!=value"
                )));
            };
            let field = field.trim();
            if !field_supported(group, resource, field) {
                return Err(ApiError::BadRequest(format!(
                    "field label not supported: {field}"
                )));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, equal, expected)| {
            let actual = field_value(object, field);
            (actual == *expected) == *equal
        })
    }
}

/// The string form of a field; absent fields compare as "" (so
/// `spec.nodeName=` finds unscheduled pods, as in Kubernetes).
fn field_value(object: &Value, field: &str) -> String {
    let pointer = format!("/{}", field.replace('.', "/"));
    match object.pointer(&pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "n", "labels": labels}, "spec": {"nodeName": "edge-1"}})
    }

    #[test]
    fn label_selector_operators() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        let cases = [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app in (db, web)", true),
            ("app notin (db,web)", false),
            ("tier notin (db)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app=web,tier in (front),!missing", true),
            ("app=web,tier=back", false),
            ("", true),
        ];
        for (selector, expected) in cases {
            let parsed = LabelSelector::parse(selector).expect(selector);
            assert_eq!(parsed.matches(&o), expected, "{selector}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_bad_requests() {
        for bad in ["app in db", "a b c", "=x", "app=(", "x>y"] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_selectors_support_known_fields_only() {
        let o = obj(json!({}));
        let sel = FieldSelector::parse("spec.nodeName=edge-1,metadata.name!=x", "", "pods")
            .expect("valid");
        assert!(sel.matches(&o));
        let unscheduled = FieldSelector::parse("spec.nodeName=", "", "pods").expect("valid");
        assert!(!unscheduled.matches(&o));
        assert!(FieldSelector::parse("spec.nodeName=a", "", "configmaps").is_err());
        assert!(FieldSelector::parse("metadata.name", "", "pods").is_err());
    }
}
