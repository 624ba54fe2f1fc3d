//! The PostgreSQL store: many worker processes on many hosts share one
//! database.
//!
//! The tables are those of the SQLite store (`schema.rs`), plus `owner`,
//! `lease_until` and `token` on runs and tasks, and a sequence of tokens.
//! Connections come from a `deadpool-postgres` pool; one more connection,
//! outside the pool, listens for notifications (`listen.rs`).
//!
//! # Claims
//!
//! [`Store::claim_runs`] and [`Store::claim_tasks`] are one statement each:
//! a subquery picks the candidate rows, oldest (or earliest due) first, with
//! `FOR UPDATE SKIP LOCKED`, and an `UPDATE … WHERE key IN (subquery)
//! RETURNING` takes them. A row another claimer has locked is skipped, and
//! one that changed under the claim (it was taken meanwhile) fails its
//! re-check and is dropped: either way the `LIMIT` goes on to the next
//! candidate, so a claim that loses a race on one row takes another rather
//! than reporting no work. Every claim that takes a row gives it the next
//! value of the `reprise_tokens` sequence as its token, so a token is never
//! given twice. `claim_runs` then reads the claimed workflows' inbox and the
//! taken runs' tasks in the same transaction.
//!
//! # Fencing
//!
//! Every write of claimed work checks, in the transaction that writes, that
//! the row still has the writer's token: a step locks its run row
//! (`SELECT … FOR UPDATE`) and compares the token and the history length; a
//! task write updates `WHERE token = $token`. A stale writer gets a fenced
//! [`StoreError`] and writes nothing. The steps of one
//! [`Store::commit_steps`] share one transaction, each under its own
//! `SAVEPOINT` (a failed step is rolled back alone), and are written in
//! `run_id` order so that two workers' group commits lock rows in the same
//! order and never deadlock. Leases (`renew`, `release`) lock rows in the
//! same order.
//!
//! # Clock
//!
//! Every lease and due-time comparison uses the database's clock,
//! `clock_timestamp()` in Unix milliseconds, never a worker's:
//! [`Store::renew`] returns it so that workers agree on due times. Times the
//! engine writes (`created_ms`, `updated_ms`, `due_ms`) are stored as given.
//!
//! # Notifications
//!
//! Writes that make work claimable (a message, a new run without owner, a
//! released lease) `pg_notify('reprise_work')`, steps that end a run
//! `pg_notify('reprise_done')` — after their commit, coalesced, from a task
//! of their own (`notify.rs`): PostgreSQL commits notifying transactions one
//! at a time, so a notify inside each write would serialise them.
//! [`Store::notifications`] hands out counters that a listening task bumps.
//! See `listen.rs`.
//!
//! # Migrations
//!
//! Versioned as in SQLite (`reprise_meta.schema_version`), applied in one
//! transaction under an advisory lock, so that many processes may start at
//! once. The version is read before anything is written: a process that
//! refuses the database (written by a newer reprise, or another
//! application's) changes nothing in it. See `schema.rs`.
//!
//! # Connection loss
//!
//! A lost connection is never fatal. Its errors (a closed connection, an
//! I/O error, SQLSTATE class `08`, `57P01` admin shutdown, and the
//! transient `40001` serialization failure and `40P01` deadlock) are
//! retryable [`StoreError`]s; the pool drops the broken connection. Reads and
//! the idempotent operations (claims, `renew`, `release`, `create_workflow`)
//! are retried here, up to three times after 50, 100 and 200 ms. Other writes
//! (`commit_steps`, `complete_task`, `enqueue`, `retry_task`,
//! `record_heartbeat`) return the error: whether they were written is for
//! the caller to find out.
//!
//! # Corrupt rows
//!
//! As in SQLite: a row this code cannot decode is a non-retryable
//! [`StoreError`] naming the table, the row's key, the column and the value.
//! Operations on one run or workflow return it; listings of every
//! workflow's rows (`unfinished_runs`, `tasks(None)`, `inbox`) and the
//! claims skip the row with a `tracing::error!`.
//!
//! Integers are stored as signed 64-bit integers: a `u64` above `i64::MAX`
//! is stored as `i64::MAX`. The password of the URL never appears in an
//! error, a log line or a `Debug` output.

