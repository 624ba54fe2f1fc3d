//! Slots of activities' limits (`Store::acquire_slot`, `release_slot`).
//!
//! Counting the slots of a pair and taking one must not interleave with
//! another worker doing the same, or both would take the last slot: each
//! acquisition holds a transaction-scoped advisory lock on its `(activity,
//! key)` pair (in a key space of its own) while it counts and writes.
//! Pairs whose hashes collide only wait for each other. Times are the
//! database's clock.

use super::errors::store_error;
use super::rows::{int, span, Fields};
use super::sql::{execute, query_opt};
use super::PostgresStore;
use crate::error::StoreError;
use crate::store::operation::{ACQUIRE_SLOT, RELEASE_SLOT};
use crate::store::{slot_decision, SlotGrant, SlotRequest};

/// The first key of the advisory locks of pairs (`slot` in ASCII); the
/// second is the hash of the pair.
const SLOT_LOCK_SPACE: i32 = 0x736c_6f74;

/// The task's token, for the fence, locking the row: $1 run, $2 seq.
const LOCK_TASK: &str = "SELECT token FROM tasks WHERE run_id = $1 AND seq = $2 FOR UPDATE";

/// The pair's lock: $1 activity, $2 key.
const LOCK_PAIR: &str =
    "SELECT pg_advisory_xact_lock($3::int4, hashtext($1::text || E'\\x1f' || $2::text))";

/// The database's now, the live slots of the pair but the task's own, and
/// the starts of the pair within the rate window: $1 activity, $2 key,
/// $3 run, $4 seq, $5 the window (ms).
const COUNT: &str =
    "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)
    SELECT now.ms,
        (SELECT count(*) FROM slots s
          WHERE s.activity = $1 AND s.limit_key = $2 AND s.lease_until > now.ms
            AND NOT (s.run_id = $3 AND s.seq = $4)),
        (SELECT count(*) FROM slot_starts t
          WHERE t.activity = $1 AND t.limit_key = $2 AND t.started_ms > now.ms - $5::bigint),
        (SELECT min(t.started_ms) FROM slot_starts t
          WHERE t.activity = $1 AND t.limit_key = $2 AND t.started_ms > now.ms - $5::bigint)
    FROM now";

/// A granted slot: $1 run, $2 seq, $3 activity, $4 key, $5 owner, $6 now,
/// $7 lease (ms).
const TAKE: &str = "INSERT INTO slots (run_id, seq, activity, limit_key, owner, lease_until)
    VALUES ($1, $2, $3, $4, $5, $6::bigint + $7::bigint)
    ON CONFLICT (run_id, seq) DO UPDATE SET activity = excluded.activity,
        limit_key = excluded.limit_key, owner = excluded.owner, lease_until = excluded.lease_until";

/// A granted start: $1 activity, $2 key, $3 now.
const START: &str = "INSERT INTO slot_starts (activity, limit_key, started_ms) VALUES ($1, $2, $3)";

/// The task no longer waits: $1 run, $2 seq.
const STOP_WAITING: &str =
    "UPDATE tasks SET slot_wait_ms = NULL WHERE run_id = $1 AND seq = $2 AND slot_wait_ms IS NOT NULL";

/// The task waits, since $3 if it did not yet: $1 run, $2 seq.
const WAIT: &str =
    "UPDATE tasks SET slot_wait_ms = coalesce(slot_wait_ms, $3) WHERE run_id = $1 AND seq = $2";

