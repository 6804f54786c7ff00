use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use edgedeck::edge_api::EdgeLimits;
use edgedeck::headless::{self, EdgeApiConfig, HeadlessOptions};
use edgedeck::{api, dry_run, manifests};

mod cli;

use cli::{Cli, Command, ConsoleArgs, EngineArg, LogFormat, ScaleArgs, Seed, SeedArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        return console(cli.console);
    };
    match command {
        Command::Crds => crds(),
        Command::Render { files } => render(&files),
        Command::Engine {
            cluster,
            leader_elect,
            lease_namespace,
            identity,
            edge_api_listen,
            edge_api_tokens,
            edge_api_tls_cert,
            edge_api_tls_key,
            edge_api_plain_http,
            edge_api_qps,
            edge_api_burst,
            edge_api_max_watches,
            lease_duration,
            metrics_listen,
            progress_deadline,
            log,
        } => {
            init_logging(log.log_format);
            let edge_api = match (edge_api_listen, edge_api_tokens) {
                (Some(listen), Some(tokens)) => {
                    let tls = edge_api_tls_cert.zip(edge_api_tls_key);
                    if tls.is_none() && !edge_api_plain_http {
                        eprintln!(
                            "error: the edge API needs --edge-api-tls-cert and --edge-api-tls-key (or --edge-api-plain-http behind a TLS proxy)"
                        );
                        return ExitCode::FAILURE;
                    }
                    Some(EdgeApiConfig {
                        listen,
                        tokens,
                        tls,
                        limits: EdgeLimits {
                            requests_per_second: edge_api_qps,
                            burst: edge_api_burst,
                            watches_per_token: edge_api_max_watches,
                            ..EdgeLimits::DEFAULT
                        },
                    })
                }
                _ => None,
            };
            block_on(headless::run(HeadlessOptions {
                kubeconfig: cluster.kubeconfig,
                context: cluster.context,
                leader_elect,
                lease_namespace: Some(lease_namespace),
                identity,
                lease_duration: Some(lease_duration),
                edge_api,
                metrics_listen,
                progress_deadline: Some(progress_deadline),
            }))
        }
        Command::Cluster {
            listen,
            kubeconfig_out,
            seed,
            scale,
            data_dir,
            no_simulate,
            faults,
            log,
        } => {
            init_logging(log.log_format);
            block_on(cluster(ClusterCommand {
                listen,
                kubeconfig_out,
                seed,
                scale,
                data_dir,
                no_simulate,
                faults,
            }))
        }
        Command::Seed(args) => block_on(seed(args)),
        Command::Rollout(args) => match config_file() {
            Ok(config) => block_on(edgedeck::rollout_cli::run(args, config.soak_time)),
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Completions { shell } => match completions(shell, &mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            // `edgedeck completions bash | head` closes the pipe early: not an error worth a word.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write the completions: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Keys => {
            let md = edgedeck::console::keys_doc::markdown(
                &edgedeck::console::keymap::Keymap::with_fleet_controls(),
            );
            match std::io::stdout().write_all(md.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Command::Man => match man_page() {
            Ok(page) => {
                use std::io::Write as _;
                match std::io::stdout().write_all(&page) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: cannot write the manual page: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
            Err(e) => {
                eprintln!("error: cannot render the manual page: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The completion script for `shell`; a write error is returned, not a panic.
fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // clap_complete panics when its writer fails (a closed pipe): it writes
    // into memory, which cannot fail, and the script goes out from there.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "edgedeck", &mut script);
    out.write_all(&script)
}

/// `edgedeck(1)` in roff, from the clap definition, so it never drifts from `--help`.
fn man_page() -> std::io::Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    Ok(page)
}

/// `$XDG_CONFIG_HOME/edgedeck/config.yaml`, or the defaults when there is none.
fn config_file() -> Result<edgedeck::console::config::Config, String> {
    match edgedeck::console::config::default_path() {
        Some(path) => edgedeck::console::config::load(&path).map_err(|e| e.to_string()),
        None => Ok(Default::default()),
    }
}

/// The console: checks the terminal and the theme before taking over the
/// screen; logs go to a file.
fn console(args: ConsoleArgs) -> ExitCode {
    use edgedeck::console::live::{self, paths};
    // The config file is checked first: its errors are worth seeing even
    // where no terminal is.
    let mut options = match config_file().and_then(|c| console_options(args, c)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = live::check_terminal() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match paths::init_file_logging(paths::log_file()) {
        Ok(path) => options.log_path = Some(path),
        Err(e) => eprintln!("warning: not logging: {e}"),
    }
    block_on(edgedeck::console::run(options))
}

/// What the console flags ask for, over the config file's defaults.
fn console_options(
    args: ConsoleArgs,
    config: edgedeck::console::config::Config,
) -> Result<edgedeck::console::ConsoleOptions, String> {
    use edgedeck::console::live::{self, EngineMode, Target, paths};
    let from_file = args.theme.is_none() && config.theme.is_some();
    let theme = args.theme.or_else(|| config.theme.clone());
    let themes = live::resolve_themes(theme.as_deref()).map_err(|e| match &config.path {
        Some(path) if from_file => format!("{}: theme: {e}", path.display()),
        _ => e.to_string(),
    })?;
    let target = if args.embedded {
        let path = match args.kubeconfig_out {
            Some(path) => path,
            None => paths::embedded_kubeconfig().ok_or(
                "cannot tell where to write the kubeconfig (neither XDG_STATE_HOME nor HOME is set); pass --kubeconfig-out",
            )?,
        };
        Target::Embedded {
            kubeconfig_out: std::path::absolute(&path).unwrap_or(path),
        }
    } else {
        Target::Kubeconfig {
            path: args.cluster.kubeconfig,
            context: args.cluster.context,
        }
    };
    Ok(edgedeck::console::ConsoleOptions {
        target,
        readonly: args.readonly || config.readonly.unwrap_or(false),
        engine: match args.engine {
            None => config.engine.unwrap_or(EngineMode::Auto),
            Some(EngineArg::Auto) => EngineMode::Auto,
            Some(EngineArg::On) => EngineMode::On,
            Some(EngineArg::Off) => EngineMode::Off,
        },
        engine_explicit: args.engine.is_some() || config.engine.is_some(),
        engine_metrics: args.engine_metrics,
        theme,
        themes,
        log_path: None,
        mouse: !args.no_mouse && config.mouse.unwrap_or(true),
        config,
    })
}

struct ClusterCommand {
    listen: SocketAddr,
    kubeconfig_out: Option<PathBuf>,
    seed: Seed,
    scale: ScaleArgs,
    data_dir: Option<PathBuf>,
    no_simulate: bool,
    faults: Option<edgedeck::embedded::faults::FaultSpec>,
}

/// The edgedeck CRDs, then the seed's objects.
fn seed_objects(seed: Seed, scale: ScaleArgs) -> Result<Vec<serde_json::Value>, String> {
    use edgedeck::simulation::seed;
    let seed = match seed {
        Seed::Demo => seed::Seed::Demo,
        Seed::Empty => seed::Seed::Empty,
        Seed::Scale => seed::Seed::Scale {
            nodes: scale.nodes,
            groups: scale.groups,
            apps: scale.apps,
        },
    };
    edgedeck::console::live::embedded::initial_objects(seed)
}

/// `$XDG_STATE_HOME/edgedeck/embedded.kubeconfig`, else under `~/.local/state`.
fn default_kubeconfig(data_dir: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(dir) = data_dir {
        return Ok(dir.join("kubeconfig"));
    }
    edgedeck::console::live::paths::embedded_kubeconfig().ok_or_else(|| {
        "cannot tell where to write the kubeconfig (neither XDG_STATE_HOME nor HOME is set); pass --kubeconfig-out".into()
    })
}

/// SIGINT and SIGTERM handlers, installed before the cluster announces itself.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let err = |e| format!("cannot handle signals: {e}");
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).map_err(err)?,
            terminate: signal(SignalKind::terminate()).map_err(err)?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

async fn cluster(command: ClusterCommand) -> Result<(), String> {
    use edgedeck::embedded::{self, ClusterOptions};
    let mut signals = Signals::install()?;
    let initial_objects = seed_objects(command.seed, command.scale)?;
    let kubeconfig = match command.kubeconfig_out {
        Some(path) => path,
        None => default_kubeconfig(command.data_dir.as_deref())?,
    };
    let kubeconfig = std::path::absolute(&kubeconfig).unwrap_or(kubeconfig);
    let mut running = embedded::start(ClusterOptions {
        listen: command.listen,
        data_dir: command.data_dir,
        initial_objects,
        simulate: !command.no_simulate,
        faults: std::sync::Arc::new(embedded::faults::Faults::new(command.faults)),
        ..ClusterOptions::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    edgedeck::console::live::embedded::write_kubeconfig(&running, &kubeconfig)?;
    let path = kubeconfig.display();
    let announced = print(&format!(
        "server: {}\nkubeconfig: {path}\nexport KUBECONFIG={path}\n",
        running.url()
    ));
    if announced != ExitCode::SUCCESS {
        running.shutdown().await;
        return Err("cannot print the server address".into());
    }
    let outcome = loop {
        tokio::select! {
            () = signals.recv() => break Ok(()),
            failure = running.persistence_failed() => break Err(failure),
            // Asked for by the faults (--faults restart=…, /edgedeck/faults/restart).
            () = running.restart_requested() => {}
        }
        running = running
            .restart()
            .await
            .map_err(|e| format!("restarting the embedded cluster: {e}"))?;
    };
    tracing::info!("shutting down the embedded cluster");
    running.shutdown().await;
    outcome
}

/// `edgedeck seed`: the seed's objects onto the kubeconfig's cluster, then a summary.
async fn seed(args: SeedArgs) -> Result<(), String> {
    use edgedeck::simulation::load::{self, LoadOptions, Nodes};
    let objects = seed_objects(args.seed, args.scale)?;
    let kubeconfig = args.cluster.kubeconfig.as_deref();
    let config = edgedeck::connect::config(kubeconfig, args.cluster.context.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    let client = kube::Client::try_from(config)
        .map_err(|e| format!("cannot make a client for {server}: {e}"))?;
    let options = LoadOptions {
        nodes: if args.with_nodes {
            Nodes::Kwok
        } else {
            Nodes::Skip
        },
        ..LoadOptions::default()
    };
    let report = load::load(&client, objects, &options)
        .await
        .map_err(|e| format!("seeding {server}: {e}"))?;
    let mut summary = format!("seeded {server}\n{report}\n");
    if report.skipped_nodes > 0 && !report.group_selectors.is_empty() {
        summary.push_str(&membership_note(&report.group_selectors));
    }
    if print(&summary) != ExitCode::SUCCESS {
        return Err("cannot print the summary".into());
    }
    Ok(())
}

/// Without seeded nodes the NodeGroups match only nodes already labelled for
/// them, which on a fresh cluster is none: say which labels make members.
fn membership_note(selectors: &std::collections::BTreeSet<String>) -> String {
    const SHOWN: usize = 5;
    let mut listed: Vec<&str> = selectors.iter().take(SHOWN).map(String::as_str).collect();
    if selectors.len() > SHOWN {
        listed.push("…");
    }
    let example = selectors.first().map_or("KEY=VALUE", String::as_str);
    format!(
        "note: the NodeGroups select nodes by label ({}); existing nodes join a group once they \
         carry its label (kubectl label node NAME {example}), or rerun with --with-nodes for \
         kwok-managed nodes\n",
        listed.join(", ")
    )
}

/// Logs to standard error, filtered by `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn block_on<E: std::fmt::Display>(
    work: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
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
            // The terminal may be gone (a closed tmux window): never panic on stderr.
            let _ = writeln!(std::io::stderr(), "error: {e}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use edgedeck::console::live::{EngineMode, Target, engine_should_run};

    fn options(args: &[&str]) -> edgedeck::console::ConsoleOptions {
        let cli = Cli::try_parse_from(args).expect("parses");
        assert!(cli.command.is_none(), "{args:?} is the console");
        console_options(cli.console, Default::default()).expect("options")
    }

    fn runs(o: &edgedeck::console::ConsoleOptions) -> bool {
        engine_should_run(o.engine, o.readonly, o.engine_explicit, None, "me")
    }

    #[test]
    fn the_console_is_the_default_command() {
        let o = options(&["edgedeck"]);
        assert!(matches!(
            o.target,
            Target::Kubeconfig {
                path: None,
                context: None
            }
        ));
        assert_eq!(o.engine, EngineMode::Auto);
        assert!(!o.engine_explicit);
        assert!(runs(&o));
    }

    #[test]
    fn readonly_implies_engine_off_unless_explicitly_on() {
        let o = options(&["edgedeck", "--readonly"]);
        assert!(o.readonly);
        assert!(!runs(&o));
        let o = options(&["edgedeck", "--readonly", "--engine", "auto"]);
        assert!(!runs(&o));
        let o = options(&["edgedeck", "--readonly", "--engine", "on"]);
        assert!(o.engine_explicit);
        assert!(runs(&o));
        let o = options(&["edgedeck", "--engine", "off"]);
        assert!(!runs(&o));
    }

    #[test]
    fn completions_and_the_man_page_come_from_the_same_flags() {
        let mut bash = Vec::new();
        completions(clap_complete::Shell::Bash, &mut bash).expect("generated");
        let bash = String::from_utf8(bash).expect("utf-8");
        assert!(
            bash.contains("--engine-metrics") && bash.contains("completions"),
            "bash completes flags and subcommands"
        );
        let page = String::from_utf8(man_page().expect("renders")).expect("utf-8");
        assert!(
            page.starts_with(".ie") || page.contains(".TH edgedeck"),
            "{}",
            &page[..page.len().min(200)]
        );
        assert!(
            page.contains("engine\\-metrics"),
            "the page lists --engine-metrics"
        );
        // A closed pipe is an error returned, never a panic.
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let closed = completions(clap_complete::Shell::Fish, &mut Closed).expect_err("fails");
        assert_eq!(closed.kind(), std::io::ErrorKind::BrokenPipe);
        let parsed = Cli::try_parse_from(["edgedeck", "completions", "zsh"]).expect("parses");
        assert!(matches!(parsed.command, Some(Command::Completions { .. })));
        assert!(Cli::try_parse_from(["edgedeck", "completions", "tcsh"]).is_err());
    }

    #[test]
    fn engine_metrics_reach_the_console_and_a_bad_url_is_refused() {
        let o = options(&["edgedeck", "--engine-metrics", "http://127.0.0.1:9090"]);
        assert_eq!(
            o.engine_metrics.map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:9090/metrics")
        );
        let Err(error) = Cli::try_parse_from(["edgedeck", "--engine-metrics", "https://e:9090"])
        else {
            panic!("https is refused");
        };
        assert!(error.to_string().contains("plain http"), "{error}");
    }

    #[test]
    fn kubeconfig_and_context_reach_the_console() {
        let o = options(&["edgedeck", "--kubeconfig", "/k", "--context", "prod"]);
        match o.target {
            Target::Kubeconfig { path, context } => {
                assert_eq!(path, Some(PathBuf::from("/k")));
                assert_eq!(context.as_deref(), Some("prod"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn embedded_writes_its_kubeconfig_where_asked() {
        let o = options(&["edgedeck", "--embedded", "--kubeconfig-out", "/tmp/k"]);
        match o.target {
            Target::Embedded { kubeconfig_out } => {
                assert_eq!(kubeconfig_out, PathBuf::from("/tmp/k"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conflicting_console_flags_are_refused() {
        for args in [
            &["edgedeck", "--embedded", "--kubeconfig", "/k"][..],
            &["edgedeck", "--kubeconfig-out", "/k"],
            &["edgedeck", "--engine", "sometimes"],
            &["edgedeck", "--readonly", "crds"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn flags_override_the_config_file() {
        let config = edgedeck::console::config::parse(
            "theme: light\nengine: off\nmouse: false\nreadonly: true\n",
            Path::new("/cfg/config.yaml"),
        )
        .expect("config");
        let cli = Cli::try_parse_from(["edgedeck"]).expect("parses");
        let o = console_options(cli.console, config.clone()).expect("options");
        assert_eq!(o.theme.as_deref(), Some("light"));
        assert_eq!(o.engine, EngineMode::Off);
        assert!(!o.mouse && o.readonly);
        let cli =
            Cli::try_parse_from(["edgedeck", "--theme", "dark", "--engine", "on"]).expect("parses");
        let o = console_options(cli.console, config).expect("options");
        assert_eq!(o.theme.as_deref(), Some("dark"));
        assert_eq!(o.engine, EngineMode::On);
        let cli = Cli::try_parse_from(["edgedeck", "--no-mouse"]).expect("parses");
        assert!(
            !console_options(cli.console, Default::default())
                .expect("o")
                .mouse
        );
        let cli = Cli::try_parse_from(["edgedeck"]).expect("parses");
        assert!(
            console_options(cli.console, Default::default())
                .expect("o")
                .mouse
        );
    }

    #[test]
    fn an_unknown_theme_is_an_error_naming_the_known_ones() {
        let cli = Cli::try_parse_from(["edgedeck", "--theme", "no-such-theme"]).expect("parses");
        let err =
            console_options(cli.console, Default::default()).expect_err("unknown theme refused");
        assert!(
            err.contains("no-such-theme") && err.contains("dark"),
            "{err}"
        );
    }

    #[test]
    fn subcommands_still_work() {
        let cli = Cli::try_parse_from(["edgedeck", "crds"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Crds)));
        let cli =
            Cli::try_parse_from(["edgedeck", "engine", "--kubeconfig", "/k", "--leader-elect"])
                .expect("parses");
        match cli.command {
            Some(Command::Engine {
                cluster,
                leader_elect,
                ..
            }) => {
                assert_eq!(cluster.kubeconfig, Some(PathBuf::from("/k")));
                assert!(leader_elect);
            }
            _ => panic!("engine"),
        }
        let cli =
            Cli::try_parse_from(["edgedeck", "cluster", "--kubeconfig-out", "/k"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Cluster { .. })));
    }

    #[test]
    fn seed_takes_the_seed_the_cluster_and_the_scale() {
        let args = [
            "edgedeck",
            "seed",
            "scale",
            "--kubeconfig",
            "/k",
            "--context",
            "kind",
        ];
        let more = [
            "--with-nodes",
            "--nodes",
            "30",
            "--groups",
            "3",
            "--apps",
            "2",
        ];
        let cli = Cli::try_parse_from(args.iter().chain(&more)).expect("parses");
        let Some(Command::Seed(seed)) = cli.command else {
            panic!("seed");
        };
        assert!(seed.seed == Seed::Scale && seed.with_nodes);
        assert_eq!(seed.cluster.kubeconfig, Some(PathBuf::from("/k")));
        assert_eq!(seed.cluster.context.as_deref(), Some("kind"));
        assert_eq!(
            (seed.scale.nodes, seed.scale.groups, seed.scale.apps),
            (30, 3, 2)
        );
        let cli = Cli::try_parse_from(["edgedeck", "seed", "demo"]).expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::Seed(SeedArgs {
                with_nodes: false,
                ..
            }))
        ));
        assert!(
            Cli::try_parse_from(["edgedeck", "seed"]).is_err(),
            "a seed is required"
        );
    }

    #[test]
    fn the_membership_note_names_the_labels_and_elides_long_lists() {
        let few = ["location=hangzhou".to_string()].into();
        let note = membership_note(&few);
        assert!(
            note.contains("(location=hangzhou)") && note.contains("--with-nodes"),
            "{note}"
        );
        let many = (0..8).map(|i| format!("location=region-{i}")).collect();
        let note = membership_note(&many);
        assert!(
            note.contains("region-4, …") && !note.contains("region-5"),
            "{note}"
        );
    }
}
