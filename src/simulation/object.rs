//! Small, total helpers over JSON objects: metadata, labels, conditions,
//! timestamps, deterministic hashing and names. Nothing here panics on odd
//! input: missing or mistyped fields read as absent.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The characters Kubernetes uses for generated suffixes (no vowels, no 0/1/3).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn str_at<'v>(object: &'v Value, pointer: &str) -> Option<&'v str> {
    object.pointer(pointer).and_then(Value::as_str)
}

pub fn name(object: &Value) -> &str {
    str_at(object, "/metadata/name").unwrap_or("")
}

pub fn namespace(object: &Value) -> &str {
    str_at(object, "/metadata/namespace").unwrap_or("")
}

pub fn uid(object: &Value) -> Option<&str> {
    str_at(object, "/metadata/uid").filter(|u| !u.is_empty())
}

pub fn kind(object: &Value) -> &str {
    str_at(object, "/kind").unwrap_or("")
}

pub fn api_version(object: &Value) -> &str {
    str_at(object, "/apiVersion").unwrap_or("")
}

pub fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// `metadata.labels` as string pairs (non-string values are skipped).
pub fn labels(object: &Value) -> BTreeMap<&str, &str> {
    string_map(object.pointer("/metadata/labels"))
}

pub fn string_map(value: Option<&Value>) -> BTreeMap<&str, &str> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                .collect()
        })
        .unwrap_or_default()
}

pub fn label<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

pub fn is_deleting(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

pub fn has_finalizers(object: &Value) -> bool {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// `object[key]` as a map, created (or replaced if not a map) when needed.
/// Returns `None` only when `object` itself is not a JSON object.
pub fn map_mut<'v>(object: &'v mut Value, key: &str) -> Option<&'v mut Map<String, Value>> {
    let obj = object.as_object_mut()?;
    let entry = obj
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// RFC 3339 with whole seconds, the precision Kubernetes stores.
pub fn rfc3339(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn parse_time(value: Option<&Value>) -> Option<Timestamp> {
    value?.as_str()?.parse().ok()
}

/// Seconds since the Unix epoch of an RFC 3339 field, if it parses.
pub fn seconds_at(object: &Value, pointer: &str) -> Option<i64> {
    parse_time(object.pointer(pointer)).map(|t| t.as_second())
}

pub fn timestamp(seconds: i64) -> Option<Timestamp> {
    Timestamp::from_second(seconds).ok()
}

/// JSON with object keys sorted at every level, so equal objects hash
/// equally whatever order their fields were written in.
pub fn canonical(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, &Value> = map.iter().collect();
                out.push('{');
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

pub fn sha256(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher.finalize().into()
}

/// `len` characters of the safe alphabet derived from `parts`.
pub fn safe_suffix(parts: &[&str], len: usize) -> String {
    let digest = sha256(parts);
    digest
        .iter()
        .cycle()
        .take(len)
        .map(|b| SAFE_ALPHABET[usize::from(*b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// Hex of the digest of `parts`, `len` characters (at most 64).
pub fn hex(parts: &[&str], len: usize) -> String {
    let mut out = String::with_capacity(64);
    for b in sha256(parts) {
        let _ = write!(out, "{b:02x}");
    }
    out.truncate(len);
    out
}

/// Like Kubernetes' pod-template-hash: a short safe-encoded hash of the template.
pub fn template_hash(template: Option<&Value>) -> String {
    let text = template.map(canonical).unwrap_or_default();
    let digest = sha256(&[&text]);
    let mut n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let mut out = String::new();
    loop {
        out.push(SAFE_ALPHABET[(n % SAFE_ALPHABET.len() as u32) as usize] as char);
        n /= SAFE_ALPHABET.len() as u32;
        if n == 0 {
            break;
        }
    }
    out
}

/// The condition of `type_` in a `status.conditions` list.
pub fn condition<'v>(object: &'v Value, type_: &str) -> Option<&'v Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

pub fn condition_status<'v>(object: &'v Value, type_: &str) -> Option<&'v str> {
    condition(object, type_)?.get("status")?.as_str()
}

/// A condition to write; times are filled by [`set_condition`].
pub struct Cond<'c> {
    pub type_: &'c str,
    pub status: &'c str,
    pub reason: Option<&'c str>,
    pub message: Option<&'c str>,
}

/// Which timestamp fields a kind of condition carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CondStyle {
    /// Pods: `lastProbeTime: null`, `lastTransitionTime`.
    Pod,
    /// Nodes: `lastHeartbeatTime`, `lastTransitionTime` (heartbeat handled by the caller).
    Node,
    /// Deployments: `lastUpdateTime`, `lastTransitionTime`.
    Workload,
}

/// Writes `cond` into `conditions`, keeping `lastTransitionTime` when the
/// status did not change (and every time when nothing changed), so that
/// writing the same condition twice is a no-op.
pub fn set_condition(conditions: &mut Vec<Value>, cond: &Cond<'_>, now: &str, style: CondStyle) {
    let existing = conditions
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(cond.type_));
    let old = existing.map(|i| conditions[i].clone());
    let same_status = old
        .as_ref()
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some(cond.status);
    let same_all = same_status
        && old
            .as_ref()
            .and_then(|c| c.get("reason"))
            .and_then(Value::as_str)
            == cond.reason
        && old
            .as_ref()
            .and_then(|c| c.get("message"))
            .and_then(Value::as_str)
            == cond.message;
    let kept = |field: &str| -> Value {
        old.as_ref()
            .and_then(|c| c.get(field))
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or_else(|| json!(now))
    };
    let transition = if same_status {
        kept("lastTransitionTime")
    } else {
        json!(now)
    };
    let mut next = Map::new();
    next.insert("type".into(), json!(cond.type_));
    next.insert("status".into(), json!(cond.status));
    match style {
        CondStyle::Pod => {
            next.insert("lastProbeTime".into(), Value::Null);
        }
        CondStyle::Node => {
            next.insert("lastHeartbeatTime".into(), kept("lastHeartbeatTime"));
        }
        CondStyle::Workload => {
            let update = if same_all {
                kept("lastUpdateTime")
            } else {
                json!(now)
            };
            next.insert("lastUpdateTime".into(), update);
        }
    }
    next.insert("lastTransitionTime".into(), transition);
    if let Some(reason) = cond.reason {
        next.insert("reason".into(), json!(reason));
    }
    if let Some(message) = cond.message {
        next.insert("message".into(), json!(message));
    }
    let next = Value::Object(next);
    match existing {
        Some(i) => conditions[i] = next,
        None => conditions.push(next),
    }
}

/// `status.conditions` of `object` (an empty list if absent or mistyped).
pub fn conditions_of(object: &Value) -> Vec<Value> {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A controller ownerReference to `owner`.
pub fn owner_reference(owner: &Value) -> Value {
    let mut r = Map::new();
    r.insert("apiVersion".into(), json!(api_version(owner)));
    r.insert("kind".into(), json!(kind(owner)));
    r.insert("name".into(), json!(name(owner)));
    if let Some(uid) = uid(owner) {
        r.insert("uid".into(), json!(uid));
    }
    r.insert("controller".into(), json!(true));
    r.insert("blockOwnerDeletion".into(), json!(true));
    Value::Object(r)
}

/// The `(kind, name, uid)` of the controller ownerReference, if any.
pub fn controller_of(object: &Value) -> Option<(&str, &str, Option<&str>)> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| {
            (
                r.get("kind").and_then(Value::as_str).unwrap_or(""),
                r.get("name").and_then(Value::as_str).unwrap_or(""),
                r.get("uid").and_then(Value::as_str),
            )
        })
}

