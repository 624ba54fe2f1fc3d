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
//! `pg_notify('reprise_done', workflow_id)`, in their transaction.
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

/// Wake-ups by `LISTEN`/`NOTIFY`.
mod listen;
/// The schema and its migrations.
mod schema;
#[cfg(test)]
/// Test databases.
pub(crate) mod testing;
#[cfg(test)]
/// Tests against a real server.
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

use super::{
    ClaimFilter, ClaimedRun, Created, Enqueued, HistoryRows, InboxItem, InboxRecord, Lease,
    NewWorkflow, Notifications, Release, RunRecord, StepCommit, Store, Task, TaskDone, TaskKind,
    TaskRetry, Token, WorkflowStatus,
};
use crate::definition::BoxFuture;
use crate::error::{Error, StoreError};
use listen::Listener;

/// The operations, as errors name them.
const OPEN: &str = "opening the PostgreSQL database";
const CREATE: &str = "creating a workflow";
const COMMIT: &str = "committing a workflow step";
const RETRY: &str = "recording a failed attempt";
const COMPLETE: &str = "recording the completion of an activity";
const CLAIM_RUNS: &str = "claiming runs";
const CLAIM_TASKS: &str = "claiming activity tasks";
const RENEW: &str = "renewing leases";
const RELEASE: &str = "releasing leases";
const LOAD_RUN: &str = "loading a run";
const LATEST_RUN: &str = "loading the latest run of a workflow";
const UNFINISHED_RUNS: &str = "listing unfinished runs";
const TASKS: &str = "listing tasks";
const ENQUEUE: &str = "adding a message to a workflow's inbox";
const INBOX: &str = "listing inbox messages";
const RUNS: &str = "listing the runs of a workflow";
const HEARTBEAT: &str = "recording heartbeat details";

/// The schema version this code reads and writes.
#[cfg(test)]
pub(crate) const SCHEMA_VERSION: usize = schema::LATEST_VERSION;

/// The default number of pooled connections.
const DEFAULT_POOL_SIZE: usize = 16;
/// How long connecting may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits before the retries of a retryable failure (reads and idempotent writes).
const RETRY_BACKOFF_MS: [u64; 3] = [50, 100, 200];
/// Longest lease or horizon added to the database's now (about 35,000
/// years), so that the sum never overflows a `BIGINT`.
const MAX_SPAN_MS: u64 = 1 << 50;
/// How often `enqueue` looks for a workflow's latest run again when the one
/// it locked turned out to have continued as new meanwhile.
const ENQUEUE_ATTEMPTS: usize = 4;

/// The database's clock, Unix milliseconds.
macro_rules! now_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

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
    /// reached or refuses the user, the user lacks the rights, or the
    /// database is another application's or was written by a newer reprise
    /// (nothing in it is changed then); [`Error::Store`] if the server fails
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

// ---------------------------------------------------------------------------
// Statements

/// The columns `decode_run` reads, in its order.
macro_rules! run_columns {
    () => {
        "workflow_id, run_id, name, status, result, error, progress, created_ms, updated_ms"
    };
}

/// The columns `decode_task` reads, in its order.
macro_rules! task_columns {
    () => {
        "workflow_id, run_id, seq, kind, name, input, options, attempt, scheduled_ms, due_ms, last_error, details, token"
    };
}

/// The latest run of a workflow ($1), with its token.
const SELECT_LATEST_RUN: &str = concat!(
    "SELECT ",
    run_columns!(),
    ", token FROM runs WHERE run_id = (SELECT latest_run_id FROM workflows WHERE workflow_id = $1)"
);
/// A run ($1) and its history's indexes and events, in one snapshot.
const SELECT_RUN_WITH_HISTORY: &str = concat!(
    "SELECT ",
    run_columns!(),
    ", ARRAY(SELECT idx FROM history h WHERE h.run_id = runs.run_id ORDER BY idx),
       ARRAY(SELECT event FROM history h WHERE h.run_id = runs.run_id ORDER BY idx)
     FROM runs WHERE run_id = $1"
);
/// The unfinished runs, oldest first.
const SELECT_UNFINISHED: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE status IN ('running', 'blocked') ORDER BY seq"
);
/// The runs of a workflow ($1), oldest first.
const SELECT_WORKFLOW_RUNS: &str = concat!(
    "SELECT ",
    run_columns!(),
    " FROM runs WHERE workflow_id = $1 ORDER BY seq"
);
/// The tasks of a run ($1).
const SELECT_RUN_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = $1 ORDER BY seq"
);
/// Every task, by run then `seq`.
const SELECT_ALL_TASKS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks ORDER BY run_id, seq"
);
/// The tasks of the runs $1 (an array).
const SELECT_TASKS_OF_RUNS: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE run_id = ANY($1) ORDER BY run_id, seq"
);
/// Every message, in arrival order.
const SELECT_INBOX: &str = "SELECT id, workflow_id, kind, payload FROM inbox ORDER BY id";
/// The messages of the workflows $1 (an array), in arrival order.
const SELECT_INBOX_OF_WORKFLOWS: &str =
    "SELECT id, workflow_id, kind, payload FROM inbox WHERE workflow_id = ANY($1) ORDER BY id";

/// `claim_runs`: $1 worker, $2 names, $3 limit, $4 horizon (ms), $5 lease (ms).
///
/// A candidate is an unfinished run of a registered type that nobody holds
/// (or whose holder's lease expired) and that has messages, has never been
/// activated (its history is its `WorkflowStarted` alone), is blocked, or
/// has a timer due within the horizon; the claim gives it to this worker
/// with a fresh token. (This worker's own runs with messages are
/// [`OWN_RUNS_SQL`]'s.)
const CLAIM_RUNS_SQL: &str = concat!(
    "WITH now AS MATERIALIZED (SELECT ",
    now_ms!(),
    " AS ms),
     candidates AS (
        SELECT r.seq, r.owner IS DISTINCT FROM $1 AS taken
        FROM runs r CROSS JOIN now
        WHERE r.status IN ('running', 'blocked')
          AND r.name = ANY($2)
          AND (r.owner IS NULL
               OR (r.owner <> $1 AND (r.lease_until IS NULL OR r.lease_until <= now.ms)))
          AND (r.status = 'blocked'
               OR r.history_len <= 1
               OR EXISTS (SELECT 1 FROM inbox i WHERE i.workflow_id = r.workflow_id)
               OR EXISTS (SELECT 1 FROM tasks t
                          WHERE t.run_id = r.run_id AND t.kind = 'timer'
                            AND t.due_ms <= now.ms + $4))
        ORDER BY r.seq
        LIMIT $3
        FOR UPDATE OF r SKIP LOCKED
     )
     UPDATE runs r
     SET owner = $1,
         lease_until = now.ms + $5,
         token = CASE WHEN c.taken THEN nextval('reprise_tokens') ELSE r.token END
     FROM candidates c CROSS JOIN now
     WHERE r.seq = c.seq
     RETURNING r.workflow_id, r.run_id, r.name, r.status, r.result, r.error, r.progress,
               r.created_ms, r.updated_ms, r.token, c.taken, r.seq"
);

