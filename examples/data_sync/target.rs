//! The sync example's target: the cleaned rows, the rejects and the sync
//! state, written by one transaction per round; and the whole target read
//! back for the verify step.

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use reprise::ActivityError;

use crate::db::{
    blocking, connect_pg, open_sqlite, run_schema, sqlite_sql, Apply, Endpoint, SyncState,
    TargetRow, TargetSnapshot, Watermark,
};

/// The key of the single `sync_state` row of the target table.
const STATE_KEY: &str = "target_items";

/// The target's tables (the same SQL on SQLite and PostgreSQL).
const TARGET_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS target_items (
        id BIGINT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, country TEXT NOT NULL,
        amount BIGINT NOT NULL, updated_at BIGINT NOT NULL, round BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS sync_rejects (
        id BIGINT NOT NULL, updated_at BIGINT NOT NULL, sync_id TEXT NOT NULL,
        round BIGINT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL, row_json TEXT NOT NULL,
        PRIMARY KEY (id, updated_at));
    CREATE TABLE IF NOT EXISTS sync_state (
        target TEXT PRIMARY KEY, sync_id TEXT NOT NULL, round BIGINT NOT NULL,
        wm_updated_at BIGINT NOT NULL, wm_id BIGINT NOT NULL, outcome TEXT NOT NULL);";

/// Writes a cleaned row, replacing the target's earlier version.
const UPSERT_TARGET: &str =
    "INSERT INTO target_items (id, name, email, country, amount, updated_at, round)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
         country = excluded.country, amount = excluded.amount,
         updated_at = excluded.updated_at, round = excluded.round";

/// Keeps a rejected version once.
const INSERT_REJECT: &str =
    "INSERT INTO sync_rejects (id, updated_at, sync_id, round, rule, reason, row_json)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id, updated_at) DO NOTHING";

/// Records the round just written, its watermark and its outcome.
const UPSERT_STATE: &str =
    "INSERT INTO sync_state (target, sync_id, round, wm_updated_at, wm_id, outcome)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (target) DO UPDATE SET sync_id = excluded.sync_id, round = excluded.round,
         wm_updated_at = excluded.wm_updated_at, wm_id = excluded.wm_id, outcome = excluded.outcome";

/// Creates the target's tables if they are missing.
pub(crate) async fn ensure(target: &Endpoint) -> Result<(), ActivityError> {
    run_schema(target, TARGET_SCHEMA, TARGET_SCHEMA).await
}

// ---------------------------------------------------------------------------
// The target: one transaction per round, its state, a snapshot.
// ---------------------------------------------------------------------------

/// The last round written into the target.
const SELECT_STATE: &str =
    "SELECT sync_id, round, wm_updated_at, wm_id, outcome FROM sync_state WHERE target = $1";

/// What to do with a round, given the target's state.
enum Decision {
    /// The round was committed before (its completion was lost): its stored
    /// outcome.
    Done(String),
    /// Write the round.
    Write,
}

/// Whether a round is to be written, was written already, or must not be
/// written (the target is at another watermark).
fn decide<T>(state: Option<SyncState>, apply: &Apply<T>) -> Result<Decision, ActivityError> {
    match state {
        Some(s) if s.sync_id == apply.sync_id && s.round == apply.round => {
            Ok(Decision::Done(s.outcome))
        }
        Some(s) if s.watermark != apply.from => Err(ActivityError::non_retryable(
            "WatermarkMismatch",
            format!(
                "round {} of `{}` starts at {}, but the target is at {} (round {} of `{}`): \
                 another sync writes into this target",
                apply.round, apply.sync_id, apply.from, s.watermark, s.round, s.sync_id
            ),
        )),
        None if apply.from != Watermark::default() => Err(ActivityError::non_retryable(
            "WatermarkMismatch",
            format!(
                "round {} of `{}` starts at {}, but the target has never been synced: \
                 was the sync started against another target?",
                apply.round, apply.sync_id, apply.from
            ),
        )),
        _ => Ok(Decision::Write),
    }
}

/// Writes a round into the target in one transaction: upserts, removals,
/// rejects and the new state with the outcome. If the target already holds
/// this round (its commit happened, its completion was not recorded),
/// nothing is written and the stored outcome is returned.
pub(crate) async fn apply_round<T: Serialize + Send + 'static>(
    target: &Endpoint,
    apply: Apply<T>,
) -> Result<String, ActivityError> {
    let outcome = serde_json::to_string(&apply.outcome)?;
    let round = i64::try_from(apply.round).unwrap_or(i64::MAX);
    match target {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            blocking(move || {
                let mut db = open_sqlite(&path)?;
                let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let state = tx
                    .query_row(&sqlite_sql(SELECT_STATE), [STATE_KEY], sqlite_state)
                    .optional()?;
                if let Decision::Done(stored) = decide(state, &apply)? {
                    return Ok(stored);
                }
                {
                    let mut upsert = tx.prepare(&sqlite_sql(UPSERT_TARGET))?;
                    for r in &apply.upserts {
                        upsert.execute(params![
                            r.id,
                            r.name,
                            r.email,
                            r.country,
                            r.amount,
                            r.updated_at,
                            round
                        ])?;
                    }
                    let mut remove = tx.prepare("DELETE FROM target_items WHERE id = ?1")?;
                    for id in &apply.removals {
                        remove.execute([id])?;
                    }
                    let mut reject = tx.prepare(&sqlite_sql(INSERT_REJECT))?;
                    for (id, updated_at, r) in &apply.rejects {
                        reject.execute(params![
                            id,
                            updated_at,
                            apply.sync_id,
                            round,
                            r.rule,
                            r.reason,
                            serde_json::to_string(&r.row)?
                        ])?;
                    }
                }
                tx.execute(
                    &sqlite_sql(UPSERT_STATE),
                    params![
                        STATE_KEY,
                        apply.sync_id,
                        round,
                        apply.to.updated_at,
                        apply.to.id,
                        outcome
                    ],
                )?;
                tx.commit()?;
                Ok(outcome)
            })
            .await
        }
        Endpoint::Postgres(url) => {
            let mut client = connect_pg(url).await?;
            let tx = client.transaction().await?;
            // Locks the state row (if any) until the commit: two syncs into
            // one target cannot interleave.
            let state = tx
                .query_opt(&format!("{SELECT_STATE} FOR UPDATE"), &[&STATE_KEY])
                .await?
                .map(|r| pg_state(&r));
            if let Decision::Done(stored) = decide(state, &apply)? {
                return Ok(stored);
            }
            let upsert = tx.prepare(UPSERT_TARGET).await?;
            for r in &apply.upserts {
                tx.execute(
                    &upsert,
                    &[
                        &r.id,
                        &r.name,
                        &r.email,
                        &r.country,
                        &r.amount,
                        &r.updated_at,
                        &round,
                    ],
                )
                .await?;
            }
            if !apply.removals.is_empty() {
                tx.execute(
                    "DELETE FROM target_items WHERE id = ANY($1)",
                    &[&apply.removals],
                )
                .await?;
            }
            let reject = tx.prepare(INSERT_REJECT).await?;
            for (id, updated_at, r) in &apply.rejects {
                let row = serde_json::to_string(&r.row)?;
                tx.execute(
                    &reject,
                    &[
                        id,
                        updated_at,
                        &apply.sync_id,
                        &round,
                        &r.rule,
                        &r.reason,
                        &row,
                    ],
                )
                .await?;
            }
            tx.execute(
                UPSERT_STATE,
                &[
                    &STATE_KEY,
                    &apply.sync_id,
                    &round,
                    &apply.to.updated_at,
                    &apply.to.id,
                    &outcome,
                ],
            )
            .await?;
            tx.commit().await?;
            Ok(outcome)
        }
    }
}