/// Whether `pod` is controlled by `owner` (same namespace, kind and name;
/// and same uid when both are known).
pub fn is_controlled_by(pod: &Value, owner: &Value) -> bool {
    if namespace(pod) != namespace(owner) {
        return false;
    }
    match controller_of(pod) {
        Some((k, n, u)) => {
            k == kind(owner)
                && n == name(owner)
                && match (u, uid(owner)) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
        }
        None => false,
    }
}

/// Integer or percentage (`"25%"`) of `total`, rounded up or down.
pub fn int_or_percent(value: Option<&Value>, total: i64, default: &str, round_up: bool) -> i64 {
    let parse = |v: &Value| -> Option<i64> {
        if let Some(n) = v.as_i64() {
            return Some(n.max(0));
        }
        let s = v.as_str()?;
        if let Some(p) = s.strip_suffix('%') {
            let p: i64 = p.trim().parse().ok()?;
            let scaled = p.max(0) * total.max(0);
            return Some(if round_up {
                (scaled + 99) / 100
            } else {
                scaled / 100
            });
        }
        s.trim().parse::<i64>().ok().map(|n| n.max(0))
    };
    value
        .and_then(parse)
        .or_else(|| parse(&json!(default)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ignores_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": null}});
        let b = json!({"a": {"x": null, "y": [1, {"p": 2, "q": 1}]}, "b": 1});
        assert_eq!(canonical(&a), canonical(&b));
        assert_eq!(template_hash(Some(&a)), template_hash(Some(&b)));
        assert_ne!(template_hash(Some(&a)), template_hash(Some(&json!({}))));
    }

    #[test]
    fn suffixes_are_safe_and_deterministic() {
        let s = safe_suffix(&["default", "web", "0"], 5);
        assert_eq!(s.len(), 5);
        assert_eq!(s, safe_suffix(&["default", "web", "0"], 5));
        assert!(s.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert_eq!(hex(&["x"], 8).len(), 8);
    }

    #[test]
    fn conditions_keep_times_when_unchanged() {
        let mut conds = Vec::new();
        let c = Cond {
            type_: "Ready",
            status: "True",
            reason: None,
            message: None,
        };
        set_condition(&mut conds, &c, "2025-01-01T00:00:00Z", CondStyle::Pod);
        let first = conds.clone();
        set_condition(&mut conds, &c, "2025-01-01T00:05:00Z", CondStyle::Pod);
        assert_eq!(conds, first);
        let f = Cond {
            status: "False",
            ..c
        };
        set_condition(&mut conds, &f, "2025-01-01T00:05:00Z", CondStyle::Pod);
        assert_eq!(conds[0]["lastTransitionTime"], "2025-01-01T00:05:00Z");
        assert_eq!(conds.len(), 1);
    }

    #[test]
    fn int_or_percent_rounds() {
        assert_eq!(int_or_percent(Some(&json!("25%")), 3, "25%", true), 1);
        assert_eq!(int_or_percent(Some(&json!("25%")), 3, "25%", false), 0);
        assert_eq!(int_or_percent(None, 8, "25%", false), 2);
        assert_eq!(int_or_percent(Some(&json!(2)), 8, "25%", false), 2);
        assert_eq!(int_or_percent(Some(&json!("junk")), 8, "1", false), 1);
    }

    #[test]
    fn ownership() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "uid": "u1"}});
        let pod = json!({"metadata": {"namespace": "a", "ownerReferences": [owner_reference(&d)]}});
        assert!(is_controlled_by(&pod, &d));
        let other = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "a", "uid": "u2"}});
        assert!(!is_controlled_by(&pod, &other));
    }
}