/// `claim_runs`, the runs this worker holds that have messages: $1 worker,
/// $2 names, $3 limit. A plain read: the worker's own steps may hold these
/// rows' locks at this instant, and skipping them (as `SKIP LOCKED` would)
/// would leave their messages until the next poll. Their token stays, their
/// lease is renewed by `renew`.
const OWN_RUNS_SQL: &str = "
    SELECT r.workflow_id, r.run_id, r.name, r.status, r.result, r.error, r.progress,
           r.created_ms, r.updated_ms, r.token, false AS taken, r.seq
    FROM runs r
    WHERE r.owner = $1
      AND r.status IN ('running', 'blocked')
      AND r.name = ANY($2)
      AND EXISTS (SELECT 1 FROM inbox i WHERE i.workflow_id = r.workflow_id)
    ORDER BY r.seq
    LIMIT $3";

/// `claim_tasks`: $1 worker, $2 names, $3 limit, $4 horizon (ms), $5 lease (ms).
const CLAIM_TASKS_SQL: &str = concat!(
    "WITH now AS MATERIALIZED (SELECT ",
    now_ms!(),
    " AS ms),
     candidates AS (
        SELECT t.run_id, t.seq
        FROM tasks t JOIN runs r ON r.run_id = t.run_id CROSS JOIN now
        WHERE t.kind = 'activity'
          AND t.name = ANY($2)
          AND r.status = 'running'
          AND (t.owner IS NULL OR t.lease_until IS NULL OR t.lease_until <= now.ms)
          AND t.due_ms <= now.ms + $4
        ORDER BY t.due_ms, t.run_id, t.seq
        LIMIT $3
        FOR UPDATE OF t SKIP LOCKED
     )
     UPDATE tasks t
     SET owner = $1, lease_until = now.ms + $5, token = nextval('reprise_tokens')
     FROM candidates c CROSS JOIN now
     WHERE t.run_id = c.run_id AND t.seq = c.seq
     RETURNING t.workflow_id, t.run_id, t.seq, t.kind, t.name, t.input, t.options, t.attempt,
               t.scheduled_ms, t.due_ms, t.last_error, t.details, t.token"
);

/// `renew`, runs: $1 worker, $2 lease (ms). Locks in `run_id` order, as
/// commits do. Returns the database's now.
const RENEW_RUNS: &str = concat!(
    "WITH now AS MATERIALIZED (SELECT ",
    now_ms!(),
    " AS ms),
     held AS (SELECT run_id FROM runs WHERE owner = $1 ORDER BY run_id FOR UPDATE),
     renewed AS (
        UPDATE runs SET lease_until = (SELECT ms FROM now) + $2
        WHERE run_id IN (SELECT run_id FROM held) AND owner = $1
        RETURNING 1
     )
     SELECT ms FROM now"
);

/// `renew`, tasks: $1 worker, $2 lease (ms).
const RENEW_TASKS: &str = concat!(
    "UPDATE tasks SET lease_until = ",
    now_ms!(),
    " + $2
     WHERE (run_id, seq) IN (SELECT run_id, seq FROM tasks WHERE owner = $1
                             ORDER BY run_id, seq FOR UPDATE)
       AND owner = $1"
);

/// `release(Worker)`, runs: $1 worker. Locks in `run_id` order.
const RELEASE_WORKER_RUNS: &str = "UPDATE runs SET owner = NULL, lease_until = NULL
     WHERE run_id IN (SELECT run_id FROM runs WHERE owner = $1 ORDER BY run_id FOR UPDATE)
       AND owner = $1";
/// `release(Worker)`, tasks: $1 worker.
const RELEASE_WORKER_TASKS: &str = "UPDATE tasks SET owner = NULL, lease_until = NULL
     WHERE (run_id, seq) IN (SELECT run_id, seq FROM tasks WHERE owner = $1
                             ORDER BY run_id, seq FOR UPDATE)
       AND owner = $1";
/// `release(Run)`, the run: $1 run, $2 token. Changes nothing unless the
/// token is still the run's.
const RELEASE_RUN: &str = "UPDATE runs SET owner = NULL, lease_until = NULL
     WHERE run_id = $1 AND token = $2";
/// `release(Run)`, the tasks held with it: $1 run, $2 its token (an
/// attempt another worker claimed stays with that worker).
const RELEASE_RUN_TASKS: &str = "UPDATE tasks SET owner = NULL, lease_until = NULL
     WHERE (run_id, seq) IN (SELECT run_id, seq FROM tasks WHERE run_id = $1 AND token = $2
                             ORDER BY seq FOR UPDATE)";

/// Work may be claimable (sent at commit).
const NOTIFY_WORK: &str = "SELECT pg_notify('reprise_work', '')";
/// A run of the workflow $1 ended (sent at commit).
const NOTIFY_DONE: &str = "SELECT pg_notify('reprise_done', $1)";

/// `create_workflow`'s run: $1 run, $2 workflow, $3 name, $4 now (engine's),
/// $5 owner or NULL, $6 lease (ms).
const INSERT_FIRST_RUN: &str = concat!(
    "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                       owner, lease_until, token)
     VALUES ($1, $2, $3, 'running', $4, $4, 1, $5::text,
             CASE WHEN $5::text IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + $6::bigint END,
             CASE WHEN $5::text IS NULL THEN 0 ELSE nextval('reprise_tokens') END)
     RETURNING token"
);

/// A continue-as-new step's run: as [`INSERT_FIRST_RUN`], with $7 the token.
const INSERT_NEXT_RUN: &str = concat!(
    "INSERT INTO runs (run_id, workflow_id, name, status, created_ms, updated_ms, history_len,
                       owner, lease_until, token)
     VALUES ($1, $2, $3, 'running', $4, $4, 1, $5::text,
             CASE WHEN $5::text IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + $6::bigint END, $7)"
);

