//! A real Kubernetes control plane on loopback for trying edgedeck on real
//! components: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
//! and kwok, the same the test suites start (binaries from
//! `scripts/testenv.sh`). Writes an admin kubeconfig and runs until ctrl-c.
//!
//!     cargo run --example real_cluster -- /tmp/real.kubeconfig
//!     edgedeck seed demo --kubeconfig /tmp/real.kubeconfig --with-nodes
//!     edgedeck --kubeconfig /tmp/real.kubeconfig

#[path = "../tests/support/real.rs"]
#[allow(dead_code)] // the tests use more of it than this does
mod real;

#[tokio::main]
async fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "real-cluster.kubeconfig".into());
    eprintln!("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok…");
    let plane = real::ControlPlane::start().await;
    if let Err(e) = std::fs::copy(&plane.kubeconfig, &out) {
        eprintln!("error: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("{}", plane.url);
    eprintln!("ready: kubeconfig {out}; ctrl-c stops everything");
    let _ = tokio::signal::ctrl_c().await;
    drop(plane);
}
