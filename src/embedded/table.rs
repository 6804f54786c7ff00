//! `meta.k8s.io/v1` Table responses, which is what `kubectl get` prints.
//! Built-ins get hand-written columns modelled on Kubernetes'; CRD-backed
//! resources use their `additionalPrinterColumns` (JSONPath subset).

use serde_json::{Value, json};

use super::objects::{age, is_deleting, meta_str};
use super::resources::{PrinterColumn, ResourceInfo};

/// What each row carries besides cells (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> IncludeObject {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

struct Column {
    name: String,
    type_: String,
    format: String,
    description: String,
    priority: i64,
    cell: Cell,
}

enum Cell {
    Builtin(fn(&Value) -> Value),
    Path(String, String),
}

fn col(name: &str, type_: &str, priority: i64, cell: fn(&Value) -> Value) -> Column {
    Column {
        name: name.into(),
        type_: type_.into(),
        format: if name == "Name" {
            "name".into()
        } else {
            String::new()
        },
        description: String::new(),
        priority,
        cell: Cell::Builtin(cell),
    }
}

fn name_cell(o: &Value) -> Value {
    json!(meta_str(o, "name").unwrap_or(""))
}

fn age_cell(o: &Value) -> Value {
    json!(age(meta_str(o, "creationTimestamp")))
}

fn int_at(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn str_or_none(o: &Value, pointer: &str) -> Value {
    match o.pointer(pointer).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => json!(s),
        _ => json!("<none>"),
    }
}

fn len_at(o: &Value, pointer: &str) -> usize {
    match o.pointer(pointer) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

fn pod_ready(o: &Value) -> Value {
    let total = len_at(o, "/spec/containers");
    let ready = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter(|c| c["ready"] == json!(true)).count())
        .unwrap_or(0);
    json!(format!("{ready}/{total}"))
}

fn pod_status(o: &Value) -> Value {
    if is_deleting(o) {
        return json!("Terminating");
    }
    let waiting = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|s| {
            s.iter()
                .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str))
        });
    let reason = o.pointer("/status/reason").and_then(Value::as_str);
    let phase = o.pointer("/status/phase").and_then(Value::as_str);
    json!(reason.or(waiting).or(phase).unwrap_or("Pending"))
}

fn pod_restarts(o: &Value) -> Value {
    let n: i64 = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(|c| c["restartCount"].as_i64()).sum())
        .unwrap_or(0);
    json!(n)
}

fn node_status(o: &Value) -> Value {
    let ready = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["status"].as_str());
    let mut s = match ready {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
        s.push_str(",SchedulingDisabled");
    }
    json!(s)
}

fn node_roles(o: &Value) -> Value {
    let roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    json!(if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    })
}

fn ready_of_replicas(o: &Value) -> Value {
    let want = o
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    json!(format!("{}/{}", int_at(o, "/status/readyReplicas"), want))
}

fn service_ports(o: &Value) -> Value {
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(np) => format!("{}:{np}/{proto}", p["port"]),
                        None => format!("{}/{proto}", p["port"]),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    json!(if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    })
}

fn endpoints_addresses(o: &Value) -> Value {
    let mut out = Vec::new();
    for subset in o["subsets"].as_array().into_iter().flatten() {
        let ports: Vec<i64> = subset["ports"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p["port"].as_i64()).collect())
            .unwrap_or_default();
        for addr in subset["addresses"].as_array().into_iter().flatten() {
            let ip = addr["ip"].as_str().unwrap_or("");
            if ports.is_empty() {
                out.push(ip.to_string());
            }
            for port in &ports {
                out.push(format!("{ip}:{port}"));
            }
        }
    }
    json!(if out.is_empty() {
        "<none>".to_string()
    } else {
        out.join(",")
    })
}

fn slice_endpoints(o: &Value) -> Value {
    let ips: Vec<&str> = o["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["addresses"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    json!(if ips.is_empty() {
        "<unset>".to_string()
    } else {
        ips.join(",")
    })
}

