//! The PostgreSQL schema and its versioned migrations.
//!
//! `reprise_meta` holds `schema_version`: the number of entries of
//! `MIGRATIONS` applied. Opening a database first reads the version
//! without writing anything: a database from a newer reprise (a higher
//! version) or one that holds other tables of the same names is refused,
//! and a database at the latest version is used as it is (so a user
//! without `CREATE` rights can run an up-to-date database). Otherwise the
//! missing migrations are applied in one transaction, under a
//! transaction-scoped advisory lock: many processes may start at once, one
//! migrates, the others wait for it and then find the schema up to date.
//! Never edit a released migration: append a new one.

use deadpool_postgres::GenericClient;
use tokio_postgres::error::SqlState;

use super::errors::{describe, store_error};
use super::secrets::scrub;
use super::Target;
use crate::error::Error;

/// The key of the advisory lock the migrations run under (`reprise` in
/// ASCII): every process migrating the same database takes the same lock.
const MIGRATION_LOCK: i64 = 0x0072_6570_7269_7365;

/// The migrations, in order; `schema_version` is how many were applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    -- Fencing tokens: every claim takes the next value, so a row never
    -- gets the same token twice. Rows nobody claimed have token 0.
    CREATE SEQUENCE reprise_tokens AS BIGINT START 1;

    CREATE TABLE workflows (
        workflow_id   TEXT NOT NULL PRIMARY KEY,
        latest_run_id TEXT NOT NULL,
        name          TEXT NOT NULL,
        created_ms    BIGINT NOT NULL
    );

    -- `seq` is the creation order (never reused: rows are not deleted).
    -- `history_len` is the run's number of history rows, so the
    -- `first_index` check of a commit is one lookup.
    -- `result` and `progress` are JSON; NULL is `None`, 'null' is `Some(null)`.
    -- `owner` holds the run until `lease_until` (the database's clock, Unix
    -- ms) under `token`.
    CREATE TABLE runs (
        seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id      TEXT NOT NULL UNIQUE,
        workflow_id TEXT NOT NULL,
        name        TEXT NOT NULL,
        status      TEXT NOT NULL,
        result      TEXT,
        error       TEXT,
        progress    TEXT,
        created_ms  BIGINT NOT NULL,
        updated_ms  BIGINT NOT NULL,
        history_len BIGINT NOT NULL,
        owner       TEXT,
        lease_until BIGINT,
        token       BIGINT NOT NULL DEFAULT 0
    );

    -- `unfinished_runs` and the run claims: the unfinished runs, in creation
    -- order, without scanning the finished ones. The statuses are those for
    -- which `WorkflowStatus::is_finished` is false (a unit test checks it).
    CREATE INDEX runs_unfinished ON runs (seq) WHERE status IN ('running', 'blocked');

    -- `runs(workflow_id)`, oldest first.
    CREATE INDEX runs_of_workflow ON runs (workflow_id, seq);

    -- `renew` and `release`: the runs a worker holds.
    CREATE INDEX runs_of_owner ON runs (owner) WHERE owner IS NOT NULL;

    CREATE TABLE history (
        run_id TEXT NOT NULL,
        idx    BIGINT NOT NULL,
        event  TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    );

    -- `options` is the JSON of `ActivityOptions`; `input` and `details` are
    -- JSON. `owner`, `lease_until` and `token` as in `runs`.
    CREATE TABLE tasks (
        run_id       TEXT NOT NULL,
        seq          BIGINT NOT NULL,
        workflow_id  TEXT NOT NULL,
        kind         TEXT NOT NULL,
        name         TEXT NOT NULL,
        input        TEXT NOT NULL,
        options      TEXT NOT NULL,
        attempt      BIGINT NOT NULL,
        scheduled_ms BIGINT NOT NULL,
        due_ms       BIGINT NOT NULL,
        last_error   TEXT,
        details      TEXT,
        owner        TEXT,
        lease_until  BIGINT,
        token        BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, seq)
    );

    -- `claim_tasks`: activity attempts by due time (whether they are held is
    -- a matter of the clock, checked on the rows).
    CREATE INDEX tasks_due_activities ON tasks (due_ms) WHERE kind = 'activity';

    -- `renew` and `release`: the tasks a worker holds.
    CREATE INDEX tasks_of_owner ON tasks (owner) WHERE owner IS NOT NULL;

    -- Messages to workflows not yet consumed by a step, in arrival order.
    -- An identity never gives a value twice: the id of a consumed (deleted)
    -- message is never given to another. `payload` is JSON, as
    -- `InboxItem::encode` makes it.
    CREATE TABLE inbox (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        kind        TEXT NOT NULL,
        payload     TEXT NOT NULL,
        created_ms  BIGINT NOT NULL
    );

    -- The run claims and `claim_runs`' messages: a workflow's inbox.
    CREATE INDEX inbox_of_workflow ON inbox (workflow_id, id);
    ",
    // 2: limits of activities. A slot is held by a running attempt of an
    // activity with `max_concurrent` (its lease renewed with the worker's
    // others); `slot_starts` records the starts of attempts with a `rate`
    // for an hour at most; `slot_wait_ms` is when a task's attempt began to
    // wait for a slot (NULL: it does not wait).
    "
    ALTER TABLE tasks ADD COLUMN slot_wait_ms BIGINT;
    CREATE TABLE slots (
        run_id      TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        activity    TEXT NOT NULL,
        limit_key   TEXT NOT NULL,
        owner       TEXT NOT NULL,
        lease_until BIGINT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE INDEX slots_of_pair ON slots (activity, limit_key);
    CREATE INDEX slots_of_owner ON slots (owner);
    CREATE TABLE slot_starts (
        activity   TEXT NOT NULL,
        limit_key  TEXT NOT NULL,
        started_ms BIGINT NOT NULL
    );
    CREATE INDEX slot_starts_of_pair ON slot_starts (activity, limit_key, started_ms);
    CREATE INDEX slot_starts_by_time ON slot_starts (started_ms);
    ",
    // 3: the time of an activity's last heartbeat, shown by `describe`.
    "
    ALTER TABLE tasks ADD COLUMN heartbeat_ms BIGINT;
    ",
    // 4: schedules (`store/schedules.rs`). `input` is JSON, `recent` a JSON
    // array of the latest runs' workflow ids; `version` grows at every
    // write, so a tick is fired by one compare-and-set.
    "
    CREATE TABLE schedules (
        schedule_id TEXT NOT NULL PRIMARY KEY,
        cron        TEXT NOT NULL,
        workflow    TEXT NOT NULL,
        input       TEXT NOT NULL,
        overlap     TEXT NOT NULL,
        catchup_ms  BIGINT NOT NULL,
        paused      BOOLEAN NOT NULL DEFAULT FALSE,
        next_ms     BIGINT NOT NULL,
        buffered_ms BIGINT,
        skipped     BIGINT NOT NULL DEFAULT 0,
        missed      BIGINT NOT NULL DEFAULT 0,
        recent      TEXT NOT NULL DEFAULT '[]',
        version     BIGINT NOT NULL DEFAULT 1,
        created_ms  BIGINT NOT NULL,
        updated_ms  BIGINT NOT NULL
    );
    ",
];

