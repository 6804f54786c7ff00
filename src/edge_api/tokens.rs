//! Bearer tokens of edge nodes: which token may read which node's view.
//!
//! # Token file format
//!
//! One `TOKEN NODE` pair per line, separated by spaces or tabs:
//!
//! ```text
//! # edge nodes of hangzhou
//! 3f6c0a9d1e…  hz-edge-1
//! 9b2e77c4aa…  hz-edge-2   # rotated 2025-06
//! ```
//!
//! - Blank lines and lines starting with `#` are ignored; a `#` after the
//!   pair starts a trailing comment.
//! - A token is RFC 6750 `b64token` characters (letters, digits,
//!   `-._~+/`, trailing `=`); a node name must be a DNS-1123 subdomain.
//! - A token may appear once; a node may have several tokens (rotation).
//! - A file without any pair is refused: nobody could use the API.
//!
//! Errors name the line (1-based) but never echo a token.
//!
//! # Rotation and revocation
//!
//! [`Tokens::watch_file`] rereads the file whenever it changes (size,
//! modification time or inode: an edit in place, a rename over it, or the
//! symlink swap of a Kubernetes Secret volume), without a restart. Every
//! request looks at the file's metadata first, so a token removed from it is
//! refused from the next request on. Once a second its content is compared
//! too (an edit in place that keeps the size within one tick of the file
//! system's clock leaves the metadata alone), and open watches of a token
//! that no longer maps to their node end then. A file
//! that cannot be read or parsed on a reload keeps the tokens last loaded
//! (an error is logged): a typo while editing must not lock every node out.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::route::is_dns_subdomain;

/// How often the token file is checked for open watches to notice a revocation.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read token file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}:{line}: {reason}")]
    Invalid {
        /// The file, or `<input>` when parsed from a string.
        origin: String,
        /// 1-based line number.
        line: usize,
        reason: String,
    },
    #[error("{origin}: no `TOKEN NODE` pair; nobody could use the edge API")]
    Empty { origin: String },
}

/// token → node, kept by the SHA-256 digest of each token. `Debug` never
/// shows the tokens.
#[derive(Clone, Default)]
pub struct TokenMap {
    by_digest: HashMap<Digest, String>,
}

type Digest = [u8; 32];

fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

impl fmt::Debug for TokenMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut nodes: Vec<&str> = self.by_digest.values().map(String::as_str).collect();
        nodes.sort_unstable();
        f.debug_struct("TokenMap")
            .field("tokens", &self.by_digest.len())
            .field("nodes", &nodes)
            .finish()
    }
}

impl TokenMap {
    /// Reads and parses a token file (format in the module docs).
    pub fn load(path: &Path) -> Result<TokenMap, TokenFileError> {
        parse(&read(path)?, &path.display().to_string())
    }

    /// Parses the contents of a token file (format in the module docs).
    pub fn parse(text: &str) -> Result<TokenMap, TokenFileError> {
        parse(text, "<input>")
    }

    /// The node `token` belongs to.
    ///
    /// Looked up by the token's digest: the same small work per request
    /// however many nodes there are (comparing against every token made a
    /// flood of bad tokens cost O(nodes) each), and the lookup's timing
    /// depends on the digest, which tells a guesser nothing about how much
    /// of a guessed token was right.
    pub fn node_for(&self, token: &str) -> Option<&str> {
        self.by_digest.get(&digest(token)).map(String::as_str)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

/// Where the current tokens come from: fixed, or a file reread on change.
#[derive(Clone)]
pub struct Tokens {
    current: watch::Sender<Arc<TokenMap>>,
    file: Option<Arc<TokenFile>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("map", &*self.current.borrow())
            .field("file", &self.file.as_ref().map(|f| &f.path))
            .finish()
    }
}

struct TokenFile {
    path: PathBuf,
    /// What the file looked like when last read (loaded or not).
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    stamp: Option<FileStamp>,
    /// Digest of the text last read; None when it could not be read.
    text: Option<Digest>,
}

/// Enough of a file's metadata to tell that it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode: meta.ino(),
    })
}

impl From<TokenMap> for Tokens {
    fn from(map: TokenMap) -> Tokens {
        Tokens {
            current: watch::Sender::new(Arc::new(map)),
            file: None,
        }
    }
}

impl Tokens {
    /// Loads `path` (an invalid file is an error here, before anything is
    /// served) and rereads it whenever it changes.
    pub fn watch_file(path: &Path) -> Result<Tokens, TokenFileError> {
        let stamp = stamp(path);
        let text = read(path)?;
        let map = parse(&text, &path.display().to_string())?;
        Ok(Tokens {
            current: watch::Sender::new(Arc::new(map)),
            file: Some(Arc::new(TokenFile {
                path: path.to_path_buf(),
                seen: Mutex::new(Seen {
                    stamp,
                    text: Some(digest(&text)),
                }),
            })),
        })
    }

    /// The tokens as of now: the file is reread first if it changed.
    pub fn current(&self) -> Arc<TokenMap> {
        self.refresh();
        self.current.borrow().clone()
    }

