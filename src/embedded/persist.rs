//! Durability for `--data-dir`: a write-ahead log of committed changes,
//! snapshots that bound its length, and the cluster's stable credentials.
//!
//! Layout of a data directory (created with mode 0700, files 0600):
//!
//! - `lock`: held with an exclusive advisory lock while a cluster uses the
//!   directory (released by the kernel even on `kill -9`).
//! - `wal.log`: the magic line `edgedeck-wal v1\n`, then one frame per
//!   committed change.
//! - `snapshot` (optional): the magic line `edgedeck-snapshot v1\n`, a header
//!   frame `{"rv": N, "objects": M}` and `M` object frames: the whole store as
//!   of resourceVersion `N`. Written to `snapshot.tmp`, fsynced, renamed,
//!   then the directory is fsynced.
//! - `credentials.json`: bearer token, CA and server certificate and key, so
//!   a kubeconfig stays valid across restarts.
//!
//! A frame is `len: u32 LE | crc32(payload): u32 LE | payload`, the payload a
//! JSON record `{"rv", "group", "resource", "namespace", "name", "object"?}`;
//! without `object` the record is a removal. Records carry consecutive
//! resourceVersions; replay skips those the snapshot already covers.
//!
//! Recovery: a torn last frame (crash in the middle of an append, or a
//! zero-filled tail after power loss) is cut off with a warning. Any other
//! defect is an error naming the file and byte offset; it is never guessed
//! around.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::store::{ObjectKey, ResourceKey};

/// Log size from which the next write first takes a snapshot and starts a new log.
pub const DEFAULT_COMPACT_BYTES: u64 = 16 * 1024 * 1024;

const LOG_FILE: &str = "wal.log";
const LOG_TMP: &str = "wal.tmp";
const SNAPSHOT_FILE: &str = "snapshot";
const SNAPSHOT_TMP: &str = "snapshot.tmp";
const CREDENTIALS_FILE: &str = "credentials.json";
const CREDENTIALS_TMP: &str = "credentials.tmp";
const LOCK_FILE: &str = "lock";
const LOG_MAGIC: &[u8] = b"edgedeck-wal v1\n";
const SNAPSHOT_MAGIC: &[u8] = b"edgedeck-snapshot v1\n";
const FRAME_HEADER: usize = 8;

