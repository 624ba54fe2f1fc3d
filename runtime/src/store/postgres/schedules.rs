//! Schedules in the PostgreSQL store: the `schedules` table (migration 4).
//! A tick's compare-and-set of the row and its run are one transaction:
//! of two workers that race on a tick, the second one's `UPDATE … WHERE
//! version = $read` waits for the first one's commit, then matches no row.

use tokio_postgres::Row;

use super::errors::store_error;
use super::ops::create_in;
use super::rows::{clip, int, json, Fields};
use super::sql::{execute, query};
use super::{retrying, PostgresStore};
use crate::definition::BoxFuture;
use crate::error::StoreError;
use crate::store::schedules::{
    decode_recent, encode_recent, Fired, ScheduleDef, ScheduleFire, ScheduleRecord, ScheduleState,
    ScheduleStore, DELETE_SCHEDULE, FIRE_SCHEDULE, PAUSE_SCHEDULE, PUT_SCHEDULE, READ_SCHEDULES,
};

const SELECT_ALL: &str = "SELECT schedule_id, cron, workflow, input, overlap, catchup_ms, paused,
    next_ms, buffered_ms, skipped, missed, recent, version, created_ms, updated_ms
    FROM schedules WHERE $1::text IS NULL OR schedule_id = $1 ORDER BY schedule_id";

fn decode(row: &Row) -> Result<ScheduleRecord, StoreError> {
    let key = match row.try_get::<_, String>(0) {
        Ok(id) => format!("schedule_id `{}`", clip(&id)),
        Err(_) => "schedule_id unreadable".to_owned(),
    };
    let f = Fields::new(row, READ_SCHEDULES, "schedules", key);
    let recent_text = f.text(11, "recent")?;
    let recent = decode_recent(&recent_text)
        .map_err(|e| f.corrupt("recent", format_args!("does not decode: {e}")))?;
    Ok(ScheduleRecord {
        id: f.text(0, "schedule_id")?,
        cron: f.text(1, "cron")?,
        workflow: f.text(2, "workflow")?,
        input: f.json(3, "input")?,
        overlap: f.text(4, "overlap")?,
        catchup_ms: f.uint(5, "catchup_ms")?,
        paused: f.value(6, "paused")?,
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

impl PostgresStore {
    async fn select_schedules(&self, id: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
        let sql = |e| store_error(READ_SCHEDULES, "the `schedules` table", e);
        let client = self.client(READ_SCHEDULES).await?;
        let rows = query(&client, SELECT_ALL, &[&id]).await.map_err(sql)?;
        rows.iter().map(decode).collect()
    }

    async fn fire_once(&self, fire: &ScheduleFire) -> Result<Fired, StoreError> {
        let sql = |e| store_error(FIRE_SCHEDULE, format!("schedule `{}`", fire.id), e);
        let mut client = self.client(FIRE_SCHEDULE).await?;
        let tx = client.transaction().await.map_err(sql)?;
        let state = &fire.state;
        let updated = execute(
            &tx,
            "UPDATE schedules SET next_ms = $3, buffered_ms = $4, skipped = $5, missed = $6,
                 recent = $7, version = version + 1, updated_ms = $8
             WHERE schedule_id = $1 AND version = $2",
            &[
                &fire.id,
                &int(fire.version),
                &int(state.next_ms),
                &state.buffered_ms.map(int),
                &int(state.skipped),
                &int(state.missed),
                &encode_recent(&state.recent),
                &int(fire.now_ms),
            ],
        )
        .await
        .map_err(sql)?;
        if updated == 0 {
            tx.rollback().await.map_err(sql)?;
            return Ok(Fired::Stale);
        }
        let created = match &fire.start {
            Some(new) => Some(create_in(&tx, new).await?.0),
            None => None,
        };
        tx.commit().await.map_err(sql)?;
        if fire.start.as_ref().is_some_and(|new| new.owner.is_none()) {
            self.notifier.work();
        }
        Ok(Fired::Written(created))
    }
}

impl ScheduleStore for PostgresStore {
    fn put_schedule(&self, def: ScheduleDef) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            // Idempotent: the same definition written twice is the same row
            // (only its version grows), so a lost answer is retried.
            let def = &def;
            retrying(|| async move {
                let sql = |e| store_error(PUT_SCHEDULE, format!("schedule `{}`", def.id), e);
                let client = self.client(PUT_SCHEDULE).await?;
                execute(
                    &client,
                    "INSERT INTO schedules (schedule_id, cron, workflow, input, overlap, catchup_ms,
                         next_ms, created_ms, updated_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                     ON CONFLICT (schedule_id) DO UPDATE SET
                         next_ms = CASE WHEN schedules.cron = excluded.cron
                                        THEN schedules.next_ms ELSE excluded.next_ms END,
                         cron = excluded.cron, workflow = excluded.workflow,
                         input = excluded.input, overlap = excluded.overlap,
                         catchup_ms = excluded.catchup_ms,
                         version = schedules.version + 1, updated_ms = excluded.updated_ms",
                    &[
                        &def.id,
                        &def.cron,
                        &def.workflow,
                        &json(&def.input),
                        &def.overlap,
                        &int(def.catchup_ms),
                        &int(def.next_ms),
                        &int(def.now_ms),
                    ],
                )
                .await
                .map_err(sql)?;
                Ok(())
            })
            .await
        })
    }

    fn schedule(&self, id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>, StoreError>> {
        let id = id.to_owned();
        Box::pin(async move {
            retrying(|| self.select_schedules(Some(&id)))
                .await
                .map(|records| records.into_iter().next())
        })
    }

    fn list_schedules(&self) -> BoxFuture<'_, Result<Vec<ScheduleRecord>, StoreError>> {
        Box::pin(async move { retrying(|| self.select_schedules(None)).await })
    }

    fn pause_schedule(
        &self,
        id: &str,
        paused: bool,
        next_ms: Option<u64>,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let id = &id;
            retrying(|| async move {
                let sql = |e| store_error(PAUSE_SCHEDULE, format!("schedule `{id}`"), e);
                let client = self.client(PAUSE_SCHEDULE).await?;
                let updated = execute(
                    &client,
                    "UPDATE schedules SET paused = $2, next_ms = COALESCE($3, next_ms),
                         version = version + 1, updated_ms = $4
                     WHERE schedule_id = $1",
                    &[id, &paused, &next_ms.map(int), &int(now_ms)],
                )
                .await
                .map_err(sql)?;
                Ok(updated > 0)
            })
            .await
        })
    }

    fn delete_schedule(&self, id: &str) -> BoxFuture<'_, Result<bool, StoreError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let sql = |e| store_error(DELETE_SCHEDULE, format!("schedule `{id}`"), e);
            let client = self.client(DELETE_SCHEDULE).await?;
            let deleted = execute(
                &client,
                "DELETE FROM schedules WHERE schedule_id = $1",
                &[&id],
            )
            .await
            .map_err(sql)?;
            Ok(deleted > 0)
        })
    }

    /// Not retried: a tick whose answer was lost is read again by the
    /// scheduler, which finds the row moved on.
    fn fire_schedule(&self, fire: ScheduleFire) -> BoxFuture<'_, Result<Fired, StoreError>> {
        Box::pin(async move { self.fire_once(&fire).await })
    }
}
