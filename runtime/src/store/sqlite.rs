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
//! commit and survives both. A sibling `<path>-lock` file, locked for the
//! store's lifetime, keeps a second process from running the same database;
//! the kernel releases it when the process dies.
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

mod schema;

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::oneshot;

use super::{
    ClaimFilter, ClaimedRun, Created, Enqueued, HistoryRows, InboxItem, InboxRecord, Lease,
    NewWorkflow, Release, RunRecord, StepCommit, Store, Task, TaskDone, TaskKind, TaskRetry, Token,
    WorkflowStatus,
};
use crate::definition::BoxFuture;
use crate::engine::now_ms;
use crate::error::{Error, StoreError};

const OPEN: &str = "opening the SQLite database";
const CREATE: &str = "creating a workflow";
const COMMIT: &str = "committing a workflow step";
const RETRY: &str = "recording a failed attempt";
const LOAD_RUN: &str = "loading a run";
const LATEST_RUN: &str = "loading the latest run of a workflow";
const UNFINISHED_RUNS: &str = "listing unfinished runs";
const TASKS: &str = "listing tasks";
const ENQUEUE: &str = "adding a message to a workflow's inbox";
const INBOX: &str = "listing inbox messages";
const RUNS: &str = "listing the runs of a workflow";
const HEARTBEAT: &str = "recording heartbeat details";
const COMPLETE: &str = "recording an activity's completion";
const CLAIM_RUNS: &str = "claiming runs";
const CLAIM_TASKS: &str = "claiming activity tasks";
const RENEW: &str = "renewing leases";
const RELEASE: &str = "releasing leases";

/// The schema version this code reads and writes.
#[cfg(test)]
pub(crate) const SCHEMA_VERSION: usize = schema::LATEST_VERSION;

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Most requests the writer puts in one transaction.
const MAX_BATCH: usize = 1024;
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
    /// [`Error::Config`] if `path` is not a reprise database, was written by
    /// a newer reprise, or is in use by another process; [`Error::Store`] if
    /// it cannot be opened.
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

    /// Runs `f` in the writer thread, in the transaction of the batch it
    /// joins, under its own savepoint; answers once that transaction ended.
    fn submit<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Connection, &AtomicU64) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
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
            answer.await.unwrap_or_else(|_| Err(writer_gone(operation)))
        })
    }

    /// Runs `f` on a read connection, on the blocking pool.
    fn read<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
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
            tokio::task::spawn_blocking(move || readers.with(operation, f))
                .await
                .map_err(|e| StoreError::with_source(operation, false, e))?
        })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel ends the writer once it has executed every
        // request already sent; it then closes its connection and releases
        // the lock file. Waiting for it makes a reopen in this process see
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
        self.submit(CREATE, move |conn, tokens| create(conn, tokens, &new))
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
        let results = answer.try_recv().unwrap_or_else(|_| gone());
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
            let until = int(now_ms().saturating_add(lease.duration_ms()));
            let sql = |e| store_error(RENEW, format!("worker `{}`", lease.worker), e);
            conn.prepare_cached("UPDATE runs SET lease_until = ?2 WHERE owner = ?1")
                .and_then(|mut stmt| stmt.execute(params![lease.worker, until]))
                .map_err(sql)?;
            conn.prepare_cached("UPDATE tasks SET lease_until = ?2 WHERE owner = ?1")
                .and_then(|mut stmt| stmt.execute(params![lease.worker, until]))
                .map_err(sql)?;
            Ok(None)
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
}

// ---------------------------------------------------------------------------
// Opening

fn open_blocking(path: PathBuf, sync: SqliteSync, exclusive: bool) -> Result<SqliteStore, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(&path, flags).map_err(|e| schema::open_error(&path, e))?;
    // Before anything writes (taking the lock creates a file, WAL mode
    // rewrites the header): refuse files that are not ours.
    schema::check(&conn, &path)?;
    let lock = if exclusive { Some(lock(&path)?) } else { None };
    configure_writer(&conn, sync).map_err(|e| schema::open_error(&path, e))?;
    schema::migrate(&mut conn, &path)?;
    if exclusive {
        // The lock file proves that no other worker process has the file:
        // leases left by a previous process are void.
        conn.execute_batch(
            "UPDATE runs SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL;
             UPDATE tasks SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL;",
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
    })
}

/// The lock file of the database at `path`: `<path>-lock`.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
}

/// Takes the exclusive advisory lock on `<path>-lock`, held as long as the
/// returned file is open.
fn lock(path: &Path) -> Result<File, Error> {
    let lock_path = lock_path(path);
    let io_error = |e: std::io::Error| {
        Error::Store(StoreError::with_source(
            OPEN,
            false,
            Context {
                context: format!("lock file `{}`", lock_path.display()),
                source: e,
            },
        ))
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io_error)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Config(format!(
            "`{}` is in use by another process (lock file `{}`)",
            path.display(),
            lock_path.display()
        ))),
        Err(TryLockError::Error(e)) => Err(io_error(e)),
    }
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

// ---------------------------------------------------------------------------
// The writer

/// Work for the writing connection.
enum Request {
    /// Workflow steps, from [`Store::commit_steps`].
    Commit {
        steps: Vec<StepCommit>,
        reply: oneshot::Sender<Vec<Result<(), StoreError>>>,
    },
    /// Any other write, made by [`SqliteStore::submit`].
    Job(Job),
}

