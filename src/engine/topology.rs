//! Traffic closure: which endpoints of a `range-nodegroup` Service a node may see.
//! INTERFACE STUB — to be implemented.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::EngineError;

/// node name → NodeGroup name, for nodes that belong to one.
pub type NodeGroupIndex = BTreeMap<String, String>;

/// Reads the `belonging-to` label of every node.
pub fn node_group_index(_nodes: &[Node]) -> NodeGroupIndex {
    todo!()
}

/// Whether the Service carries `apps.kubeedge.io/service-topology: range-nodegroup`.
pub fn is_range_nodegroup(_service: &Service) -> bool {
    todo!()
}

/// Whether `viewer` may see an endpoint on `endpoint_node`.
pub fn visible(_endpoint_node: &str, _viewer: &str, _index: &NodeGroupIndex) -> bool {
    todo!()
}

/// The slice as `viewer` sees it, plus errors for endpoints without nodeName (hidden).
pub fn filter_endpoint_slice(
    _slice: &EndpointSlice,
    _viewer: &str,
    _index: &NodeGroupIndex,
) -> (EndpointSlice, Vec<EngineError>) {
    todo!()
}

/// Legacy Endpoints as `viewer` sees them.
pub fn filter_endpoints(
    _endpoints: &Endpoints,
    _viewer: &str,
    _index: &NodeGroupIndex,
) -> (Endpoints, Vec<EngineError>) {
    todo!()
}
