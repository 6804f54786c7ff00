use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use edgedeck::headless::{self, HeadlessOptions};
use edgedeck::{api, dry_run, manifests};

/// edgedeck: KubeEdge node group management — NodeGroups, EdgeApplications and
/// traffic closure — as an engine and a terminal console.
#[derive(Parser)]
#[command(name = "edgedeck", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the NodeGroup and EdgeApplication CustomResourceDefinitions as YAML.
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
    },
}

/// Which cluster to talk to, as kubectl chooses it.
#[derive(clap::Args)]
struct ClusterArgs {
    /// Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<std::path::PathBuf>,
    /// Kubeconfig context to use (default: its current context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crds => crds(),
        Command::Render { files } => render(&files),
        Command::Engine {
            cluster,
            leader_elect,
            lease_namespace,
            identity,
        } => {
            init_logging();
            block_on(headless::run(HeadlessOptions {
                kubeconfig: cluster.kubeconfig,
                context: cluster.context,
                leader_elect,
                lease_namespace: Some(lease_namespace),
                identity,
            }))
        }
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn block_on<E: std::fmt::Display>(work: impl std::future::Future<Output = Result<(), E>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn crds() -> ExitCode {
    match api::crds_yaml() {
        Ok(yaml) => print(&yaml),
        Err(e) => {
            eprintln!("error: cannot print CRDs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn render(files: &[String]) -> ExitCode {
    let mut loaded = Vec::new();
    let mut failed = false;
    for file in files {
        match manifests::read_file(file) {
            Ok(objects) => loaded.extend(objects),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    let result = dry_run::dry_run(&loaded);
    for warning in &result.warnings {
        eprintln!("warning: {warning}");
    }
    for error in &result.errors {
        eprintln!("error: {error}");
    }
    let printed = print(&result.yaml);
    if failed || !result.errors.is_empty() {
        ExitCode::FAILURE
    } else {
        printed
    }
}

/// Prints to stdout; a closed pipe (`edgedeck render … | head`) is not an error worth a panic.
fn print(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}