/// A write run in a batch's transaction; it returns how to answer its
/// caller once the transaction ended (with the abort, if it failed).
type Job = Box<dyn FnOnce(&Connection, &AtomicU64, &mut Option<Abort>) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Option<&Abort>) + Send>;

/// Why a whole transaction failed.
#[derive(Debug, Clone)]
struct Abort {
    retryable: bool,
    message: String,
}

impl Abort {
    fn sql(what: &str, e: &rusqlite::Error) -> Self {
        Self {
            retryable: is_retryable(e),
            message: format!("{what}: {e}"),
        }
    }

    fn error(&self, operation: &'static str) -> StoreError {
        StoreError::with_source(operation, self.retryable, BatchFailed(self.message.clone()))
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the write transaction was rolled back: {0}")]
struct BatchFailed(String);

fn run_writer(
    conn: &Mutex<Option<Connection>>,
    tokens: &AtomicU64,
    queue: mpsc::Receiver<Request>,
    lock: Option<File>,
    transactions: &AtomicU64,
) {
    // `recv` fails once every sender is dropped and the queue is empty.
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let guard = conn.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(conn) = guard.as_ref() {
            transactions.fetch_add(1, Ordering::Relaxed);
            write_batch(conn, tokens, batch);
        }
    }
    // Close the database before releasing the lock.
    let conn = conn.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(Err((_, e))) = conn.map(Connection::close) {
        tracing::error!(error = %e, "could not close the SQLite database");
    }
    drop(lock);
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// Runs a batch of requests in one transaction, then answers them.
fn write_batch(conn: &Connection, tokens: &AtomicU64, batch: Vec<Request>) {
    let count = batch.len();
    let mut abort = exec(conn, "BEGIN IMMEDIATE")
        .err()
        .map(|e| Abort::sql("starting a transaction", &e));
    let mut commits = Vec::new();
    let mut answers: Vec<Answer> = Vec::with_capacity(count);
    for request in batch {
        match request {
            Request::Commit { steps, reply } => {
                let results: Vec<_> = steps
                    .iter()
                    .map(|step| isolated(conn, &mut abort, COMMIT, |conn| apply_step(conn, step)))
                    .collect();
                commits.push((reply, results));
            }
            Request::Job(job) => answers.push(job(conn, tokens, &mut abort)),
        }
    }
    if abort.is_none() {
        if let Err(e) = exec(conn, "COMMIT") {
            abort = Some(Abort::sql("committing", &e));
        }
    }
    if let Some(abort) = &abort {
        tracing::error!(error = %abort, requests = count, "a write transaction of the SQLite store failed");
        if !conn.is_autocommit() {
            if let Err(e) = exec(conn, "ROLLBACK") {
                tracing::error!(error = %e, "could not roll back a failed transaction");
            }
        }
    }
    for (reply, mut results) in commits {
        if let Some(abort) = &abort {
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(abort.error(COMMIT));
            }
        }
        // A dropped receiver is a caller that stopped waiting.
        let _ = reply.send(results);
    }
    for answer in answers {
        answer(abort.as_ref());
    }
}

/// Runs one unit of a batch under its own savepoint, so that its failure
/// undoes it alone. A failure of the transaction itself sets `abort`, after
/// which nothing more runs.
fn isolated<T>(
    conn: &Connection,
    abort: &mut Option<Abort>,
    operation: &'static str,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if let Some(abort) = abort {
        return Err(abort.error(operation));
    }
    if let Err(e) = exec(conn, "SAVEPOINT unit") {
        let failed = Abort::sql("opening a savepoint", &e);
        let error = failed.error(operation);
        *abort = Some(failed);
        return Err(error);
    }
    let result = f(conn);
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back (disk full, I/O error):
        // what the batch wrote so far is gone.
        let failed = match &result {
            Err(e) => Abort {
                retryable: e.is_retryable(),
                message: e.to_string(),
            },
            Ok(_) => Abort {
                retryable: false,
                message: "the transaction ended unexpectedly".to_owned(),
            },
        };
        let error = failed.error(operation);
        *abort = Some(failed);
        return Err(error);
    }
    let closed = match &result {
        Ok(_) => exec(conn, "RELEASE unit"),
        Err(_) => exec(conn, "ROLLBACK TO unit").and_then(|()| exec(conn, "RELEASE unit")),
    };
    if let Err(e) = closed {
        let failed = Abort::sql("closing a savepoint", &e);
        let error = failed.error(operation);
        *abort = Some(failed);
        return Err(error);
    }
    result
}