pub type Tables = HashMap<ResourceKey, BTreeMap<ObjectKey, Arc<Value>>>;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("data directory: {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("data directory: {path} is corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("data directory {0} is in use by another edgedeck process")]
    Locked(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------
// Frames

/// CRC-32 (IEEE 802.3, the zlib/PNG one).
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, b| {
        CRC_TABLE[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

/// Appends one frame holding `payload` to `out`.
fn push_frame(out: &mut Vec<u8>, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::other("a record is larger than 4 GiB"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// What reading one frame at an offset found.
#[derive(Debug, PartialEq, Eq)]
enum Frame<'a> {
    /// A complete, intact frame and the offset after it.
    Ok(&'a [u8], usize),
    /// Nothing left.
    End,
    /// An incomplete or damaged frame at the very end: a crash mid-append.
    Torn(&'static str),
    /// Damage with intact-looking data after it.
    Corrupt(String),
}

fn read_frame(bytes: &[u8], at: usize) -> Frame<'_> {
    let rest = bytes.get(at..).unwrap_or_default();
    if rest.is_empty() {
        return Frame::End;
    }
    if rest.iter().all(|b| *b == 0) {
        return Frame::Torn("zero-filled tail");
    }
    let (Some(len), Some(crc)) = (rest.get(0..4), rest.get(4..8)) else {
        return Frame::Torn("incomplete record header");
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let Some(payload) = rest.get(FRAME_HEADER..FRAME_HEADER.saturating_add(len)) else {
        return Frame::Torn("incomplete record");
    };
    let next = at + FRAME_HEADER + len;
    if crc32(payload) != crc {
        if next == bytes.len() {
            return Frame::Torn("checksum mismatch in the last record");
        }
        return Frame::Corrupt("checksum mismatch".into());
    }
    Frame::Ok(payload, next)
}

// ---------------------------------------------------------------------------
// Records

#[derive(Serialize)]
struct RecordRef<'a> {
    rv: u64,
    group: &'a str,
    resource: &'a str,
    namespace: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<&'a Value>,
}

/// One committed change as stored. `object` None = removal.
#[derive(Debug, Deserialize, PartialEq)]
struct Record {
    rv: u64,
    group: String,
    resource: String,
    namespace: String,
    name: String,
    #[serde(default)]
    object: Option<Value>,
}

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    rv: u64,
    objects: u64,
}

fn encode_record(
    out: &mut Vec<u8>,
    rv: u64,
    resource: &ResourceKey,
    key: &ObjectKey,
    object: Option<&Value>,
) -> std::io::Result<()> {
    let payload = serde_json::to_vec(&RecordRef {
        rv,
        group: &resource.group,
        resource: &resource.resource,
        namespace: &key.namespace,
        name: &key.name,
        object,
    })?;
    push_frame(out, &payload)
}

// ---------------------------------------------------------------------------
// Recovery

/// The store's state as recovered from a data directory.
#[derive(Debug, Default)]
pub struct Recovered {
    pub rv: u64,
    pub tables: Tables,
    /// resourceVersion of the last recovered change per resource.
    pub last_change: HashMap<ResourceKey, u64>,
}

impl Recovered {
    fn apply(&mut self, record: Record) {
        let resource = ResourceKey {
            group: record.group,
            resource: record.resource,
        };
        let key = ObjectKey {
            namespace: record.namespace,
            name: record.name,
        };
        match record.object {
            Some(object) => {
                self.tables
                    .entry(resource.clone())
                    .or_default()
                    .insert(key, Arc::new(object));
            }
            None => {
                if let Some(table) = self.tables.get_mut(&resource) {
                    table.remove(&key);
                }
            }
        }
        self.rv = record.rv;
        self.last_change.insert(resource, record.rv);
    }
}

fn corrupt(path: &Path, offset: usize, reason: impl Into<String>) -> PersistError {
    PersistError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason: reason.into(),
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    path: &Path,
    offset: usize,
    payload: &[u8],
) -> Result<T, PersistError> {
    serde_json::from_slice(payload)
        .map_err(|e| corrupt(path, offset, format!("undecodable record: {e}")))
}

/// Parses a snapshot file. A snapshot is written atomically, so any defect
/// (torn or not) is corruption.
fn read_snapshot(path: &Path, bytes: &[u8]) -> Result<Recovered, PersistError> {
    if !bytes.starts_with(SNAPSHOT_MAGIC) {
        return Err(corrupt(path, 0, "not an edgedeck snapshot"));
    }
    let mut at = SNAPSHOT_MAGIC.len();
    let frame = |at: usize| match read_frame(bytes, at) {
        Frame::Ok(payload, next) => Ok((payload, next)),
        Frame::End => Err(corrupt(path, at, "the snapshot ends early")),
        Frame::Torn(reason) => Err(corrupt(path, at, reason)),
        Frame::Corrupt(reason) => Err(corrupt(path, at, reason)),
    };
    let (payload, next) = frame(at)?;
    let header: SnapshotHeader = decode(path, at, payload)?;
    at = next;
    let mut recovered = Recovered::default();
    for _ in 0..header.objects {
        let (payload, next) = frame(at)?;
        let record: Record = decode(path, at, payload)?;
        if record.object.is_none() {
            return Err(corrupt(path, at, "a snapshot entry without an object"));
        }
        recovered.apply(record);
        at = next;
    }
    if at != bytes.len() {
        return Err(corrupt(path, at, "unexpected data after the snapshot"));
    }
    recovered.rv = header.rv;
    for rv in recovered.last_change.values_mut() {
        *rv = header.rv;
    }
    Ok(recovered)
}

/// Outcome of replaying a log.
#[derive(Debug, PartialEq, Eq)]
struct Replayed {
    /// Length of the intact prefix.
    valid_len: usize,
    /// Why the tail after `valid_len` was dropped, if it was.
    torn: Option<&'static str>,
    /// Records replayed (not counting those the snapshot covered).
    applied: u64,
}

/// Replays a log's records on top of `state` (which holds the snapshot, if any).
fn replay_log(
    path: &Path,
    bytes: &[u8],
    snapshot_rv: u64,
    state: &mut Recovered,
) -> Result<Replayed, PersistError> {
    if bytes.len() < LOG_MAGIC.len() && LOG_MAGIC.starts_with(bytes) {
        // Crashed while creating the log: nothing was ever acknowledged from it.
        let torn = (!bytes.is_empty()).then_some("incomplete log header");
        return Ok(Replayed {
            valid_len: 0,
            torn,
            applied: 0,
        });
    }
    if !bytes.starts_with(LOG_MAGIC) {
        return Err(corrupt(path, 0, "not an edgedeck write-ahead log"));
    }
    let mut at = LOG_MAGIC.len();
    let mut applied = 0;
    loop {
        match read_frame(bytes, at) {
            Frame::End => {
                return Ok(Replayed {
                    valid_len: at,
                    torn: None,
                    applied,
                });
            }
            Frame::Torn(reason) => {
                return Ok(Replayed {
                    valid_len: at,
                    torn: Some(reason),
                    applied,
                });
            }
            Frame::Corrupt(reason) => return Err(corrupt(path, at, reason)),
            Frame::Ok(payload, next) => {
                let record: Record = decode(path, at, payload)?;
                if record.rv <= snapshot_rv {
                    // Written before the snapshot that replaced this log was taken.
                } else if record.rv == state.rv + 1 {
                    state.apply(record);
                    applied += 1;
                } else {
                    return Err(corrupt(
                        path,
                        at,
                        format!("resourceVersion {} does not follow {}", record.rv, state.rv),
                    ));
                }
                at = next;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Files

fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn create_private(path: &Path) -> Result<File, PersistError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))
}

/// Writes `bytes` to `dir/name` atomically and durably (temp file, fsync, rename, fsync dir).
fn write_atomically(dir: &Path, tmp: &str, name: &str, bytes: &[u8]) -> Result<File, PersistError> {
    let tmp_path = dir.join(tmp);
    let path = dir.join(name);
    let mut file = create_private(&tmp_path)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_err(&tmp_path))?;
    std::fs::rename(&tmp_path, &path).map_err(io_err(&path))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Creates the data directory (0700) if needed.
fn ensure_dir(dir: &Path) -> Result<(), PersistError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))?;
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    if !meta.is_dir() {
        return Err(PersistError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other("not a directory"),
        });
    }
    Ok(())
}

/// Takes the directory's lock file; fails if another process holds it.
fn lock(dir: &Path) -> Result<File, PersistError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    // A lock is also held, for an instant, by a child process between its
    // fork and exec (the descriptor is close-on-exec, not close-on-fork): a
    // cluster restarted in the same process right after another shut down
    // may see that instant. A holder that stays is refused after the wait.
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(PersistError::Locked(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(PersistError::Io { path, source });
            }
        }
    }
}

