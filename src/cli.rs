//! The command line: every subcommand and flag, as clap reads them. The
//! binary's entry point (`main.rs`) runs what was asked; `edgedeck
//! completions` and `edgedeck man` are generated from these definitions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use edgedeck::edge_api::EdgeLimits;

/// edgedeck: KubeEdge node group management — NodeGroups, EdgeApplications and
/// traffic closure — as an engine and a terminal console.
///
/// Without a subcommand, edgedeck is the terminal console for the cluster of
/// the kubeconfig (or, with --embedded, for an embedded demo cluster).
#[derive(Parser)]
#[command(
    name = "edgedeck",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) console: ConsoleArgs,
}

/// The console's options (the default command).
#[derive(clap::Args)]
pub(crate) struct ConsoleArgs {
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
    /// Start an embedded cluster with the demo fleet in-process and show it.
    #[arg(long, conflicts_with_all = ["kubeconfig", "context"])]
    pub(crate) embedded: bool,
    /// With --embedded: write the embedded cluster's kubeconfig here, for kubectl in another
    /// terminal [default: $XDG_STATE_HOME/edgedeck/embedded.kubeconfig].
    #[arg(long, value_name = "PATH", requires = "embedded")]
    pub(crate) kubeconfig_out: Option<PathBuf>,
    /// No write path: editing keys are disabled, and the engine is off unless --engine on.
    #[arg(long)]
    pub(crate) readonly: bool,
    /// Colour theme: dark, light, high-contrast, or one in $XDG_CONFIG_HOME/edgedeck/themes.
    #[arg(long, value_name = "NAME")]
    pub(crate) theme: Option<String>,
    /// Run the engine in-process: auto = only when no other engine holds the lease [default: auto].
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) engine: Option<EngineArg>,
    /// A remote engine's metrics (`edgedeck engine --metrics-listen`), shown in the Engine
    /// view while the in-process engine does not lead: http://HOST:PORT[/PATH].
    #[arg(long, value_name = "URL", env = "EDGEDECK_ENGINE_METRICS")]
    pub(crate) engine_metrics: Option<edgedeck::telemetry::scrape::MetricsUrl>,
    /// Leave the mouse to the terminal (its own text selection); also `mouse: false` in the config.
    #[arg(long)]
    pub(crate) no_mouse: bool,
}

