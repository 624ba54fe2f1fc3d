//! The SQLite store: one database file in WAL mode, one writing connection
//! that commits many requests in one transaction (group commit), reads
//! through separate connections.
//!
//! # Writes
//!
//! Workflow steps ([`Store::commit_steps`]) come from the executor, which
//! already gathers every run's step of a batch into one call: that call
//! locks the writing connection and writes the batch in one transaction in
//! the caller's thread. Handing it to another thread would cost two thread
//! wake-ups per step, more than the transaction itself on this kind of
//! machine (`docs/PERFORMANCE.md`).
//!
//! [`Store::create_workflow`], [`Store::retry_task`], [`Store::enqueue`] and
//! [`Store::record_heartbeat`] come from many tasks at once: they go to a
//! writer thread, which takes a request, drains every other request queued
//! behind it, runs them all in one `BEGIN IMMEDIATE … COMMIT`, and only then
//! answers each: the cost of a commit (and of its fsync with
//! [`SqliteSync::Full`]) is shared by everything that arrived meanwhile.
//!
//! Each request, and each step of a commit, runs under its own `SAVEPOINT`:
//! one that fails its checks (a stale `first_index`) is rolled back alone and
//! answered with its error, the rest commit. If the transaction itself fails
//! (disk full, I/O error), every request of the batch is answered with that
//! error and nothing of the batch is written. A request is sent when the
//! method is called: dropping the returned future does not withdraw it.
//!
//! # Reads
//!
//! Reads run on `spawn_blocking`, on connections of a small pool, each read
//! in one transaction: WAL lets them see the last committed state while the
//! writer goes on.
//!
//! # Durability
//!
//! WAL with `synchronous = NORMAL` (the default) survives a crash or a
//! `SIGKILL` of the process, not a power loss (the last transactions may be
//! lost, the database stays consistent); [`SqliteSync::Full`] fsyncs at every
//! commit and survives both.
//!
//! # The file
//!
//! The path is canonicalised first: a symbolic link, a relative path and
//! the file's own path are one file, and every message names the canonical
//! path. A worker locks the database file itself (on Linux) and a sibling
//! `<path>-lock`, until its writing connection is closed: a second worker,
//! of another process or of this one, is refused with [`Error::InUse`]; the
//! kernel releases the locks when the process dies. Clients
//! (`.worker(false)`) take no lock. See `lock.rs`.
//!
//! # Corrupt rows
//!
//! A row this code cannot decode (an unknown status, JSON that does not
//! decode, an integer column holding text) is a non-retryable
//! [`StoreError`] naming the table, the row's key, the column and the value.
//! Operations on one run or workflow (`load_run`, `latest_run`, `runs`,
//! `tasks(Some(run))`, `create_workflow` finding an existing run, `enqueue`)
//! return it. Operations that list every workflow's rows (`unfinished_runs`,
//! `tasks(None)`, `inbox`), which the engine calls at start-up, skip the bad
//! row with a `tracing::error!` instead, so one corrupt run does not keep
//! every other workflow from resuming. History
//! rows are returned as stored: decoding events is the engine's job.
//!
//! Integers are stored as SQLite's signed 64-bit integers: a `u64` above
//! `i64::MAX` (a deadline 292 million years away) is stored as `i64::MAX`.

mod errors;
mod lock;
mod rows;
mod schedules;
mod schema;
#[cfg(test)]
mod tests;
mod write;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
#[cfg(test)]
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{
    ClaimFilter, ClaimedRun, Created, Enqueued, HistoryRows, InboxItem, InboxRecord, Lease,
    ListQuery, ListedRun, NewWorkflow, Release, RunRecord, SlotGrant, SlotRequest, StepCommit,
    Store, Task, TaskDone, TaskRetry, Token,
};
use crate::definition::BoxFuture;
use crate::error::{Error, StoreError};
use errors::store_error;
#[cfg(test)]
pub(crate) use lock::lock_path;
use lock::{FileUse, WorkerLock};
use rows::{
    decode_run, load_history, load_record, select_inbox, select_listed, select_tasks,
    SELECT_LATEST_RUN, SELECT_RUN, SELECT_UNFINISHED, SELECT_WORKFLOW_RUNS,
};
use write::{
    acquire_slot, claim_runs, claim_tasks, complete_task, create, enqueue, names_json, next_token,
    record_heartbeat, release_leases, release_slot, retry_task,
};
use writer::{isolated, run_writer, write_batch, Abort, Job, Request};