impl PostgresStore {
    /// One attempt of `acquire_slot`.
    pub(super) async fn acquire_slot_once(
        &self,
        request: &SlotRequest,
    ) -> Result<SlotGrant, StoreError> {
        let SlotRequest {
            run_id,
            seq,
            token,
            activity,
            key,
            ..
        } = request;
        let context = || format!("task {seq} of run `{run_id}`");
        let sql = |e| store_error(ACQUIRE_SLOT, context(), e);
        let seq_value = i64::from(*seq);
        let mut client = self.client(ACQUIRE_SLOT).await?;
        let tx = client.transaction().await.map_err(sql)?;
        let held = query_opt(&tx, LOCK_TASK, &[run_id, &seq_value])
            .await
            .map_err(sql)?;
        let Some(row) = held else {
            return Err(StoreError::fenced(
                ACQUIRE_SLOT,
                format!("{} is gone", context()),
            ));
        };
        let fields = Fields::new(&row, ACQUIRE_SLOT, "tasks", context());
        let held: u64 = fields.uint(0, "token")?;
        if held != *token {
            return Err(super::task_fenced(ACQUIRE_SLOT, run_id, *seq, held, *token));
        }
        query_opt(&tx, LOCK_PAIR, &[activity, key, &SLOT_LOCK_SPACE])
            .await
            .map_err(sql)?;
        let window = span(request.rate.map_or(0, |rate| rate.per_ms()));
        let counts = query_opt(&tx, COUNT, &[activity, key, run_id, &seq_value, &window])
            .await
            .map_err(sql)?
            .ok_or_else(|| StoreError::new(ACQUIRE_SLOT, "the count returned no row"))?;
        let fields = Fields::new(&counts, ACQUIRE_SLOT, "slots", context());
        let now: i64 = counts.try_get(0).map_err(sql)?;
        let running: u64 = fields.uint(1, "count")?;
        let starts: u64 = fields.uint(2, "count")?;
        let oldest: Option<i64> = counts.try_get(3).map_err(sql)?;
        let oldest = oldest.and_then(|ms| u64::try_from(ms).ok());
        let decision = slot_decision(request, running, starts, oldest);
        if decision == SlotGrant::Granted {
            if request.max_concurrent.is_some() {
                let lease = span(request.lease.duration_ms());
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
                    run_id,
                    &seq_value,
                    activity,
                    key,
                    &request.lease.worker,
                    &now,
                    &lease,
                ];
                execute(&tx, TAKE, &params).await.map_err(sql)?;
            }
            if request.rate.is_some() {
                execute(&tx, START, &[activity, key, &now])
                    .await
                    .map_err(sql)?;
            }
            execute(&tx, STOP_WAITING, &[run_id, &seq_value])
                .await
                .map_err(sql)?;
        } else {
            execute(&tx, WAIT, &[run_id, &seq_value, &now])
                .await
                .map_err(sql)?;
        }
        tx.commit().await.map_err(sql)?;
        Ok(decision)
    }

    /// One attempt of `release_slot`; tells the other workers when a slot
    /// was given back.
    pub(super) async fn release_slot_once(&self, run_id: &str, seq: u32) -> Result<(), StoreError> {
        let client = self.client(RELEASE_SLOT).await?;
        let released = execute(
            &client,
            "DELETE FROM slots WHERE run_id = $1 AND seq = $2",
            &[&run_id, &i64::from(seq)],
        )
        .await
        .map_err(|e| store_error(RELEASE_SLOT, format!("task {seq} of run `{run_id}`"), e))?;
        if released > 0 {
            self.notifier.slot();
        }
        Ok(())
    }
}

/// `renew`, slots: $1 worker, $2 lease (ms).
pub(super) const RENEW_SLOTS: &str = "UPDATE slots
    SET lease_until = (extract(epoch FROM clock_timestamp()) * 1000)::bigint + $2
    WHERE owner = $1";

/// `renew`, the starts older than any rate's period: $1 the longest period (ms).
pub(super) const PRUNE_STARTS: &str = "DELETE FROM slot_starts
    WHERE started_ms <= (extract(epoch FROM clock_timestamp()) * 1000)::bigint - $1";

/// `release(Worker)`, slots: $1 worker.
pub(super) const RELEASE_WORKER_SLOTS: &str = "DELETE FROM slots WHERE owner = $1";

/// The longest period of a rate, as a bound for [`PRUNE_STARTS`].
pub(super) fn max_rate_period() -> i64 {
    int(crate::store::MAX_RATE_PERIOD_MS)
}
