//! The writer: one thread owns the writing connection's batches, running
//! every request queued at once in one transaction (group commit), each
//! under its own savepoint. See the parent module's `# Writes`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::errors::is_retryable;
use super::lock::WorkerLock;
use super::write::apply_step;
use super::COMMIT;
use crate::error::StoreError;
use crate::store::StepCommit;

/// Most requests the writer puts in one transaction.
const MAX_BATCH: usize = 1024;

/// Work for the writing connection.
pub(super) enum Request {
    /// Workflow steps, from [`Store::commit_steps`](crate::store::Store::commit_steps).
    Commit {
        steps: Vec<StepCommit>,
        reply: oneshot::Sender<Vec<Result<(), StoreError>>>,
    },
    /// Any other write, made by [`SqliteStore::submit`](super::SqliteStore::submit).
    Job(Job),
}

/// A write run in a batch's transaction; it returns how to answer its
/// caller once the transaction ended (with the abort, if it failed).
pub(super) type Job = Box<dyn FnOnce(&Connection, &AtomicU64, &mut Option<Abort>) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Option<&Abort>) + Send>;

/// Why a whole transaction failed.
#[derive(Debug, Clone)]
pub(super) struct Abort {
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

    pub(super) fn error(&self, operation: &'static str) -> StoreError {
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

pub(super) fn run_writer(
    conn: &Mutex<Option<Connection>>,
    tokens: &AtomicU64,
    queue: mpsc::Receiver<Request>,
    lock: Option<WorkerLock>,
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
    // Close the database before releasing the worker lock: a worker that
    // starts next finds every write of this one committed.
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
pub(super) fn write_batch(conn: &Connection, tokens: &AtomicU64, batch: Vec<Request>) {
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
pub(super) fn isolated<T>(
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