/// A step's new tasks, one array per column: $1..$12 the columns, $13 the
/// owner or NULL, $14 the lease (ms), $15 the token.
const UPSERT_TASKS: &str = concat!(
    "INSERT INTO tasks (run_id, seq, workflow_id, kind, name, input, options, attempt,
                        scheduled_ms, due_ms, last_error, details, owner, lease_until, token)
     SELECT u.run_id, u.seq, u.workflow_id, u.kind, u.name, u.input, u.options, u.attempt,
            u.scheduled_ms, u.due_ms, u.last_error, u.details, $13::text,
            CASE WHEN $13::text IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + $14::bigint END, $15::bigint
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                 $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])
          AS u(run_id, seq, workflow_id, kind, name, input, options, attempt,
               scheduled_ms, due_ms, last_error, details)
     ON CONFLICT (run_id, seq) DO UPDATE SET
         workflow_id = excluded.workflow_id, kind = excluded.kind, name = excluded.name,
         input = excluded.input, options = excluded.options, attempt = excluded.attempt,
         scheduled_ms = excluded.scheduled_ms, due_ms = excluded.due_ms,
         last_error = excluded.last_error, details = excluded.details,
         owner = excluded.owner, lease_until = excluded.lease_until, token = excluded.token"
);

/// `record_heartbeat`: $1 run, $2 seq, $3 token, $4 details, $5 lease (ms).
const HEARTBEAT_SQL: &str = concat!(
    "UPDATE tasks SET details = $4,
         lease_until = CASE WHEN owner IS NULL THEN NULL ELSE ",
    now_ms!(),
    " + $5 END
     WHERE run_id = $1 AND seq = $2 AND token = $3"
);

/// Prepares (once per connection) and runs a statement returning rows.
async fn query(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query(&statement, params).await
}

/// Prepares (once per connection) and runs a statement returning at most one row.
async fn query_opt(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.query_opt(&statement, params).await
}

/// Prepares (once per connection) and runs a statement; the rows it changed.
async fn execute(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = client.prepare_cached(sql).await?;
    client.execute(&statement, params).await
}

// ---------------------------------------------------------------------------
// The store

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
            execute(&tx, NOTIFY_WORK, &[]).await.map_err(sql)?;
            tx.commit().await.map_err(sql)
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
        })
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

// ---------------------------------------------------------------------------
// Operations, one attempt each