const OPEN: &str = "opening the SQLite database";
use crate::store::operation::*;

/// The schema version this code reads and writes.
#[cfg(test)]
pub(crate) const SCHEMA_VERSION: usize = schema::LATEST_VERSION;

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most read connections kept open while idle.
const MAX_IDLE_READERS: usize = 4;

/// How durable a SQLite commit is, chosen with
/// [`RuntimeBuilder::sqlite_sync`](crate::RuntimeBuilder::sqlite_sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SqliteSync {
    /// `synchronous = NORMAL`: a commit survives a crash of the process, not
    /// a power loss or an OS crash. No fsync per commit.
    #[default]
    Normal,
    /// `synchronous = FULL`: a commit survives a power loss too; one fsync
    /// per commit (per batch of the group commit).
    Full,
}

impl SqliteSync {
    fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Normal => "NORMAL",
            SqliteSync::Full => "FULL",
        }
    }
}

/// The SQLite store. See the module documentation.
pub(crate) struct SqliteStore {
    path: PathBuf,
    /// Requests to the writer; `None` only while dropping.
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    /// The writing connection, shared by the writer thread and
    /// [`Store::commit_steps`], which runs in the caller's thread: a
    /// workflow step then costs no thread hand-off. `None` once closed.
    conn: Arc<Mutex<Option<Connection>>>,
    readers: Arc<Readers>,
    /// The last fencing token given. Only the writing connection's holder
    /// gives tokens, and one process writes a file at a time.
    tokens: Arc<AtomicU64>,
    /// Transactions the writer ran, to test the grouping.
    #[cfg(test)]
    transactions: Arc<AtomicU64>,
    /// Set at the first error saying the file is damaged: from then on the
    /// store touches the file no more, and answers every call with it.
    damaged: Arc<std::sync::OnceLock<String>>,
    /// The store's use of the file; the last field, dropped after the
    /// connections (`readers` keeps its own while reads run).
    _file: Arc<FileUse>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating and migrating it if needed) the database at `path`,
    /// with `synchronous = NORMAL`.
    ///
    /// # Errors
    ///
    /// [`Error::NotADatabase`] if `path` is not a reprise database,
    /// [`Error::NewerSchema`] if it was written by a newer reprise,
    /// [`Error::InUse`] if another worker holds it; [`Error::Store`] if it
    /// cannot be opened.
    #[cfg(test)]
    pub(crate) async fn open(path: &Path) -> Result<SqliteStore, Error> {
        Self::open_with(path, SqliteSync::Normal).await
    }

    /// Opens the database at `path` with the given durability.
    #[cfg(test)]
    pub(crate) async fn open_with(path: &Path, sync: SqliteSync) -> Result<SqliteStore, Error> {
        Self::open_as(path, sync, true).await
    }

    /// Opens the database at `path`; `exclusive` takes the worker lock (a
    /// client that only starts, signals and describes workflows does not).
    pub(crate) async fn open_as(
        path: &Path,
        sync: SqliteSync,
        exclusive: bool,
    ) -> Result<SqliteStore, Error> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || open_blocking(path, sync, exclusive))
            .await
            .map_err(|e| Error::Store(StoreError::with_source(OPEN, false, e)))?
    }

    /// Transactions the writer ran so far.
    #[cfg(test)]
    pub(crate) fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// The error of every call once the file is known to be damaged.
    fn refuse(&self, operation: &'static str) -> Option<StoreError> {
        let first = self.damaged.get()?;
        Some(
            StoreError::new(
                operation,
                format!(
                    "the database file `{}` is damaged ({first}); reprise stopped using it: \
                     restore it from a backup (`sqlite3 FILE 'PRAGMA integrity_check'` shows the damage)",
                    self.path.display()
                ),
            )
            .corrupt(),
        )
    }

    /// Remembers the first error that says the file is damaged.
    fn note<T>(damaged: &std::sync::OnceLock<String>, result: &Result<T, StoreError>) {
        if let Err(e) = result {
            if e.is_corrupt() && damaged.set(e.to_string()).is_ok() {
                tracing::error!(error = %e, "the SQLite database file is damaged: reprise stops using it");
            }
        }
    }

    /// Runs `f` in the writer thread, in the transaction of the batch it
    /// joins, under its own savepoint; answers once that transaction ended.
    fn submit<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Connection, &AtomicU64) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        if let Some(e) = self.refuse(operation) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let damaged = Arc::clone(&self.damaged);
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn, tokens, abort| {
            let result = isolated(conn, abort, operation, |conn| f(conn, tokens));
            Box::new(move |failed: Option<&Abort>| {
                let result = match (result, failed) {
                    (Ok(_), Some(abort)) => Err(abort.error(operation)),
                    (result, _) => result,
                };
                // A dropped receiver is a caller that stopped waiting.
                let _ = reply.send(result);
            })
        });
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|requests| requests.send(Request::Job(job)).is_ok());
        Box::pin(async move {
            if !sent {
                return Err(writer_gone(operation));
            }
            let result = answer.await.unwrap_or_else(|_| Err(writer_gone(operation)));
            Self::note(&damaged, &result);
            result
        })
    }

    /// Runs `f` on a read connection, on the blocking pool.
    fn read<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        if let Some(e) = self.refuse(operation) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let damaged = Arc::clone(&self.damaged);
        let readers = Arc::clone(&self.readers);
        let gate = Arc::clone(&self.readers);
        Box::pin(async move {
            // At most as many reads at once as connections are kept: more
            // would only grow the blocking pool and open connections that are
            // closed again at once.
            let _permit = gate
                .slots
                .acquire()
                .await
                .map_err(|e| StoreError::with_source(operation, false, e))?;
            let result = tokio::task::spawn_blocking(move || readers.with(operation, f))
                .await
                .map_err(|e| StoreError::with_source(operation, false, e))?;
            Self::note(&damaged, &result);
            result
        })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel ends the writer once it has executed every
        // request already sent; it then closes its connection and releases
        // the worker lock. Waiting for it makes a reopen in this process see
        // every write and find the lock free.
        drop(self.requests.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!(path = %self.path.display(), "the SQLite writer thread panicked");
            }
        }
    }
}