/// The sync state read by rusqlite (columns of [`SELECT_STATE`]).
fn sqlite_state(r: &rusqlite::Row<'_>) -> rusqlite::Result<SyncState> {
    Ok(SyncState {
        sync_id: r.get(0)?,
        round: r.get(1)?,
        watermark: Watermark {
            updated_at: r.get(2)?,
            id: r.get(3)?,
        },
        outcome: r.get(4)?,
    })
}

/// The sync state read by tokio-postgres (columns of [`SELECT_STATE`]).
fn pg_state(r: &tokio_postgres::Row) -> SyncState {
    SyncState {
        sync_id: r.get(0),
        round: r.get::<_, i64>(1) as u64,
        watermark: Watermark {
            updated_at: r.get(2),
            id: r.get(3),
        },
        outcome: r.get(4),
    }
}

/// The target's sync state: where a new sync (or a scheduled pass) starts.
/// One row read, whatever the size of the target.
pub(crate) async fn state(target: &Endpoint) -> Result<Option<SyncState>, ActivityError> {
    match target {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            blocking(move || {
                let db = open_sqlite(&path)?;
                Ok(db
                    .query_row(&sqlite_sql(SELECT_STATE), [STATE_KEY], sqlite_state)
                    .optional()?)
            })
            .await
        }
        Endpoint::Postgres(url) => {
            let client = connect_pg(url).await?;
            Ok(client
                .query_opt(SELECT_STATE, &[&STATE_KEY])
                .await?
                .map(|r| pg_state(&r)))
        }
    }
}

/// The whole target: rows, rejects, state.
pub(crate) async fn load(target: &Endpoint) -> Result<TargetSnapshot, ActivityError> {
    const ROWS: &str =
        "SELECT id, name, email, country, amount, updated_at FROM target_items ORDER BY id";
    const REJECTS: &str = "SELECT id, updated_at, sync_id FROM sync_rejects";
    let mut snapshot = TargetSnapshot::default();
    match target {
        Endpoint::Sqlite(path) => {
            let path = path.clone();
            snapshot = blocking(move || {
                let db = open_sqlite(&path)?;
                let mut rows = db.prepare(ROWS)?;
                let mut rows = rows.query([])?;
                while let Some(r) = rows.next()? {
                    let row = TargetRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        email: r.get(2)?,
                        country: r.get(3)?,
                        amount: r.get(4)?,
                        updated_at: r.get(5)?,
                    };
                    snapshot.rows.insert(row.id, row);
                }
                let mut rejects = db.prepare(REJECTS)?;
                let mut rejects = rejects.query([])?;
                while let Some(r) = rejects.next()? {
                    snapshot.rejects.insert((r.get(0)?, r.get(1)?), r.get(2)?);
                }
                snapshot.state = db
                    .query_row(&sqlite_sql(SELECT_STATE), [STATE_KEY], sqlite_state)
                    .optional()?;
                Ok(snapshot)
            })
            .await?;
        }
        Endpoint::Postgres(url) => {
            let mut client = connect_pg(url).await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            for r in tx.query(ROWS, &[]).await? {
                let row = TargetRow {
                    id: r.get(0),
                    name: r.get(1),
                    email: r.get(2),
                    country: r.get(3),
                    amount: r.get(4),
                    updated_at: r.get(5),
                };
                snapshot.rows.insert(row.id, row);
            }
            for r in tx.query(REJECTS, &[]).await? {
                snapshot.rejects.insert((r.get(0), r.get(1)), r.get(2));
            }
            snapshot.state = tx
                .query_opt(SELECT_STATE, &[&STATE_KEY])
                .await?
                .map(|r| pg_state(&r));
            tx.commit().await?;
        }
    }
    Ok(snapshot)
}
