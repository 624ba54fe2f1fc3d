//! The SQLite schema and its versioned migrations.
//!
//! `reprise_meta` holds `schema_version`: the number of entries of
//! [`MIGRATIONS`] applied. Opening a database applies the missing ones in one
//! transaction; a database from a newer reprise (a higher version) is refused
//! rather than misread. Never edit a released migration: append a new one.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use super::errors::store_error;
use super::OPEN;
use crate::error::Error;

/// The migrations, in order; `schema_version` is how many were applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "
    CREATE TABLE workflows (
        workflow_id   TEXT NOT NULL PRIMARY KEY,
        latest_run_id TEXT NOT NULL,
        name          TEXT NOT NULL,
        created_ms    INTEGER NOT NULL
    );

    -- `seq` is the creation order (never reused: rows are not deleted).
    -- `history_len` is the run's number of history rows, so the
    -- `first_index` check of a commit is one lookup.
    -- `result` and `progress` are JSON; NULL is `None`, 'null' is `Some(null)`.
    CREATE TABLE runs (
        seq         INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL UNIQUE,
        workflow_id TEXT NOT NULL,
        name        TEXT NOT NULL,
        status      TEXT NOT NULL,
        result      TEXT,
        error       TEXT,
        progress    TEXT,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        history_len INTEGER NOT NULL
    );

    -- `unfinished_runs`: the few unfinished runs, in creation order, without
    -- scanning the finished ones. The statuses are those for which
    -- `WorkflowStatus::is_finished` is false (a unit test checks it).
    CREATE INDEX runs_unfinished ON runs (seq) WHERE status IN ('running', 'blocked');

    -- `runs(workflow_id)`, oldest first.
    CREATE INDEX runs_of_workflow ON runs (workflow_id, seq);

    CREATE TABLE history (
        run_id TEXT NOT NULL,
        idx    INTEGER NOT NULL,
        event  TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;

    -- `options` is the JSON of `ActivityOptions`; `input` and `details` are
    -- JSON. `owner` and `lease_until` are unused by the single-process SQLite
    -- store; they keep the table the shape of the multi-process stores'.
    CREATE TABLE tasks (
        run_id       TEXT NOT NULL,
        seq          INTEGER NOT NULL,
        workflow_id  TEXT NOT NULL,
        kind         TEXT NOT NULL,
        name         TEXT NOT NULL,
        input        TEXT NOT NULL,
        options      TEXT NOT NULL,
        attempt      INTEGER NOT NULL,
        scheduled_ms INTEGER NOT NULL,
        due_ms       INTEGER NOT NULL,
        last_error   TEXT,
        details      TEXT,
        owner        TEXT,
        lease_until  INTEGER,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;

    -- Messages to workflows (signals, cancellations, terminations) not yet
    -- consumed by a step, in arrival order. AUTOINCREMENT: the id of a
    -- consumed (deleted) message is never given to another.
    -- `payload` is JSON, as `InboxItem::encode` makes it.
    CREATE TABLE inbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        workflow_id TEXT NOT NULL,
        kind        TEXT NOT NULL,
        payload     TEXT NOT NULL,
        created_ms  INTEGER NOT NULL
    );
    ",
    // 2: leases and fencing tokens (a run's claim by a worker, a task's
    // claim by a worker), and the inbox by workflow for claims.
    "
    ALTER TABLE runs ADD COLUMN owner TEXT;
    ALTER TABLE runs ADD COLUMN lease_until INTEGER;
    ALTER TABLE runs ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX inbox_of_workflow ON inbox (workflow_id, id);
    -- Claims: unfinished runs nobody holds, and held runs by lease expiry.
    -- A step writes neither (it changes neither `owner` nor `lease_until`):
    -- only creating, claiming, renewing and ending a run do. Tasks have no
    -- such index: their table holds only pending tasks, and one written at
    -- every step would cost a page per step.
    CREATE INDEX runs_free ON runs (seq)
        WHERE owner IS NULL AND status IN ('running', 'blocked');
    CREATE INDEX runs_held ON runs (lease_until)
        WHERE owner IS NOT NULL AND status IN ('running', 'blocked');
    ",
    // 3: limits of activities. A slot is held by a running attempt of an
    // activity with `max_concurrent` (its lease renewed with the worker's
    // others); `slot_starts` records the starts of attempts with a `rate`
    // for an hour at most; `slot_wait_ms` is when a task's attempt began to
    // wait for a slot (NULL: it does not wait).
    "
    ALTER TABLE tasks ADD COLUMN slot_wait_ms INTEGER;
    CREATE TABLE slots (
        run_id      TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        activity    TEXT NOT NULL,
        limit_key   TEXT NOT NULL,
        owner       TEXT NOT NULL,
        lease_until INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE INDEX slots_of_pair ON slots (activity, limit_key);
    CREATE TABLE slot_starts (
        activity   TEXT NOT NULL,
        limit_key  TEXT NOT NULL,
        started_ms INTEGER NOT NULL
    );
    CREATE INDEX slot_starts_of_pair ON slot_starts (activity, limit_key, started_ms);
    CREATE INDEX slot_starts_by_time ON slot_starts (started_ms);
    ",
    // 4: the time of an activity's last heartbeat, shown by `describe`.
    "
    ALTER TABLE tasks ADD COLUMN heartbeat_ms INTEGER;
    ",
    // 5: schedules (`store/schedules.rs`). `input` is JSON, `recent` a JSON
    // array of the latest runs' workflow ids; `version` grows at every
    // write, so a tick is fired by one compare-and-set.
    "
    CREATE TABLE schedules (
        schedule_id TEXT NOT NULL PRIMARY KEY,
        cron        TEXT NOT NULL,
        workflow    TEXT NOT NULL,
        input       TEXT NOT NULL,
        overlap     TEXT NOT NULL,
        catchup_ms  INTEGER NOT NULL,
        paused      INTEGER NOT NULL DEFAULT 0,
        next_ms     INTEGER NOT NULL,
        buffered_ms INTEGER,
        skipped     INTEGER NOT NULL DEFAULT 0,
        missed      INTEGER NOT NULL DEFAULT 0,
        recent      TEXT NOT NULL DEFAULT '[]',
        version     INTEGER NOT NULL DEFAULT 1,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
    ) WITHOUT ROWID;
    ",
];

/// The schema version this code writes and reads.
pub(super) const LATEST_VERSION: usize = MIGRATIONS.len();

/// Checks, without writing anything, that `conn` is a reprise database this
/// code can use, or an empty one.
pub(super) fn check(conn: &Connection, path: &Path) -> Result<(), Error> {
    let tables = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| open_error(path, e))?;
    if tables.is_empty() {
        return Ok(());
    }
    if !tables.iter().any(|t| t == "reprise_meta") {
        return Err(not_reprise(
            path,
            "it has tables but no `reprise_meta` table",
        ));
    }
    let version = read_version(conn, path)?;
    if version > LATEST_VERSION {
        return Err(newer(path, version));
    }
    Ok(())
}