fn writer_gone(operation: &'static str) -> StoreError {
    StoreError::new(operation, "the SQLite writer thread has stopped")
}

impl Store for SqliteStore {
    /// Client processes write messages without telling the worker: it
    /// looks five times a second.
    fn poll_interval(&self) -> Duration {
        Duration::from_millis(200)
    }

    fn create_workflow(&self, new: NewWorkflow) -> BoxFuture<'_, Result<Created, StoreError>> {
        self.submit(CREATE, move |conn, tokens| {
            create(conn, || next_token(tokens), &new)
        })
    }

    fn commit_steps(&self, steps: Vec<StepCommit>) -> BoxFuture<'_, Vec<Result<(), StoreError>>> {
        // The executor already batches every run's steps into one call: it is
        // written here, in one transaction, without a hand-off to the writer
        // thread (whose wake-up would cost more than the transaction).
        let count = steps.len();
        let gone = || (0..count).map(|_| Err(writer_gone(COMMIT))).collect();
        if steps.is_empty() {
            return Box::pin(std::future::ready(Vec::new()));
        }
        if self.damaged.get().is_some() {
            let refused = (0..count)
                .filter_map(|_| self.refuse(COMMIT))
                .map(Err)
                .collect();
            return Box::pin(std::future::ready(refused));
        }
        let (reply, mut answer) = oneshot::channel();
        {
            let guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(conn) => {
                    #[cfg(test)]
                    self.transactions.fetch_add(1, Ordering::Relaxed);
                    write_batch(conn, &self.tokens, vec![Request::Commit { steps, reply }]);
                }
                None => return Box::pin(std::future::ready(gone())),
            }
        }
        let results: Vec<Result<(), StoreError>> = answer.try_recv().unwrap_or_else(|_| gone());
        for result in &results {
            Self::note(&self.damaged, result);
        }
        Box::pin(std::future::ready(results))
    }

    fn retry_task(&self, retry: TaskRetry) -> BoxFuture<'_, Result<(), StoreError>> {
        self.submit(RETRY, move |conn, _| retry_task(conn, &retry))
    }

    fn complete_task(&self, done: TaskDone) -> BoxFuture<'_, Result<(), StoreError>> {
        self.submit(COMPLETE, move |conn, _| complete_task(conn, &done))
    }

    fn claim_runs<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<ClaimedRun>, StoreError>> {
        let lease = lease.clone();
        let names = names_json(filter.names);
        let (limit, horizon) = (filter.limit, filter.horizon_ms);
        self.submit(CLAIM_RUNS, move |conn, tokens| {
            claim_runs(conn, tokens, &lease, &names, limit, horizon)
        })
    }

    fn claim_tasks<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<Task>, StoreError>> {
        let lease = lease.clone();
        let names = names_json(filter.names);
        let (limit, horizon) = (filter.limit, filter.horizon_ms);
        self.submit(CLAIM_TASKS, move |conn, tokens| {
            claim_tasks(conn, tokens, &lease, &names, limit, horizon)
        })
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        let lease = lease.clone();
        self.submit(RENEW, move |conn, _| {
            write::renew(conn, &lease).map(|()| None)
        })
    }

    fn release(&self, release: Release) -> BoxFuture<'_, Result<(), StoreError>> {
        self.submit(RELEASE, move |conn, _| release_leases(conn, &release))
    }

    fn load_run(
        &self,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<(RunRecord, HistoryRows)>, StoreError>> {
        let run_id = run_id.to_owned();
        self.read(LOAD_RUN, move |conn| {
            // One transaction: the record and the history of one snapshot.
            let tx = conn
                .transaction()
                .map_err(|e| store_error(LOAD_RUN, format!("run `{run_id}`"), e))?;
            let Some(record) = load_record(&tx, LOAD_RUN, SELECT_RUN, &run_id)? else {
                return Ok(None);
            };
            let history = load_history(&tx, &run_id)?;
            Ok(Some((record, history)))
        })
    }

    fn latest_run(
        &self,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<RunRecord>, StoreError>> {
        let workflow_id = workflow_id.to_owned();
        self.read(LATEST_RUN, move |conn| {
            load_record(conn, LATEST_RUN, SELECT_LATEST_RUN, &workflow_id)
        })
    }

    fn unfinished_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>> {
        self.read(UNFINISHED_RUNS, |conn| {
            let context = || "the `runs` table".to_owned();
            let mut stmt = conn
                .prepare_cached(SELECT_UNFINISHED)
                .map_err(|e| store_error(UNFINISHED_RUNS, context(), e))?;
            let rows = stmt
                .query_map([], |row| Ok(decode_run(UNFINISHED_RUNS, row)))
                .map_err(|e| store_error(UNFINISHED_RUNS, context(), e))?;
            let mut runs = Vec::new();
            for row in rows {
                match row.map_err(|e| store_error(UNFINISHED_RUNS, context(), e))? {
                    Ok(run) => runs.push(run),
                    Err(e) => tracing::error!(error = %e, "skipping a corrupt run"),
                }
            }
            Ok(runs)
        })
    }

    fn list_runs(&self, query: ListQuery) -> BoxFuture<'_, Result<Vec<ListedRun>, StoreError>> {
        self.read(LIST, move |conn| select_listed(conn, &query))
    }

    fn tasks(&self, run_id: Option<&str>) -> BoxFuture<'_, Result<Vec<Task>, StoreError>> {
        let run_id = run_id.map(str::to_owned);
        self.read(TASKS, move |conn| {
            select_tasks(conn, TASKS, run_id.as_deref())
        })
    }

    fn enqueue(
        &self,
        workflow_id: &str,
        item: InboxItem,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Enqueued, StoreError>> {
        let workflow_id = workflow_id.to_owned();
        self.submit(ENQUEUE, move |conn, _| {
            enqueue(conn, &workflow_id, &item, now_ms)
        })
    }

    fn inbox(&self) -> BoxFuture<'_, Result<Vec<InboxRecord>, StoreError>> {
        self.read(INBOX, |conn| select_inbox(conn, INBOX, None))
    }

    fn runs(&self, workflow_id: &str) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>> {
        let workflow_id = workflow_id.to_owned();
        self.read(RUNS, move |conn| {
            let sql = |e| store_error(RUNS, format!("workflow `{workflow_id}`"), e);
            let mut stmt = conn.prepare_cached(SELECT_WORKFLOW_RUNS).map_err(sql)?;
            let rows = stmt
                .query_map([&workflow_id], |row| Ok(decode_run(RUNS, row)))
                .map_err(sql)?;
            let mut runs = Vec::new();
            for row in rows {
                runs.push(row.map_err(sql)??);
            }
            Ok(runs)
        })
    }

    fn record_heartbeat(
        &self,
        run_id: &str,
        seq: u32,
        token: Token,
        details: Value,
        lease: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let run_id = run_id.to_owned();
        self.submit(HEARTBEAT, move |conn, _| {
            record_heartbeat(conn, &run_id, seq, token, &details, lease)
        })
    }

    fn acquire_slot(&self, request: SlotRequest) -> BoxFuture<'_, Result<SlotGrant, StoreError>> {
        self.submit(ACQUIRE_SLOT, move |conn, _| acquire_slot(conn, &request))
    }

    fn release_slot(&self, run_id: &str, seq: u32) -> BoxFuture<'_, Result<(), StoreError>> {
        let run_id = run_id.to_owned();
        self.submit(RELEASE_SLOT, move |conn, _| {
            release_slot(conn, &run_id, seq)
        })
    }
}