/// How long opening waits for a data directory's lock to be released.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, PersistError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PersistError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

// ---------------------------------------------------------------------------
// The log

/// The open write-ahead log of a data directory. Owned by the store and
/// used only under its lock.
pub struct Wal {
    dir: PathBuf,
    log: File,
    log_bytes: u64,
    compact_bytes: u64,
    /// Log size at which the next compaction is attempted.
    next_compaction: u64,
    /// Frames of the running transaction, written together by [`Wal::flush`].
    pending: Vec<u8>,
    /// Held for the lifetime of the log.
    _lock: File,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.dir)
            .field("log_bytes", &self.log_bytes)
            .finish_non_exhaustive()
    }
}

impl Wal {
    /// Opens (creating if needed) the data directory, recovers its state and
    /// returns the log, positioned for appending.
    pub fn open(dir: &Path, compact_bytes: u64) -> Result<(Wal, Recovered), PersistError> {
        ensure_dir(dir)?;
        let lock = lock(dir)?;
        for tmp in [SNAPSHOT_TMP, LOG_TMP, CREDENTIALS_TMP] {
            // Left over from a crash in the middle of replacing a file.
            let _ = std::fs::remove_file(dir.join(tmp));
        }
        let snapshot_path = dir.join(SNAPSHOT_FILE);
        let mut state = match read_if_exists(&snapshot_path)? {
            Some(bytes) => read_snapshot(&snapshot_path, &bytes)?,
            None => Recovered::default(),
        };
        let snapshot_rv = state.rv;
        let log_path = dir.join(LOG_FILE);
        let log = match read_if_exists(&log_path)? {
            Some(bytes) => {
                let replayed = replay_log(&log_path, &bytes, snapshot_rv, &mut state)?;
                if let Some(reason) = replayed.torn {
                    tracing::warn!(
                        path = %log_path.display(),
                        offset = replayed.valid_len,
                        dropped_bytes = bytes.len() - replayed.valid_len,
                        reason,
                        "write-ahead log ends in an incomplete record (crash during a write); truncating it"
                    );
                }
                if replayed.valid_len < LOG_MAGIC.len() {
                    write_atomically(dir, LOG_TMP, LOG_FILE, LOG_MAGIC)?
                } else {
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&log_path)
                        .map_err(io_err(&log_path))?;
                    if replayed.valid_len < bytes.len() {
                        file.set_len(replayed.valid_len as u64)
                            .and_then(|()| file.sync_all())
                            .map_err(io_err(&log_path))?;
                    }
                    file
                }
            }
            None => write_atomically(dir, LOG_TMP, LOG_FILE, LOG_MAGIC)?,
        };
        let mut log = log;
        let log_bytes =
            std::io::Seek::seek(&mut log, std::io::SeekFrom::End(0)).map_err(io_err(&log_path))?;
        tracing::info!(
            dir = %dir.display(),
            resource_version = state.rv,
            "embedded cluster state recovered"
        );
        let compact_bytes = compact_bytes.max(1);
        Ok((
            Wal {
                dir: dir.to_path_buf(),
                log,
                log_bytes,
                compact_bytes,
                next_compaction: compact_bytes,
                pending: Vec::new(),
                _lock: lock,
            },
            state,
        ))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// Queues the record of one committed change (None = removal).
    pub fn record(
        &mut self,
        rv: u64,
        resource: &ResourceKey,
        key: &ObjectKey,
        object: Option<&Value>,
    ) -> Result<(), PersistError> {
        encode_record(&mut self.pending, rv, resource, key, object).map_err(io_err(&self.dir))
    }

