//! Checked navigation of raw manifests. Every failure says which JSON pointer
//! was wrong and how, because it ends up as a status reason.

use serde_json::{Map, Value};

use super::Ctx;
use crate::engine::EngineError;

/// "an object", "a string", … for messages.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The object at a pointer whose tokens need no escaping (the fixed paths of
/// well-known kinds, like `/spec/template/spec`). It must already exist:
/// creating a pod template would hide a broken manifest.
pub(super) fn object_at<'a>(
    ctx: &Ctx,
    root: &'a mut Value,
    pointer: &str,
) -> Result<&'a mut Map<String, Value>, EngineError> {
    let mut current = root;
    let mut walked = String::new();
    for token in pointer.split('/').skip(1) {
        let Value::Object(map) = current else {
            return Err(not_an_object(ctx, &walked, current));
        };
        walked.push('/');
        walked.push_str(token);
        current = match map.get_mut(token) {
            Some(child) => child,
            None => return Err(ctx.invalid_field(walked, "is missing")),
        };
    }
    match current {
        Value::Object(map) => Ok(map),
        other => Err(not_an_object(ctx, &walked, other)),
    }
}

fn not_an_object(ctx: &Ctx, path: &str, value: &Value) -> EngineError {
    let field = if path.is_empty() { "/" } else { path };
    ctx.invalid_field(field, format!("is {}, not an object", type_name(value)))
}

/// `parent[key]` as an object, created when absent or null (optional fields
/// like `nodeSelector` or `resources`).
pub(super) fn child_object<'a>(
    ctx: &Ctx,
    parent: &'a mut Map<String, Value>,
    parent_path: &str,
    key: &str,
) -> Result<&'a mut Map<String, Value>, EngineError> {
    let slot = parent.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => Ok(map),
        other => Err(ctx.invalid_field(
            format!("{parent_path}/{}", escape(key)),
            format!("is {}, not an object", type_name(other)),
        )),
    }
}

/// `parent[key]` as an array, created when absent or null (`env`, `command`, …).
pub(super) fn child_array<'a>(
    ctx: &Ctx,
    parent: &'a mut Map<String, Value>,
    parent_path: &str,
    key: &str,
) -> Result<&'a mut Vec<Value>, EngineError> {
    let slot = parent.entry(key.to_owned()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(items) => Ok(items),
        other => Err(ctx.invalid_field(
            format!("{parent_path}/{}", escape(key)),
            format!("is {}, not an array", type_name(other)),
        )),
    }
}

/// RFC 6901 token escaping: `~` → `~0`, `/` → `~1`.
pub(super) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> Result<String, String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return Err(format!("token {token:?} has a '~' not followed by 0 or 1")),
        }
    }
    Ok(out)
}

/// Resolves a user-written RFC 6901 pointer; the error is the problem, for
/// a status reason (which segment is missing, which index is out of range).
pub(super) fn resolve_mut<'a>(root: &'a mut Value, pointer: &str) -> Result<&'a mut Value, String> {
    if pointer.is_empty() {
        return Ok(root);
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err("not a JSON pointer: it must start with '/'".into());
    };
    let mut current = root;
    let mut walked = String::new();
    for raw in rest.split('/') {
        let token = unescape(raw)?;
        let at = if walked.is_empty() {
            "/".to_owned()
        } else {
            walked.clone()
        };
        current = match current {
            Value::Object(map) => map
                .get_mut(&token)
                .ok_or_else(|| format!("{at} has no key {token:?}"))?,
            Value::Array(items) => {
                let len = items.len();
                let index = array_index(&token, &at)?;
                items.get_mut(index).ok_or_else(|| {
                    format!("index {index} is out of range at {at} ({len} elements)")
                })?
            }
            other => {
                return Err(format!(
                    "{at} is {}, which has no {token:?}",
                    type_name(other)
                ));
            }
        };
        walked.push('/');
        walked.push_str(raw);
    }
    Ok(current)
}

/// Array tokens are decimal without leading zeros; `-` (past the end) never
/// names an existing element.
fn array_index(token: &str, at: &str) -> Result<usize, String> {
    if token == "-" {
        return Err(format!(
            "'-' at {at} names the end of the array, not an element"
        ));
    }
    let digits_only = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = token.len() > 1 && token.starts_with('0');
    if !digits_only || leading_zero {
        return Err(format!("{token:?} at {at} is not an array index"));
    }
    token
        .parse()
        .map_err(|_| format!("index {token} at {at} is out of range"))
}
