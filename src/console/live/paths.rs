//! Where the console keeps its state: `$XDG_STATE_HOME/edgedeck/` (else
//! `~/.local/state/edgedeck/`) for the log file and the embedded cluster's
//! kubeconfig; and logging into that file, never onto the terminal.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `$XDG_STATE_HOME/edgedeck`, else `~/.local/state/edgedeck`.
pub fn state_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".local/state")
        }
    };
    Some(base.join("edgedeck"))
}

/// The console's log file.
pub fn log_file() -> Option<PathBuf> {
    state_dir().map(|d| d.join("edgedeck.log"))
}

/// Default kubeconfig of an embedded cluster.
pub fn embedded_kubeconfig() -> Option<PathBuf> {
    state_dir().map(|d| d.join("embedded.kubeconfig"))
}

/// Creates `dir` (and parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn open_log(path: &Path) -> std::io::Result<File> {
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Sends `tracing` output (filtered by `RUST_LOG`, default `info`) to the
/// log file. Returns the path written to; on failure nothing is logged
/// (the terminal belongs to the TUI) and the error says why.
pub fn init_file_logging(path: Option<PathBuf>) -> Result<PathBuf, String> {
    let path = path.ok_or("neither XDG_STATE_HOME nor HOME is set")?;
    let file = open_log(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_appended_under_a_private_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/edgedeck.log");
        let mut file = open_log(&path).expect("opens");
        std::io::Write::write_all(&mut file, b"one\n").expect("write");
        drop(file);
        let mut file = open_log(&path).expect("reopens");
        std::io::Write::write_all(&mut file, b"two\n").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "one\ntwo\n");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("nested"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