    /// Appends the queued records and waits until they are on disk.
    pub fn flush(&mut self) -> Result<(), PersistError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = self.log_path();
        self.log
            .write_all(&self.pending)
            .and_then(|()| self.log.sync_data())
            .map_err(io_err(&path))?;
        self.log_bytes += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Makes every later write fail, as a full or failing disk would.
    #[cfg(test)]
    pub fn break_for_test(&mut self) -> std::io::Result<()> {
        self.log = File::open("/dev/null")?;
        Ok(())
    }

    pub fn wants_compaction(&self) -> bool {
        self.log_bytes >= self.next_compaction
    }

    /// Writes a snapshot of `tables` at `rv` and starts an empty log. Call
    /// after [`Wal::flush`]. On failure the old log stays in use (it still
    /// holds everything) and the next attempt waits for the log to grow.
    pub fn compact(&mut self, rv: u64, tables: &Tables) -> Result<(), PersistError> {
        self.next_compaction = self.log_bytes.saturating_add(self.compact_bytes);
        self.write_snapshot(rv, tables)?;
        let log = write_atomically(&self.dir, LOG_TMP, LOG_FILE, LOG_MAGIC)?;
        self.log = log;
        self.log_bytes = LOG_MAGIC.len() as u64;
        self.next_compaction = self.compact_bytes;
        tracing::info!(dir = %self.dir.display(), resource_version = rv, "write-ahead log compacted into a snapshot");
        Ok(())
    }

    fn write_snapshot(&self, rv: u64, tables: &Tables) -> Result<(), PersistError> {
        let tmp = self.dir.join(SNAPSHOT_TMP);
        let path = self.dir.join(SNAPSHOT_FILE);
        let file = create_private(&tmp)?;
        let mut out = BufWriter::new(file);
        let count: usize = tables.values().map(BTreeMap::len).sum();
        let mut frame = Vec::new();
        let header = serde_json::to_vec(&SnapshotHeader {
            rv,
            objects: count as u64,
        })
        .map_err(|e| io_err(&tmp)(e.into()))?;
        push_frame(&mut frame, &header).map_err(io_err(&tmp))?;
        out.write_all(SNAPSHOT_MAGIC)
            .and_then(|()| out.write_all(&frame))
            .map_err(io_err(&tmp))?;
        for (resource, table) in tables {
            for (key, object) in table {
                frame.clear();
                encode_record(&mut frame, rv, resource, key, Some(object))
                    .and_then(|()| out.write_all(&frame))
                    .map_err(io_err(&tmp))?;
            }
        }
        let file = out.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        sync_dir(&self.dir)
    }
}

