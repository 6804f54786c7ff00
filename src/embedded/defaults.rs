//! Per-resource defaulting and validation done by the real API server's
//! registry strategies, reduced to what clients observably rely on.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::resources::ResourceInfo;
use super::store::{ObjectKey, ResourceKey, Txn};

mod workloads;

fn kind_of(info: &ResourceInfo) -> (&str, &str) {
    (info.group.as_str(), info.plural.as_str())
}

/// Whether `status` in a create request is kept. Kubernetes resets status on
/// create for resources with a status subresource, except nodes (kubelets
/// register with their status).
pub fn keeps_status_on_create(info: &ResourceInfo) -> bool {
    !info.status_subresource || kind_of(info) == ("", "nodes")
}

/// Defaults for a new object, after name, namespace and metadata are set.
pub fn on_create(txn: &Txn<'_>, info: &ResourceInfo, object: &mut Value) -> Result<(), String> {
    match kind_of(info) {
        ("", "namespaces") => object["status"] = json!({"phase": "Active"}),
        ("", "pods") if object.get("status").is_none_or(Value::is_null) => {
            object["status"] = json!({"phase": "Pending"});
        }
        ("", "services") => {
            default_service(txn, object, None);
            if object.pointer("/spec/type") != Some(&json!("ExternalName")) {
                object["status"] = json!({"loadBalancer": {}});
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            validate_crd(object)?;
            object["status"] = crd_status(object);
        }
        _ => {}
    }
    common(info, object)
}

/// Defaults applied on every update (`old` is the stored object).
pub fn on_update(
    txn: &Txn<'_>,
    info: &ResourceInfo,
    old: &Value,
    object: &mut Value,
) -> Result<(), String> {
    match kind_of(info) {
        ("", "services") => default_service(txn, object, Some(old)),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            validate_crd(object)?;
            if old.get("spec").and_then(|s| s.get("group"))
                != object.get("spec").and_then(|s| s.get("group"))
            {
                return Err("spec.group: field is immutable".into());
            }
            // Recomputing only on name changes keeps no-op updates no-ops.
            if object.pointer("/status/acceptedNames") != object.pointer("/spec/names") {
                object["status"] = crd_status(object);
            }
        }
        _ => {}
    }
    common(info, object)
}

fn common(info: &ResourceInfo, object: &mut Value) -> Result<(), String> {
    workloads::default(kind_of(info), object);
    if kind_of(info) == ("", "secrets") {
        move_string_data(object)?;
        if object.get("type").is_none() {
            object["type"] = json!("Opaque");
        }
    }
    Ok(())
}

/// `stringData` is write-only: its entries land base64-encoded in `data`.
fn move_string_data(object: &mut Value) -> Result<(), String> {
    let Some(map) = object.as_object_mut() else {
        return Ok(());
    };
    let Some(string_data) = map.remove("stringData") else {
        return Ok(());
    };
    let Value::Object(entries) = string_data else {
        return Err("stringData: must be a map of strings".into());
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(data) = data.as_object_mut() else {
        return Err("data: must be a map of base64 strings".into());
    };
    for (k, v) in entries {
        let text = v
            .as_str()
            .ok_or_else(|| format!("stringData[{k}]: must be a string"))?;
        data.insert(
            k,
            json!(base64::engine::general_purpose::STANDARD.encode(text)),
        );
    }
    Ok(())
}

fn default_service(txn: &Txn<'_>, object: &mut Value, old: Option<&Value>) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.entry("type").or_insert(json!("ClusterIP"));
    spec.entry("sessionAffinity").or_insert(json!("None"));
    if spec.get("type") != Some(&json!("ExternalName")) {
        spec.entry("ipFamilies").or_insert(json!(["IPv4"]));
        spec.entry("ipFamilyPolicy").or_insert(json!("SingleStack"));
        spec.entry("internalTrafficPolicy")
            .or_insert(json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert(json!("TCP"));
            if let Some(p) = port.get("port").cloned() {
                port.entry("targetPort").or_insert(p);
            }
        }
    }
    if spec.get("type") == Some(&json!("ExternalName")) {
        return;
    }
    // clusterIP is immutable once allocated.
    let previous = old.and_then(|o| o.pointer("/spec/clusterIP")).cloned();
    let ip = match (spec.get("clusterIP").cloned(), previous) {
        (_, Some(prev)) => prev,
        (Some(ip), None) if ip.as_str().is_some_and(|s| !s.is_empty()) => ip,
        _ => json!(allocate_cluster_ip(txn)),
    };
    spec.insert("clusterIP".into(), ip.clone());
    spec.insert("clusterIPs".into(), json!([ip]));
}

/// The lowest free address in 10.96.0.0/16 (10.96.0.1 is the API server's).
fn allocate_cluster_ip(txn: &Txn<'_>) -> String {
    let used: std::collections::HashSet<String> = txn
        .list(&ResourceKey::new("", "services"), None)
        .iter()
        .filter_map(|(_, s)| {
            s.pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    (2u32..65_535)
        .map(|n| format!("10.96.{}.{}", n / 256, n % 256))
        .find(|ip| !used.contains(ip))
        .unwrap_or_else(|| "None".into())
}

fn validate_crd(object: &Value) -> Result<(), String> {
    let group = object
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = object
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object
        .pointer("/spec/names/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Err("spec.group, spec.names.plural and spec.names.kind are required".into());
    }
    if name != format!("{plural}.{group}") {
        return Err(format!(
            "metadata.name: Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"
        ));
    }
    let versions = object.pointer("/spec/versions").and_then(Value::as_array);
    let storage = versions
        .map(|v| v.iter().filter(|v| v["storage"] == json!(true)).count())
        .unwrap_or(0);
    if storage != 1 {
        return Err(
            "spec.versions: Invalid value: must have exactly one version marked as storage version"
                .into(),
        );
    }
    Ok(())
}

/// A CRD is accepted and established as soon as it is stored.
fn crd_status(object: &Value) -> Value {
    let now = super::objects::rfc3339(super::objects::now());
    let names = object
        .pointer("/spec/names")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let stored: Vec<Value> = object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": stored,
    })
}

/// The range [`allocate_cluster_ip`] takes ClusterIPs from.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";

/// The ServiceCIDR object naming [`SERVICE_CIDR`], as kube-apiserver creates
/// its default one (`kubernetes`).
pub fn service_cidr() -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "ServiceCIDR",
        "metadata": {"name": "kubernetes"},
        "spec": {"cidrs": [SERVICE_CIDR]},
    })
}

/// The namespaces every cluster starts with.
pub fn initial_namespaces() -> Vec<ObjectKey> {
    ["default", "kube-system", "kube-public", "kube-node-lease"]
        .iter()
        .map(|n| ObjectKey::new("", n))
        .collect()
}
