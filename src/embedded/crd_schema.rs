//! What kube-apiserver's apiextensions does to a custom resource with its
//! CRD's structural schema on every write: unknown fields are pruned, nulls
//! of non-nullable fields dropped, defaults filled, and the result validated
//! (types, required fields, enums, bounds), a 422 Invalid otherwise.
//!
//! Without this the embedded server would store what no real cluster stores
//! (a typo'd field, `replicas: "abc"` in an override), and a typed reader of
//! the resource (the engine's reflectors) would meet objects it cannot decode
//! only here.
//!
//! Not covered: `pattern` and `format` (kube-apiserver checks few formats),
//! CEL rules (`x-kubernetes-validations`), `oneOf`/`anyOf`/`allOf`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::fieldset::Shape;
use super::resources::{ResourceInfo, crd_key};
use super::store::{ObjectKey, Txn};

/// The stored CRD of a custom resource (None for built-ins).
pub fn crd_of(txn: &Txn<'_>, info: &ResourceInfo) -> Option<Arc<Value>> {
    if !info.custom {
        return None;
    }
    let crd_name = format!("{}.{}", info.plural, info.group);
    txn.get(&crd_key(), &ObjectKey::new("", &crd_name))
}

/// How an object of `info` is shaped for field ownership: built-ins by
/// their known fields, custom resources by `crd`'s schema.
pub fn shape_of<'a>(info: &'a ResourceInfo, crd: Option<&'a Value>) -> Shape<'a> {
    let schema = crd.and_then(|c| schema_of(c, &info.version));
    Shape::root(
        (info.group.as_str(), info.plural.as_str()),
        schema,
        info.custom,
    )
}