impl PostgresStore {
    /// One attempt of `create_workflow`.
    async fn create_once(&self, new: &NewWorkflow) -> Result<Created, StoreError> {
        let context = || format!("workflow `{}`", new.workflow_id);
        let sql = |e| store_error(CREATE, context(), e);
        let mut client = self.client(CREATE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        let now = int(new.now_ms);
        // A concurrent creation of the same id waits for the other
        // transaction, then finds its row.
        let inserted = execute(
            &tx,
            "INSERT INTO workflows (workflow_id, latest_run_id, name, created_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (workflow_id) DO NOTHING",
            &[&new.workflow_id, &new.run_id, &new.name, &now],
        )
        .await
        .map_err(sql)?;
        if inserted == 0 {
            let row = query_opt(&tx, SELECT_LATEST_RUN, &[&new.workflow_id])
                .await
                .map_err(sql)?;
            tx.rollback().await.map_err(sql)?;
            let Some(row) = row else {
                return Err(StoreError::new(
                    CREATE,
                    format!(
                        "corrupt row in `workflows` (workflow_id `{}`): column `latest_run_id` names no run",
                        clip(&new.workflow_id)
                    ),
                ));
            };
            let record = decode_run(CREATE, &row)?;
            if record.run_id == new.run_id {
                // This very creation, committed by an attempt whose answer
                // was lost with its connection.
                let token = run_fields(CREATE, &row).uint(9, "token")?;
                return Ok(Created::New { token });
            }
            return Ok(Created::Existing(record));
        }
        let owner = new.owner.as_ref().map(|lease| lease.worker.as_str());
        let lease_ms = span(new.owner.as_ref().map_or(0, |lease| lease.duration_ms()));
        let row = query_opt(
            &tx,
            INSERT_FIRST_RUN,
            &[
                &new.run_id,
                &new.workflow_id,
                &new.name,
                &now,
                &owner,
                &lease_ms,
            ],
        )
        .await
        .map_err(sql)?;
        let token = match &row {
            Some(row) => Fields::new(
                row,
                CREATE,
                "runs",
                format!("run_id `{}`", clip(&new.run_id)),
            )
            .uint(0, "token")?,
            None => {
                return Err(StoreError::new(
                    CREATE,
                    format!("{}: the run was not inserted", context()),
                ))
            }
        };
        execute(
            &tx,
            "INSERT INTO history (run_id, idx, event) VALUES ($1, 0, $2)",
            &[&new.run_id, &new.started_event],
        )
        .await
        .map_err(sql)?;
        if owner.is_none() {
            execute(&tx, NOTIFY_WORK, &[]).await.map_err(sql)?;
        }
        tx.commit().await.map_err(sql)?;
        Ok(Created::New { token })
    }

    /// Writes a batch of steps in one transaction; `Err` if the transaction
    /// itself failed (then nothing of the batch was written).
    async fn commit_batch(
        &self,
        steps: &[StepCommit],
    ) -> Result<Vec<Result<(), StoreError>>, Abort> {
        let mut client = self.client(COMMIT).await.map_err(Abort::from)?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| Abort::sql("starting a transaction", &e))?;
        // Rows are locked in `run_id` order by every group commit, so two
        // commits never wait for each other in a cycle.
        let mut order: Vec<usize> = (0..steps.len()).collect();
        order.sort_by(|&a, &b| steps[a].run_id.cmp(&steps[b].run_id));
        let mut results: Vec<Option<Result<(), StoreError>>> = steps.iter().map(|_| None).collect();
        for i in order {
            let step = &steps[i];
            tx.batch_execute("SAVEPOINT step")
                .await
                .map_err(|e| Abort::sql("opening a savepoint", &e))?;
            let result = apply_step(&tx, step).await;
            let closed = match &result {
                Ok(()) => tx.batch_execute("RELEASE SAVEPOINT step").await,
                Err(_) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT step; RELEASE SAVEPOINT step")
                        .await
                }
            };
            if let Err(e) = closed {
                // The connection or the transaction is gone: so is the
                // whole batch. Report the step's own error if it had one.
                return Err(match result {
                    Err(step_error) => Abort {
                        retryable: step_error.is_retryable() || is_retryable(&e),
                        message: step_error.to_string(),
                    },
                    Ok(()) => Abort::sql("closing a savepoint", &e),
                });
            }
            results[i] = Some(result);
        }
        tx.commit()
            .await
            .map_err(|e| Abort::sql("committing", &e))?;
        Ok(results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| Err(StoreError::new(COMMIT, "the step was not written")))
            })
            .collect())
    }

    /// One attempt of `claim_runs`: the claim, then the claimed
    /// workflows' messages and the taken runs' tasks, in one transaction.
    async fn claim_runs_once(
        &self,
        lease: &Lease,
        filter: ClaimFilter<'_>,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        let sql = |e| store_error(CLAIM_RUNS, format!("worker `{}`", lease.worker), e);
        let mut client = self.client(CLAIM_RUNS).await?;
        let tx = client.transaction().await.map_err(sql)?;
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let mut rows = query(&tx, OWN_RUNS_SQL, &[&lease.worker, &filter.names, &limit])
            .await
            .map_err(sql)?;
        let left = limit - i64::try_from(rows.len()).unwrap_or(limit);
        if left > 0 {
            rows.extend(
                query(
                    &tx,
                    CLAIM_RUNS_SQL,
                    &[
                        &lease.worker,
                        &filter.names,
                        &left,
                        &span(filter.horizon_ms),
                        &span(lease.duration_ms()),
                    ],
                )
                .await
                .map_err(sql)?,
            );
        }
        if rows.is_empty() {
            tx.commit().await.map_err(sql)?;
            return Ok(Vec::new());
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let decoded = decode_run(CLAIM_RUNS, row).and_then(|record| {
                let fields = run_fields(CLAIM_RUNS, row);
                let token: Token = fields.uint(9, "token")?;
                let taken: bool = fields.value(10, "taken")?;
                let seq: i64 = fields.value(11, "seq")?;
                Ok((seq, record, token, taken))
            });
            match decoded {
                Ok(run) => claimed.push(run),
                // It stays with this worker, unused, until the worker gives
                // its leases back: claimed again, it would only be logged again.
                Err(e) => tracing::error!(error = %e, "skipping a corrupt run"),
            }
        }
        claimed.sort_by_key(|(seq, ..)| *seq);
        let workflow_ids: Vec<&str> = claimed
            .iter()
            .map(|(_, r, ..)| r.workflow_id.as_str())
            .collect();
        let taken_ids: Vec<&str> = claimed
            .iter()
            .filter(|(_, _, _, taken)| *taken)
            .map(|(_, r, ..)| r.run_id.as_str())
            .collect();
        // Both reads go out at once (the connection pipelines them).
        let inbox_params: [&(dyn ToSql + Sync); 1] = [&workflow_ids];
        let task_params: [&(dyn ToSql + Sync); 1] = [&taken_ids];
        let (inbox_rows, task_rows) = tokio::try_join!(
            query(&tx, SELECT_INBOX_OF_WORKFLOWS, &inbox_params),
            async {
                if taken_ids.is_empty() {
                    Ok(Vec::new())
                } else {
                    query(&tx, SELECT_TASKS_OF_RUNS, &task_params).await
                }
            },
        )
        .map_err(sql)?;
        tx.commit().await.map_err(sql)?;

        let mut inboxes: HashMap<String, Vec<InboxRecord>> = HashMap::new();
        for message in decode_inbox_rows(CLAIM_RUNS, &inbox_rows) {
            inboxes
                .entry(message.workflow_id.clone())
                .or_default()
                .push(message);
        }
        let mut tasks: HashMap<String, Vec<Task>> = HashMap::new();
        for row in &task_rows {
            match decode_task(CLAIM_RUNS, row) {
                Ok(task) => tasks.entry(task.run_id.clone()).or_default().push(task),
                Err(e) => tracing::error!(error = %e, "skipping a corrupt task"),
            }
        }
        Ok(claimed
            .into_iter()
            .map(|(_, record, token, taken)| ClaimedRun {
                inbox: inboxes
                    .get(&record.workflow_id)
                    .cloned()
                    .unwrap_or_default(),
                tasks: if taken {
                    tasks.remove(&record.run_id).unwrap_or_default()
                } else {
                    Vec::new()
                },
                record,
                token,
                taken,
            })
            .collect())
    }

    /// One attempt of `claim_tasks`.
    async fn claim_tasks_once(
        &self,
        lease: &Lease,
        filter: ClaimFilter<'_>,
    ) -> Result<Vec<Task>, StoreError> {
        let client = self.client(CLAIM_TASKS).await?;
        let rows = query(
            &client,
            CLAIM_TASKS_SQL,
            &[
                &lease.worker,
                &filter.names,
                &i64::try_from(filter.limit).unwrap_or(i64::MAX),
                &span(filter.horizon_ms),
                &span(lease.duration_ms()),
            ],
        )
        .await
        .map_err(|e| store_error(CLAIM_TASKS, format!("worker `{}`", lease.worker), e))?;
        let mut tasks: Vec<Task> = rows
            .iter()
            .filter_map(|row| match decode_task(CLAIM_TASKS, row) {
                Ok(task) => Some(task),
                Err(e) => {
                    tracing::error!(error = %e, "skipping a corrupt task");
                    None
                }
            })
            .collect();
        tasks.sort_by(|a, b| (a.due_ms, &a.run_id, a.seq).cmp(&(b.due_ms, &b.run_id, b.seq)));
        Ok(tasks)
    }

    /// One attempt of `renew`; the database's now.
    async fn renew_once(&self, lease: &Lease) -> Result<u64, StoreError> {
        let sql = |e| store_error(RENEW, format!("worker `{}`", lease.worker), e);
        let client = self.client(RENEW).await?;
        let lease_ms = span(lease.duration_ms());
        let runs = client.prepare_cached(RENEW_RUNS).await.map_err(sql)?;
        let tasks = client.prepare_cached(RENEW_TASKS).await.map_err(sql)?;
        // Two statements, each its own transaction, sent at once: the runs'
        // locks are not held while the tasks' are taken.
        let params: [&(dyn ToSql + Sync); 2] = [&lease.worker, &lease_ms];
        let (row, _) = tokio::try_join!(
            client.query_one(&runs, &params),
            client.execute(&tasks, &params),
        )
        .map_err(sql)?;
        let now: i64 = row.try_get(0).map_err(sql)?;
        u64::try_from(now).map_err(|_| {
            StoreError::new(
                RENEW,
                format!("the database's clock reads {now} ms, before 1970"),
            )
        })
    }

    /// One attempt of `release`.
    async fn release_once(&self, release: &Release) -> Result<(), StoreError> {
        let context = || match release {
            Release::Worker(worker) => format!("worker `{worker}`"),
            Release::Run { run_id, .. } => format!("run `{run_id}`"),
        };
        let sql = |e| store_error(RELEASE, context(), e);
        let mut client = self.client(RELEASE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        match release {
            Release::Worker(worker) => {
                execute(&tx, RELEASE_WORKER_RUNS, &[worker])
                    .await
                    .map_err(sql)?;
                execute(&tx, RELEASE_WORKER_TASKS, &[worker])
                    .await
                    .map_err(sql)?;
            }
            Release::Run { run_id, token } => {
                let released = execute(&tx, RELEASE_RUN, &[run_id, &int(*token)])
                    .await
                    .map_err(sql)?;
                if released == 0 {
                    // Another worker's now (or gone): nothing to give back.
                    tx.rollback().await.map_err(sql)?;
                    return Ok(());
                }
                execute(&tx, RELEASE_RUN_TASKS, &[run_id, &int(*token)])
                    .await
                    .map_err(sql)?;
            }
        }
        execute(&tx, NOTIFY_WORK, &[]).await.map_err(sql)?;
        tx.commit().await.map_err(sql)
    }

    /// One attempt of `load_run`.
    async fn load_run_once(
        &self,
        run_id: &str,
    ) -> Result<Option<(RunRecord, HistoryRows)>, StoreError> {
        let client = self.client(LOAD_RUN).await?;
        // One statement: the record and the history of one snapshot.
        let row = query_opt(&client, SELECT_RUN_WITH_HISTORY, &[&run_id])
            .await
            .map_err(|e| store_error(LOAD_RUN, format!("run `{run_id}`"), e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let record = decode_run(LOAD_RUN, &row)?;
        let fields = Fields::new(
            &row,
            LOAD_RUN,
            "history",
            format!("run_id `{}`", clip(run_id)),
        );
        let indexes: Vec<i64> = fields.value(9, "idx")?;
        let events: Vec<String> = fields.value(10, "event")?;
        let mut history = Vec::with_capacity(events.len());
        for (idx, event) in indexes.into_iter().zip(events) {
            let idx = u64::try_from(idx).map_err(|_| {
                fields.corrupt("idx", format_args!("holds {idx}, which is out of range"))
            })?;
            history.push((idx, event));
        }
        Ok(Some((record, history)))
    }

    /// `enqueue` (not retried: a lost answer may hide a stored message).
    async fn enqueue_once(
        &self,
        workflow_id: &str,
        item: &InboxItem,
        now_ms: u64,
    ) -> Result<Enqueued, StoreError> {
        let sql = |e| store_error(ENQUEUE, format!("workflow `{workflow_id}`"), e);
        let mut client = self.client(ENQUEUE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        for _ in 0..ENQUEUE_ATTEMPTS {
            let latest = query_opt(
                &tx,
                "SELECT latest_run_id FROM workflows WHERE workflow_id = $1",
                &[&workflow_id],
            )
            .await
            .map_err(sql)?;
            let Some(latest) = latest else {
                tx.rollback().await.map_err(sql)?;
                return Ok(Enqueued::NotFound);
            };
            let latest: String = Fields::new(
                &latest,
                ENQUEUE,
                "workflows",
                format!("workflow_id `{}`", clip(workflow_id)),
            )
            .text(0, "latest_run_id")?;
            // Locked: a step ending the run either committed before (its
            // status shows here) or waits for this message and drops it.
            let row = query_opt(
                &tx,
                concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE run_id = $1 FOR UPDATE"
                ),
                &[&latest],
            )
            .await
            .map_err(sql)?;
            let Some(row) = row else {
                return Err(StoreError::new(
                    ENQUEUE,
                    format!(
                        "corrupt row in `workflows` (workflow_id `{}`): column `latest_run_id` holds `{}`, which is not a run",
                        clip(workflow_id),
                        clip(&latest)
                    ),
                ));
            };
            let record = decode_run(ENQUEUE, &row)?;
            if record.status == WorkflowStatus::ContinuedAsNew {
                // The run continued as new while this waited for its lock:
                // the workflow's latest run is another one now.
                continue;
            }
            if record.status.is_finished() {
                tx.rollback().await.map_err(sql)?;
                return Ok(Enqueued::Finished(record.status));
            }
            let (kind, payload) = item.encode();
            let row = query_opt(
                &tx,
                "INSERT INTO inbox (workflow_id, kind, payload, created_ms) VALUES ($1, $2, $3, $4)
                 RETURNING id",
                &[&workflow_id, &kind, &json(&payload), &int(now_ms)],
            )
            .await
            .map_err(sql)?;
            let id = match &row {
                Some(row) => Fields::new(row, ENQUEUE, "inbox", "a new message".to_owned())
                    .uint::<u64>(0, "id")?,
                None => return Err(StoreError::new(ENQUEUE, "the inbox gave no id")),
            };
            execute(&tx, NOTIFY_WORK, &[]).await.map_err(sql)?;
            tx.commit().await.map_err(sql)?;
            return Ok(Enqueued::Accepted {
                id,
                run_id: record.run_id,
            });
        }
        Err(StoreError::new(
            ENQUEUE,
            format!("workflow `{workflow_id}`: its latest run keeps changing"),
        )
        .retryable(true))
    }
}

/// A task's current token, `None` if it is gone.
async fn task_token(
    client: &impl GenericClient,
    operation: &'static str,
    run_id: &str,
    seq: u32,
) -> Result<Option<Token>, StoreError> {
    let row = query_opt(
        client,
        "SELECT token FROM tasks WHERE run_id = $1 AND seq = $2",
        &[&run_id, &i64::from(seq)],
    )
    .await
    .map_err(|e| store_error(operation, format!("task {seq} of run `{run_id}`"), e))?;
    row.map(|row| {
        Fields::new(
            &row,
            operation,
            "tasks",
            format!("run_id `{}`, seq {seq}", clip(run_id)),
        )
        .uint(0, "token")
    })
    .transpose()
}

/// The error of a task write under a token that is not the task's.
fn task_fenced(
    operation: &'static str,
    run_id: &str,
    seq: u32,
    token: Token,
    mine: Token,
) -> StoreError {
    StoreError::fenced(
        operation,
        format!("task {seq} of run `{run_id}` is held by another worker now (token {token}, the attempt has {mine})"),
    )
}

/// Writes one step (under the caller's savepoint).
async fn apply_step(
    tx: &deadpool_postgres::Transaction<'_>,
    step: &StepCommit,
) -> Result<(), StoreError> {
    let run_id = &step.run_id;
    let context = || format!("run `{run_id}`");
    let sql = |e| store_error(COMMIT, context(), e);
    let row = query_opt(
        tx,
        "SELECT history_len, workflow_id, name, token FROM runs WHERE run_id = $1 FOR UPDATE",
        &[run_id],
    )
    .await
    .map_err(sql)?;
    let Some(row) = row else {
        return Err(StoreError::new(COMMIT, format!("no run `{run_id}`")));
    };
    let fields = Fields::new(&row, COMMIT, "runs", format!("run_id `{}`", clip(run_id)));
    let len: u64 = fields.uint(0, "history_len")?;
    let workflow_id = fields.text(1, "workflow_id")?;
    let name = fields.text(2, "name")?;
    let token: Token = fields.uint(3, "token")?;
    if token != step.token {
        return Err(StoreError::fenced(
            COMMIT,
            format!(
                "run `{run_id}` is held by another worker now (token {token}, the step has {})",
                step.token
            ),
        ));
    }
    // A step without events (a change of status or progress alone) may
    // come from a worker that does not know the history's length.
    if !step.events.is_empty() && len != step.first_index {
        return Err(StoreError::new(
            COMMIT,
            format!(
                "run `{run_id}` has {len} events, the step expected {}",
                step.first_index
            ),
        ));
    }
    if let Some(new_run) = &step.new_run {
        let taken = query_opt(
            tx,
            "SELECT 1 FROM runs WHERE run_id = $1",
            &[&new_run.run_id],
        )
        .await
        .map_err(sql)?
        .is_some();
        if taken {
            return Err(StoreError::new(
                COMMIT,
                format!("run `{}` exists already", new_run.run_id),
            ));
        }
    }

    let next = len.saturating_add(step.events.len() as u64);
    if !step.events.is_empty() {
        execute(
            tx,
            "INSERT INTO history (run_id, idx, event)
             SELECT $1, $2 + u.ord - 1, u.event FROM unnest($3::text[]) WITH ORDINALITY AS u(event, ord)",
            &[run_id, &int(len), &step.events],
        )
        .await
        .map_err(sql)?;
    }

    if !step.done_tasks.is_empty() {
        let seqs: Vec<i64> = step.done_tasks.iter().map(|&seq| i64::from(seq)).collect();
        execute(
            tx,
            "DELETE FROM tasks WHERE run_id = $1 AND seq = ANY($2)",
            &[run_id, &seqs],
        )
        .await
        .map_err(sql)?;
    }

    let owner = step.lease.as_ref().map(|lease| lease.worker.as_str());
    let lease_ms = span(step.lease.as_ref().map_or(0, |lease| lease.duration_ms()));
    if !step.new_tasks.is_empty() {
        upsert_tasks(tx, step, owner, lease_ms).await?;
    }

    let progress = step.progress.as_ref().map(json);
    let now = int(step.now_ms);
    let history_len = int(next);
    match &step.status {
        None => execute(
            tx,
            "UPDATE runs SET history_len = $2, updated_ms = $3, progress = coalesce($4, progress)
             WHERE run_id = $1",
            &[run_id, &history_len, &now, &progress],
        )
        .await,
        Some(change) => {
            let result = change.result.as_ref().map(json);
            execute(
                tx,
                "UPDATE runs SET history_len = $2, updated_ms = $3, progress = coalesce($4, progress),
                     status = $5, result = $6, error = $7,
                     owner = CASE WHEN $8 THEN NULL ELSE owner END,
                     lease_until = CASE WHEN $8 THEN NULL ELSE lease_until END
                 WHERE run_id = $1",
                &[
                    run_id,
                    &history_len,
                    &now,
                    &progress,
                    &change.status.as_str(),
                    &result,
                    &change.error,
                    // An ended run is nobody's: nothing claims it again.
                    &change.status.is_finished(),
                ],
            )
            .await
        }
    }
    .map_err(sql)?;

    if !step.done_inbox.is_empty() {
        let ids: Vec<i64> = step.done_inbox.iter().map(|&id| int(id)).collect();
        execute(tx, "DELETE FROM inbox WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(sql)?;
    }

    let finished = step
        .status
        .as_ref()
        .map(|change| change.status)
        .filter(|s| s.is_finished());
    if let Some(status) = finished {
        execute(tx, "DELETE FROM tasks WHERE run_id = $1", &[run_id])
            .await
            .map_err(sql)?;
        if status == WorkflowStatus::ContinuedAsNew {
            // The next run reads the workflow's messages, but completions
            // are of this run's activity calls: nothing can use them now.
            execute(
                tx,
                "DELETE FROM inbox WHERE workflow_id = $1 AND kind = 'completed'",
                &[&workflow_id],
            )
            .await
            .map_err(sql)?;
        } else {
            // Nothing reads the workflow's messages any more.
            execute(
                tx,
                "DELETE FROM inbox WHERE workflow_id = $1",
                &[&workflow_id],
            )
            .await
            .map_err(sql)?;
        }
    }

    if let Some(new_run) = &step.new_run {
        // Continue-as-new: the next run of the workflow becomes its latest,
        // held by the same worker under the same token.
        let context = || format!("run `{run_id}`, continued as `{}`", new_run.run_id);
        let sql = |e| store_error(COMMIT, context(), e);
        execute(
            tx,
            INSERT_NEXT_RUN,
            &[
                &new_run.run_id,
                &workflow_id,
                &name,
                &now,
                &owner,
                &lease_ms,
                &int(step.token),
            ],
        )
        .await
        .map_err(sql)?;
        execute(
            tx,
            "INSERT INTO history (run_id, idx, event) VALUES ($1, 0, $2)",
            &[&new_run.run_id, &new_run.started_event],
        )
        .await
        .map_err(sql)?;
        execute(
            tx,
            "UPDATE workflows SET latest_run_id = $2 WHERE workflow_id = $1",
            &[&workflow_id, &new_run.run_id],
        )
        .await
        .map_err(sql)?;
    }

    if finished.is_some() {
        execute(tx, NOTIFY_DONE, &[&workflow_id])
            .await
            .map_err(sql)?;
    }
    // Work left for any worker: tasks nobody holds, a next run nobody holds.
    let unowned_work = owner.is_none()
        && (step.new_run.is_some()
            || step
                .new_tasks
                .iter()
                .any(|task| task.kind == TaskKind::Activity));
    if unowned_work {
        execute(tx, NOTIFY_WORK, &[]).await.map_err(sql)?;
    }
    Ok(())
}

/// Inserts (or replaces) a step's new tasks, in one statement.
async fn upsert_tasks(
    tx: &deadpool_postgres::Transaction<'_>,
    step: &StepCommit,
    owner: Option<&str>,
    lease_ms: i64,
) -> Result<(), StoreError> {
    // One row per key: `ON CONFLICT DO UPDATE` cannot change a row twice
    // in one statement. The last task of a key wins, as with one insert each.
    let mut tasks: Vec<&Task> = Vec::with_capacity(step.new_tasks.len());
    for task in &step.new_tasks {
        match tasks
            .iter_mut()
            .find(|t| t.run_id == task.run_id && t.seq == task.seq)
        {
            Some(existing) => *existing = task,
            None => tasks.push(task),
        }
    }
    tasks.sort_by(|a, b| (&a.run_id, a.seq).cmp(&(&b.run_id, b.seq)));
    let mut options = Vec::with_capacity(tasks.len());
    for task in &tasks {
        options.push(serde_json::to_string(&task.options).map_err(|e| {
            StoreError::new(
                COMMIT,
                format!(
                    "task {} of run `{}`: its options do not encode: {e}",
                    task.seq, task.run_id
                ),
            )
        })?);
    }
    let run_ids: Vec<&str> = tasks.iter().map(|t| t.run_id.as_str()).collect();
    let seqs: Vec<i64> = tasks.iter().map(|t| i64::from(t.seq)).collect();
    let workflow_ids: Vec<&str> = tasks.iter().map(|t| t.workflow_id.as_str()).collect();
    let kinds: Vec<&str> = tasks.iter().map(|t| t.kind.as_str()).collect();
    let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<String> = tasks.iter().map(|t| json(&t.input)).collect();
    let attempts: Vec<i64> = tasks.iter().map(|t| i64::from(t.attempt)).collect();
    let scheduled: Vec<i64> = tasks.iter().map(|t| int(t.scheduled_ms)).collect();
    let due: Vec<i64> = tasks.iter().map(|t| int(t.due_ms)).collect();
    let last_errors: Vec<Option<&str>> = tasks.iter().map(|t| t.last_error.as_deref()).collect();
    let details: Vec<Option<String>> = tasks.iter().map(|t| t.details.as_ref().map(json)).collect();
    execute(
        tx,
        UPSERT_TASKS,
        &[
            &run_ids,
            &seqs,
            &workflow_ids,
            &kinds,
            &names,
            &inputs,
            &options,
            &attempts,
            &scheduled,
            &due,
            &last_errors,
            &details,
            &owner,
            &lease_ms,
            &int(step.token),
        ],
    )
    .await
    .map_err(|e| store_error(COMMIT, format!("new tasks of run `{}`", step.run_id), e))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading rows

/// A `runs` row being decoded, keyed by its `run_id` (column 1).
fn run_fields<'a>(operation: &'static str, row: &'a Row) -> Fields<'a> {
    Fields::new(row, operation, "runs", key_text(row, 1, "run_id"))
}

/// Decodes the `run_columns!` of a row.
fn decode_run(operation: &'static str, row: &Row) -> Result<RunRecord, StoreError> {
    let fields = run_fields(operation, row);
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

/// The decodable messages of `rows`; the others are logged and skipped.
fn decode_inbox_rows(operation: &'static str, rows: &[Row]) -> Vec<InboxRecord> {
    rows.iter()
        .filter_map(|row| match decode_inbox(operation, row) {
            Ok(message) => Some(message),
            Err(e) => {
                tracing::error!(error = %e, "skipping a corrupt inbox message");
                None
            }
        })
        .collect()
}

/// Decodes `id, workflow_id, kind, payload`.
fn decode_inbox(operation: &'static str, row: &Row) -> Result<InboxRecord, StoreError> {
    let key = match row.try_get::<_, Option<i64>>(0) {
        Ok(Some(id)) => format!("id {id}"),
        Ok(None) => "id NULL".to_owned(),
        Err(_) => "id unreadable".to_owned(),
    };
    let fields = Fields::new(row, operation, "inbox", key);
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

/// Decodes the `task_columns!` of a row.
fn decode_task(operation: &'static str, row: &Row) -> Result<Task, StoreError> {
    let seq = match row.try_get::<_, Option<i64>>(2) {
        Ok(Some(seq)) => seq.to_string(),
        Ok(None) => "NULL".to_owned(),
        Err(_) => "?".to_owned(),
    };
    let fields = Fields::new(
        row,
        operation,
        "tasks",
        format!("{}, seq {seq}", key_text(row, 1, "run_id")),
    );
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
fn key_text(row: &Row, index: usize, name: &str) -> String {
    match row.try_get::<_, Option<String>>(index) {
        Ok(Some(value)) => format!("{name} `{}`", clip(&value)),
        Ok(None) => format!("{name} NULL"),
        Err(_) => format!("{name} unreadable"),
    }
}

/// A row being decoded, and how to name it in errors.
struct Fields<'a> {
    row: &'a Row,
    operation: &'static str,
    table: &'static str,
    key: String,
}

impl<'a> Fields<'a> {
    /// The row `row` of `table`, named by `key` in errors.
    fn new(row: &'a Row, operation: &'static str, table: &'static str, key: String) -> Self {
        Self {
            row,
            operation,
            table,
            key,
        }
    }

    /// The error of a column that holds what it must not.
    fn corrupt(&self, column: &str, problem: impl fmt::Display) -> StoreError {
        StoreError::new(
            self.operation,
            format!(
                "corrupt row in `{}` ({}): column `{column}` {problem}",
                self.table, self.key
            ),
        )
    }

    /// A column as its SQL type maps to `T`.
    fn value<T>(&self, index: usize, column: &str) -> Result<T, StoreError>
    where
        T: for<'b> FromSql<'b>,
    {
        match self.row.try_get::<_, Option<T>>(index) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(self.corrupt(column, "holds NULL")),
            Err(e) => Err(self.corrupt(column, format_args!("cannot be read: {e}"))),
        }
    }

    /// A nullable column as its SQL type maps to `T`.
    fn opt_value<T>(&self, index: usize, column: &str) -> Result<Option<T>, StoreError>
    where
        T: for<'b> FromSql<'b>,
    {
        self.row
            .try_get::<_, Option<T>>(index)
            .map_err(|e| self.corrupt(column, format_args!("cannot be read: {e}")))
    }

    /// A text column that must not be NULL.
    fn text(&self, index: usize, column: &str) -> Result<String, StoreError> {
        self.value(index, column)
    }

    /// A nullable text column.
    fn opt_text(&self, index: usize, column: &str) -> Result<Option<String>, StoreError> {
        self.opt_value(index, column)
    }

    /// A `BIGINT` column that must hold a value in range of `T`.
    fn uint<T: TryFrom<i64>>(&self, index: usize, column: &str) -> Result<T, StoreError> {
        let n: i64 = self.value(index, column)?;
        T::try_from(n)
            .map_err(|_| self.corrupt(column, format_args!("holds {n}, which is out of range")))
    }

    /// A JSON (text) column that must not be NULL.
    fn json<T: DeserializeOwned>(&self, index: usize, column: &str) -> Result<T, StoreError> {
        let text = self.text(index, column)?;
        self.decode_json(&text, column)
    }

    /// A nullable JSON (text) column.
    fn opt_json<T: DeserializeOwned>(
        &self,
        index: usize,
        column: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.opt_text(index, column)? {
            None => Ok(None),
            Some(text) => self.decode_json(&text, column).map(Some),
        }
    }

    /// Decodes the JSON `text` of `column`.
    fn decode_json<T: DeserializeOwned>(&self, text: &str, column: &str) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|e| {
            self.corrupt(
                column,
                format_args!("holds `{}`, which does not decode: {e}", clip(text)),
            )
        })
    }
}

/// At most 100 characters of `s`, for error messages.
fn clip(s: &str) -> String {
    /// Characters kept.
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------
// Values

/// A `u64` as stored: saturated at `i64::MAX`.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A lease or horizon (ms), bounded so that adding it to now cannot overflow.
fn span(ms: u64) -> i64 {
    int(ms.min(MAX_SPAN_MS))
}

/// A JSON value as stored: its text.
fn json(value: &Value) -> String {
    value.to_string()
}

// ---------------------------------------------------------------------------
// Errors

/// Whether trying again may help: the connection was lost (or the server
/// shut it down), or the transaction lost a serialization or deadlock race.
fn is_retryable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08")
            || code == SqlState::ADMIN_SHUTDOWN.code()
            || code == SqlState::CRASH_SHUTDOWN.code()
            || code == SqlState::CANNOT_CONNECT_NOW.code()
            || code == SqlState::T_R_SERIALIZATION_FAILURE.code()
            || code == SqlState::T_R_DEADLOCK_DETECTED.code();
    }
    // No answer from the server: an I/O error of the connection.
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        if inner.is::<std::io::Error>() {
            return true;
        }
        source = inner.source();
    }
    false
}

/// A readable message for a PostgreSQL error: the server's message and
/// SQLSTATE, or the client's error and its causes.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut message = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            message.push_str(" (");
            message.push_str(detail);
            message.push(')');
        }
        return message;
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    message
}

