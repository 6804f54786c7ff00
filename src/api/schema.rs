//! Hand-written schema fragments where a derived one would not be structural
//! or would drop unknown fields.

use schemars::{Schema, SchemaGenerator, json_schema};

/// A raw Kubernetes object, kept as written (unknown fields preserved).
pub(super) fn raw_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A list of raw Kubernetes objects.
pub(super) fn raw_objects(g: &mut SchemaGenerator) -> Schema {
    let item = raw_object(g);
    json_schema!({
        "type": "array",
        "items": item
    })
}
