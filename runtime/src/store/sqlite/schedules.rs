//! Schedules in the SQLite store: the `schedules` table (migration 5).
//! Writes go through the writer thread like every other write; a tick's
//! state and its run are written under one savepoint of one transaction.

use rusqlite::{params, Connection, Row};
use serde_json::Value;

use super::errors::store_error;
use super::rows::{int, json, key_text, Fields};
use super::write::{create, next_token};
use super::SqliteStore;
use crate::definition::BoxFuture;
use crate::error::StoreError;
use crate::store::schedules::{
    decode_recent, encode_recent, Fired, ScheduleDef, ScheduleFire, ScheduleRecord, ScheduleState,
    ScheduleStore, DELETE_SCHEDULE, FIRE_SCHEDULE, PAUSE_SCHEDULE, PUT_SCHEDULE, READ_SCHEDULES,
};

const COLUMNS: &str = "schedule_id, cron, workflow, input, overlap, catchup_ms, paused, next_ms, \
                       buffered_ms, skipped, missed, recent, version, created_ms, updated_ms";

fn decode(row: &Row<'_>) -> Result<ScheduleRecord, StoreError> {
    let f = Fields {
        row,
        operation: READ_SCHEDULES,
        table: "schedules",
        key: key_text(row, 0, "schedule_id"),
    };
    let recent_text = f.text(11, "recent")?;
    let recent = decode_recent(&recent_text)
        .map_err(|e| f.corrupt("recent", format_args!("does not decode: {e}")))?;
    Ok(ScheduleRecord {
        id: f.text(0, "schedule_id")?,
        cron: f.text(1, "cron")?,
        workflow: f.text(2, "workflow")?,
        input: f.json::<Value>(3, "input")?,
        overlap: f.text(4, "overlap")?,
        catchup_ms: f.uint(5, "catchup_ms")?,
        paused: f.uint::<i64>(6, "paused")? != 0,
        state: ScheduleState {
            next_ms: f.uint(7, "next_ms")?,
            buffered_ms: f.opt_uint(8, "buffered_ms")?,
            skipped: f.uint(9, "skipped")?,
            missed: f.uint(10, "missed")?,
            recent,
        },
        version: f.uint(12, "version")?,
        created_ms: f.uint(13, "created_ms")?,
        updated_ms: f.uint(14, "updated_ms")?,
    })
}

fn select(conn: &Connection, id: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
    let sql_error = |e| store_error(READ_SCHEDULES, "the `schedules` table", e);
    let sql = match id {
        Some(_) => format!("SELECT {COLUMNS} FROM schedules WHERE schedule_id = ?1"),
        None => format!("SELECT {COLUMNS} FROM schedules ORDER BY schedule_id"),
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
    let mut rows = match id {
        Some(id) => stmt.query([id]),
        None => stmt.query(params![]),
    }
    .map_err(sql_error)?;
    let mut records = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        records.push(decode(row)?);
    }
    Ok(records)
}

impl ScheduleStore for SqliteStore {
    fn put_schedule(&self, def: ScheduleDef) -> BoxFuture<'_, Result<(), StoreError>> {
        self.submit(PUT_SCHEDULE, move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO schedules (schedule_id, cron, workflow, input, overlap, catchup_ms,
                     next_ms, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT (schedule_id) DO UPDATE SET
                     next_ms = CASE WHEN schedules.cron = excluded.cron
                                    THEN schedules.next_ms ELSE excluded.next_ms END,
                     cron = excluded.cron, workflow = excluded.workflow,
                     input = excluded.input, overlap = excluded.overlap,
                     catchup_ms = excluded.catchup_ms,
                     version = schedules.version + 1, updated_ms = excluded.updated_ms",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    def.id,
                    def.cron,
                    def.workflow,
                    json(&def.input),
                    def.overlap,
                    int(def.catchup_ms),
                    int(def.next_ms),
                    int(def.now_ms),
                ])
            })
            .map_err(|e| store_error(PUT_SCHEDULE, format!("schedule `{}`", def.id), e))?;
            Ok(())
        })
    }

    fn schedule(&self, id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>, StoreError>> {
        let id = id.to_owned();
        self.read(READ_SCHEDULES, move |conn| {
            Ok(select(conn, Some(&id))?.into_iter().next())
        })
    }

    fn list_schedules(&self) -> BoxFuture<'_, Result<Vec<ScheduleRecord>, StoreError>> {
        self.read(READ_SCHEDULES, |conn| select(conn, None))
    }

    fn pause_schedule(
        &self,
        id: &str,
        paused: bool,
        next_ms: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let id = id.to_owned();
        self.submit(PAUSE_SCHEDULE, move |conn, _| {
            let updated = conn
                .prepare_cached(
                    "UPDATE schedules SET paused = ?2, next_ms = COALESCE(?3, next_ms),
                         version = version + 1, updated_ms = ?4
                     WHERE schedule_id = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![id, paused, next_ms.map(int), int(now_ms)])
                })
                .map_err(|e| store_error(PAUSE_SCHEDULE, format!("schedule `{id}`"), e))?;
            Ok(updated > 0)
        })
    }

    fn delete_schedule(&self, id: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let id = id.to_owned();
        self.submit(DELETE_SCHEDULE, move |conn, _| {
            let deleted = conn
                .prepare_cached("DELETE FROM schedules WHERE schedule_id = ?1")
                .and_then(|mut stmt| stmt.execute([&id]))
                .map_err(|e| store_error(DELETE_SCHEDULE, format!("schedule `{id}`"), e))?;
            Ok(deleted > 0)
        })
    }

    fn fire_schedule(&self, fire: ScheduleFire) -> BoxFuture<'_, Result<Fired, StoreError>> {
        self.submit(FIRE_SCHEDULE, move |conn, tokens| {
            let state = &fire.state;
            let updated = conn
                .prepare_cached(
                    "UPDATE schedules SET next_ms = ?3, buffered_ms = ?4, skipped = ?5,
                         missed = ?6, recent = ?7, version = version + 1, updated_ms = ?8
                     WHERE schedule_id = ?1 AND version = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        fire.id,
                        int(fire.version),
                        int(state.next_ms),
                        state.buffered_ms.map(int),
                        int(state.skipped),
                        int(state.missed),
                        encode_recent(&state.recent),
                        int(fire.now_ms),
                    ])
                })
                .map_err(|e| store_error(FIRE_SCHEDULE, format!("schedule `{}`", fire.id), e))?;
            if updated == 0 {
                return Ok(Fired::Stale);
            }
            let created = match &fire.start {
                Some(new) => Some(create(conn, || next_token(tokens), new)?),
                None => None,
            };
            Ok(Fired::Written(created))
        })
    }
}
