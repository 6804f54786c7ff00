//! A real Kubernetes control plane for tests: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and kwok, upstream binaries that
//! `scripts/testenv.sh` builds from the Go module proxy into a cache outside
//! the repo. Like controller-runtime's envtest, `KUBEBUILDER_ASSETS` names
//! the directory; without it the script is run (it returns at once when the
//! pinned build is cached).
//!
//! Everything listens on 127.0.0.1 with throwaway certificates; every process
//! is killed when the [`ControlPlane`] drops, also on a failed assertion, and
//! dies with the test process if that is killed outright.
//!
//! Nodes are kwok's: Node objects that tests create are taken over by kwok
//! (heartbeats, pods Running with an IP), so the real scheduler places pods,
//! the real ReplicaSet and EndpointSlice controllers do their work, and
//! nothing in the loop is edgedeck's own code.

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// How long the control plane may take to come up before the test fails
/// (measured ≈ 3 s for kube-apiserver on 2 cores; generous for loaded CI).
const STARTUP: Duration = Duration::from_secs(120);

/// The directory with the upstream binaries.
pub fn assets() -> PathBuf {
    static ASSETS: OnceLock<PathBuf> = OnceLock::new();
    ASSETS
        .get_or_init(|| {
            if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS") {
                return PathBuf::from(dir);
            }
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/testenv.sh");
            let out = Command::new("bash")
                .arg(&script)
                .stderr(Stdio::inherit())
                .output()
                .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed: the real control plane could not be built (see its output above)",
                script.display()
            );
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        })
        .clone()
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

/// A client certificate and key, PEM.
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The control plane's throwaway PKI.
pub struct Pki {
    pub ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "edgedeck-test-ca");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("ca");
        Pki {
            ca_pem: issuer.pem(),
            issuer,
        }
    }

    fn server(&self, names: &[&str]) -> Identity {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        for name in names {
            params.subject_alt_names.push(match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().expect("dns name")),
            });
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("server cert");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client certificate: Kubernetes reads the user from CN, groups from O.
    pub fn client(&self, user: &str, group: Option<&str>) -> Identity {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, user);
        if let Some(group) = group {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("client cert");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A kubeconfig for `server` authenticating as `who`, trusting `ca_pem`.
pub fn kubeconfig_yaml(server: &str, ca_pem: &str, who: &Identity) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: user\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: real\n  context:\n    cluster: real\n    user: user\n    namespace: default\ncurrent-context: real\n",
        b64(ca_pem),
        b64(&who.cert_pem),
        b64(&who.key_pem)
    )
}

struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

/// A running control plane; dropping it stops every process.
pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub api_port: u16,
    pub pki: Pki,
    pub kubeconfig: PathBuf,
    processes: Vec<Process>,
    /// How kube-apiserver was started, so a test can restart it.
    apiserver_args: Vec<String>,
}

impl ControlPlane {
    /// etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
    /// kwok, ready to take requests, with the `default` ServiceAccount made
    /// (so pods can be created).
    pub async fn start() -> ControlPlane {
        let bin = assets();
        let dir = tempfile::Builder::new()
            .prefix("edgedeck-real-")
            .tempdir()
            .expect("tempdir");
        let pki = Pki::new();
        let api_port = free_port();
        let url = format!("https://127.0.0.1:{api_port}");
        let mut plane = ControlPlane {
            kubeconfig: dir.path().join("kubeconfig"),
            dir,
            url,
            api_port,
            pki,
            processes: Vec::new(),
            apiserver_args: Vec::new(),
        };
        plane.launch(&bin).await;
        plane
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        let mut file = std::fs::File::create(&path).expect("create");
        file.write_all(content.as_bytes()).expect("write");
        path
    }

    fn arg(path: PathBuf) -> String {
        path.to_string_lossy().into_owned()
    }

    /// A kubeconfig file for another identity on this control plane.
    pub fn kubeconfig_for(&self, file: &str, user: &str, group: Option<&str>) -> PathBuf {
        let who = self.pki.client(user, group);
        self.write(file, &kubeconfig_yaml(&self.url, &self.pki.ca_pem, &who))
    }