// ---------------------------------------------------------------------------
// Opening

fn open_blocking(path: PathBuf, sync: SqliteSync, exclusive: bool) -> Result<SqliteStore, Error> {
    let path = lock::canonical(&path)?;
    // Declared before the connection, so that an error return drops it
    // after the connection is closed (see `lock.rs`).
    let file: Arc<FileUse>;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(&path, flags).map_err(|e| schema::open_error(&path, e))?;
    file = Arc::new(FileUse::start(&path)?);
    let mut lock = if exclusive {
        Some(WorkerLock::lock_file(&path, &file)?)
    } else {
        None
    };
    // Before anything writes (the lock file is created, WAL mode rewrites
    // the header): refuse files that are not ours.
    schema::check(&conn, &path)?;
    if let Some(lock) = &mut lock {
        lock.lock_sibling(&path)?;
    }
    configure_writer(&conn, sync).map_err(|e| schema::open_error(&path, e))?;
    schema::migrate(&mut conn, &path)?;
    if exclusive {
        // The worker lock proves that no other worker process has the file:
        // leases left by a previous process are void.
        conn.execute_batch(
            "UPDATE runs SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL;
             UPDATE tasks SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL;
             DELETE FROM slots;",
        )
        .map_err(|e| schema::open_error(&path, e))?;
    }
    let last_token: i64 = conn
        .query_row(
            "SELECT max(coalesce((SELECT max(token) FROM runs), 0), coalesce((SELECT max(token) FROM tasks), 0))",
            [],
            |row| row.get(0),
        )
        .map_err(|e| schema::open_error(&path, e))?;
    let tokens = Arc::new(AtomicU64::new(u64::try_from(last_token).unwrap_or(0)));

    let readers = Arc::new(Readers {
        path: path.clone(),
        idle: Mutex::new(Vec::new()),
        slots: tokio::sync::Semaphore::new(MAX_IDLE_READERS),
        _file: Arc::clone(&file),
    });
    // Open a first reader now, so a problem shows at open time.
    let reader = readers.open().map_err(|e| schema::open_error(&path, e))?;
    readers.idle().push(reader);

    let (requests, queue) = mpsc::channel();
    let transactions = Arc::new(AtomicU64::new(0));
    let conn = Arc::new(Mutex::new(Some(conn)));
    let writer = {
        let transactions = Arc::clone(&transactions);
        let conn = Arc::clone(&conn);
        let tokens = Arc::clone(&tokens);
        std::thread::Builder::new()
            .name("reprise-sqlite-writer".to_owned())
            .spawn(move || run_writer(&conn, &tokens, queue, lock, &transactions))
            .map_err(|e| Error::Store(StoreError::with_source(OPEN, false, e)))?
    };
    tracing::debug!(path = %path.display(), sync = sync.pragma(), "opened the SQLite store");
    Ok(SqliteStore {
        path,
        requests: Some(requests),
        writer: Some(writer),
        conn,
        readers,
        tokens,
        #[cfg(test)]
        transactions,
        damaged: Arc::new(std::sync::OnceLock::new()),
        _file: file,
    })
}

fn configure_writer(conn: &Connection, sync: SqliteSync) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode, "SQLite could not switch the database to WAL mode");
    }
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    conn.pragma_update(None, "foreign_keys", false)?;
    Ok(())
}

/// Idle read connections.
#[derive(Debug)]
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads allowed at once (`MAX_IDLE_READERS`).
    slots: tokio::sync::Semaphore,
    /// The store's use of the file, dropped after `idle`'s connections and
    /// after every read that still runs.
    _file: Arc<FileUse>,
}

impl Readers {
    fn idle(&self) -> MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.set_prepared_statement_cache_capacity(32);
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }

    fn with<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let idle = self.idle().pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self
                .open()
                .map_err(|e| store_error(operation, "opening a read connection", e))?,
        };
        let result = f(&mut conn);
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}