fn create(conn: &Connection, tokens: &AtomicU64, new: &NewWorkflow) -> Result<Created, StoreError> {
    let context = || format!("workflow `{}`", new.workflow_id);
    let latest: Option<String> = conn
        .prepare_cached("SELECT latest_run_id FROM workflows WHERE workflow_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([&new.workflow_id], |row| row.get(0))
                .optional()
        })
        .map_err(|e| store_error(CREATE, context(), e))?;
    if let Some(run_id) = latest {
        let record = load_record(conn, CREATE, SELECT_RUN, &run_id)?.ok_or_else(|| {
            StoreError::new(
                CREATE,
                format!(
                    "corrupt row in `workflows` (workflow_id `{}`): column `latest_run_id` holds `{run_id}`, which is not a run",
                    new.workflow_id
                ),
            )
        })?;
        return Ok(Created::Existing(record));
    }
    let now = int(new.now_ms);
    let (owner, lease_until, token) = match &new.owner {
        Some(lease) => (
            Some(lease.worker.as_str()),
            Some(int(now_ms().saturating_add(lease.duration_ms()))),
            next_token(tokens),
        ),
        None => (None, None, 0),
    };
    conn.prepare_cached(
        "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![new.workflow_id, new.run_id, new.name, now]))
    .and_then(|_| {
        conn.prepare_cached(
            "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                 owner, lease_until, token)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6, ?7, ?8)",
        )?
        .execute(params![
            new.run_id,
            new.workflow_id,
            new.name,
            WorkflowStatus::Running.as_str(),
            now,
            owner,
            lease_until,
            int(token),
        ])
    })
    .and_then(|_| {
        conn.prepare_cached("INSERT INTO history (run_id, idx, event) VALUES (?1, 0, ?2)")?
            .execute(params![new.run_id, new.started_event])
    })
    .map_err(|e| store_error(CREATE, context(), e))?;
    Ok(Created::New { token })
}

fn next_token(tokens: &AtomicU64) -> Token {
    tokens.fetch_add(1, Ordering::Relaxed) + 1
}

fn apply_step(conn: &Connection, step: &StepCommit) -> Result<(), StoreError> {
    let run_id = &step.run_id;
    let context = || format!("run `{run_id}`");
    let sql = |e| store_error(COMMIT, context(), e);
    let run: Option<(i64, String, String, i64)> = conn
        .prepare_cached("SELECT history_len, workflow_id, name, token FROM runs WHERE run_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([run_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()
        })
        .map_err(sql)?;
    let Some((len, workflow_id, name, token)) = run else {
        return Err(StoreError::new(COMMIT, format!("no run `{run_id}`")));
    };
    if token != int(step.token) {
        return Err(StoreError::fenced(
            COMMIT,
            format!(
                "run `{run_id}` is held by another worker now (token {token}, the step has {})",
                step.token
            ),
        ));
    }
    let (owner, lease_until) = match &step.lease {
        Some(lease) => (
            Some(lease.worker.as_str()),
            Some(int(now_ms().saturating_add(lease.duration_ms()))),
        ),
        None => (None, None),
    };
    // A step without events (a change of status or progress alone) may
    // come from a worker that does not know the history's length.
    if !step.events.is_empty() && u64::try_from(len).ok() != Some(step.first_index) {
        return Err(StoreError::new(
            COMMIT,
            format!(
                "run `{run_id}` has {len} events, the step expected {}",
                step.first_index
            ),
        ));
    }
    if let Some(new_run) = &step.new_run {
        let taken = conn
            .prepare_cached("SELECT 1 FROM runs WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.exists([&new_run.run_id]))
            .map_err(sql)?;
        if taken {
            return Err(StoreError::new(
                COMMIT,
                format!("run `{}` exists already", new_run.run_id),
            ));
        }
    }

    let mut insert_event = conn
        .prepare_cached("INSERT INTO history (run_id, idx, event) VALUES (?1, ?2, ?3)")
        .map_err(sql)?;
    let mut next = len;
    for event in &step.events {
        insert_event
            .execute(params![run_id, next, event])
            .map_err(sql)?;
        next += 1;
    }

    if !step.done_tasks.is_empty() {
        let mut delete = conn
            .prepare_cached("DELETE FROM tasks WHERE run_id = ?1 AND seq = ?2")
            .map_err(sql)?;
        for seq in &step.done_tasks {
            delete.execute(params![run_id, seq]).map_err(sql)?;
        }
    }

    if !step.new_tasks.is_empty() {
        let mut insert = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO tasks (run_id, seq, workflow_id, kind, name, input, options,
                     attempt, scheduled_ms, due_ms, last_error, details, owner, lease_until, token)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .map_err(sql)?;
        for task in &step.new_tasks {
            let options = serde_json::to_string(&task.options).map_err(|e| {
                StoreError::new(
                    COMMIT,
                    format!(
                        "task {} of run `{}`: its options do not encode: {e}",
                        task.seq, task.run_id
                    ),
                )
            })?;
            insert
                .execute(params![
                    task.run_id,
                    task.seq,
                    task.workflow_id,
                    task.kind.as_str(),
                    task.name,
                    json(&task.input),
                    options,
                    task.attempt,
                    int(task.scheduled_ms),
                    int(task.due_ms),
                    task.last_error,
                    task.details.as_ref().map(json),
                    owner,
                    lease_until,
                    token,
                ])
                .map_err(sql)?;
        }
    }

    let progress = step.progress.as_ref().map(json);
    match &step.status {
        None => conn
            .prepare_cached(
                "UPDATE runs SET history_len = ?2, updated_ms = ?3, progress = coalesce(?4, progress)
                 WHERE run_id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![run_id, next, int(step.now_ms), progress])),
        Some(change) => conn
            .prepare_cached(
                "UPDATE runs SET history_len = ?2, updated_ms = ?3, progress = coalesce(?4, progress),
                     status = ?5, result = ?6, error = ?7
                 WHERE run_id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run_id,
                    next,
                    int(step.now_ms),
                    progress,
                    change.status.as_str(),
                    change.result.as_ref().map(json),
                    change.error,
                ])
            }),
    }
    .map_err(sql)?;

    if step.status.as_ref().is_some_and(|c| c.status.is_finished()) {
        conn.prepare_cached("DELETE FROM tasks WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.execute([run_id]))
            .map_err(sql)?;
        conn.prepare_cached("UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.execute([run_id]))
            .map_err(sql)?;
        // Nothing reads a finished workflow's messages any more; after a
        // continue-as-new, completions of the old run's calls are not the
        // new run's.
        let leftovers = if step.new_run.is_none() {
            "DELETE FROM inbox WHERE workflow_id = ?1"
        } else {
            "DELETE FROM inbox WHERE workflow_id = ?1 AND kind = 'completed'"
        };
        conn.prepare_cached(leftovers)
            .and_then(|mut stmt| stmt.execute([&workflow_id]))
            .map_err(sql)?;
    }

    if !step.done_inbox.is_empty() {
        let mut delete = conn
            .prepare_cached("DELETE FROM inbox WHERE id = ?1")
            .map_err(sql)?;
        for id in &step.done_inbox {
            delete.execute([int(*id)]).map_err(sql)?;
        }
    }

    if let Some(new_run) = &step.new_run {
        // Continue-as-new: the next run of the workflow becomes its latest.
        let now = int(step.now_ms);
        conn.prepare_cached(
            "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                 owner, lease_until, token)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, ?6, ?7, ?8)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                new_run.run_id,
                workflow_id,
                name,
                WorkflowStatus::Running.as_str(),
                now,
                owner,
                lease_until,
                token,
            ])
        })
        .and_then(|_| {
            conn.prepare_cached("INSERT INTO history (run_id, idx, event) VALUES (?1, 0, ?2)")?
                .execute(params![new_run.run_id, new_run.started_event])
        })
        .and_then(|_| {
            conn.prepare_cached("UPDATE workflows SET latest_run_id = ?2 WHERE workflow_id = ?1")?
                .execute(params![workflow_id, new_run.run_id])
        })
        .map_err(|e| store_error(COMMIT, format!("run `{}`, continued as `{}`", run_id, new_run.run_id), e))?;
    }
    Ok(())
}