/// Brings the schema to [`LATEST_VERSION`], in one transaction.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| open_error(path, e))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS reprise_meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)",
    )
    .map_err(|e| open_error(path, e))?;
    let has_version = tx
        .query_row(
            "SELECT 1 FROM reprise_meta WHERE key = 'schema_version'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map_err(|e| open_error(path, e))?
        .is_some();
    let current = if has_version {
        read_version(&tx, path)?
    } else {
        0
    };
    if current > LATEST_VERSION {
        return Err(newer(path, current));
    }
    if current == LATEST_VERSION {
        return Ok(());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.execute_batch(sql).map_err(|e| {
            Error::Store(store_error(
                OPEN,
                format!(
                    "`{}`: migration to schema version {}",
                    path.display(),
                    i + 1
                ),
                e,
            ))
        })?;
    }
    tx.execute(
        "INSERT INTO reprise_meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [LATEST_VERSION.to_string()],
    )
    .map_err(|e| open_error(path, e))?;
    tx.commit().map_err(|e| open_error(path, e))?;
    tracing::debug!(path = %path.display(), from = current, to = LATEST_VERSION, "migrated the SQLite schema");
    Ok(())
}

fn read_version(conn: &Connection, path: &Path) -> Result<usize, Error> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM reprise_meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| open_error(path, e))?;
    let Some(value) = value else {
        return Err(not_reprise(
            path,
            "its `reprise_meta` has no `schema_version`",
        ));
    };
    value.trim().parse().map_err(|_| {
        not_reprise(
            path,
            &format!("its `schema_version` is `{value}`, not a number"),
        )
    })
}

/// An error of opening `path`: a file that is not a database is named as
/// such, anything else is a store error.
pub(super) fn open_error(path: &Path, e: rusqlite::Error) -> Error {
    if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
        return not_reprise(path, "it is not a SQLite database");
    }
    Error::Store(store_error(OPEN, format!("`{}`", path.display()), e))
}

fn not_reprise(path: &Path, why: &str) -> Error {
    Error::NotADatabase {
        what: format!("`{}`", path.display()),
        why: why.to_owned(),
    }
}

fn newer(path: &Path, version: usize) -> Error {
    Error::NewerSchema {
        what: format!("`{}`", path.display()),
        version,
        supported: LATEST_VERSION,
    }
}