/// The schema version this code writes and reads.
pub(super) const LATEST_VERSION: usize = MIGRATIONS.len();

/// `reprise_meta` and the tables of the schema, which a database without
/// `reprise_meta` must not have (they would be another application's).
const ALL_TABLES: &[&str] = &[
    "reprise_meta",
    "workflows",
    "runs",
    "history",
    "tasks",
    "inbox",
    "slots",
    "slot_starts",
    "schedules",
];

/// Checks the schema of the database `client` is connected to and brings
/// it to [`LATEST_VERSION`]. Writes nothing when it refuses the database.
pub(super) async fn prepare(
    client: &mut deadpool_postgres::Client,
    target: &Target,
) -> Result<(), Error> {
    match check(&*client, target).await? {
        Some(version) if version == LATEST_VERSION => return Ok(()),
        _ => {}
    }
    migrate(client, target).await
}

/// The schema version of the database, `None` for a database without
/// reprise's tables; an error for one this code must not touch.
async fn check(client: &impl GenericClient, target: &Target) -> Result<Option<usize>, Error> {
    // The catalog is read with a query, not `to_regclass`: after waiting for
    // the migration lock, the backend's cache of names may not know yet of
    // the tables the process that held the lock created.
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname::text = ANY($1::text[])
             ORDER BY c.relname = 'reprise_meta' DESC, c.relname",
            &[&ALL_TABLES],
        )
        .await
        .map_err(|e| open_error(target, e))?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push(
            row.try_get::<_, String>(0)
                .map_err(|e| open_error(target, e))?,
        );
    }
    let has_meta = found.first().is_some_and(|t| t == "reprise_meta");
    if !has_meta {
        if let Some(table) = found.first() {
            return Err(not_reprise(
                target,
                &format!("it has a `{table}` table but no `reprise_meta` table"),
            ));
        }
        return Ok(None);
    }
    let version = read_version(client, target).await?;
    if version > LATEST_VERSION {
        return Err(newer(target, version));
    }
    Ok(Some(version))
}