fn enqueue(
    conn: &Connection,
    workflow_id: &str,
    item: &InboxItem,
    now_ms: u64,
) -> Result<Enqueued, StoreError> {
    let Some(latest) = load_record(conn, ENQUEUE, SELECT_LATEST_RUN, workflow_id)? else {
        return Ok(Enqueued::NotFound);
    };
    if latest.status.is_finished() {
        return Ok(Enqueued::Finished(latest.status));
    }
    let (kind, payload) = item.encode();
    conn.prepare_cached(
        "INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![workflow_id, kind, json(&payload), int(now_ms)]))
    .map_err(|e| store_error(ENQUEUE, format!("workflow `{workflow_id}`"), e))?;
    let id = u64::try_from(conn.last_insert_rowid())
        .map_err(|_| StoreError::new(ENQUEUE, "the inbox gave a negative id"))?;
    Ok(Enqueued::Accepted {
        id,
        run_id: latest.run_id,
    })
}

/// The token of a task: `None` when the task is gone.
fn task_token(
    conn: &Connection,
    operation: &'static str,
    run_id: &str,
    seq: u32,
) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT token FROM tasks WHERE run_id = ?1 AND seq = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![run_id, seq], |row| row.get(0))
                .optional()
        })
        .map_err(|e| store_error(operation, format!("task {seq} of run `{run_id}`"), e))
}

/// Checks that a task is held under `token`: `Ok(false)` when it is gone.
fn check_task(
    conn: &Connection,
    operation: &'static str,
    run_id: &str,
    seq: u32,
    token: Token,
) -> Result<bool, StoreError> {
    match task_token(conn, operation, run_id, seq)? {
        None => Ok(false),
        Some(held) if held == int(token) => Ok(true),
        Some(held) => Err(StoreError::fenced(
            operation,
            format!(
                "task {seq} of run `{run_id}` is held by another worker now (token {held}, the write has {token})"
            ),
        )),
    }
}

fn record_heartbeat(
    conn: &Connection,
    run_id: &str,
    seq: u32,
    token: Token,
    details: &Value,
    lease: Duration,
) -> Result<(), StoreError> {
    if !check_task(conn, HEARTBEAT, run_id, seq, token)? {
        return Err(StoreError::fenced(
            HEARTBEAT,
            format!("task {seq} of run `{run_id}` is gone"),
        ));
    }
    let until = int(now_ms().saturating_add(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)));
    conn.prepare_cached(
        "UPDATE tasks SET details = ?3, lease_until = CASE WHEN owner IS NULL THEN NULL ELSE ?4 END
         WHERE run_id = ?1 AND seq = ?2",
    )
    .and_then(|mut stmt| stmt.execute(params![run_id, seq, json(details), until]))
    .map_err(|e| store_error(HEARTBEAT, format!("task {seq} of run `{run_id}`"), e))?;
    Ok(())
}