// ---------------------------------------------------------------------------
// Credentials

/// What must stay the same across restarts for an existing kubeconfig to keep working.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub token: String,
    pub ca_pem: String,
    /// base64 (standard) DER of the CA certificate.
    pub ca_der: String,
    /// base64 DER certificates: the server certificate, then the CA.
    pub cert_chain: Vec<String>,
    /// base64 PKCS#8 DER of the server key.
    pub key: String,
}

/// Loads `credentials.json` from `dir`, or stores the ones `create` makes.
pub fn load_or_create_credentials<E>(
    dir: &Path,
    create: impl FnOnce() -> Result<Credentials, E>,
) -> Result<Credentials, E>
where
    E: From<PersistError>,
{
    let path = dir.join(CREDENTIALS_FILE);
    if let Some(bytes) = read_if_exists(&path)? {
        return serde_json::from_slice(&bytes).map_err(|e| {
            E::from(PersistError::Corrupt {
                path: path.clone(),
                offset: 0,
                reason: format!("unreadable credentials: {e}"),
            })
        });
    }
    let credentials = create()?;
    let bytes = serde_json::to_vec_pretty(&credentials).map_err(|e| PersistError::Io {
        path: path.clone(),
        source: e.into(),
    })?;
    write_atomically(dir, CREDENTIALS_TMP, CREDENTIALS_FILE, &bytes)?;
    // In case the file predates this code with looser permissions.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|source| PersistError::Io { path, source })?;
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pods() -> ResourceKey {
        ResourceKey::new("", "pods")
    }

    fn put(out: &mut Vec<u8>, rv: u64, name: &str) {
        let object = json!({"metadata": {"name": name, "resourceVersion": rv.to_string()}});
        encode_record(
            out,
            rv,
            &pods(),
            &ObjectKey::new("default", name),
            Some(&object),
        )
        .expect("encodes");
    }

    fn log_with(records: &[(u64, &str)]) -> Vec<u8> {
        let mut bytes = LOG_MAGIC.to_vec();
        for (rv, name) in records {
            put(&mut bytes, *rv, name);
        }
        bytes
    }

    fn replay(bytes: &[u8]) -> Result<(Replayed, Recovered), PersistError> {
        let mut state = Recovered::default();
        let replayed = replay_log(Path::new("wal.log"), bytes, 0, &mut state)?;
        Ok((replayed, state))
    }

    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn records_round_trip() {
        let mut bytes = LOG_MAGIC.to_vec();
        put(&mut bytes, 1, "a");
        put(&mut bytes, 2, "b");
        encode_record(
            &mut bytes,
            3,
            &pods(),
            &ObjectKey::new("default", "a"),
            None,
        )
        .expect("encodes");
        let (replayed, state) = replay(&bytes).expect("replays");
        assert_eq!(
            replayed,
            Replayed {
                valid_len: bytes.len(),
                torn: None,
                applied: 3
            }
        );
        assert_eq!(state.rv, 3);
        let table = &state.tables[&pods()];
        assert_eq!(table.len(), 1);
        assert_eq!(
            table[&ObjectKey::new("default", "b")]["metadata"]["resourceVersion"],
            "2"
        );
        assert_eq!(state.last_change[&pods()], 3);
    }

    #[test]
    fn a_torn_last_record_is_dropped() {
        let complete = log_with(&[(1, "a"), (2, "b")]);
        let mut third = Vec::new();
        put(&mut third, 3, "c");
        // Every proper prefix of the third record is a torn tail.
        for cut in 1..third.len() {
            let mut bytes = complete.clone();
            bytes.extend_from_slice(&third[..cut]);
            let (replayed, state) = replay(&bytes).expect("torn tail is tolerated");
            assert_eq!(replayed.valid_len, complete.len(), "cut at {cut}");
            assert!(replayed.torn.is_some());
            assert_eq!(state.rv, 2);
        }
        // A flipped byte in the last record, and a zero-filled tail.
        let mut bytes = complete.clone();
        bytes.extend_from_slice(&third);
        let last = bytes.len() - 2;
        bytes[last] ^= 0x55;
        let (replayed, state) = replay(&bytes).expect("tolerated");
        assert_eq!(replayed.torn, Some("checksum mismatch in the last record"));
        assert_eq!(state.rv, 2);
        let mut bytes = complete.clone();
        bytes.extend_from_slice(&[0; 4096]);
        let (replayed, _) = replay(&bytes).expect("tolerated");
        assert_eq!(replayed.torn, Some("zero-filled tail"));
        // Garbage that claims a huge length.
        let mut bytes = complete.clone();
        bytes.extend_from_slice(b"garbage that is not a record");
        let (replayed, _) = replay(&bytes).expect("tolerated");
        assert_eq!(replayed.valid_len, complete.len());
    }

    #[test]
    fn corruption_in_the_middle_names_file_and_offset() {
        let mut bytes = log_with(&[(1, "a"), (2, "b"), (3, "c")]);
        let second = {
            let mut first = LOG_MAGIC.to_vec();
            put(&mut first, 1, "a");
            first.len()
        };
        bytes[second + FRAME_HEADER + 3] ^= 0x01;
        let err = replay(&bytes).expect_err("corrupt");
        match &err {
            PersistError::Corrupt { path, offset, .. } => {
                assert_eq!(path, Path::new("wal.log"));
                assert_eq!(*offset, second as u64);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("wal.log"), "{err}");
        assert!(err.to_string().contains(&second.to_string()), "{err}");
    }

    #[test]
    fn gaps_and_foreign_files_are_errors() {
        let bytes = log_with(&[(1, "a"), (3, "c")]);
        let err = replay(&bytes).expect_err("gap");
        assert!(err.to_string().contains("does not follow"), "{err}");
        let err = replay(b"something else entirely").expect_err("foreign");
        assert!(err.to_string().contains("not an edgedeck"), "{err}");
        // A log whose creation was interrupted holds nothing.
        let (replayed, state) = replay(&LOG_MAGIC[..5]).expect("partial magic");
        assert_eq!((replayed.valid_len, state.rv), (0, 0));
    }

    #[test]
    fn records_covered_by_the_snapshot_are_skipped() {
        let mut state = Recovered {
            rv: 2,
            ..Default::default()
        };
        let bytes = log_with(&[(1, "a"), (2, "b"), (3, "c")]);
        let replayed = replay_log(Path::new("wal.log"), &bytes, 2, &mut state).expect("replays");
        assert_eq!(replayed.applied, 1);
        assert_eq!(state.rv, 3);
    }

    #[test]
    fn open_compact_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let (mut wal, state) = Wal::open(&data, 1).expect("opens");
        assert_eq!(state.rv, 0);
        let mut tables = Tables::new();
        for rv in 1..=3u64 {
            let key = ObjectKey::new("default", &format!("p{rv}"));
            let object = Arc::new(json!({"metadata": {"name": key.name}}));
            wal.record(rv, &pods(), &key, Some(&object))
                .expect("records");
            tables.entry(pods()).or_default().insert(key, object);
        }
        wal.flush().expect("flushes");
        assert!(wal.wants_compaction());
        wal.compact(3, &tables).expect("compacts");
        let key = ObjectKey::new("default", "p1");
        wal.record(4, &pods(), &key, None).expect("records");
        wal.flush().expect("flushes");
        // The lock is held while the log is open.
        assert!(matches!(Wal::open(&data, 1), Err(PersistError::Locked(_))));
        drop(wal);
        let (_wal, state) = Wal::open(&data, 1).expect("reopens");
        assert_eq!(state.rv, 4);
        let names: Vec<_> = state.tables[&pods()]
            .keys()
            .map(|k| k.name.clone())
            .collect();
        assert_eq!(names, vec!["p2", "p3"]);
        let mode = std::fs::metadata(data.join(LOG_FILE))
            .expect("log")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_corrupt_snapshot_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (wal, _) = Wal::open(dir.path(), 1).expect("opens");
        let mut tables = Tables::new();
        tables.entry(pods()).or_default().insert(
            ObjectKey::new("default", "a"),
            Arc::new(json!({"metadata": {"name": "a"}})),
        );
        wal.write_snapshot(1, &tables).expect("snapshot");
        drop(wal);
        let path = dir.path().join(SNAPSHOT_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.truncate(bytes.len() - 1);
        std::fs::write(&path, &bytes).expect("write");
        let err = Wal::open(dir.path(), 1).expect_err("corrupt snapshot");
        assert!(err.to_string().contains("snapshot"), "{err}");
    }
}