/// A PostgreSQL error of `operation` about `context` (`run `x``, ...).
fn store_error(
    operation: &'static str,
    context: impl Into<String>,
    e: tokio_postgres::Error,
) -> StoreError {
    StoreError::with_source(
        operation,
        is_retryable(&e),
        Failure {
            context: context.into(),
            message: describe(&e),
            source: e,
        },
    )
}

/// An error of getting a pooled connection.
fn pool_error(operation: &'static str, e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => store_error(operation, "connecting", e),
        // Out of connections for a while: may pass.
        PoolError::Timeout(_) => StoreError::with_source(operation, true, e),
        e => StoreError::with_source(operation, false, e),
    }
}

/// An error of the first connection: the URL points nowhere useful.
fn connect_error(target: &Target, e: PoolError) -> Error {
    let message = match &e {
        PoolError::Backend(e) => describe(e),
        e => e.to_string(),
    };
    let message = scrub(&message, target.secrets());
    let code = match &e {
        PoolError::Backend(e) => e.code().cloned(),
        _ => None,
    };
    Error::Config(match code {
        Some(code) if code.code().starts_with("28") => format!(
            "PostgreSQL at {} refused user `{}` for database `{}`: {message}",
            target.address(),
            target.user,
            target.dbname
        ),
        Some(SqlState::INVALID_CATALOG_NAME) => format!(
            "PostgreSQL at {} has no database `{}`: {message}",
            target.address(),
            target.dbname
        ),
        Some(SqlState::INSUFFICIENT_PRIVILEGE) => format!(
            "the PostgreSQL user `{}` may not connect to database `{}` at {}: {message}",
            target.user,
            target.dbname,
            target.address()
        ),
        _ => format!(
            "cannot connect to PostgreSQL at {}: {message} (database `{}`, user `{}`)",
            target.address(),
            target.dbname,
            target.user
        ),
    })
}