fn retry_task(conn: &Connection, retry: &TaskRetry) -> Result<(), StoreError> {
    if !check_task(conn, RETRY, &retry.run_id, retry.seq, retry.token)? {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE tasks SET attempt = ?3, due_ms = ?4, last_error = ?5 WHERE run_id = ?1 AND seq = ?2",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            retry.run_id,
            retry.seq,
            retry.next_attempt,
            int(retry.due_ms),
            retry.last_error
        ])
    })
    .map_err(|e| {
        store_error(
            RETRY,
            format!("task {} of run `{}`", retry.seq, retry.run_id),
            e,
        )
    })?;
    Ok(())
}

fn complete_task(conn: &Connection, done: &TaskDone) -> Result<(), StoreError> {
    if !check_task(conn, COMPLETE, &done.run_id, done.seq, done.token)? {
        return Ok(());
    }
    let sql = |e| {
        store_error(
            COMPLETE,
            format!("task {} of run `{}`", done.seq, done.run_id),
            e,
        )
    };
    conn.prepare_cached("DELETE FROM tasks WHERE run_id = ?1 AND seq = ?2")
        .and_then(|mut stmt| stmt.execute(params![done.run_id, done.seq]))
        .map_err(sql)?;
    let (kind, payload) = InboxItem::Completed {
        seq: done.seq,
        result: done.result.clone(),
    }
    .encode();
    conn.prepare_cached(
        "INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            done.workflow_id,
            kind,
            json(&payload),
            int(done.now_ms)
        ])
    })
    .map_err(sql)?;
    Ok(())
}

/// Names as a JSON array, for `IN (SELECT value FROM json_each(?))`.
fn names_json(names: &[String]) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned())
}

const SELECT_CLAIMABLE_RUNS: &str = "
    SELECT r.run_id, coalesce(r.owner = ?1, 0) FROM runs r
    WHERE r.status IN ('running', 'blocked')
      AND (r.owner IS NULL OR r.owner = ?1 OR r.lease_until <= ?3)
      AND r.name IN (SELECT value FROM json_each(?2))
      AND (EXISTS (SELECT 1 FROM inbox i WHERE i.workflow_id = r.workflow_id)
           OR ((r.owner IS NULL OR r.owner <> ?1)
               AND (r.history_len = 1 OR r.status = 'blocked'
                    OR EXISTS (SELECT 1 FROM tasks t
                               WHERE t.run_id = r.run_id AND t.kind = 'timer' AND t.due_ms <= ?4))))
    ORDER BY r.seq LIMIT ?5";

