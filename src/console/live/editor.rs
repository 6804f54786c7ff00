//! Running `$KUBE_EDITOR` / `$EDITOR` on a file, as `kubectl edit` does:
//! the variable may carry arguments (`code --wait`, `vim -u NONE`), so it
//! is handed to `sh -c` with the file as `$1` (never spliced into the
//! command line, so a path needs no quoting). The file is private to the
//! user (0600, created new) and removed afterwards.
//!
//! The terminal itself is given to the editor by [`super::terminal::Tui::suspend`].

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The editor `E` uses: `$KUBE_EDITOR`, else `$EDITOR` (empty counts as unset).
pub fn from_env() -> Option<String> {
    ["KUBE_EDITOR", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_owned())
        .find(|v| !v.is_empty())
}

/// Writes `text` to a new private file, runs `editor` on it and returns what
/// the file holds when the editor exits successfully.
pub fn edit(editor: &str, text: &str) -> Result<String, String> {
    let path = private_file(text).map_err(|e| format!("cannot write the file to edit: {e}"))?;
    let result = run(editor, &path);
    let _ = std::fs::remove_file(&path);
    result
}

fn run(editor: &str, path: &Path) -> Result<String, String> {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("edgedeck-edit")
        .arg(path)
        .status()
        .map_err(|e| format!("cannot run {editor:?}: {e}"))?;
    if !status.success() {
        return Err(format!("{editor:?} exited with {status}"));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read the edited file back: {e}"))
}

fn private_file(text: &str) -> std::io::Result<PathBuf> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir();
    loop {
        let n = N.fetch_add(1, Ordering::Relaxed);
        // The .yaml suffix lets the editor pick its YAML mode.
        let path = dir.join(format!("edgedeck-edit-{}-{n}.yaml", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(text.as_bytes())?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_runs_through_the_shell_with_its_arguments() {
        let out = edit(
            "sed -i -e s/replicas:\\ 1/replicas:\\ 4/",
            "a: 1\nreplicas: 1\n",
        )
        .expect("edited");
        assert_eq!(out, "a: 1\nreplicas: 4\n");
    }

    #[test]
    fn a_failing_editor_is_an_error_and_the_file_is_removed() {
        let e = edit("false", "x").expect_err("false fails");
        assert!(e.contains("exited with"), "{e}");
        let e = edit("/no/such/editor", "x").expect_err("missing");
        assert!(e.contains("exited with"), "{e}");
    }
}