/// The writes of a group commit, a statement per kind.
mod batch;
/// A group commit: checks, writes, wake-ups.
mod commit;
/// Error messages and the errors of the server and the pool.
mod errors;
/// Wake-ups by `LISTEN`/`NOTIFY`.
mod listen;
/// Sending wake-ups, after commits, coalesced.
mod notify;
/// The transaction of each operation, one attempt each.
mod ops;
/// Decoding rows, and how values are stored.
mod rows;
/// Schedules: their rows and the compare-and-set of a tick.
mod schedules;
/// The schema and its migrations.
mod schema;
/// Keeping the password out of messages.
mod secrets;
/// Slots of activities' limits.
mod slots;
/// The statements, and how they are run.
mod sql;
#[cfg(test)]
/// Test databases.
pub(crate) mod testing;
#[cfg(test)]
/// Tests against a real server.
mod tests;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::Value;
use tokio_postgres::NoTls;

use super::{
    ClaimFilter, ClaimedRun, Created, Enqueued, HistoryRows, InboxItem, InboxRecord, Lease,
    ListQuery, ListedRun, NewWorkflow, Notifications, Release, RunRecord, SlotGrant, SlotRequest,
    StepCommit, Store, Task, TaskDone, TaskRetry, Token, WorkflowStatus,
};
use crate::definition::BoxFuture;
use crate::error::{Error, StoreError};
use errors::{connect_error, describe, pool_error, store_error};
use listen::Listener;
use ops::{task_fenced, task_token};
use rows::{decode_inbox_rows, decode_run, decode_task, int, json, run_fields, span};
use secrets::{redact, scrub, url_secrets};
use sql::{
    execute, query, query_opt, HEARTBEAT_SQL, SELECT_ALL_TASKS, SELECT_INBOX, SELECT_LATEST_RUN,
    SELECT_LISTED, SELECT_RUN_TASKS, SELECT_UNFINISHED, SELECT_WORKFLOW_RUNS,
};

/// The operations, as errors name them.
const OPEN: &str = "opening the PostgreSQL database";
use crate::store::operation::*;

/// The schema version this code reads and writes.
#[cfg(test)]
pub(crate) const SCHEMA_VERSION: usize = schema::LATEST_VERSION;

/// The default number of pooled connections.
const DEFAULT_POOL_SIZE: usize = 16;
/// How long connecting may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits before the retries of a retryable failure (reads and idempotent writes).
const RETRY_BACKOFF_MS: [u64; 3] = [50, 100, 200];

/// How to reach the PostgreSQL database.
#[derive(Clone)]
pub(crate) struct PostgresConfig {
    /// `postgres://user:password@host:port/dbname?options`, or libpq's
    /// `key=value` form.
    pub(crate) url: String,
    /// Most connections the pool opens (one more listens for notifications).
    pub(crate) pool_size: usize,
}

impl PostgresConfig {
    /// The database at `url`, with a pool of 16 connections.
    pub(crate) fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &redact(&self.url))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// The database a store talks to, as error messages and logs name it:
/// host, port, database and user, never the password.
#[derive(Clone)]
pub(super) struct Target {
    host: String,
    port: u16,
    dbname: String,
    user: String,
    /// The password as written in the URL and decoded, to scrub from the
    /// messages of errors that might quote it.
    secrets: Arc<[String]>,
}