    /// Rereads the file if its metadata changed since it was last read.
    fn refresh(&self) {
        self.reread(false);
    }

    /// Rereads the file if it changed: by its metadata (cheap, on every
    /// request) or, with `by_content`, by what it holds (every second: an
    /// edit in place of the same size within one tick of the file system's
    /// clock leaves the metadata as it was).
    fn reread(&self, by_content: bool) {
        let Some(file) = &self.file else { return };
        // Held across the reload: a request racing it must not go ahead
        // with the tokens from before the change.
        let Ok(mut seen) = file.seen.lock() else {
            return;
        };
        let now = stamp(&file.path);
        if seen.stamp == now && !by_content {
            return;
        }
        seen.stamp = now;
        let text = match read(&file.path) {
            Ok(text) => text,
            Err(error) => {
                if seen.text.take().is_some() {
                    tracing::error!(%error, "edge API tokens not reloaded; the tokens last loaded stay in use");
                }
                return;
            }
        };
        let text_digest = digest(&text);
        if seen.text == Some(text_digest) {
            return;
        }
        seen.text = Some(text_digest);
        match parse(&text, &file.path.display().to_string()) {
            Ok(map) => {
                tracing::info!(tokens = map.len(), path = %file.path.display(), "edge API tokens reloaded");
                self.current.send_replace(Arc::new(map));
            }
            Err(error) => {
                tracing::error!(%error, "edge API tokens not reloaded; the tokens last loaded stay in use");
            }
        }
    }

    /// Rereads a changed file every second until `cancel`, so open watches
    /// learn of a revocation even when no request comes in.
    pub(crate) fn spawn_reloader(&self, cancel: CancellationToken) {
        if self.file.is_none() {
            return;
        }
        let tokens = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(RELOAD_INTERVAL);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = ticks.tick() => tokens.reread(true),
                }
            }
        });
    }

    /// Resolves once `token` no longer belongs to `node` (never, while it does).
    pub(crate) fn revoked(
        &self,
        token: String,
        node: String,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.current.subscribe();
        async move {
            let still = |map: &TokenMap| map.node_for(&token) == Some(node.as_str());
            if rx.wait_for(|map| !still(map)).await.is_err() {
                // the tokens are gone with the server; the watch ends with it
                std::future::pending::<()>().await;
            }
        }
    }

    /// Number of tokens now.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }
}

