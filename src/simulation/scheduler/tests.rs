use super::*;

fn node(name: &str, labels: Value, ready: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"Unknown"}}]}})
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
}

fn affinity(terms: Value) -> Value {
    json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}})
}

fn expr(key: &str, op: &str, values: &[&str]) -> Value {
    json!({"matchExpressions": [{"key": key, "operator": op, "values": values}]})
}

#[test]
fn node_selector_and_spread() {
    let a = node("a", json!({"zone": "x"}), true);
    let b = node("b", json!({"zone": "x"}), true);
    let c = node("c", json!({"zone": "y"}), true);
    let nodes = [&a, &b, &c];
    let p = pod(json!({"nodeSelector": {"zone": "x"}}));
    assert_eq!(schedule(&p, &nodes, &BTreeMap::new()), Ok("a".into()));
    let load = BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 1)]);
    assert_eq!(schedule(&p, &nodes, &load), Ok("b".into()));
}

#[test]
fn affinity_operators() {
    let n = node("n", json!({"tier": "edge", "cores": "8"}), true);
    let fits = |terms: Value| selector_matches(&affinity(terms), &n);
    assert!(fits(json!([expr("tier", "In", &["edge", "cloud"])])));
    assert!(!fits(json!([expr("tier", "In", &["cloud"])])));
    assert!(fits(json!([expr("tier", "NotIn", &["cloud"])])));
    assert!(fits(json!([expr("gpu", "NotIn", &["yes"])])));
    assert!(!fits(json!([expr("tier", "NotIn", &["edge"])])));
    assert!(fits(json!([expr("tier", "Exists", &[])])));
    assert!(!fits(json!([expr("gpu", "Exists", &[])])));
    assert!(fits(json!([expr("gpu", "DoesNotExist", &[])])));
    assert!(!fits(json!([expr("tier", "DoesNotExist", &[])])));
    assert!(fits(json!([expr("cores", "Gt", &["4"])])));
    assert!(!fits(json!([expr("cores", "Gt", &["8"])])));
    assert!(fits(json!([expr("cores", "Lt", &["16"])])));
    assert!(!fits(json!([expr("tier", "Lt", &["16"])])));
    assert!(!fits(json!([expr("cores", "Gt", &["1", "2"])])));
    assert!(!fits(json!([expr("tier", "Bogus", &["edge"])])));
    // Terms are ORed, expressions ANDed, an empty term matches nothing.
    assert!(fits(json!([
        expr("tier", "In", &["cloud"]),
        expr("tier", "In", &["edge"])
    ])));
    let and = json!([{"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["edge"]},
        {"key": "gpu", "operator": "Exists"}]}]);
    assert!(!fits(and));
    assert!(!fits(json!([{}])));
    assert!(!fits(json!([])));
    // matchFields on metadata.name.
    let by_name =
        json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}]);
    assert!(fits(by_name));
    let other =
        json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["m"]}]}]);
    assert!(!fits(other));
    // Selector and affinity must both hold.
    let mut both = affinity(json!([expr("tier", "In", &["edge"])]));
    both["nodeSelector"] = json!({"tier": "cloud"});
    assert!(!selector_matches(&both, &n));
}

#[test]
fn unschedulable_message_counts_reasons() {
    let nodes: Vec<Value> = vec![
        node("a", json!({"g": "1"}), true),
        node("b", json!({"g": "1"}), true),
        node("c", json!({"g": "1"}), true),
        node("d", json!({"g": "2"}), false),
        node("e", json!({"g": "2"}), false),
    ];
    let refs: Vec<&Value> = nodes.iter().collect();
    let p = pod(json!({"nodeSelector": {"g": "2"}}));
    assert_eq!(
        schedule(&p, &refs, &BTreeMap::new()),
        Err("0/5 nodes are available: 2 node(s) were not ready, 3 node(s) didn't match Pod's node affinity/selector.".into())
    );
    assert!(schedule(&p, &[], &BTreeMap::new()).is_err_and(|m| m.contains("0/0")));
}

