//! Unmodified kubectl against the embedded cluster, through the kubeconfig it writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use edgedeck::embedded::RunningCluster;

pub struct Kubectl {
    pub kubeconfig: PathBuf,
    binary: PathBuf,
    dir: tempfile::TempDir,
}

pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// kubectl from `$KUBECTL`, else the one on PATH. Missing kubectl fails the
/// test: `.ci/run` installs it, and a skipped test proves nothing.
fn kubectl_binary() -> PathBuf {
    std::env::var_os("KUBECTL").map_or_else(|| PathBuf::from("kubectl"), PathBuf::from)
}

impl Kubectl {
    pub fn new(cluster: &RunningCluster) -> Kubectl {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        cluster.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Kubectl {
            kubeconfig,
            binary: kubectl_binary(),
            dir,
        }
    }

    /// kubectl for a cluster someone else wrote the kubeconfig of (e.g. the
    /// console's `--embedded --kubeconfig-out`).
    pub fn with_kubeconfig(kubeconfig: &Path) -> Kubectl {
        Self::with_binary(kubeconfig, kubectl_binary())
    }

    /// A given kubectl binary (the upstream one matching a real control plane).
    pub fn with_binary(kubeconfig: &Path, binary: PathBuf) -> Kubectl {
        Kubectl {
            kubeconfig: kubeconfig.to_owned(),
            binary,
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The kubectl binary, for tests that drive it themselves (`get -w`, `edit`).
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write manifest");
        path
    }

    /// Runs kubectl off the async runtime so the server keeps serving.
    pub async fn run(&self, args: &[&str]) -> Output {
        let binary = self.binary.clone();
        let kubeconfig = self.kubeconfig.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let cache = self.dir.path().join("cache");
        tokio::task::spawn_blocking(move || {
            let out = Command::new(binary)
                .args(&args)
                .env("KUBECONFIG", &kubeconfig)
                .env("KUBECACHEDIR", &cache)
                .env("HOME", cache.parent().unwrap_or(Path::new("/tmp")))
                .output()
                .expect("kubectl runs (is it installed? .ci/run installs it)");
            Output {
                ok: out.status.success(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .await
        .expect("join")
    }

    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.ok,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }
}