fn read(path: &Path) -> Result<String, TokenFileError> {
    std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse(text: &str, origin: &str) -> Result<TokenMap, TokenFileError> {
    let invalid = |line: usize, reason: String| TokenFileError::Invalid {
        origin: origin.to_owned(),
        line,
        reason,
    };
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_digest = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut fields = content.split_whitespace();
        let (Some(token), Some(node)) = (fields.next(), fields.next()) else {
            return Err(invalid(
                line,
                "expected `TOKEN NODE`, found one field".into(),
            ));
        };
        if let Some(extra) = fields.next()
            && !extra.starts_with('#')
        {
            return Err(invalid(
                line,
                "expected `TOKEN NODE`, found more fields (comments start with `#`)".into(),
            ));
        }
        if !is_b64token(token) {
            return Err(invalid(
                line,
                "the token has characters outside A-Z a-z 0-9 - . _ ~ + / (and trailing =)".into(),
            ));
        }
        if !is_dns_subdomain(node) {
            return Err(invalid(
                line,
                format!("node name {node:?} is not a valid DNS-1123 subdomain"),
            ));
        }
        if let Some(first) = seen.insert(token, line) {
            return Err(invalid(
                line,
                format!("this token is already assigned on line {first}"),
            ));
        }
        by_digest.insert(digest(token), node.to_owned());
    }
    if by_digest.is_empty() {
        return Err(TokenFileError::Empty {
            origin: origin.to_owned(),
        });
    }
    Ok(TokenMap { by_digest })
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(text: &str) -> (usize, String) {
        match TokenMap::parse(text) {
            Err(TokenFileError::Invalid { line, reason, .. }) => (line, reason),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn parses_pairs_comments_and_blank_lines() {
        let map = TokenMap::parse(
            "# header\n\n  tok-a hz-1\ntok.b\tbj-1  # trailing comment\nc2Vj+/cmV0== hz-1\n",
        )
        .expect("valid file");
        assert_eq!(map.len(), 3);
        assert_eq!(map.node_for("tok-a"), Some("hz-1"));
        assert_eq!(map.node_for("tok.b"), Some("bj-1"));
        assert_eq!(map.node_for("c2Vj+/cmV0=="), Some("hz-1"));
        assert_eq!(map.node_for("tok"), None);
        assert_eq!(map.node_for(""), None);
        assert_eq!(map.node_for("tok-a "), None);
    }

    #[test]
    fn rejects_malformed_lines_with_their_number() {
        assert_eq!(reason("a n1\nlonely\n").0, 2);
        assert!(reason("a n1\nlonely\n").1.contains("one field"));
        let (line, why) = reason("\n\nt n1 extra\n");
        assert_eq!(line, 3);
        assert!(why.contains("more fields"), "{why}");
        let (line, why) = reason("t Node_1\n");
        assert_eq!(line, 1);
        assert!(why.contains("DNS-1123"), "{why}");
        let (line, why) = reason("# c\nt\u{e9}k n1\n");
        assert_eq!(line, 2);
        assert!(why.contains("token"), "{why}");
        assert_eq!(reason("=== n1\n").0, 1);
    }

    #[test]
    fn rejects_duplicate_tokens_without_echoing_them() {
        let err = TokenMap::parse("secret-1 n1\nsecret-1 n2\n").expect_err("duplicate");
        let text = err.to_string();
        assert_eq!(text, "<input>:2: this token is already assigned on line 1");
        assert!(!text.contains("secret-1"));
    }

    #[test]
    fn rejects_a_file_without_pairs() {
        assert!(matches!(
            TokenMap::parse("# nothing\n\n"),
            Err(TokenFileError::Empty { .. })
        ));
    }

    #[test]
    fn debug_never_shows_tokens() {
        let map = TokenMap::parse("very-secret n1\n").expect("valid");
        let shown = format!("{map:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("n1"));
    }

    #[test]
    fn load_reads_a_file_and_names_it_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "t1 n1\nbad\n").expect("write");
        let err = TokenMap::load(&path).expect_err("line 2 is bad");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:2:", path.display()))
        );
        std::fs::write(&path, "t1 n1\n").expect("write");
        assert_eq!(
            TokenMap::load(&path).expect("valid").node_for("t1"),
            Some("n1")
        );
        assert!(matches!(
            TokenMap::load(&dir.path().join("missing")),
            Err(TokenFileError::Read { .. })
        ));
    }

    #[test]
    fn a_watched_file_is_reread_when_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "old n1\n").expect("write");
        let tokens = Tokens::watch_file(&path).expect("valid");
        assert_eq!(tokens.current().node_for("old"), Some("n1"));
        std::fs::write(&path, "new n1\n").expect("rotate");
        assert_eq!(tokens.current().node_for("old"), None, "revoked at once");
        assert_eq!(tokens.current().node_for("new"), Some("n1"));
        // replaced by a rename, as editors and Secret volumes do
        let next = dir.path().join("tokens.next");
        std::fs::write(&next, "newer n2\n").expect("write");
        std::fs::rename(&next, &path).expect("rename");
        assert_eq!(tokens.current().node_for("newer"), Some("n2"));
        assert_eq!(tokens.current().node_for("new"), None);
    }

    #[test]
    fn the_periodic_check_sees_an_edit_that_left_the_metadata_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "tok-a n1\n").expect("write");
        let tokens = Tokens::watch_file(&path).expect("valid");
        let modified = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime");
        std::fs::write(&path, "tok-b n1\n").expect("same size, in place");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(modified))
            .expect("mtime put back");
        assert_eq!(
            tokens.current().node_for("tok-a"),
            Some("n1"),
            "a request sees the same metadata"
        );
        tokens.reread(true);
        assert_eq!(tokens.current().node_for("tok-a"), None);
        assert_eq!(tokens.current().node_for("tok-b"), Some("n1"));
    }

    #[test]
    fn a_broken_file_keeps_the_tokens_last_loaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "good n1\n").expect("write");
        let tokens = Tokens::watch_file(&path).expect("valid");
        std::fs::write(&path, "good n1 stray words\n").expect("typo");
        assert_eq!(tokens.current().node_for("good"), Some("n1"));
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(tokens.current().node_for("good"), Some("n1"));
        std::fs::write(&path, "fixed n1\n").expect("fix");
        assert_eq!(tokens.current().node_for("fixed"), Some("n1"));
        assert_eq!(tokens.current().node_for("good"), None);
        assert!(Tokens::watch_file(&dir.path().join("missing")).is_err());
    }

    #[tokio::test]
    async fn revoked_resolves_once_the_token_leaves_its_node() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "t n1\nu n2\n").expect("write");
        let tokens = Tokens::watch_file(&path).expect("valid");
        let revoked = tokio::spawn(tokens.revoked("t".into(), "n1".into()));
        std::fs::write(&path, "t n1\nu n2\nv n1\n").expect("unrelated change first");
        tokens.current();
        std::fs::write(&path, "u n2\n").expect("revoke");
        tokens.current();
        tokio::time::timeout(Duration::from_secs(10), revoked)
            .await
            .expect("resolves")
            .expect("join");
    }

    #[test]
    fn many_tokens_are_looked_up_exactly() {
        let text: String = (0..10_000).map(|i| format!("tok-{i} node-{i}\n")).collect();
        let map = TokenMap::parse(&text).expect("valid");
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.node_for("tok-0"), Some("node-0"));
        assert_eq!(map.node_for("tok-9999"), Some("node-9999"));
        assert_eq!(map.node_for("tok-10000"), None);
        assert_eq!(map.node_for("tok-1 "), None);
    }
}
