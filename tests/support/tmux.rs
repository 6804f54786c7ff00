//! The real console binary in a pseudo-terminal: a tmux server of its own
//! (a private socket, so tests run in parallel and never touch a user's
//! tmux), a fixed-size window, keys typed with `send-keys` and the screen
//! read with `capture-pane`. The server is killed when the [`Console`] is
//! dropped, also when a test panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::PATIENCE;

pub const WIDTH: u16 = 160;
pub const HEIGHT: u16 = 45;

/// The `edgedeck` console running in a tmux pane.
pub struct Console {
    socket: PathBuf,
    /// The console's cluster: where `--embedded` writes its kubeconfig, or
    /// the one it was started with.
    pub kubeconfig: PathBuf,
    /// Socket, kubeconfig, and the console's XDG state (log) and config dirs.
    dir: tempfile::TempDir,
}

const SESSION: &str = "console";

impl Console {
    /// Starts `edgedeck --embedded --kubeconfig-out <tempdir>/kubeconfig <args>`
    /// with its state and config directories in a tempdir.
    pub fn embedded(args: &[&str]) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let path = kubeconfig.to_str().expect("utf-8 path").to_owned();
        Console::launch(
            dir,
            kubeconfig,
            &["--embedded", "--kubeconfig-out", &path],
            args,
            &[],
        )
    }

    /// [`Console::embedded`] or [`Console::with_kubeconfig`] (`kubeconfig`
    /// given), with `env` set for the console (`EDITOR`, …).
    pub fn with_env(kubeconfig: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        match kubeconfig {
            Some(k) => {
                let path = k.to_str().expect("utf-8 path").to_owned();
                Console::launch(dir, k.to_owned(), &["--kubeconfig", &path], args, env)
            }
            None => {
                let kubeconfig = dir.path().join("kubeconfig");
                let path = kubeconfig.to_str().expect("utf-8 path").to_owned();
                Console::launch(
                    dir,
                    kubeconfig,
                    &["--embedded", "--kubeconfig-out", &path],
                    args,
                    env,
                )
            }
        }
    }

    /// Starts `edgedeck --kubeconfig <kubeconfig> <args>`: the console on an
    /// existing cluster, with its state and config directories in a tempdir.
    pub fn with_kubeconfig(kubeconfig: &Path, args: &[&str]) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = kubeconfig.to_str().expect("utf-8 path").to_owned();
        Console::launch(
            dir,
            kubeconfig.to_owned(),
            &["--kubeconfig", &path],
            args,
            &[],
        )
    }

    fn launch(
        dir: tempfile::TempDir,
        kubeconfig: PathBuf,
        target: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Console {
        let socket = dir.path().join("tmux.sock");
        let conf = dir.path().join("tmux.conf");
        // No status line (the pane is the whole window); keep a dead pane
        // so its last screen can still be read when the console exits.
        std::fs::write(&conf, "set -g status off\nset -g remain-on-exit on\n").expect("tmux.conf");
        let state = dir.path().join("state");
        let config = dir.path().join("config");
        let console = Console {
            socket,
            kubeconfig,
            dir,
        };
        let width = WIDTH.to_string();
        let height = HEIGHT.to_string();
        let mut new_session = vec![
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            &width,
            "-y",
            &height,
            "--",
            env!("CARGO_BIN_EXE_edgedeck"),
        ];
        new_session.extend_from_slice(target);
        new_session.extend_from_slice(args);
        // The server starts with this client's environment; the pane inherits it.
        let out = console
            .command(&new_session)
            .env("XDG_STATE_HOME", &state)
            .env("XDG_CONFIG_HOME", &config)
            // The built-in editor unless a test names one.
            .env_remove("KUBE_EDITOR")
            .env_remove("EDITOR")
            .envs(env.iter().copied())
            .output()
            .expect("tmux runs (is it installed?)");
        check("new-session", &out);
        console
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-u")
            .arg("-f")
            .arg(self.dir.path().join("tmux.conf"))
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX");
        cmd
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("tmux runs");
        check(&args.join(" "), &out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Presses keys, in tmux's names: `Enter`, `Escape`, `C-s`, `j`, …
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", SESSION, "-l", text]);
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", SESSION])
    }

    /// Polls the screen until `ok` holds and returns it; panics naming
    /// `what`, with the last screen, after [`PATIENCE`].
    pub async fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for the console to show {what}; screen:\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every one of `texts` is on the screen.
    pub async fn wait_for(&self, texts: &[&str]) -> String {
        self.wait_until(&format!("{texts:?}"), |s| {
            texts.iter().all(|t| s.contains(t))
        })
        .await
    }

    /// Whether the program in the pane asked the terminal for mouse
    /// reports: "1" or "0" (tmux's `mouse_any_flag`).
    pub fn pane_mouse_mode(&self) -> String {
        self.tmux(&["display-message", "-p", "-t", SESSION, "#{mouse_any_flag}"])
            .trim()
            .to_owned()
    }

    /// Waits for the console's kubeconfig (`--embedded` writes it once its
    /// cluster is up).
    pub async fn kubeconfig(&self) -> &Path {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.kubeconfig.exists() {
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the console wrote no kubeconfig; screen:\n{}",
                    self.screen()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        &self.kubeconfig
    }
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "tmux {what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Console {
    fn drop(&mut self) {
        // Ends the console too (SIGHUP); errors are moot when it is gone already.
        let _ = self.command(&["kill-server"]).output();
    }
}

/// The row of `screen` that contains `needle`, if any.
pub fn row<'s>(screen: &'s str, needle: &str) -> Option<&'s str> {
    screen.lines().find(|l| l.contains(needle))
}
