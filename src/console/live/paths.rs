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
    file_logger(Mutex::new(file))
        .with_env_filter(filter)
        .try_init()
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    Ok(path)
}

/// Every console appends to the same file: each line says which process wrote it.
fn file_logger<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::DefaultFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Full, TimeAndPid>,
    tracing_subscriber::filter::LevelFilter,
    W,
>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_timer(TimeAndPid)
        .with_writer(writer)
}

/// The usual timestamp, then `pid=N`.
struct TimeAndPid;

impl tracing_subscriber::fmt::time::FormatTime for TimeAndPid {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        tracing_subscriber::fmt::time::SystemTime.format_time(w)?;
        write!(w, " pid={}", std::process::id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_log_line_names_the_process_that_wrote_it() {
        let buffer = std::sync::Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = buffer.clone();
        let subscriber = file_logger(move || SharedBuffer(sink.clone())).finish();
        tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
        let text = String::from_utf8(buffer.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            text.contains(&format!(" pid={} ", std::process::id())) && text.contains("hello"),
            "{text}"
        );
    }

    struct SharedBuffer(std::sync::Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

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