/// `--engine`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EngineArg {
    /// Run it when no other engine holds the lease; re-checked every 15s.
    Auto,
    /// Always run it (leader-elected: it waits for the lease).
    On,
    /// Never run it.
    Off,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Print the NodeGroup, EdgeApplication and Rollout CustomResourceDefinitions as YAML.
    Crds,
    /// Render EdgeApplications offline, as the controller would, and print the generated objects.
    ///
    /// Reads NodeGroups, EdgeApplications and optionally Nodes from YAML or JSON
    /// files (multi-document; `-` is standard input). Errors go to standard error,
    /// one line per problem, and make the exit status 1; everything renderable is
    /// still printed. ownerReferences are left out: they need the uid the API
    /// server assigns. With Nodes, the Nodes with their group labels and the
    /// NodeGroups with their computed status are printed as well.
    Render {
        /// Input files; `-` reads standard input.
        #[arg(short = 'f', long = "filename", required = true, num_args = 1..)]
        files: Vec<String>,
    },
    /// Run every controller headless, as in a cluster, until SIGINT or SIGTERM.
    Engine {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Act only while holding the coordination.k8s.io Lease, so one engine writes at a time.
        #[arg(long)]
        leader_elect: bool,
        /// Namespace of the leader Lease.
        #[arg(long, default_value = "kube-system")]
        lease_namespace: String,
        /// Identity recorded in the Lease (default: host name and process id).
        #[arg(long)]
        identity: Option<String>,
        /// Serve the per-node edge API (traffic closure for unmodified kube-proxy) on this address.
        #[arg(long, value_name = "ADDR", requires = "edge_api_tokens")]
        edge_api_listen: Option<std::net::SocketAddr>,
        /// File of `TOKEN NODE` lines: which bearer token may read which node's view.
        #[arg(long, value_name = "FILE", requires = "edge_api_listen")]
        edge_api_tokens: Option<std::path::PathBuf>,
        /// PEM certificate chain for the edge API (with --edge-api-tls-key).
        #[arg(
            long,
            value_name = "FILE",
            requires = "edge_api_tls_key",
            requires = "edge_api_listen"
        )]
        edge_api_tls_cert: Option<std::path::PathBuf>,
        /// PEM private key for the edge API.
        #[arg(long, value_name = "FILE", requires = "edge_api_tls_cert")]
        edge_api_tls_key: Option<std::path::PathBuf>,
        /// Serve the edge API over plain http, for use behind a TLS-terminating proxy
        /// (clients send tokens only over https).
        #[arg(
            long,
            requires = "edge_api_listen",
            conflicts_with = "edge_api_tls_cert"
        )]
        edge_api_plain_http: bool,
        /// Requests per second each edge API token may make, sustained (429 with Retry-After beyond).
        #[arg(long, value_name = "QPS", default_value_t = EdgeLimits::DEFAULT.requests_per_second, value_parser = parse_positive_rate)]
        edge_api_qps: f64,
        /// Requests each edge API token may make at once after a quiet spell.
        #[arg(long, value_name = "N", default_value_t = EdgeLimits::DEFAULT.burst, value_parser = clap::value_parser!(u32).range(1..))]
        edge_api_burst: u32,
        /// Watches each edge API token may have open at once (429 with Retry-After beyond).
        #[arg(long, value_name = "N", default_value_t = EdgeLimits::DEFAULT.watches_per_token)]
        edge_api_max_watches: usize,
        /// How long a silent leader keeps the Lease (e.g. 15s); renewals come every third of it.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "15s")]
        lease_duration: Duration,
        /// Serve Prometheus /metrics, /healthz and /readyz over plain http on this address.
        #[arg(long, value_name = "ADDR")]
        metrics_listen: Option<SocketAddr>,
        /// /readyz fails when a controller owes work and finished no reconcile for this long.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2m")]
        progress_deadline: Duration,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Run the embedded Kubernetes-compatible API server headless, until SIGINT or SIGTERM.
    ///
    /// Prints the server URL and the path of a kubeconfig for it (kubectl and
    /// `edgedeck --kubeconfig` use it). Without --data-dir the cluster lives in
    /// memory only. With it, every acknowledged write is on disk before the
    /// answer (it survives kill -9), a restart continues where it stopped
    /// (resourceVersions included), and the token and certificate stay the
    /// same, so an existing kubeconfig keeps working as long as the port does.
    /// The edgedeck CRDs are installed, then the seed's objects, only when the
    /// cluster starts empty (never on a restart of a data directory).
    Cluster {
        /// Loopback address to listen on; port 0 picks a free port.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6443")]
        listen: SocketAddr,
        /// Where to write the kubeconfig [default: DIR/kubeconfig with --data-dir,
        /// else $XDG_STATE_HOME/edgedeck/embedded.kubeconfig].
        #[arg(long, value_name = "PATH")]
        kubeconfig_out: Option<PathBuf>,
        /// Objects to start with.
        #[arg(long, value_enum, default_value_t = Seed::Demo)]
        seed: Seed,
        #[command(flatten)]
        scale: ScaleArgs,
        /// Keep the cluster's state here (created if missing, mode 0700).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Serve objects only: no simulated kubelet, scheduler or workload controllers.
        #[arg(long)]
        no_simulate: bool,
        /// Inject faults, e.g. seed=7,429=0.05,503=0.02,drop-watch=0.2,delay=0.1:200ms,410=0.5,restart=2m
        /// (see RELIABILITY.md); changed at run time through /edgedeck/faults.
        #[arg(long, value_name = "SPEC")]
        faults: Option<edgedeck::embedded::faults::FaultSpec>,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Load a seed's objects onto the cluster of the kubeconfig: what `--embedded` shows, on
    /// kind, k3d or any cluster.
    ///
    /// The edgedeck CRDs first (waiting until they are served), then the
    /// namespaces, NodeGroups, EdgeApplications and other objects of the seed,
    /// all by server-side apply (field manager `edgedeck-seed`), so running it
    /// again changes nothing. Namespaces that already exist are left alone.
    /// Nodes are left out unless --with-nodes: the NodeGroups select nodes by
    /// label, and the summary says which labels existing nodes need.
    Seed(SeedArgs),
    /// Roll a change out to an EdgeApplication's groups in waves (rollouts.edgedeck.io).
    Rollout(edgedeck::rollout_cli::RolloutArgs),
    /// Print a shell completion script: `edgedeck completions bash > /etc/bash_completion.d/edgedeck`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), generated from these same flags: `edgedeck man | man -l -`.
    Man,
    /// Print the console's key table as markdown (KEYS.md): `edgedeck keys > KEYS.md`.
    Keys,
}

#[derive(clap::Args)]
pub(crate) struct SeedArgs {
    /// Which objects to load.
    #[arg(value_enum)]
    pub(crate) seed: Seed,
    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
    /// Also create the seed's Nodes, annotated `kwok.x-k8s.io/node=fake` so that kwok
    /// (--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake) runs them.
    #[arg(long)]
    pub(crate) with_nodes: bool,
    #[command(flatten)]
    pub(crate) scale: ScaleArgs,
}

/// The size of the scale seed.
#[derive(Clone, Copy, clap::Args)]
pub(crate) struct ScaleArgs {
    /// Number of nodes of the scale seed.
    #[arg(long, default_value_t = 1000)]
    pub(crate) nodes: usize,
    /// Number of node groups of the scale seed.
    #[arg(long, default_value_t = 20)]
    pub(crate) groups: usize,
    /// Number of EdgeApplications of the scale seed.
    #[arg(long, default_value_t = 50)]
    pub(crate) apps: usize,
}

/// The objects `edgedeck cluster` starts with and `edgedeck seed` loads.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Seed {
    /// A small demo fleet: a few regions, node groups and applications.
    Demo,
    /// Nothing but the edgedeck CRDs and the standard namespaces.
    Empty,
    /// A large generated fleet (see --nodes, --groups, --apps).
    Scale,
}

/// How the headless commands log (to standard error; the level from `RUST_LOG`, default info).
#[derive(clap::Args)]
pub(crate) struct LogArgs {
    /// `text` for people, `json` (one object per line) for log collectors.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// A rate above zero (a limit of 0 would refuse every request forever).
pub(crate) fn parse_positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a number of requests per second above 0"
        )),
    }
}

/// `15s`, `2m`, `1m30s`, `500ms` (jiff's friendly format, or ISO 8601).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("not a duration like 15s or 2m: {e}"))?;
    let duration = Duration::try_from(parsed).map_err(|_| "must not be negative".to_owned())?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

/// Which cluster to talk to, as kubectl chooses it.
#[derive(clap::Args)]
pub(crate) struct ClusterArgs {
    /// Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH")]
    pub(crate) kubeconfig: Option<std::path::PathBuf>,
    /// Kubeconfig context to use (default: its current context).
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
}