#[test]
fn taints_and_cordons() {
    let mut cp = node("cp", json!({}), true);
    cp["spec"] = json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]});
    let mut cordoned = node("x", json!({}), true);
    cordoned["spec"] = json!({"unschedulable": true});
    let p = pod(json!({}));
    let err = schedule(&p, &[&cp, &cordoned], &BTreeMap::new())
        .err()
        .unwrap_or_default();
    assert!(
        err.contains("1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"),
        "{err}"
    );
    assert!(err.contains("1 node(s) were unschedulable"), "{err}");
    let tolerant = pod(
        json!({"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}),
    );
    assert_eq!(
        schedule(&tolerant, &[&cp, &cordoned], &BTreeMap::new()),
        Ok("cp".into())
    );
    let everything = pod(json!({"tolerations": [{"operator": "Exists"}]}));
    assert_eq!(
        schedule(&everything, &[&cordoned], &BTreeMap::new()),
        Ok("x".into())
    );
    let wrong_effect = [json!({"key": "k", "operator": "Exists", "effect": "NoExecute"})];
    assert!(!tolerates(
        &wrong_effect,
        &json!({"key": "k", "effect": "NoSchedule"})
    ));
    let equal = [json!({"key": "k", "value": "v"})];
    assert!(tolerates(
        &equal,
        &json!({"key": "k", "value": "v", "effect": "NoSchedule"})
    ));
    assert!(!tolerates(
        &equal,
        &json!({"key": "k", "value": "w", "effect": "NoSchedule"})
    ));
}

#[test]
fn pending_pods_are_bound_or_marked_once() {
    let a = node("a", json!({"g": "1"}), true);
    let fits = pod(json!({"nodeSelector": {"g": "1"}}));
    let t = Timestamp::from_second(1_750_000_000).unwrap_or_default();
    let out = schedule_pending(&[&fits], &[&a], t);
    let [Mutation::Replace(bound)] = out.as_slice() else {
        panic!("expected one replace, got {out:?}");
    };
    assert_eq!(bound["spec"]["nodeName"], "a");
    assert_eq!(
        object::condition_status(bound, "PodScheduled"),
        Some("True")
    );
    assert!(schedule_pending(&[bound], &[&a], t).is_empty());

    let stuck = pod(json!({"nodeSelector": {"g": "9"}}));
    let out = schedule_pending(&[&stuck], &[&a], t);
    let [Mutation::Replace(pending)] = out.as_slice() else {
        panic!("expected one replace, got {out:?}");
    };
    let cond = object::condition(pending, "PodScheduled")
        .cloned()
        .unwrap_or_default();
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(pending["status"]["phase"], "Pending");
    let later = Timestamp::from_second(1_750_000_100).unwrap_or_default();
    assert!(schedule_pending(&[pending], &[&a], later).is_empty());
}

// --- the indexed Unschedulable message equals walking every node ------------

mod indexed_message {
    use proptest::prelude::*;

    use super::*;

    /// A node of a small fleet: a group label (or none), readiness, cordon, taint.
    fn arb_node(i: usize) -> impl Strategy<Value = Value> {
        (
            prop::option::of(prop::sample::select(vec!["1", "2", "3"])),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(move |(group, ready, cordoned, tainted)| {
                let labels = group.map_or(json!({}), |g| json!({"g": g}));
                let mut n = node(&format!("n{i}"), labels, ready);
                n["spec"] = json!({"unschedulable": cordoned});
                if tainted {
                    n["spec"]["taints"] =
                        json!([{"key": "t", "value": "v", "effect": "NoSchedule"}]);
                }
                n
            })
    }

    fn arb_nodes() -> impl Strategy<Value = Vec<Value>> {
        (0usize..8).prop_flat_map(|n| (0..n).map(arb_node).collect::<Vec<_>>())
    }

    /// A pod pinned by a selector on the group label (or by name, or not at
    /// all), maybe tolerating the taint.
    fn arb_pod() -> impl Strategy<Value = Value> {
        (
            prop_oneof![
                Just(json!({})),
                prop::sample::select(vec!["1", "2", "4"])
                    .prop_map(|g| json!({"nodeSelector": {"g": g}})),
                prop::sample::select(vec!["n0", "n3", "nx"]).prop_map(|n| affinity(json!([{
                    "matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]
                }]))),
            ],
            any::<bool>(),
        )
            .prop_map(|(mut spec, tolerates)| {
                if tolerates {
                    spec["tolerations"] = json!([{"key": "t", "operator": "Exists"}]);
                }
                pod(spec)
            })
    }

    fn walk_every_node(pod: &Value, nodes: &[&Value]) -> Result<String, String> {
        let spec = &pod["spec"];
        nodes
            .iter()
            .filter(|n| misfit(spec, n).is_none())
            .map(|n| object::name(n))
            .min()
            .map(str::to_string)
            .ok_or_else(|| unschedulable_message(spec, nodes))
    }

    proptest! {
        #[test]
        fn one_index_answers_every_pod_as_a_full_walk_does(
            nodes in arb_nodes(),
            pods in prop::collection::vec(arb_pod(), 1..6),
        ) {
            let refs: Vec<&Value> = nodes.iter().collect();
            let index = NodeIndex::new(&refs);
            for p in &pods {
                prop_assert_eq!(
                    schedule_indexed(p, &index, &BTreeMap::new()),
                    walk_every_node(p, &refs),
                    "{}", p
                );
            }
        }
    }
}
