//! Writing the store safely: an exclusive lock file serializes writers, and every write goes to a
//! temporary file that is fsynced and renamed over the store, so a reader sees the old file or the
//! new one, never a torn one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a writer waits for another writer by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);
/// Environment variable overriding the lock wait, in seconds.
pub const LOCK_WAIT_ENV: &str = "SECRETSYNC_LOCK_TIMEOUT";

/// Held while a writer reads, changes and writes the store. Dropping it releases the lock.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// The lock file used for `store`: `.NAME.lock` beside it.
pub fn lock_path(store: &Path) -> PathBuf {
    let name = store
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    store.with_file_name(format!(".{name}.lock"))
}

/// How long a writer waits: `SECRETSYNC_LOCK_TIMEOUT` (seconds, or a duration such as `90s`,
/// from 0 to 1h) or the default. A value that is not such a duration is an error, never a panic.
pub fn lock_wait() -> Result<Duration, LockError> {
    match std::env::var(LOCK_WAIT_ENV) {
        Ok(s) => crate::duration::parse(&s, Duration::ZERO, Duration::from_secs(3600))
            .map_err(|e| LockError::BadWait(format!("{LOCK_WAIT_ENV}: {e}"))),
        Err(_) => Ok(DEFAULT_LOCK_WAIT),
    }
}

fn lock_file(store: &Path) -> Result<(PathBuf, File), LockError> {
    let path = lock_path(store);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LockError::Io(path.clone(), e))?;
    Ok((path, file))
}

/// One try: `Ok(Some)` locked, `Ok(None)` held by another writer.
fn try_once(path: &Path, file: &File) -> Result<bool, LockError> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(LockError::Io(path.into(), e)),
    }
}

const LOCK_POLL: Duration = Duration::from_millis(20);

/// Takes the store's write lock, waiting up to [`lock_wait`] for another writer. Blocks the
/// thread: async code uses [`lock_async`].
pub fn lock(store: &Path) -> Result<StoreLock, LockError> {
    let wait = lock_wait()?;
    let (path, file) = lock_file(store)?;
    let start = Instant::now();
    while !try_once(&path, &file)? {
        if start.elapsed() >= wait {
            return Err(LockError::Busy(path, wait));
        }
        std::thread::sleep(LOCK_POLL);
    }
    Ok(StoreLock { _file: file })
}

/// [`lock`] for async code: waits with the runtime's timer, never blocking a worker thread.
pub async fn lock_async(store: &Path) -> Result<StoreLock, LockError> {
    let wait = lock_wait()?;
    let (path, file) = lock_file(store)?;
    let start = Instant::now();
    while !try_once(&path, &file)? {
        if start.elapsed() >= wait {
            return Err(LockError::Busy(path, wait));
        }
        tokio::time::sleep(LOCK_POLL).await;
    }
    Ok(StoreLock { _file: file })
}

/// A failure to take the write lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another writer held the lock for the whole wait.
    #[error("another secretsync process is writing this store (lock {0} held for {1:?}); retry, or raise SECRETSYNC_LOCK_TIMEOUT")]
    Busy(PathBuf, Duration),
    /// `SECRETSYNC_LOCK_TIMEOUT` is not a duration.
    #[error("{0}")]
    BadWait(String),
    /// The lock file could not be opened or locked.
    #[error("cannot lock {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Replaces `path` with `contents` atomically: temp file in the same folder, fsync, rename,
/// fsync of the folder. The file gets `mode` if given, else keeps its mode (new files: 0644).
pub fn write_atomic(path: &Path, contents: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".secretsync-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    #[cfg(not(unix))]
    let _ = mode;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = mode.unwrap_or_else(|| {
            std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0o644)
        });
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.write_all(contents)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