fn claim_runs(
    conn: &Connection,
    tokens: &AtomicU64,
    lease: &Lease,
    names: &str,
    limit: usize,
    horizon_ms: u64,
) -> Result<Vec<ClaimedRun>, StoreError> {
    let sql = |e| store_error(CLAIM_RUNS, format!("worker `{}`", lease.worker), e);
    let now = now_ms();
    let until = int(now.saturating_add(lease.duration_ms()));
    let candidates: Vec<(String, bool)> = conn
        .prepare_cached(SELECT_CLAIMABLE_RUNS)
        .and_then(|mut stmt| {
            stmt.query_map(
                params![
                    lease.worker,
                    names,
                    int(now),
                    int(now.saturating_add(horizon_ms)),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect()
        })
        .map_err(sql)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for (run_id, mine) in candidates {
        if mine {
            conn.prepare_cached("UPDATE runs SET lease_until = ?2 WHERE run_id = ?1")
                .and_then(|mut stmt| stmt.execute(params![run_id, until]))
                .map_err(sql)?;
        } else {
            let token = next_token(tokens);
            conn.prepare_cached(
                "UPDATE runs SET owner = ?2, lease_until = ?3, token = ?4 WHERE run_id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![run_id, lease.worker, until, int(token)]))
            .map_err(sql)?;
        }
        let Some(record) = load_record(conn, CLAIM_RUNS, SELECT_RUN, &run_id)? else {
            continue;
        };
        let token = conn
            .prepare_cached("SELECT token FROM runs WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.query_row([&run_id], |row| row.get::<_, i64>(0)))
            .map_err(sql)?;
        let inbox = select_inbox(conn, CLAIM_RUNS, Some(&record.workflow_id))?;
        let tasks = if mine {
            Vec::new()
        } else {
            select_tasks(conn, CLAIM_RUNS, Some(&run_id))?
        };
        claimed.push(ClaimedRun {
            record,
            token: u64::try_from(token).unwrap_or(0),
            taken: !mine,
            inbox,
            tasks,
        });
    }
    Ok(claimed)
}

const SELECT_CLAIMABLE_TASKS: &str = "
    SELECT t.run_id, t.seq FROM tasks t JOIN runs r ON r.run_id = t.run_id
    WHERE t.kind = 'activity' AND t.due_ms <= ?3 AND r.status = 'running'
      AND (t.owner IS NULL OR t.lease_until <= ?2)
      AND t.name IN (SELECT value FROM json_each(?1))
    ORDER BY t.due_ms LIMIT ?4";

fn claim_tasks(
    conn: &Connection,
    tokens: &AtomicU64,
    lease: &Lease,
    names: &str,
    limit: usize,
    horizon_ms: u64,
) -> Result<Vec<Task>, StoreError> {
    let sql = |e| store_error(CLAIM_TASKS, format!("worker `{}`", lease.worker), e);
    let now = now_ms();
    let until = int(now.saturating_add(lease.duration_ms()));
    let candidates: Vec<(String, u32)> = conn
        .prepare_cached(SELECT_CLAIMABLE_TASKS)
        .and_then(|mut stmt| {
            stmt.query_map(
                params![
                    names,
                    int(now),
                    int(now.saturating_add(horizon_ms)),
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect()
        })
        .map_err(sql)?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for (run_id, seq) in candidates {
        let token = next_token(tokens);
        conn.prepare_cached(
            "UPDATE tasks SET owner = ?3, lease_until = ?4, token = ?5 WHERE run_id = ?1 AND seq = ?2",
        )
        .and_then(|mut stmt| stmt.execute(params![run_id, seq, lease.worker, until, int(token)]))
        .map_err(sql)?;
        let task = conn
            .prepare_cached(SELECT_TASK)
            .and_then(|mut stmt| {
                stmt.query_row(params![run_id, seq], |row| {
                    Ok(decode_task(CLAIM_TASKS, row))
                })
            })
            .map_err(sql)?;
        match task {
            Ok(task) => claimed.push(task),
            // A corrupt task: left claimed (so it is not handed out again
            // and again) and reported.
            Err(e) => tracing::error!(error = %e, "skipping a corrupt task"),
        }
    }
    Ok(claimed)
}

fn release_leases(conn: &Connection, release: &Release) -> Result<(), StoreError> {
    let sql = |e| store_error(RELEASE, format!("{release:?}"), e);
    match release {
        Release::Worker(worker) => {
            conn.prepare_cached(
                "UPDATE runs SET owner = NULL, lease_until = NULL WHERE owner = ?1",
            )
            .and_then(|mut stmt| stmt.execute([worker]))
            .map_err(sql)?;
            conn.prepare_cached(
                "UPDATE tasks SET owner = NULL, lease_until = NULL WHERE owner = ?1",
            )
            .and_then(|mut stmt| stmt.execute([worker]))
            .map_err(sql)?;
        }
        Release::Run { run_id, token } => {
            let released = conn
                .prepare_cached(
                    "UPDATE runs SET owner = NULL, lease_until = NULL WHERE run_id = ?1 AND token = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![run_id, int(*token)]))
                .map_err(sql)?;
            if released > 0 {
                // Only the tasks held with the run: an attempt another
                // worker claimed stays with it.
                conn.prepare_cached(
                    "UPDATE tasks SET owner = NULL, lease_until = NULL WHERE run_id = ?1 AND token = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![run_id, int(*token)]))
                .map_err(sql)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading rows

macro_rules! run_columns {
    () => {
        "workflow_id, run_id, name, status, result, error, progress, created_ms, updated_ms"
    };
}

macro_rules! task_columns {
    () => {
        "workflow_id, run_id, seq, kind, name, input, options, attempt, scheduled_ms, due_ms, last_error, details, token"
    };
}

const SELECT_RUN: &str = concat!("SELECT ", run_columns!(), " FROM runs WHERE run_id = ?1");
const SELECT_LATEST_RUN: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE run_id = (SELECT latest_run_id FROM workflows WHERE workflow_id = ?1)"
);
const SELECT_UNFINISHED: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE status IN ('running', 'blocked') ORDER BY seq"
);
const SELECT_WORKFLOW_RUNS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE workflow_id = ?1 ORDER BY seq"
);
const SELECT_RUN_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ?1 ORDER BY seq"
);
const SELECT_TASK: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ?1 AND seq = ?2"
);
const SELECT_ALL_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks ORDER BY run_id, seq"
);

/// Tasks of a run (a corrupt one is an error), or of every run (a corrupt
/// one is skipped and logged, see the module docs).
fn select_tasks(
    conn: &Connection,
    operation: &'static str,
    run_id: Option<&str>,
) -> Result<Vec<Task>, StoreError> {
    let context = || match run_id {
        Some(run_id) => format!("tasks of run `{run_id}`"),
        None => "the `tasks` table".to_owned(),
    };
    let (sql, args) = match run_id {
        Some(run_id) => (SELECT_RUN_TASKS, vec![run_id]),
        None => (SELECT_ALL_TASKS, Vec::new()),
    };
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| store_error(operation, context(), e))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |row| {
            Ok(decode_task(operation, row))
        })
        .map_err(|e| store_error(operation, context(), e))?;
    let mut tasks = Vec::new();
    for row in rows {
        match row.map_err(|e| store_error(operation, context(), e))? {
            Ok(task) => tasks.push(task),
            Err(e) if run_id.is_none() => {
                tracing::error!(error = %e, "skipping a corrupt task");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(tasks)
}

/// Inbox messages of a workflow, or of every workflow, in arrival order;
/// a corrupt one is skipped and logged.
fn select_inbox(
    conn: &Connection,
    operation: &'static str,
    workflow_id: Option<&str>,
) -> Result<Vec<InboxRecord>, StoreError> {
    let context = || "the `inbox` table".to_owned();
    let (sql, args) = match workflow_id {
        Some(id) => (
            "SELECT id, workflow_id, kind, payload FROM inbox WHERE workflow_id = ?1 ORDER BY id",
            vec![id],
        ),
        None => (
            "SELECT id, workflow_id, kind, payload FROM inbox ORDER BY id",
            Vec::new(),
        ),
    };
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| store_error(operation, context(), e))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |row| {
            Ok(decode_inbox(operation, row))
        })
        .map_err(|e| store_error(operation, context(), e))?;
    let mut messages = Vec::new();
    for row in rows {
        match row.map_err(|e| store_error(operation, context(), e))? {
            Ok(message) => messages.push(message),
            Err(e) => tracing::error!(error = %e, "skipping a corrupt inbox message"),
        }
    }
    Ok(messages)
}

/// The run selected by `sql` with the one parameter `key`.
fn load_record(
    conn: &Connection,
    operation: &'static str,
    sql: &str,
    key: &str,
) -> Result<Option<RunRecord>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_row([key], |row| Ok(decode_run(operation, row)))
                .optional()
        })
        .map_err(|e| store_error(operation, format!("`{key}`"), e))?
        .transpose()
}

fn load_history(conn: &Connection, run_id: &str) -> Result<HistoryRows, StoreError> {
    let sql = |e| store_error(LOAD_RUN, format!("history of run `{run_id}`"), e);
    let mut stmt = conn
        .prepare_cached("SELECT idx, event FROM history WHERE run_id = ?1 ORDER BY idx")
        .map_err(sql)?;
    let rows = stmt
        .query_map([run_id], |row| {
            let idx = row.get_ref(0).map(|v| match v {
                ValueRef::Integer(n) => u64::try_from(n).ok(),
                _ => None,
            })?;
            let key = match idx {
                Some(idx) => format!("run_id `{run_id}`, idx {idx}"),
                None => format!("run_id `{run_id}`"),
            };
            let fields = Fields {
                row,
                operation: LOAD_RUN,
                table: "history",
                key,
            };
            Ok(fields
                .uint::<u64>(0, "idx")
                .and_then(|idx| Ok((idx, fields.text(1, "event")?))))
        })
        .map_err(sql)?;
    let mut history = Vec::new();
    for row in rows {
        history.push(row.map_err(sql)??);
    }
    Ok(history)
}

fn decode_run(operation: &'static str, row: &Row<'_>) -> Result<RunRecord, StoreError> {
    let fields = Fields {
        row,
        operation,
        table: "runs",
        key: key_text(row, 1, "run_id"),
    };
    let status = fields.text(3, "status")?;
    let status = WorkflowStatus::parse(&status).ok_or_else(|| {
        fields.corrupt(
            "status",
            format_args!("holds `{}`, not a run status", clip(&status)),
        )
    })?;
    Ok(RunRecord {
        workflow_id: fields.text(0, "workflow_id")?,
        run_id: fields.text(1, "run_id")?,
        name: fields.text(2, "name")?,
        status,
        result: fields.opt_json(4, "result")?,
        error: fields.opt_text(5, "error")?,
        progress: fields.opt_json(6, "progress")?,
        created_ms: fields.uint(7, "created_ms")?,
        updated_ms: fields.uint(8, "updated_ms")?,
    })
}

fn decode_inbox(operation: &'static str, row: &Row<'_>) -> Result<InboxRecord, StoreError> {
    let key = match row.get_ref(0) {
        Ok(ValueRef::Integer(n)) => format!("id {n}"),
        Ok(other) => format!("id {}", show(other)),
        Err(_) => "id unreadable".to_owned(),
    };
    let fields = Fields {
        row,
        operation,
        table: "inbox",
        key,
    };
    let kind = fields.text(2, "kind")?;
    let payload: Value = fields.json(3, "payload")?;
    let item = InboxItem::decode(&kind, payload.clone()).ok_or_else(|| {
        fields.corrupt(
            "payload",
            format_args!(
                "holds `{}`, not a `{}` message",
                clip(&payload.to_string()),
                clip(&kind)
            ),
        )
    })?;
    Ok(InboxRecord {
        id: fields.uint(0, "id")?,
        workflow_id: fields.text(1, "workflow_id")?,
        item,
    })
}

fn decode_task(operation: &'static str, row: &Row<'_>) -> Result<Task, StoreError> {
    let seq = match row.get_ref(2) {
        Ok(ValueRef::Integer(n)) => n.to_string(),
        Ok(other) => show(other),
        Err(_) => "?".to_owned(),
    };
    let fields = Fields {
        row,
        operation,
        table: "tasks",
        key: format!("{}, seq {seq}", key_text(row, 1, "run_id")),
    };
    let kind = fields.text(3, "kind")?;
    let kind = TaskKind::parse(&kind).ok_or_else(|| {
        fields.corrupt(
            "kind",
            format_args!("holds `{}`, not a task kind", clip(&kind)),
        )
    })?;
    Ok(Task {
        workflow_id: fields.text(0, "workflow_id")?,
        run_id: fields.text(1, "run_id")?,
        seq: fields.uint(2, "seq")?,
        kind,
        name: fields.text(4, "name")?,
        input: fields.json(5, "input")?,
        options: fields.json(6, "options")?,
        attempt: fields.uint(7, "attempt")?,
        scheduled_ms: fields.uint(8, "scheduled_ms")?,
        due_ms: fields.uint(9, "due_ms")?,
        last_error: fields.opt_text(10, "last_error")?,
        details: fields.opt_json(11, "details")?,
        token: fields.uint(12, "token")?,
    })
}

/// `name `value`` for a text key column, for error messages.
fn key_text(row: &Row<'_>, index: usize, name: &str) -> String {
    match row.get_ref(index) {
        Ok(ValueRef::Text(t)) => format!("{name} `{}`", clip(&String::from_utf8_lossy(t))),
        Ok(other) => format!("{name} {}", show(other)),
        Err(_) => format!("{name} unreadable"),
    }
}

/// A row being decoded, and how to name it in errors.
struct Fields<'a, 'r> {
    row: &'a Row<'r>,
    operation: &'static str,
    table: &'static str,
    key: String,
}

impl Fields<'_, '_> {
    fn corrupt(&self, column: &str, problem: impl fmt::Display) -> StoreError {
        StoreError::new(
            self.operation,
            format!(
                "corrupt row in `{}` ({}): column `{column}` {problem}",
                self.table, self.key
            ),
        )
    }

    fn value(&self, index: usize, column: &str) -> Result<ValueRef<'_>, StoreError> {
        self.row
            .get_ref(index)
            .map_err(|e| self.corrupt(column, format_args!("cannot be read: {e}")))
    }

    fn text(&self, index: usize, column: &str) -> Result<String, StoreError> {
        match self.value(index, column)? {
            ValueRef::Text(t) => String::from_utf8(t.to_vec())
                .map_err(|_| self.corrupt(column, "holds text that is not UTF-8")),
            other => Err(self.corrupt(column, format_args!("holds {}, not text", show(other)))),
        }
    }

    fn opt_text(&self, index: usize, column: &str) -> Result<Option<String>, StoreError> {
        match self.value(index, column)? {
            ValueRef::Null => Ok(None),
            _ => self.text(index, column).map(Some),
        }
    }

    fn uint<T: TryFrom<i64>>(&self, index: usize, column: &str) -> Result<T, StoreError> {
        match self.value(index, column)? {
            ValueRef::Integer(n) => T::try_from(n).map_err(|_| {
                self.corrupt(column, format_args!("holds {n}, which is out of range"))
            }),
            other => Err(self.corrupt(
                column,
                format_args!("holds {}, not an integer", show(other)),
            )),
        }
    }

    fn json<T: DeserializeOwned>(&self, index: usize, column: &str) -> Result<T, StoreError> {
        let text = self.text(index, column)?;
        serde_json::from_str(&text).map_err(|e| {
            self.corrupt(
                column,
                format_args!("holds `{}`, which does not decode: {e}", clip(&text)),
            )
        })
    }

    fn opt_json<T: DeserializeOwned>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.value(index, column)? {
            ValueRef::Null => Ok(None),
            _ => self.json(index, column).map(Some),
        }
    }
}

