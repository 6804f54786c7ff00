//! What an operator does with unmodified kubectl, on the embedded cluster and
//! on a real control plane (with the matching upstream kubectl): apply the
//! CRDs, KubeEdge's own manifests and edgedeck's deploy/ bundle; watch,
//! edit, describe, and delete through a finalizer.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use support::cluster::TestCluster;
use support::kubectl::Kubectl;

/// kubectl for `cluster` with edgedeck's CRDs applied (by kubectl) and
/// established: a real API server serves a new CRD only after a moment.
async fn kubectl_with_crds(cluster: &TestCluster) -> Kubectl {
    let k = if cluster.is_real() {
        Kubectl::with_binary(
            cluster.kubeconfig(),
            support::real::assets().join("kubectl"),
        )
    } else {
        Kubectl::with_kubeconfig(cluster.kubeconfig())
    };
    let crds = k.file("crds.yaml", &edgedeck::api::crds_yaml().expect("crd yaml"));
    k.ok(&["apply", "-f", crds.to_str().expect("utf-8")]).await;
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/nodegroups.apps.kubeedge.io",
        "crd/edgeapplications.apps.kubeedge.io",
    ])
    .await;
    k
}

/// What `kubectl apply --dry-run=server` runs through on kube-apiserver:
/// schema validation, defaulting and admission of every object of deploy/
/// (probes, securityContext, the PodDisruptionBudget, the Services), with
/// nothing stored. Only the namespace is created for real: every other
/// object lives in it, and a dry run creates nothing for the next to use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_bundle_passes_a_server_side_dry_run_on_a_real_control_plane() {
    let cluster = TestCluster::real().await;
    let k = Kubectl::with_binary(
        cluster.kubeconfig(),
        support::real::assets().join("kubectl"),
    );
    k.ok(&["create", "namespace", "edgedeck-system"]).await;
    let out = k.ok(&["apply", "--dry-run=server", "-f", "deploy/"]).await;
    for checked in [
        "clusterrole.rbac.authorization.k8s.io/edgedeck-engine created (server dry run)",
        "deployment.apps/edgedeck-engine created (server dry run)",
        "poddisruptionbudget.policy/edgedeck-engine created (server dry run)",
        "service/edgedeck-edge-api created (server dry run)",
        "service/edgedeck-engine-metrics created (server dry run)",
    ] {
        assert!(out.contains(checked), "missing {checked:?} in:\n{out}");
    }
    let stored = k
        .ok(&[
            "get",
            "deployments,pdb,services",
            "-n",
            "edgedeck-system",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(stored.trim(), "", "a dry run stores nothing");
}

on_both_clusters! {
async fn proposal_manifests_and_deploy_bundle_apply_with_kubectl(cluster) {
    let k = kubectl_with_crds(&cluster).await;
    let out = k
        .ok(&["apply", "-f", "examples/proposal/nodegroups.yaml"])
        .await;
    assert!(
        out.contains("nodegroup.apps.kubeedge.io/hangzhou created"),
        "{out}"
    );
    assert!(
        out.contains("nodegroup.apps.kubeedge.io/beijing created"),
        "{out}"
    );
    let out = k
        .ok(&["apply", "-f", "examples/proposal/edgeapplication.yaml"])
        .await;
    assert!(
        out.contains("edgeapplication.apps.kubeedge.io/nginx-app created"),
        "{out}"
    );
    let out = k
        .ok(&[
            "get",
            "eapp",
            "nginx-app",
            "-o",
            "jsonpath={.spec.workloadScope.targetNodeGroups[*].name}",
        ])
        .await;
    assert_eq!(out, "hangzhou beijing");

    let out = k.ok(&["apply", "-f", "deploy/"]).await;
    for created in [
        "namespace/edgedeck-system created",
        "serviceaccount/edgedeck-engine created",
        "clusterrole.rbac.authorization.k8s.io/edgedeck-engine created",
        "clusterrolebinding.rbac.authorization.k8s.io/edgedeck-engine created",
        "role.rbac.authorization.k8s.io/edgedeck-engine-leader created",
        "rolebinding.rbac.authorization.k8s.io/edgedeck-engine-leader created",
        "deployment.apps/edgedeck-engine created",
        "poddisruptionbudget.policy/edgedeck-engine created",
        "service/edgedeck-edge-api created",
        "service/edgedeck-engine-metrics created",
    ] {
        assert!(out.contains(created), "missing {created:?} in:\n{out}");
    }
    let args = k
        .ok(&[
            "get",
            "deploy",
            "edgedeck-engine",
            "-n",
            "edgedeck-system",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].args}",
        ])
        .await;
    assert!(args.contains("--leader-elect"), "{args}");
}

async fn watch_edit_describe_and_finalizers(cluster) {
    let k = kubectl_with_crds(&cluster).await;
    k.ok(&["apply", "-f", "examples/proposal/nodegroups.yaml"])
        .await;

    // `kubectl get -w` sees a change made by someone else.
    let kubeconfig = k.kubeconfig.clone();
    let mut watch = Command::new(k.binary())
        .args(["get", "ng", "hangzhou", "-w", "--output-watch-events"])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w starts");
    let (lines, seen) = mpsc::channel();
    let stdout = watch.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let header = seen
        .recv_timeout(support::PATIENCE)
        .expect("watch table header");
    assert!(header.starts_with("EVENT"), "{header}");
    let first = seen
        .recv_timeout(support::PATIENCE)
        .expect("initial watch event");
    assert!(
        first.contains("ADDED") && first.contains("hangzhou"),
        "{first}"
    );
    k.ok(&["label", "ng", "hangzhou", "tier=edge"]).await;
    let modified = seen
        .recv_timeout(support::PATIENCE)
        .expect("watch sees the change");
    assert!(modified.contains("MODIFIED"), "{modified}");
    let _ = watch.kill();
    let _ = watch.wait();

    // `kubectl edit` through an EDITOR script.
    let editor = k.file(
        "editor.sh",
        "#!/bin/sh\nsed -i 's/location: hangzhou/location: hz/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let edited = tokio::task::spawn_blocking({
        let kubeconfig = kubeconfig.clone();
        let binary = k.binary().to_owned();
        move || {
            Command::new(binary)
                .args(["edit", "ng", "hangzhou"])
                .env("KUBECONFIG", kubeconfig)
                .env("EDITOR", &editor)
                .env("KUBE_EDITOR", &editor)
                .output()
                .expect("kubectl edit runs")
        }
    })
    .await
    .expect("join");
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    assert!(String::from_utf8_lossy(&edited.stdout).contains("edited"));
    let location = k
        .ok(&[
            "get",
            "ng",
            "hangzhou",
            "-o",
            "jsonpath={.spec.matchLabels.location}",
        ])
        .await;
    assert_eq!(location, "hz");

    // `kubectl describe` works on our kinds.
    let described = k.ok(&["describe", "ng", "beijing"]).await;
    assert!(
        described.contains("Name:") && described.contains("beijing"),
        "{described}"
    );

    // Deletion waits for finalizers.
    k.ok(&[
        "patch",
        "ng",
        "beijing",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ])
    .await;
    k.ok(&["delete", "ng", "beijing", "--wait=false"]).await;
    let deleting = k
        .ok(&[
            "get",
            "ng",
            "beijing",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(
        !deleting.is_empty(),
        "deletionTimestamp set while the finalizer holds it"
    );
    k.ok(&[
        "patch",
        "ng",
        "beijing",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    let gone = k.run(&["get", "ng", "beijing"]).await;
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );
    drop(cluster);
}
}
