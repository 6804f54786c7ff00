//! Labels, annotations and finalizers shared with KubeEdge, named once.

/// API group of NodeGroup and EdgeApplication.
pub const GROUP: &str = "apps.kubeedge.io";
/// API version of NodeGroup and EdgeApplication.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` value of both kinds.
pub const API_VERSION: &str = "apps.kubeedge.io/v1alpha1";

/// On a node: the NodeGroup it belongs to. On a pod template: pins it to that group.
pub const LABEL_BELONGING_TO: &str = "apps.kubeedge.io/belonging-to";
/// On every object generated from an EdgeApplication: its name.
pub const LABEL_EDGEAPPLICATION_NAME: &str = "apps.kubeedge.io/edgeapplication-name";
/// Set to the group name on members of a NodeGroup with `topologyEnabled`.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";

/// Service annotation that turns on traffic closure.
pub const ANNOTATION_SERVICE_TOPOLOGY: &str = "apps.kubeedge.io/service-topology";
/// The only value of [`ANNOTATION_SERVICE_TOPOLOGY`] with a meaning.
pub const SERVICE_TOPOLOGY_RANGE_NODEGROUP: &str = "range-nodegroup";

/// Held by every NodeGroup until its labels are removed from former members.
pub const FINALIZER_NODEGROUP: &str = "apps.kubeedge.io/nodegroup-controller";

/// Field manager for every write the engine makes (server-side apply).
pub const FIELD_MANAGER: &str = "edgedeck";

/// Label on an EndpointSlice naming its Service (Kubernetes well-known).
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

/// Kubernetes limit on object names (DNS-1123 subdomain).
pub const MAX_NAME_LEN: usize = 253;
/// Kubernetes limit on names that must be DNS-1123 labels (Services, and
/// anything whose name becomes a label value or hostname).
pub const MAX_LABEL_NAME_LEN: usize = 63;

/// The rule an object's name must follow, by resource (kube-apiserver's
/// `ValidateObjectMeta` name functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain: most resources.
    Subdomain,
    /// DNS-1123 label: namespaces, and services (kube-apiserver 1.36 relaxed
    /// them from DNS-1035: `1web` is a valid Service name there).
    Label,
}

/// Checks `name` against `rule`; the error is kube-apiserver's wording, so
/// clients (and people) see the same message from every layer and server.
pub fn validate_name(name: &str, rule: NameRule) -> Result<(), String> {
    let max = if rule == NameRule::Subdomain {
        MAX_NAME_LEN
    } else {
        MAX_LABEL_NAME_LEN
    };
    if name.is_empty() {
        return Err("name or generateName is required".into());
    }
    if name.len() > max {
        return Err(format!("must be no more than {max} characters"));
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let label_ok = |label: &str| {
        label.chars().all(|c| alnum(c) || c == '-')
            && label.chars().next().is_some_and(alnum)
            && label.chars().last().is_some_and(alnum)
    };
    let valid = match rule {
        NameRule::Subdomain => name.split('.').all(label_ok),
        NameRule::Label => label_ok(name),
    };
    if valid {
        return Ok(());
    }
    // kube-apiserver 1.36 words a label that would be a valid subdomain this way.
    if rule == NameRule::Label && name.split('.').all(label_ok) {
        return Err("must not contain dots".into());
    }
    Err(match rule {
        NameRule::Subdomain => "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        NameRule::Label => "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    }
    .into())
}

/// Kubernetes `IsValidLabelValue`: empty, or at most 63 alphanumerics, `-`,
/// `_` and `.`, starting and ending with an alphanumeric.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.len() > MAX_LABEL_NAME_LEN {
        return Err(format!(
            "must be no more than {MAX_LABEL_NAME_LEN} characters"
        ));
    }
    let edge = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    let valid = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && edge(value.chars().next())
        && edge(value.chars().last());
    if valid {
        Ok(())
    } else {
        Err("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kube_apiserver() {
        assert!(validate_name("edge-1.region", NameRule::Subdomain).is_ok());
        assert!(validate_name("edge-1.region", NameRule::Label).is_err());
        assert!(validate_name("a..b", NameRule::Subdomain).is_err());
        assert!(validate_name("Bad", NameRule::Subdomain).is_err());
        assert!(validate_name("-x", NameRule::Subdomain).is_err());
        assert!(validate_name("1web", NameRule::Label).is_ok());
        assert!(validate_name(&"a".repeat(253), NameRule::Subdomain).is_ok());
        assert!(validate_name(&"a".repeat(254), NameRule::Subdomain).is_err());
        assert!(validate_name("", NameRule::Subdomain).is_err());
    }

    #[test]
    fn label_values_follow_kubernetes() {
        for ok in ["", "a", "My_Value.1", &"a".repeat(63)] {
            assert!(validate_label_value(ok).is_ok(), "{ok:?}");
        }
        for bad in ["-a", "a-", "a b", "ä", &"a".repeat(64)] {
            assert!(validate_label_value(bad).is_err(), "{bad:?}");
        }
    }
}