/// Applies the missing migrations in one transaction, under the advisory lock.
async fn migrate(client: &mut deadpool_postgres::Client, target: &Target) -> Result<(), Error> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| open_error(target, e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| open_error(target, e))?;
    // Another process may have migrated while this one waited for the lock:
    // look again, under the lock.
    let current = match check(&tx, target).await? {
        Some(version) => version,
        None => {
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS reprise_meta (
                     key   TEXT NOT NULL PRIMARY KEY,
                     value TEXT NOT NULL
                 )",
            )
            .await
            .map_err(|e| open_error(target, e))?;
            0
        }
    };
    if current == LATEST_VERSION {
        // Someone else migrated meanwhile: nothing was written.
        tx.rollback().await.map_err(|e| open_error(target, e))?;
        return Ok(());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.batch_execute(sql).await.map_err(|e| {
            open_error_about(target, &format!("migration to schema version {}", i + 1), e)
        })?;
    }
    tx.execute(
        "INSERT INTO reprise_meta (key, value) VALUES ('schema_version', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&LATEST_VERSION.to_string()],
    )
    .await
    .map_err(|e| open_error(target, e))?;
    tx.commit().await.map_err(|e| open_error(target, e))?;
    tracing::debug!(
        database = %target,
        from = current,
        to = LATEST_VERSION,
        "migrated the PostgreSQL schema"
    );
    Ok(())
}

/// Reads `schema_version`; a database without one is not reprise's.
async fn read_version(client: &impl GenericClient, target: &Target) -> Result<usize, Error> {
    let row = client
        .query_opt(
            "SELECT value FROM reprise_meta WHERE key = 'schema_version'",
            &[],
        )
        .await
        .map_err(|e| open_error(target, e))?;
    let Some(row) = row else {
        return Err(not_reprise(
            target,
            "its `reprise_meta` has no `schema_version`",
        ));
    };
    let value: String = row.try_get(0).map_err(|e| open_error(target, e))?;
    value.trim().parse().map_err(|_| {
        not_reprise(
            target,
            &format!("its `schema_version` is `{value}`, not a number"),
        )
    })
}

/// An error of preparing the schema: missing rights are a configuration
/// problem, anything else a store error.
pub(super) fn open_error(target: &Target, e: tokio_postgres::Error) -> Error {
    open_error_about(target, "preparing the schema", e)
}

/// An error of preparing the schema at the step `what`.
fn open_error_about(target: &Target, what: &str, e: tokio_postgres::Error) -> Error {
    let message = scrub(&describe(&e), target.secrets());
    if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
        return Error::Config(format!(
            "the PostgreSQL user `{}` lacks the rights reprise needs in {target} ({what}): {message}; \
             grant it the use of the schema (and `CREATE` on it until the schema is migrated)",
            target.user
        ));
    }
    Error::Store(store_error(super::OPEN, format!("{target}: {what}"), e))
}

/// The database is another application's.
fn not_reprise(target: &Target, why: &str) -> Error {
    Error::NotADatabase {
        what: target.to_string(),
        why: why.to_owned(),
    }
}

/// The database was written by a newer reprise.
fn newer(target: &Target, version: usize) -> Error {
    Error::NewerSchema {
        what: target.to_string(),
        version,
        supported: LATEST_VERSION,
    }
}
