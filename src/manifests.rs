//! Reading Kubernetes objects from YAML or JSON files, the way `kubectl apply -f` does:
//! multi-document streams, `-` for standard input, and `kind: List` flattened.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;

/// Where an object came from, for error messages: `file.yaml#2` (documents
/// count from 1), `file.yaml#2 items[0]` for an item of a `kind: List`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub file: String,
    pub document: usize,
    /// Index in the document's `items` when it is a `kind: List`.
    pub item: Option<usize>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.file, self.document)?;
        match self.item {
            Some(item) => write!(f, " items[{item}]"),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{at}: not valid YAML: {message}")]
    Syntax { at: Source, message: String },
    #[error("{at}: not a Kubernetes object (a map with apiVersion and kind)")]
    NotAnObject { at: Source },
    #[error("{at}: {object}: {path}: {message}")]
    Field {
        at: Source,
        /// `Kind name`
        object: String,
        path: String,
        message: String,
    },
}

/// One object read from a file.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: Source,
    pub object: Value,
}

impl Loaded {
    pub fn api_version(&self) -> &str {
        self.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
    }

    /// Decodes into a typed object; the error names the exact field that is wrong.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ManifestError> {
        serde_path_to_error::deserialize(&self.object).map_err(|e| {
            let message = e.inner().to_string();
            ManifestError::Field {
                at: self.source.clone(),
                object: format!("{} {}", self.kind(), self.name()),
                path: field_path(&e.path().to_string(), &message),
                message,
            }
        })
    }
}

/// Reads every object of one file (`-` is standard input).
pub fn read_file(path: &str) -> Result<Vec<Loaded>, ManifestError> {
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|source| ManifestError::Read {
                file: "<stdin>".into(),
                source,
            })?;
        s
    } else {
        std::fs::read_to_string(Path::new(path)).map_err(|source| ManifestError::Read {
            file: path.to_owned(),
            source,
        })?
    };
    parse(if path == "-" { "<stdin>" } else { path }, &text)
}

/// Parses a multi-document YAML (or JSON) stream. Empty documents are skipped;
/// `kind: List` documents contribute their items.
pub fn parse(file: &str, text: &str) -> Result<Vec<Loaded>, ManifestError> {
    let mut out = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let at = Source {
            file: file.to_owned(),
            document: index + 1,
            item: None,
        };
        let value = Value::deserialize(document).map_err(|e| ManifestError::Syntax {
            at: at.clone(),
            message: e.to_string(),
        })?;
        match value {
            Value::Null => {}
            Value::Object(ref map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
                let items = map
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (item, object) in items.into_iter().enumerate() {
                    let at = Source {
                        item: Some(item),
                        ..at.clone()
                    };
                    out.push(checked(at, object)?);
                }
            }
            other => out.push(checked(at, other)?),
        }
    }
    Ok(out)
}

/// serde reports a missing field at the path of the map that lacks it (`.`
/// for a missing `spec`); the reader wants the field itself.
fn field_path(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match missing {
        Some(field) if path == "." => field.to_owned(),
        Some(field) => format!("{path}.{field}"),
        None => path.to_owned(),
    }
}

fn checked(source: Source, object: Value) -> Result<Loaded, ManifestError> {
    let is_object = object.get("apiVersion").and_then(Value::as_str).is_some()
        && object.get("kind").and_then(Value::as_str).is_some();
    if !is_object {
        return Err(ManifestError::NotAnObject { at: source });
    }
    Ok(Loaded { source, object })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_stream_with_list_and_empty_documents() {
        let text = "---\napiVersion: v1\nkind: Node\nmetadata: {name: a}\n---\n---\n\
                    apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Node, metadata: {name: b}}\n";
        let loaded = parse("f.yaml", text).unwrap();
        let names: Vec<_> = loaded.iter().map(Loaded::name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(loaded[1].source.to_string(), "f.yaml#3 items[0]");
    }

    #[test]
    fn list_items_are_named_by_index() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Node, metadata: {name: a}}\n- {metadata: {name: b}}\n";
        let err = parse("l.yaml", text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "l.yaml#1 items[1]: not a Kubernetes object (a map with apiVersion and kind)"
        );
    }

    #[test]
    fn a_missing_field_is_named_itself() {
        let loaded = parse(
            "e.yaml",
            "apiVersion: apps.kubeedge.io/v1alpha1\nkind: EdgeApplication\nmetadata: {name: e}\n",
        )
        .unwrap();
        let err = loaded[0]
            .decode::<crate::api::EdgeApplication>()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "e.yaml#1: EdgeApplication e: spec: missing field `spec`"
        );
    }

    #[test]
    fn errors_say_where() {
        let err = parse("f.yaml", "apiVersion: v1\nkind: [\n").unwrap_err();
        assert!(
            err.to_string().starts_with("f.yaml#1: not valid YAML"),
            "{err}"
        );
        let err = parse("f.yaml", "---\njust a string\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.yaml#1: not a Kubernetes object (a map with apiVersion and kind)"
        );
    }

    #[test]
    fn decode_names_the_field() {
        let loaded = parse(
            "g.yaml",
            "apiVersion: apps.kubeedge.io/v1alpha1\nkind: NodeGroup\nmetadata: {name: g}\nspec: {nodes: 3}\n",
        )
        .unwrap();
        let err = loaded[0].decode::<crate::api::NodeGroup>().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("g.yaml#1: NodeGroup g: spec.nodes: invalid type"),
            "{err}"
        );
    }
}