/// A stored value, for error messages.
fn show(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) => format!("`{}`", clip(&String::from_utf8_lossy(t))),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// At most 100 characters of `s`, for error messages.
fn clip(s: &str) -> String {
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Values and errors

/// A `u64` as SQLite stores it: saturated at `i64::MAX`.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn json(value: &Value) -> String {
    value.to_string()
}

/// Whether trying again may help: the database was busy or locked.
fn is_retryable(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// A SQLite error of `operation` about `context` (`run `x``, ...).
fn store_error(
    operation: &'static str,
    context: impl Into<String>,
    e: rusqlite::Error,
) -> StoreError {
    StoreError::with_source(
        operation,
        is_retryable(&e),
        Context {
            context: context.into(),
            source: e,
        },
    )
}

/// An error with what it was about.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
struct Context<E: std::error::Error + 'static> {
    context: String,
    #[source]
    source: E,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_are_retryable() {
        let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        assert!(is_retryable(&failure(rusqlite::ffi::SQLITE_BUSY)));
        assert!(is_retryable(&failure(rusqlite::ffi::SQLITE_LOCKED)));
        assert!(!is_retryable(&failure(rusqlite::ffi::SQLITE_CORRUPT)));
        assert!(!is_retryable(&rusqlite::Error::QueryReturnedNoRows));
        let e = store_error(COMMIT, "run `r`", failure(rusqlite::ffi::SQLITE_BUSY));
        assert!(e.is_retryable());
        assert_eq!(e.operation(), COMMIT);
        assert!(e.to_string().contains("run `r`"), "{e}");
    }

    #[test]
    fn the_unfinished_statuses_are_those_the_index_lists() {
        for status in WorkflowStatus::ALL {
            let listed = !status.is_finished();
            let quoted = format!("'{}'", status.as_str());
            assert_eq!(SELECT_UNFINISHED.contains(&quoted), listed, "{status:?}");
            assert_eq!(
                schema::MIGRATIONS[0].contains(&quoted),
                listed,
                "{status:?}"
            );
        }
    }

    #[test]
    fn large_integers_saturate() {
        assert_eq!(int(5), 5);
        assert_eq!(int(u64::MAX), i64::MAX);
    }

    #[test]
    fn clip_keeps_short_strings_and_cuts_long_ones() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(150);
        assert_eq!(clip(&long).chars().count(), 101);
    }

    #[test]
    fn lock_path_is_a_sibling() {
        assert_eq!(
            lock_path(Path::new("/tmp/x/reprise.db")),
            PathBuf::from("/tmp/x/reprise.db-lock")
        );
    }
}