fn slice_ports(o: &Value) -> Value {
    let ports: Vec<String> = o["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["port"].as_i64().map(|n| n.to_string()))
        .collect();
    json!(if ports.is_empty() {
        "<unset>".to_string()
    } else {
        ports.join(",")
    })
}

fn node_selector(o: &Value) -> Value {
    let pairs: Vec<String> = o
        .pointer("/spec/template/spec/nodeSelector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    json!(if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    })
}

fn event_object(o: &Value) -> Value {
    let kind = o
        .pointer("/involvedObject/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = o
        .pointer("/involvedObject/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    json!(format!("{}/{name}", kind.to_lowercase()))
}

fn event_last_seen(o: &Value) -> Value {
    let at = o
        .get("lastTimestamp")
        .and_then(Value::as_str)
        .or_else(|| o.get("eventTime").and_then(Value::as_str))
        .or_else(|| meta_str(o, "creationTimestamp"));
    json!(age(at))
}

fn builtin_columns(info: &ResourceInfo) -> Vec<Column> {
    let name = || col("Name", "string", 0, name_cell);
    let age_col = || col("Age", "string", 0, age_cell);
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "namespaces") => vec![
            name(),
            col("Status", "string", 0, |o| str_or_none(o, "/status/phase")),
            age_col(),
        ],
        ("", "nodes") => vec![
            name(),
            col("Status", "string", 0, node_status),
            col("Roles", "string", 0, node_roles),
            age_col(),
            col("Version", "string", 0, |o| {
                str_or_none(o, "/status/nodeInfo/kubeletVersion")
            }),
        ],
        ("", "pods") => vec![
            name(),
            col("Ready", "string", 0, pod_ready),
            col("Status", "string", 0, pod_status),
            col("Restarts", "integer", 0, pod_restarts),
            age_col(),
            col("IP", "string", 1, |o| str_or_none(o, "/status/podIP")),
            col("Node", "string", 1, |o| str_or_none(o, "/spec/nodeName")),
        ],
        ("", "services") => vec![
            name(),
            col("Type", "string", 0, |o| {
                json!(
                    o.pointer("/spec/type")
                        .and_then(Value::as_str)
                        .unwrap_or("ClusterIP")
                )
            }),
            col("Cluster-IP", "string", 0, |o| {
                str_or_none(o, "/spec/clusterIP")
            }),
            col("External-IP", "string", 0, |_| json!("<none>")),
            col("Port(s)", "string", 0, service_ports),
            age_col(),
        ],
        ("", "endpoints") => vec![
            name(),
            col("Endpoints", "string", 0, endpoints_addresses),
            age_col(),
        ],
        ("", "configmaps") => vec![
            name(),
            col("Data", "integer", 0, |o| {
                json!(len_at(o, "/data") + len_at(o, "/binaryData"))
            }),
            age_col(),
        ],
        ("", "secrets") => vec![
            name(),
            col("Type", "string", 0, |o| {
                json!(o["type"].as_str().unwrap_or("Opaque"))
            }),
            col("Data", "integer", 0, |o| json!(len_at(o, "/data"))),
            age_col(),
        ],
        ("", "events") => vec![
            col("Last Seen", "string", 0, event_last_seen),
            col("Type", "string", 0, |o| {
                json!(o["type"].as_str().unwrap_or(""))
            }),
            col("Reason", "string", 0, |o| {
                json!(o["reason"].as_str().unwrap_or(""))
            }),
            col("Object", "string", 0, event_object),
            col("Message", "string", 0, |o| {
                json!(o["message"].as_str().unwrap_or(""))
            }),
        ],
        ("apps", "deployments") => vec![
            name(),
            col("Ready", "string", 0, ready_of_replicas),
            col("Up-to-date", "integer", 0, |o| {
                json!(int_at(o, "/status/updatedReplicas"))
            }),
            col("Available", "integer", 0, |o| {
                json!(int_at(o, "/status/availableReplicas"))
            }),
            age_col(),
        ],
        ("apps", "statefulsets") => vec![
            name(),
            col("Ready", "string", 0, ready_of_replicas),
            age_col(),
        ],
        ("apps", "replicasets") => vec![
            name(),
            col("Desired", "integer", 0, |o| {
                json!(
                    o.pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )
            }),
            col("Current", "integer", 0, |o| {
                json!(int_at(o, "/status/replicas"))
            }),
            col("Ready", "integer", 0, |o| {
                json!(int_at(o, "/status/readyReplicas"))
            }),
            age_col(),
        ],
        ("apps", "daemonsets") => vec![
            name(),
            col("Desired", "integer", 0, |o| {
                json!(int_at(o, "/status/desiredNumberScheduled"))
            }),
            col("Current", "integer", 0, |o| {
                json!(int_at(o, "/status/currentNumberScheduled"))
            }),
            col("Ready", "integer", 0, |o| {
                json!(int_at(o, "/status/numberReady"))
            }),
            col("Up-to-date", "integer", 0, |o| {
                json!(int_at(o, "/status/updatedNumberScheduled"))
            }),
            col("Available", "integer", 0, |o| {
                json!(int_at(o, "/status/numberAvailable"))
            }),
            col("Node Selector", "string", 0, node_selector),
            age_col(),
        ],
        ("discovery.k8s.io", "endpointslices") => vec![
            name(),
            col("AddressType", "string", 0, |o| {
                json!(o["addressType"].as_str().unwrap_or(""))
            }),
            col("Ports", "string", 0, slice_ports),
            col("Endpoints", "string", 0, slice_endpoints),
            age_col(),
        ],
        ("coordination.k8s.io", "leases") => vec![
            name(),
            col("Holder", "string", 0, |o| {
                json!(
                    o.pointer("/spec/holderIdentity")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                )
            }),
            age_col(),
        ],
        ("apiextensions.k8s.io", "customresourcedefinitions") => vec![
            name(),
            col("Created At", "date", 0, |o| {
                json!(meta_str(o, "creationTimestamp").unwrap_or(""))
            }),
        ],
        _ => vec![name(), age_col()],
    }
}

fn custom_columns(columns: &[PrinterColumn]) -> Vec<Column> {
    let mut out = vec![col("Name", "string", 0, name_cell)];
    if columns.is_empty() {
        out.push(col("Age", "date", 0, age_cell));
    }
    out.extend(columns.iter().map(|c| Column {
        name: c.name.clone(),
        type_: c.type_.clone(),
        format: c.format.clone(),
        description: c.description.clone(),
        priority: c.priority,
        cell: Cell::Path(c.json_path.clone(), c.type_.clone()),
    }));
    out
}

fn columns_for(info: &ResourceInfo) -> Vec<Column> {
    if info.custom {
        custom_columns(&info.printer_columns)
    } else {
        builtin_columns(info)
    }
}

/// Evaluates the JSONPath subset CRDs use: `.a.b`, `.a[0].b`, `.a[*].b`, `.a['x.y']`.
pub fn json_path(object: &Value, path: &str) -> Vec<Value> {
    let mut current = vec![object.clone()];
    let path = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let field = &after[..end];
            rest = &after[end..];
            if field.is_empty() {
                continue;
            }
            current = current
                .iter()
                .filter_map(|v| v.get(field).cloned())
                .collect();
        } else if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else {
                return vec![];
            };
            let selector = &after[..end];
            rest = &after[end + 1..];
            let quoted = selector
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| selector.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
            current = match (selector, quoted) {
                (_, Some(key)) => current.iter().filter_map(|v| v.get(key).cloned()).collect(),
                ("*", None) => current
                    .iter()
                    .flat_map(|v| match v {
                        Value::Array(a) => a.clone(),
                        Value::Object(m) => m.values().cloned().collect(),
                        _ => vec![],
                    })
                    .collect(),
                (index, None) => match index.parse::<usize>() {
                    Ok(i) => current.iter().filter_map(|v| v.get(i).cloned()).collect(),
                    Err(_) => return vec![],
                },
            };
        } else {
            return vec![];
        }
    }
    current
}