impl Target {
    fn new(config: &tokio_postgres::Config, mut secrets: Vec<String>) -> Self {
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
            None => match config.get_hostaddrs().first() {
                Some(addr) => addr.to_string(),
                None => "(no host)".to_owned(),
            },
        };
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        let user = config.get_user().unwrap_or("(the default user)").to_owned();
        Self {
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
            dbname: config.get_dbname().unwrap_or(&user).to_owned(),
            user,
            secrets: secrets.into(),
        }
    }

    /// `host:port`.
    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Strings that must not appear in messages.
    pub(super) fn secrets(&self) -> &[String] {
        &self.secrets
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PostgreSQL database `{}` at {}:{}",
            self.dbname, self.host, self.port
        )
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The PostgreSQL store. See the module documentation.
pub(crate) struct PostgresStore {
    pool: Pool,
    target: Target,
    /// Ends its task when the store is dropped.
    listener: Listener,
    /// Sends the wake-ups of this process's writes. Ends with the store.
    notifier: notify::Notifier,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("host", &self.target.host)
            .field("port", &self.target.port)
            .field("dbname", &self.target.dbname)
            .field("user", &self.target.user)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database, checks its schema and migrates it if
    /// needed, and starts listening for notifications.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the URL does not parse, the server cannot be
    /// reached or refuses the user, or the user lacks the rights;
    /// [`Error::NotADatabase`] if the database is another application's,
    /// [`Error::NewerSchema`] if it was written by a newer reprise (nothing
    /// in it is changed then); [`Error::Store`] if the server fails
    /// otherwise.
    pub(crate) async fn open(config: &PostgresConfig) -> Result<PostgresStore, Error> {
        let url_secrets = url_secrets(&config.url);
        let mut pg: tokio_postgres::Config = config.url.parse().map_err(|e| {
            Error::Config(format!(
                "invalid PostgreSQL URL: {}",
                scrub(&describe(&e), &url_secrets)
            ))
        })?;
        if config.pool_size == 0 {
            return Err(Error::Config(
                "the PostgreSQL connection pool needs a size of at least 1".to_owned(),
            ));
        }
        let target = Target::new(&pg, url_secrets);
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("reprise");
        }
        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Config(format!("cannot make a PostgreSQL connection pool: {e}")))?;
        let mut client = pool.get().await.map_err(|e| connect_error(&target, e))?;
        schema::prepare(&mut client, &target).await?;
        drop(client);
        let listener = Listener::start(pg, target.clone())
            .await
            .map_err(|e| {
                Error::Config(format!(
                    "cannot connect to PostgreSQL at {} to listen for notifications: {} (database `{}`, user `{}`)",
                    target.address(),
                    e.describe(&target),
                    target.dbname,
                    target.user
                ))
            })?;
        tracing::debug!(database = %target, user = %target.user, "opened the PostgreSQL store");
        Ok(PostgresStore {
            notifier: notify::Notifier::start(pool.clone()),
            pool,
            target,
            listener,
        })
    }

    /// A pooled connection.
    async fn client(
        &self,
        operation: &'static str,
    ) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| pool_error(operation, e))
    }
}

/// Runs `attempt` until it succeeds, fails for good, or failed retryably
/// after every wait of [`RETRY_BACKOFF_MS`].
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut waits = RETRY_BACKOFF_MS.iter();
    loop {
        match attempt().await {
            Err(e) if e.is_retryable() => match waits.next() {
                Some(&ms) => {
                    tracing::debug!(error = %e, retry_in_ms = ms, "retrying a PostgreSQL operation");
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                None => return Err(e),
            },
            result => return result,
        }
    }
}

