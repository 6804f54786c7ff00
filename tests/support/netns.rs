//! Network namespaces a test makes for itself, so that a real kube-proxy can
//! program iptables without touching the machine's own rules. Nothing here
//! has an address outside the namespace's own loopback.

use std::fs::File;
use std::net::TcpListener;
use std::os::fd::AsRawFd as _;
use std::process::Command;

/// A fresh network namespace with only `lo`, up; deleted on drop.
pub struct Netns {
    pub name: String,
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e} (is it installed? .ci/run installs it)"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Netns {
    pub fn new(prefix: &str) -> Netns {
        let name = format!("{prefix}-{}-{}", std::process::id(), rand_suffix());
        run("ip", &["netns", "add", &name]).expect("ip netns add (needs root)");
        let ns = Netns { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"]).expect("lo up");
        ns
    }

    /// Runs a command inside the namespace and returns its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["netns", "exec", self.name.as_str(), program];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// The argv prefix that runs a program inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// A listener on the namespace's own 127.0.0.1. The socket belongs to
    /// the namespace it was created in, whatever thread later accepts on it,
    /// so a server in this (host) process can serve clients that live in the
    /// namespace while its own outgoing connections stay on the host.
    pub fn listen(&self, port: u16) -> TcpListener {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let target = File::open(&path).expect("netns file");
                    // SAFETY: setns only changes this short-lived thread's
                    // network namespace; the thread ends right after.
                    let rc = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                    let listener =
                        TcpListener::bind(("127.0.0.1", port)).expect("listen in the namespace");
                    listener.set_nonblocking(true).expect("nonblocking");
                    listener
                })
                .join()
                .expect("netns thread")
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

fn rand_suffix() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 100_000)
        .unwrap_or(0)
}