fn path_cell(object: &Value, path: &str, type_: &str) -> Value {
    let values = json_path(object, path);
    match values.as_slice() {
        [] => Value::Null,
        [single] if type_ == "date" => json!(age(single.as_str())),
        [single] => match (type_, single) {
            ("string", Value::String(_))
            | ("integer" | "number", Value::Number(_))
            | ("boolean", Value::Bool(_)) => single.clone(),
            (_, Value::String(s)) => json!(s),
            (_, other) => json!(other.to_string()),
        },
        many => json!(
            many.iter()
                .map(|v| v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn row(columns: &[Column], object: &Value, include: IncludeObject) -> Value {
    let cells: Vec<Value> = columns
        .iter()
        .map(|c| match &c.cell {
            Cell::Builtin(f) => f(object),
            Cell::Path(path, type_) => path_cell(object, path, type_),
        })
        .collect();
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Object => row["object"] = object.clone(),
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
            })
        }
    }
    row
}

/// A Table of `objects`; `with_definitions` is false for watch events after the first.
pub fn table(
    info: &ResourceInfo,
    objects: &[&Value],
    include: IncludeObject,
    list_metadata: Value,
    with_definitions: bool,
) -> Value {
    let columns = columns_for(info);
    let definitions: Vec<Value> = if with_definitions {
        columns
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "type": c.type_,
                    "format": c.format,
                    "description": c.description,
                    "priority": c.priority,
                })
            })
            .collect()
    } else {
        vec![]
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_metadata,
        "columnDefinitions": definitions,
        "rows": objects.iter().map(|o| row(&columns, o, include)).collect::<Vec<_>>(),
    })
}

/// True if the Accept header asks for a meta.k8s.io Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_subset() {
        let o = json!({"status": {"members": 3, "nodeStatuses": [{"nodeName": "a"}, {"nodeName": "b"}]},
                       "metadata": {"labels": {"x.y/z": "v"}}});
        assert_eq!(json_path(&o, ".status.members"), vec![json!(3)]);
        assert_eq!(
            json_path(&o, ".status.nodeStatuses[*].nodeName"),
            vec![json!("a"), json!("b")]
        );
        assert_eq!(
            json_path(&o, ".status.nodeStatuses[1].nodeName"),
            vec![json!("b")]
        );
        assert_eq!(json_path(&o, ".metadata.labels['x.y/z']"), vec![json!("v")]);
        assert!(json_path(&o, ".missing.field").is_empty());
        assert_eq!(
            path_cell(&o, ".status.nodeStatuses[*].nodeName", "string"),
            json!("a,b")
        );
    }

    #[test]
    fn accept_header_detection() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
    }
}
