//! Engine hot paths: rendering an application for many regions, and
//! filtering a large EndpointSlice for one node.

use std::collections::BTreeMap;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use edgedeck::api::{
    EdgeApplication, EdgeApplicationSpec, ImageComponent, ImageOverrider, OverriderOperator,
    Overriders, TargetNodeGroup,
};
use edgedeck::engine::{render, topology};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use serde_json::json;

fn app_across(groups: usize) -> EdgeApplication {
    let mut app = EdgeApplication::new("shop", EdgeApplicationSpec::default());
    app.metadata.namespace = Some("default".into());
    app.metadata.uid = Some("0b5ae4a4-6a58-4d1c-9a0e-9d1f7d7c1b2e".into());
    app.spec.workload_template.manifests = vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shop"},
               "spec": {"selector": {"matchLabels": {"app": "shop"}},
                        "template": {"metadata": {"labels": {"app": "shop"}},
                                     "spec": {"containers": [{"name": "shop", "image": "shop:1.4.2",
                                              "env": [{"name": "MODE", "value": "edge"}]}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop"},
               "spec": {"selector": {"app": "shop"}, "ports": [{"port": 80}]}}),
    ];
    app.spec.workload_scope.target_node_groups = (0..groups)
        .map(|i| TargetNodeGroup {
            name: format!("region-{i:03}"),
            overriders: Overriders {
                replicas: Some(2),
                image_overriders: vec![ImageOverrider {
                    predicate: None,
                    component: ImageComponent::Registry,
                    operator: OverriderOperator::Replace,
                    value: format!("registry.region-{i:03}.example"),
                }],
                ..Overriders::default()
            },
        })
        .collect();
    app
}

fn slice_with(endpoints: usize, groups: usize) -> (EndpointSlice, topology::NodeGroupIndex) {
    let mut index = BTreeMap::new();
    let endpoints = (0..endpoints)
        .map(|i| {
            let node = format!("node-{i:04}");
            index.insert(node.clone(), format!("region-{:03}", i % groups));
            Endpoint {
                addresses: vec![format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)],
                node_name: Some(node),
                ..Endpoint::default()
            }
        })
        .collect();
    let slice = EndpointSlice {
        address_type: "IPv4".into(),
        endpoints,
        ..EndpointSlice::default()
    };
    (slice, index)
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    for groups in [10, 500] {
        let app = app_across(groups);
        group.bench_with_input(
            BenchmarkId::new("deployment+service", groups),
            &app,
            |b, app| {
                b.iter(|| render::render(app));
            },
        );
    }
    group.finish();

    let (slice, index) = slice_with(1_000, 50);
    c.bench_function("topology/filter_endpoint_slice/1000", |b| {
        b.iter(|| topology::filter_endpoint_slice(&slice, "node-0007", &index));
    });
}

criterion_group!(engine, benches);
criterion_main!(engine);