impl Store for PostgresStore {
    fn create_workflow(&self, new: NewWorkflow) -> BoxFuture<'_, Result<Created, StoreError>> {
        Box::pin(async move { retrying(|| self.create_once(&new)).await })
    }

    fn commit_steps(&self, steps: Vec<StepCommit>) -> BoxFuture<'_, Vec<Result<(), StoreError>>> {
        Box::pin(async move {
            if steps.is_empty() {
                return Vec::new();
            }
            match self.commit_batch(&steps).await {
                Ok(results) => results,
                Err(abort) => {
                    tracing::error!(error = %abort.message, steps = steps.len(), "a commit of the PostgreSQL store failed");
                    steps.iter().map(|_| Err(abort.error(COMMIT))).collect()
                }
            }
        })
    }

    fn retry_task(&self, retry: TaskRetry) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let context = || format!("task {} of run `{}`", retry.seq, retry.run_id);
            let sql = |e| store_error(RETRY, context(), e);
            let client = self.client(RETRY).await?;
            let updated = execute(
                &client,
                "UPDATE tasks SET attempt = $4, due_ms = $5, last_error = $6
                 WHERE run_id = $1 AND seq = $2 AND token = $3",
                &[
                    &retry.run_id,
                    &i64::from(retry.seq),
                    &int(retry.token),
                    &i64::from(retry.next_attempt),
                    &int(retry.due_ms),
                    &retry.last_error,
                ],
            )
            .await
            .map_err(sql)?;
            if updated > 0 {
                return Ok(());
            }
            // Gone (its completion is recorded already) is not an error;
            // held under another token is.
            match task_token(&client, RETRY, &retry.run_id, retry.seq).await? {
                None => Ok(()),
                Some(token) => Err(task_fenced(
                    RETRY,
                    &retry.run_id,
                    retry.seq,
                    token,
                    retry.token,
                )),
            }
        })
    }

    fn complete_task(&self, done: TaskDone) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let context = || format!("task {} of run `{}`", done.seq, done.run_id);
            let sql = |e| store_error(COMPLETE, context(), e);
            let mut client = self.client(COMPLETE).await?;
            let tx = client.transaction().await.map_err(sql)?;
            let deleted = execute(
                &tx,
                "DELETE FROM tasks WHERE run_id = $1 AND seq = $2 AND token = $3",
                &[&done.run_id, &i64::from(done.seq), &int(done.token)],
            )
            .await
            .map_err(sql)?;
            if deleted == 0 {
                let token = task_token(&tx, COMPLETE, &done.run_id, done.seq).await?;
                tx.rollback().await.map_err(sql)?;
                return match token {
                    None => Ok(()),
                    Some(token) => Err(task_fenced(
                        COMPLETE,
                        &done.run_id,
                        done.seq,
                        token,
                        done.token,
                    )),
                };
            }
            let (kind, payload) = InboxItem::Completed {
                seq: done.seq,
                result: done.result.clone(),
            }
            .encode();
            execute(
                &tx,
                "INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES ($1, $2, $3, $4)",
                &[&done.workflow_id, &kind, &json(&payload), &int(done.now_ms)],
            )
            .await
            .map_err(sql)?;
            tx.commit().await.map_err(sql)?;
            self.notifier.work();
            Ok(())
        })
    }

    fn claim_runs<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<ClaimedRun>, StoreError>> {
        Box::pin(async move {
            if filter.limit == 0 || filter.names.is_empty() {
                return Ok(Vec::new());
            }
            retrying(|| self.claim_runs_once(lease, filter)).await
        })
    }

    fn claim_tasks<'a>(
        &'a self,
        lease: &'a Lease,
        filter: ClaimFilter<'a>,
    ) -> BoxFuture<'a, Result<Vec<Task>, StoreError>> {
        Box::pin(async move {
            if filter.limit == 0 || filter.names.is_empty() {
                return Ok(Vec::new());
            }
            retrying(|| self.claim_tasks_once(lease, filter)).await
        })
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(async move { retrying(|| self.renew_once(lease)).await.map(Some) })
    }

    fn release(&self, release: Release) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { retrying(|| self.release_once(&release)).await })
    }

    fn load_run(
        &self,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<(RunRecord, HistoryRows)>, StoreError>> {
        let run_id = run_id.to_owned();
        Box::pin(async move { retrying(|| self.load_run_once(&run_id)).await })
    }

    fn latest_run(
        &self,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<RunRecord>, StoreError>> {
        let workflow_id = workflow_id.to_owned();
        Box::pin(async move {
            retrying(|| async {
                let client = self.client(LATEST_RUN).await?;
                let row = query_opt(&client, SELECT_LATEST_RUN, &[&workflow_id])
                    .await
                    .map_err(|e| store_error(LATEST_RUN, format!("workflow `{workflow_id}`"), e))?;
                row.map(|row| decode_run(LATEST_RUN, &row)).transpose()
            })
            .await
        })
    }

    fn unfinished_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>> {
        Box::pin(async move {
            retrying(|| async {
                let client = self.client(UNFINISHED_RUNS).await?;
                let rows = query(&client, SELECT_UNFINISHED, &[])
                    .await
                    .map_err(|e| store_error(UNFINISHED_RUNS, "the `runs` table", e))?;
                Ok(rows
                    .iter()
                    .filter_map(|row| match decode_run(UNFINISHED_RUNS, row) {
                        Ok(run) => Some(run),
                        Err(e) => {
                            tracing::error!(error = %e, "skipping a corrupt run");
                            None
                        }
                    })
                    .collect())
            })
            .await
        })
    }

    fn tasks(&self, run_id: Option<&str>) -> BoxFuture<'_, Result<Vec<Task>, StoreError>> {
        let run_id = run_id.map(str::to_owned);
        Box::pin(async move {
            retrying(|| async {
                let context = || match &run_id {
                    Some(run_id) => format!("tasks of run `{run_id}`"),
                    None => "the `tasks` table".to_owned(),
                };
                let client = self.client(TASKS).await?;
                let rows = match &run_id {
                    Some(run_id) => query(&client, SELECT_RUN_TASKS, &[run_id]).await,
                    None => query(&client, SELECT_ALL_TASKS, &[]).await,
                }
                .map_err(|e| store_error(TASKS, context(), e))?;
                let mut tasks = Vec::with_capacity(rows.len());
                for row in &rows {
                    match decode_task(TASKS, row) {
                        Ok(task) => tasks.push(task),
                        // Listing every run's tasks: skip, see the module docs.
                        Err(e) if run_id.is_none() => {
                            tracing::error!(error = %e, "skipping a corrupt task");
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(tasks)
            })
            .await
        })
    }

    fn notifications(&self) -> Option<Notifications> {
        Some(Notifications {
            work: self.listener.work.clone(),
            done: self.listener.done.clone(),
            slots: self.listener.slots.clone(),
        })
    }

    fn acquire_slot(&self, request: SlotRequest) -> BoxFuture<'_, Result<SlotGrant, StoreError>> {
        Box::pin(async move { retrying(|| self.acquire_slot_once(&request)).await })
    }

    fn release_slot(&self, run_id: &str, seq: u32) -> BoxFuture<'_, Result<(), StoreError>> {
        let run_id = run_id.to_owned();
        Box::pin(async move { retrying(|| self.release_slot_once(&run_id, seq)).await })
    }

    fn enqueue(
        &self,
        workflow_id: &str,
        item: InboxItem,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Enqueued, StoreError>> {
        let workflow_id = workflow_id.to_owned();
        Box::pin(async move { self.enqueue_once(&workflow_id, &item, now_ms).await })
    }

    fn inbox(&self) -> BoxFuture<'_, Result<Vec<InboxRecord>, StoreError>> {
        Box::pin(async move {
            retrying(|| async {
                let client = self.client(INBOX).await?;
                let rows = query(&client, SELECT_INBOX, &[])
                    .await
                    .map_err(|e| store_error(INBOX, "the `inbox` table", e))?;
                Ok(decode_inbox_rows(INBOX, &rows))
            })
            .await
        })
    }

    fn list_runs(&self, list: ListQuery) -> BoxFuture<'_, Result<Vec<ListedRun>, StoreError>> {
        Box::pin(async move {
            retrying(|| async {
                let client = self.client(LIST).await?;
                let status = list.status.map(WorkflowStatus::as_str);
                let limit = i64::try_from(list.limit).unwrap_or(i64::MAX);
                let rows = query(
                    &client,
                    SELECT_LISTED,
                    &[
                        &status,
                        &list.name.as_deref(),
                        &int(list.since_ms.unwrap_or(0)),
                        &int(list.until_ms.unwrap_or(u64::MAX)),
                        &int(list.before.unwrap_or(u64::MAX)),
                        &limit,
                    ],
                )
                .await
                .map_err(|e| store_error(LIST, "the `runs` table", e))?;
                Ok(rows
                    .iter()
                    .filter_map(|row| {
                        let listed = decode_run(LIST, row).and_then(|record| {
                            let position = run_fields(LIST, row).uint(9, "seq")?;
                            Ok(ListedRun { position, record })
                        });
                        listed
                            .inspect_err(|e| tracing::error!(error = %e, "skipping a corrupt run"))
                            .ok()
                    })
                    .collect())
            })
            .await
        })
    }

    fn runs(&self, workflow_id: &str) -> BoxFuture<'_, Result<Vec<RunRecord>, StoreError>> {
        let workflow_id = workflow_id.to_owned();
        Box::pin(async move {
            retrying(|| async {
                let client = self.client(RUNS).await?;
                let rows = query(&client, SELECT_WORKFLOW_RUNS, &[&workflow_id])
                    .await
                    .map_err(|e| store_error(RUNS, format!("workflow `{workflow_id}`"), e))?;
                rows.iter().map(|row| decode_run(RUNS, row)).collect()
            })
            .await
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
        Box::pin(async move {
            let client = self.client(HEARTBEAT).await?;
            let lease_ms = span(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX));
            let updated = execute(
                &client,
                HEARTBEAT_SQL,
                &[
                    &run_id,
                    &i64::from(seq),
                    &int(token),
                    &json(&details),
                    &lease_ms,
                ],
            )
            .await
            .map_err(|e| store_error(HEARTBEAT, format!("task {seq} of run `{run_id}`"), e))?;
            if updated == 0 {
                return Err(StoreError::fenced(
                    HEARTBEAT,
                    format!(
                        "task {seq} of run `{run_id}` is gone or held by another worker now (the attempt has token {token})"
                    ),
                ));
            }
            Ok(())
        })
    }
}
