//! The database file's one name, and the worker lock: which process may
//! run the file's workflows.
//!
//! # One name per file
//!
//! The path is canonicalised ([`canonical`]) before anything opens it:
//! a symbolic link, `./x.db` from one folder and `../y/x.db` from another
//! all name the same file, so they lock the same `<path>-lock` and SQLite
//! names its `-wal` and `-shm` files after the one name.
//!
//! # The worker lock
//!
//! A worker takes two exclusive locks (std's `File::try_lock`, `flock` on
//! Unix), kept until its writing connection is closed and released by the
//! kernel when the process dies:
//!
//! - `<path>-lock` beside the canonical path, as reprise always did: an
//!   older reprise, which locks only that file, and this one refuse each
//!   other; it also covers a database file deleted and recreated under a
//!   running worker, and it is the only lock where the file itself cannot be
//!   locked.
//! - On Linux and Android, the database file itself: a hard link (another
//!   name of the same file) is refused too. Linux keeps `flock` locks and
//!   the POSIX (`fcntl`) locks SQLite takes apart, so the worker's own
//!   connections and those of clients are not hindered. Elsewhere (macOS and
//!   the BSDs) the two kinds of lock interact, and an exclusive `flock` of
//!   the file would shut SQLite itself out: there only the `-lock` file is
//!   locked, and a hard link is not caught.
//!
//! The file itself is locked before SQLite reads it: a worker refused
//! through a hard link reads nothing through a `-wal` file of that name.
//! The `-lock` file is created only once the file is known to be a reprise
//! database (or empty). A file with several hard links gets a warning:
//! SQLite names its `-wal` and `-shm` files after the name it opens, so a
//! client opening the file by another name than its worker does would read
//! and write another WAL.
//!
//! # Descriptors of the database file
//!
//! Closing *any* descriptor of a file drops every POSIX lock the process
//! holds on it: SQLite's locks of every connection of the process to that
//! file. The descriptor that holds the `flock` is therefore one per process
//! and file, kept in [`FILES`] while any store of the process (worker or
//! client) is open on the file, and closed only once the last of them closed
//! its last connection ([`FileUse`]). A worker that stops unlocks it
//! (`LOCK_UN`, which leaves POSIX locks alone) and leaves it open.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::errors::Context;
use super::OPEN;
use crate::error::{Error, StoreError};

/// Whether the worker lock includes the database file itself: only where
/// `flock` locks and POSIX locks are independent.
const LOCKS_THE_FILE: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Most symbolic links followed to a file that does not exist yet.
const MAX_LINKS: usize = 40;

/// `path` with every symbolic link, `.` and `..` resolved, and relative to
/// no current folder: the same file has one name, whatever the way to it.
///
/// A file that does not exist yet (SQLite creates it) is its folder's
/// canonical path joined with its name; a symbolic link to a file that does
/// not exist yet names the file it points to.
pub(super) fn canonical(path: &Path) -> Result<PathBuf, Error> {
    resolve(path).map_err(|e| {
        Error::Store(StoreError::with_source(
            OPEN,
            false,
            Context {
                context: format!("resolving the path `{}`", path.display()),
                source: e,
            },
        ))
    })
}

fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_owned();
    for _ in 0..MAX_LINKS {
        match std::fs::canonicalize(&path) {
            Ok(canonical) => return Ok(canonical),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let Some(name) = path.file_name() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path names no file",
            ));
        };
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        };
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            return Ok(std::fs::canonicalize(folder)?.join(name));
        }
        // A link to a file to be created: follow it (a relative target is
        // relative to the link's folder).
        path = folder.join(std::fs::read_link(&path)?);
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// The lock file of the database at `path`: `<path>-lock`.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
}

/// The identity of a file, whatever its name: device and inode.
type FileId = (u64, u64);

/// This process's stores open on one database file.
#[derive(Debug)]
struct Shared {
    /// The descriptor holding the file's `flock`: opened by the first worker
    /// of the process, closed when the entry is removed.
    file: Option<File>,
    /// Stores of this process open on the file, workers and clients, each
    /// until its last connection is closed.
    stores: usize,
    /// Whether one of them holds the worker lock.
    held: bool,
}

/// Database files that stores of this process are open on (only where the
/// file itself is locked).
static FILES: Mutex<BTreeMap<FileId, Shared>> = Mutex::new(BTreeMap::new());

fn files() -> MutexGuard<'static, BTreeMap<FileId, Shared>> {
    FILES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A store's use of its database file: made once SQLite opened the file,
/// dropped once every connection of the store is closed. The last one of the
/// process closes the descriptor that holds the file's `flock`.
#[derive(Debug)]
pub(super) struct FileUse {
    /// `None` where the file itself is not locked.
    id: Option<FileId>,
}