/// [`process`] with the stored CRD's schema, for a custom resource.
pub fn conform(txn: &Txn<'_>, info: &ResourceInfo, object: &mut Value) -> Result<(), Vec<String>> {
    match crd_of(txn, info) {
        Some(crd) => match schema_of(&crd, &info.version) {
            Some(schema) => process(object, schema),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

/// The `openAPIV3Schema` of `version` in a stored CRD, if it has one.
pub fn schema_of<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
}

/// Prunes, defaults and validates a whole custom resource in place; the
/// errors are `field: message` in kube-apiserver's wording.
pub fn process(object: &mut Value, schema: &Value) -> Result<(), Vec<String>> {
    let Some(map) = object.as_object_mut() else {
        return Ok(());
    };
    // apiVersion, kind and metadata are the API server's, never pruned here.
    let mut body = std::mem::take(map);
    for key in ["apiVersion", "kind", "metadata"] {
        if let Some(value) = body.shift_remove(key) {
            map.insert(key.into(), value);
        }
    }
    normalise_object(&mut body, schema);
    let mut errors = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (key, value) in &body {
            if let Some(child) = properties.get(key) {
                validate(value, child, key, &mut errors);
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for field in required.iter().filter_map(Value::as_str) {
            if !body.contains_key(field) {
                errors.push(format!("{field}: Required value"));
            }
        }
    }
    map.extend(body);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn preserves_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
}

/// Pruning, null dropping and defaulting of one value under `schema`.
fn normalise(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => normalise_object(map, schema),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    normalise(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

fn normalise_object(map: &mut Map<String, Value>, schema: &Value) {
    let embedded = schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        if !preserves_unknown(schema) {
            map.retain(|key, _| {
                properties.contains_key(key)
                    || (embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata"))
            });
        }
        // A null where null is not allowed is dropped, so a default can fill it.
        map.retain(|key, value| !value.is_null() || properties.get(key).is_none_or(nullable));
        for (key, child) in properties {
            if !map.contains_key(key)
                && let Some(default) = child.get("default")
            {
                map.insert(key.clone(), default.clone());
            }
            if let Some(value) = map.get_mut(key) {
                normalise(value, child);
            }
        }
    } else if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
        map.retain(|_, value| !value.is_null() || nullable(values));
        for value in map.values_mut() {
            normalise(value, values);
        }
    } else if !preserves_unknown(schema) && !embedded {
        // `type: object` without properties keeps nothing unknown.
        map.clear();
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(value: &Value, schema: &Value) -> bool {
    if value.is_null() {
        return nullable(schema);
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return matches!(type_name(value), "integer" | "string");
    }
    match schema.get("type").and_then(Value::as_str) {
        None => true,
        Some("number") => value.is_number(),
        Some(expected) => type_name(value) == expected,
    }
}

/// Go's `%v`-like rendering kube-apiserver uses for a value in a message.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn validate(value: &Value, schema: &Value, path: &str, errors: &mut Vec<String>) {
    if !type_matches(value, schema) {
        let expected = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let actual = type_name(value);
        errors.push(format!(
            "{path}: Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !value.is_null()
        && !allowed.contains(value)
    {
        let supported: Vec<String> = allowed.iter().map(shown).collect();
        errors.push(format!(
            "{path}: Unsupported value: {}: supported values: {}",
            shown(value),
            supported.join(", ")
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!(
                "{path}: Invalid value: {value}: {path} in body should be greater than or equal to {}",
                schema["minimum"]
            ));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!(
                "{path}: Invalid value: {value}: {path} in body should be less than or equal to {}",
                schema["maximum"]
            ));
        }
    }
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, child) in properties {
                    if let Some(v) = map.get(key) {
                        validate(v, child, &format!("{path}.{key}"), errors);
                    }
                }
            } else if let Some(values) =
                schema.get("additionalProperties").filter(|s| s.is_object())
            {
                for (key, v) in map {
                    validate(v, values, &format!("{path}.{key}"), errors);
                }
            }
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for field in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(field) {
                        errors.push(format!("{path}.{field}: Required value"));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(item, item_schema, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "default": {}, "properties": {
                "scope": {"type": "object", "default": {}, "properties": {
                    "groups": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string"},
                        "replicas": {"type": "integer", "nullable": true, "minimum": 0},
                        "mode": {"type": "string", "enum": ["a", "b"]},
                        "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }}}
                }}
            }},
            "status": {"type": "object", "nullable": true, "properties": {"n": {"type": "integer"}}}
        }})
    }

    #[test]
    fn unknown_fields_are_pruned_except_where_preserved() {
        let mut o = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "junk": 1,
            "spec": {"typo": true, "scope": {"groups": [{"name": "g", "extra": 1, "raw": {"any": {"thing": 1}}}]}}});
        process(&mut o, &schema()).expect("valid");
        assert_eq!(
            o,
            json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"},
                "spec": {"scope": {"groups": [{"name": "g", "raw": {"any": {"thing": 1}}}]}}})
        );
    }

    #[test]
    fn defaults_fill_absent_and_null_fields() {
        let mut o = json!({"spec": null});
        process(&mut o, &schema()).expect("valid");
        assert_eq!(o, json!({"spec": {"scope": {}}}));
    }

    #[test]
    fn invalid_values_are_reported_in_kube_apiserver_words() {
        let mut o = json!({"spec": {"scope": {"groups": [{"name": "g", "replicas": "abc"}, {"mode": "c", "replicas": -1}]}}});
        let errors = process(&mut o, &schema()).expect_err("invalid");
        assert_eq!(
            errors,
            vec![
                "spec.scope.groups[0].replicas: Invalid value: \"string\": spec.scope.groups[0].replicas in body must be of type integer: \"string\"",
                "spec.scope.groups[1].replicas: Invalid value: -1: spec.scope.groups[1].replicas in body should be greater than or equal to 0",
                "spec.scope.groups[1].mode: Unsupported value: \"c\": supported values: \"a\", \"b\"",
                "spec.scope.groups[1].name: Required value",
            ]
        );
    }
}