    fn spawn(&mut self, name: &'static str, program: PathBuf, args: &[String]) {
        let log = self.path(&format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(&program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill
        // the child when this (test) thread's process goes away, so no
        // control plane outlives a killed test run.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        self.processes.push(Process { name, child, log });
    }

    /// The last lines each process logged: what a failed start should show.
    pub fn logs_tail(&self) -> String {
        let mut out = String::new();
        for p in &self.processes {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("--- {} ---\n{tail}\n", p.name));
        }
        out
    }

    fn check_alive(&mut self) {
        for p in &mut self.processes {
            if let Ok(Some(status)) = p.child.try_wait() {
                let text = std::fs::read_to_string(&p.log).unwrap_or_default();
                panic!("{} exited with {status}:\n{text}", p.name);
            }
        }
    }

    async fn wait_until(&mut self, what: &str, mut ready: impl AsyncProbe) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if ready.probe().await {
                return;
            }
            self.check_alive();
            if Instant::now() > deadline {
                panic!(
                    "real control plane: timed out waiting for {what}\n{}",
                    self.logs_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn launch(&mut self, bin: &Path) {
        let etcd_port = free_port();
        let peer_port = free_port();
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let data = Self::arg(self.path("etcd"));
        self.spawn(
            "etcd",
            bin.join("etcd"),
            &[
                "--name=test".into(),
                format!("--data-dir={data}"),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=test={peer_url}"),
                "--listen-metrics-urls=".into(),
                // Test data need not survive a power cut; fsync dominates
                // small-write latency on a loaded CI disk.
                "--unsafe-no-fsync=true".into(),
                "--log-level=warn".into(),
            ],
        );

        let serving = self.pki.server(&[
            "127.0.0.1",
            "10.96.0.1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ]);
        let ca = Self::arg(self.write("ca.crt", &self.pki.ca_pem.clone()));
        let tls_crt = Self::arg(self.write("apiserver.crt", &serving.cert_pem));
        let tls_key = Self::arg(self.write("apiserver.key", &serving.key_pem));
        let front = self.pki.client("front-proxy-client", None);
        let front_crt = Self::arg(self.write("front-proxy.crt", &front.cert_pem));
        let front_key = Self::arg(self.write("front-proxy.key", &front.key_pem));
        let sa = KeyPair::generate().expect("service account key");
        let sa_key = Self::arg(self.write("sa.key", &sa.serialize_pem()));
        let sa_pub = Self::arg(self.write("sa.pub", &sa.public_key_pem()));
        self.apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={}", self.api_port),
            // The default reconciler wants a routable advertise address
            // for the kubernetes Service's endpoints.
            "--endpoint-reconciler-type=none".into(),
            "--service-cluster-ip-range=10.96.0.0/12".into(),
            format!("--tls-cert-file={tls_crt}"),
            format!("--tls-private-key-file={tls_key}"),
            format!("--client-ca-file={ca}"),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={sa_pub}"),
            format!("--service-account-signing-key-file={sa_key}"),
            "--authorization-mode=Node,RBAC".into(),
            "--allow-privileged=true".into(),
            format!("--requestheader-client-ca-file={ca}"),
            "--requestheader-allowed-names=front-proxy-client".into(),
            "--requestheader-username-headers=X-Remote-User".into(),
            "--requestheader-group-headers=X-Remote-Group".into(),
            "--requestheader-extra-headers-prefix=X-Remote-Extra-".into(),
            format!("--proxy-client-cert-file={front_crt}"),
            format!("--proxy-client-key-file={front_key}"),
        ];
        let args = self.apiserver_args.clone();
        self.spawn("kube-apiserver", bin.join("kube-apiserver"), &args);
        let admin = self.pki.client("admin", Some("system:masters"));
        let kubeconfig = kubeconfig_yaml(&self.url, &self.pki.ca_pem, &admin);
        self.write("kubeconfig", &kubeconfig);
        let client = self.client();
        self.wait_until("kube-apiserver /readyz", ReadyZ(client.clone()))
            .await;

        // The controllers and the scheduler serve no HTTPS of their own
        // (--secure-port=0): nothing here reads their health endpoints, and
        // fewer ports means fewer races for a free one.
        let kcm = Self::arg(self.kubeconfig_for(
            "controller-manager.kubeconfig",
            "system:kube-controller-manager",
            None,
        ));
        self.spawn(
            "kube-controller-manager",
            bin.join("kube-controller-manager"),
            &[
                format!("--kubeconfig={kcm}"),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
                "--use-service-account-credentials=true".into(),
                format!("--service-account-private-key-file={sa_key}"),
                format!("--root-ca-file={ca}"),
                "--service-cluster-ip-range=10.96.0.0/12".into(),
                "--controllers=*".into(),
            ],
        );
        let sched =
            Self::arg(self.kubeconfig_for("scheduler.kubeconfig", "system:kube-scheduler", None));
        self.spawn(
            "kube-scheduler",
            bin.join("kube-scheduler"),
            &[
                format!("--kubeconfig={sched}"),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
            ],
        );
        let kwok =
            Self::arg(self.kubeconfig_for("kwok.kubeconfig", "kwok", Some("system:masters")));
        let stages = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/kwok-stages.yaml");
        self.spawn(
            "kwok",
            bin.join("kwok"),
            &[
                format!("--kubeconfig={kwok}"),
                format!("--config={}", stages.display()),
                "--manage-all-nodes=true".into(),
                format!("--server-address=127.0.0.1:{}", free_port()),
                "--cidr=10.244.0.1/16".into(),
                "--node-ip=10.250.0.1".into(),
                // Renew a Lease in kube-node-lease per node, as a kubelet does (every 10 s).
                "--node-lease-duration-seconds=40".into(),
            ],
        );
        self.wait_until(
            "the default ServiceAccount (kube-controller-manager running)",
            DefaultServiceAccount(client),
        )
        .await;
    }

    /// Stops kube-apiserver (SIGTERM, then SIGKILL): clients lose their
    /// connections and watches, etcd and the data stay.
    pub fn stop_apiserver(&mut self) {
        let Some(i) = self
            .processes
            .iter()
            .position(|p| p.name == "kube-apiserver")
        else {
            return;
        };
        let mut p = self.processes.remove(i);
        stop(&mut p.child, Duration::from_secs(10));
    }

    /// Starts kube-apiserver again on the same port with the same flags and
    /// waits until it is ready.
    pub async fn start_apiserver(&mut self) {
        let args = self.apiserver_args.clone();
        self.spawn("kube-apiserver", assets().join("kube-apiserver"), &args);
        let client = self.client();
        self.wait_until("kube-apiserver /readyz after a restart", ReadyZ(client))
            .await;
    }

    /// A kube client as cluster admin.
    pub fn client(&self) -> kube::Client {
        let yaml = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        let config: kube::config::Kubeconfig = serde_yaml_ng::from_str(&yaml).expect("kubeconfig");
        let config = futures::executor::block_on(kube::Config::from_custom_kubeconfig(
            config,
            &kube::config::KubeConfigOptions::default(),
        ))
        .expect("client config");
        kube::Client::try_from(config).expect("client")
    }
}

/// Asks `child` to shut down cleanly (SIGTERM).
fn terminate(child: &Child) {
    // SAFETY: kill(2) on a child we spawned and have not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

/// Waits for `child` until `deadline`, then SIGKILLs it, and reaps it.
fn reap_by(child: &mut Child, deadline: Instant) {
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERM, then SIGKILL after `grace`.
fn stop(child: &mut Child, grace: Duration) {
    terminate(child);
    reap_by(child, Instant::now() + grace);
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Everything is told at once so the shutdowns overlap; etcd and the
        // apiserver shut down cleanly, the data goes with the tempdir anyway.
        for p in self.processes.iter().rev() {
            terminate(&p.child);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for p in self.processes.iter_mut().rev() {
            reap_by(&mut p.child, deadline);
        }
        if std::thread::panicking() || std::env::var_os("EDGEDECK_TEST_LOGS").is_some() {
            eprintln!("{}", self.logs_tail());
        }
    }
}

trait AsyncProbe {
    async fn probe(&mut self) -> bool;
}

struct ReadyZ(kube::Client);

impl AsyncProbe for ReadyZ {
    async fn probe(&mut self) -> bool {
        let request = axum::http::Request::get("/readyz")
            .body(Vec::new())
            .expect("request");
        tokio::time::timeout(Duration::from_secs(2), self.0.request_text(request))
            .await
            .is_ok_and(|r| r.is_ok_and(|body| body.trim() == "ok"))
    }
}

struct DefaultServiceAccount(kube::Client);

impl AsyncProbe for DefaultServiceAccount {
    async fn probe(&mut self) -> bool {
        use k8s_openapi::api::core::v1::ServiceAccount;
        let api: kube::Api<ServiceAccount> = kube::Api::namespaced(self.0.clone(), "default");
        matches!(api.get_opt("default").await, Ok(Some(_)))
    }
}