impl FileUse {
    /// Registers a store open on the (existing, canonical) `path`.
    pub(super) fn start(path: &Path) -> Result<FileUse, Error> {
        let metadata =
            std::fs::metadata(path).map_err(|e| io_error(format!("`{}`", path.display()), e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if metadata.nlink() > 1 {
                tracing::warn!(
                    path = %path.display(),
                    links = metadata.nlink(),
                    "the SQLite database has several hard links: SQLite names its `-wal` and \
                     `-shm` files after the name it is opened by, so opening it by another name \
                     can lose or corrupt data; use a symbolic link instead"
                );
            }
            if LOCKS_THE_FILE {
                let id = (metadata.dev(), metadata.ino());
                files()
                    .entry(id)
                    .and_modify(|shared| shared.stores += 1)
                    .or_insert(Shared {
                        file: None,
                        stores: 1,
                        held: false,
                    });
                return Ok(FileUse { id: Some(id) });
            }
        }
        let _ = metadata;
        Ok(FileUse { id: None })
    }
}

impl Drop for FileUse {
    fn drop(&mut self) {
        let Some(id) = self.id else {
            return;
        };
        let mut files = files();
        if let Some(shared) = files.get_mut(&id) {
            shared.stores -= 1;
            if shared.stores == 0 {
                // No connection of this process's stores is open on the
                // file: closing the descriptor drops no lock of theirs.
                files.remove(&id);
            }
        }
    }
}

/// The worker lock of a database file, held until dropped. Dropped by the
/// writer thread once it closed the writing connection.
#[derive(Debug)]
pub(super) struct WorkerLock {
    /// Keeps the descriptor of the locked file open.
    file: Arc<FileUse>,
    /// Whether the database file itself is locked.
    locks_the_file: bool,
    /// `<path>-lock`, locked while open.
    sibling: Option<File>,
}

impl WorkerLock {
    /// Locks the (canonical) `path` itself, whose use by this store is
    /// `file`, where that is done: before SQLite reads it, so that a worker
    /// refused through a hard link reads nothing through a `-wal` of its own.
    /// [`WorkerLock::lock_sibling`] completes the lock.
    ///
    /// # Errors
    ///
    /// [`Error::InUse`] if another worker, of this process or another,
    /// holds it; [`Error::Store`] if the lock cannot be taken.
    pub(super) fn lock_file(path: &Path, file: &Arc<FileUse>) -> Result<WorkerLock, Error> {
        let locks_the_file = match file.id {
            Some(id) => lock_file(path, id)?,
            None => false,
        };
        Ok(WorkerLock {
            file: Arc::clone(file),
            locks_the_file,
            sibling: None,
        })
    }

    /// Locks `<path>-lock` too (creating it: only once the file is known to
    /// be a reprise database, or empty).
    ///
    /// # Errors
    ///
    /// As [`WorkerLock::lock_file`].
    pub(super) fn lock_sibling(&mut self, path: &Path) -> Result<(), Error> {
        self.sibling = Some(lock_sibling(path)?);
        Ok(())
    }
}

impl Drop for WorkerLock {
    fn drop(&mut self) {
        let Some(id) = self.file.id.filter(|_| self.locks_the_file) else {
            return;
        };
        let mut files = files();
        let Some(shared) = files.get_mut(&id) else {
            return;
        };
        if let Some(file) = &shared.file {
            // Unlocking keeps the descriptor open: SQLite's locks stay.
            if let Err(e) = file.unlock() {
                tracing::error!(error = %e, "could not unlock the SQLite database file");
            }
        }
        shared.held = false;
    }
}

/// Locks `<path>-lock`, created if needed.
fn lock_sibling(path: &Path) -> Result<File, Error> {
    let lock_path = lock_path(path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| io_error(locking(&lock_path), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(in_use(path)),
        Err(TryLockError::Error(e)) => Err(io_error(locking(&lock_path), e)),
    }
}

/// Locks the database file itself through the process's descriptor of it;
/// false where the file system cannot (`ENOLCK`, or `EBADF` of NFS, whose
/// exclusive `flock` wants a descriptor open for writing): the `-lock` file
/// is then the only lock, as before.
fn lock_file(path: &Path, id: FileId) -> Result<bool, Error> {
    let mut files = files();
    let Some(shared) = files.get_mut(&id) else {
        // Not registered: cannot happen while `FileUse` lives.
        return Err(io_error(
            locking(path),
            io::Error::other("the file is not registered"),
        ));
    };
    if shared.held {
        return Err(in_use(path));
    }
    let file = match &mut shared.file {
        Some(file) => file,
        // Opened once, closed only with the entry (see the module doc).
        empty => empty.insert(File::open(path).map_err(|e| io_error(locking(path), e))?),
    };
    match file.try_lock() {
        Ok(()) => {
            shared.held = true;
            Ok(true)
        }
        Err(TryLockError::WouldBlock) => Err(in_use(path)),
        Err(TryLockError::Error(e)) => {
            tracing::warn!(
                path = %path.display(),
                error = %e,
                "cannot lock the SQLite database file itself: only its `-lock` file keeps a \
                 second worker out, and not one that opens the file by a hard link"
            );
            Ok(false)
        }
    }
}

fn in_use(path: &Path) -> Error {
    Error::InUse {
        path: path.to_owned(),
    }
}

fn locking(path: &Path) -> String {
    format!("locking `{}`", path.display())
}

fn io_error(context: String, e: io::Error) -> Error {
    Error::Store(StoreError::with_source(
        OPEN,
        false,
        Context { context, source: e },
    ))
}
