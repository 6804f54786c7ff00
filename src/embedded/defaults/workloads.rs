//! kube-apiserver's defaulting of workloads and pod specs (the generated
//! `SetDefaults_*` functions of apps/v1 and core/v1), for the fields clients
//! read back: a Deployment's rollout strategy, revision history, progress
//! deadline; a pod's restart and DNS policy, a container's pull policy.
//! Applied on every write, as the real decoder does; defaulting only fills
//! what is missing, so it is idempotent.

use serde_json::{Map, Value, json};

/// Defaults the object of resource `(group, plural)` in place.
pub fn default(kind: (&str, &str), object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    match kind {
        ("apps", "deployments") => {
            spec.entry("replicas").or_insert(json!(1));
            let strategy = object_entry(spec, "strategy");
            strategy.entry("type").or_insert(json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                let rolling = object_entry(strategy, "rollingUpdate");
                rolling.entry("maxUnavailable").or_insert(json!("25%"));
                rolling.entry("maxSurge").or_insert(json!("25%"));
            }
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            spec.entry("progressDeadlineSeconds").or_insert(json!(600));
            default_template(spec);
        }
        ("apps", "statefulsets") => {
            spec.entry("replicas").or_insert(json!(1));
            spec.entry("serviceName").or_insert(json!(""));
            spec.entry("podManagementPolicy")
                .or_insert(json!("OrderedReady"));
            let strategy = object_entry(spec, "updateStrategy");
            strategy.entry("type").or_insert(json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                object_entry(strategy, "rollingUpdate")
                    .entry("partition")
                    .or_insert(json!(0));
            }
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            let retention = object_entry(spec, "persistentVolumeClaimRetentionPolicy");
            retention.entry("whenDeleted").or_insert(json!("Retain"));
            retention.entry("whenScaled").or_insert(json!("Retain"));
            default_template(spec);
        }
        ("apps", "daemonsets") => {
            let strategy = object_entry(spec, "updateStrategy");
            strategy.entry("type").or_insert(json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                let rolling = object_entry(strategy, "rollingUpdate");
                rolling.entry("maxUnavailable").or_insert(json!(1));
                rolling.entry("maxSurge").or_insert(json!(0));
            }
            spec.entry("revisionHistoryLimit").or_insert(json!(10));
            default_template(spec);
        }
        ("apps", "replicasets") => {
            spec.entry("replicas").or_insert(json!(1));
            default_template(spec);
        }
        ("", "pods") => {
            default_pod_spec(spec);
            spec.entry("enableServiceLinks").or_insert(json!(true));
        }
        _ => {}
    }
}

/// The map at `key`, created (or replaced, if not a map) when needed.
fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let value = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(inner) => inner,
        _ => unreachable!("made an object above"),
    }
}

fn default_template(spec: &mut Map<String, Value>) {
    if let Some(pod) = spec
        .get_mut("template")
        .and_then(|t| t.get_mut("spec"))
        .and_then(Value::as_object_mut)
    {
        default_pod_spec(pod);
    }
}

fn default_pod_spec(pod: &mut Map<String, Value>) {
    pod.entry("restartPolicy").or_insert(json!("Always"));
    pod.entry("terminationGracePeriodSeconds")
        .or_insert(json!(30));
    pod.entry("dnsPolicy").or_insert(json!("ClusterFirst"));
    pod.entry("securityContext").or_insert(json!({}));
    pod.entry("schedulerName")
        .or_insert(json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        let Some(containers) = pod.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            default_container(container);
        }
    }
}

fn default_container(container: &mut Map<String, Value>) {
    container
        .entry("terminationMessagePath")
        .or_insert(json!("/dev/termination-log"));
    container
        .entry("terminationMessagePolicy")
        .or_insert(json!("File"));
    container.entry("resources").or_insert(json!({}));
    if !container.contains_key("imagePullPolicy") {
        let policy = pull_policy(container.get("image").and_then(Value::as_str));
        container.insert("imagePullPolicy".into(), json!(policy));
    }
    if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert(json!("TCP"));
        }
    }
}

/// `Always` for `:latest` or an untagged image, else `IfNotPresent`.
fn pull_policy(image: Option<&str>) -> &'static str {
    let Some(image) = image else {
        return "Always";
    };
    if image.contains('@') {
        return "IfNotPresent";
    }
    // The tag follows the last ':' after the last '/' (a registry port is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy(Some("nginx")), "Always");
        assert_eq!(pull_policy(Some("nginx:latest")), "Always");
        assert_eq!(pull_policy(Some("registry:5000/nginx")), "Always");
        assert_eq!(
            pull_policy(Some("registry:5000/nginx:1.25")),
            "IfNotPresent"
        );
        assert_eq!(pull_policy(Some("nginx@sha256:abc")), "IfNotPresent");
    }

    #[test]
    fn a_deployment_gets_a_rolling_update_strategy_unless_it_recreates() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}}});
        default(("apps", "deployments"), &mut d);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        let mut recreate = json!({"spec": {"strategy": {"type": "Recreate"}}});
        default(("apps", "deployments"), &mut recreate);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }
}
