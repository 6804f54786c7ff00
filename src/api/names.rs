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