/// `message` with every secret replaced.
pub(super) fn scrub(message: &str, secrets: &[String]) -> String {
    let mut message = message.to_owned();
    for secret in secrets {
        // Too short a secret would blank ordinary letters out.
        if secret.chars().count() >= 3 {
            message = message.replace(secret.as_str(), "***");
        }
    }
    message
}

/// The passwords a URL (or `key=value` string) may carry, as written and
/// percent-decoded.
fn url_secrets(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    let mut push = |raw: &str| {
        if raw.is_empty() {
            return;
        }
        secrets.push(raw.to_owned());
        let decoded = percent_decode(raw);
        if decoded != raw {
            secrets.push(decoded);
        }
    };
    if let Some((_, rest)) = url.split_once("://") {
        if let Some((credentials, _)) = rest.split_once('@') {
            if let Some((_, password)) = credentials.split_once(':') {
                push(password);
            }
        }
        if let Some((_, params)) = rest.split_once('?') {
            for param in params.split('&') {
                if let Some(password) = param.strip_prefix("password=") {
                    push(password);
                }
            }
        }
    } else {
        for word in url.split_whitespace() {
            if let Some(password) = word.strip_prefix("password=") {
                push(password.trim_matches('\''));
            }
        }
    }
    secrets
}

/// `%XX` sequences decoded (lossily), for [`url_secrets`].
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL with its password (in the credentials or a `password`
/// parameter) replaced by `***`, for `Debug`.
fn redact(url: &str) -> String {
    let mut redacted = url.to_owned();
    for secret in url_secrets(url) {
        if !secret.is_empty() {
            redacted = redacted.replace(&format!(":{secret}@"), ":***@");
            redacted = redacted.replace(&format!("password={secret}"), "password=***");
            redacted = redacted.replace(&format!("password='{secret}'"), "password=***");
        }
    }
    redacted
}

/// A PostgreSQL error with what it was about.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {message}")]
struct Failure {
    context: String,
    message: String,
    #[source]
    source: tokio_postgres::Error,
}

/// Why a whole commit transaction failed.
#[derive(Debug)]
struct Abort {
    retryable: bool,
    message: String,
}

impl Abort {
    /// The transaction failed at `what`.
    fn sql(what: &str, e: &tokio_postgres::Error) -> Self {
        Self {
            retryable: is_retryable(e),
            message: format!("{what}: {}", describe(e)),
        }
    }

    /// The error each step of the batch is answered with.
    fn error(&self, operation: &'static str) -> StoreError {
        StoreError::with_source(operation, self.retryable, BatchFailed(self.message.clone()))
    }
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Self {
            retryable: e.is_retryable(),
            message: e.to_string(),
        }
    }
}

/// The error of a step whose transaction failed.
#[derive(Debug, thiserror::Error)]
#[error("the transaction was rolled back: {0}")]
struct BatchFailed(String);
