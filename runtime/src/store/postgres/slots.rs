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
use super::sql::execute;
use super::PostgresStore;
use crate::error::StoreError;
use crate::store::operation::{ACQUIRE_SLOT, RELEASE_SLOT};
use crate::store::{slot_decision, SlotGrant, SlotRequest};

/// The first key of the advisory locks of pairs (`slot` in ASCII); the
/// second is the hash of the pair.
const SLOT_LOCK_SPACE: i32 = 0x736c_6f74;

/// The pair's lock: $1 the lock space, $2 activity, $3 key. A statement of
/// its own: a statement's snapshot is taken when it starts, so counts made
/// in the statement that waited for the lock could miss the slot its
/// previous holder just committed.
const LOCK_PAIR: &str =
    "SELECT pg_advisory_xact_lock($1::int4, hashtext($2::text || E'\\x1f' || $3::text))";

/// The task's token (locking its row), the database's now and the counts:
/// $1 activity, $2 key, $3 run, $4 seq, $5 the rate window (ms). No row
/// when the task is gone. Slots whose task is gone (an attempt whose slot
/// was never given back) do not count.
const COUNT: &str = "WITH task AS MATERIALIZED (
        SELECT token FROM tasks WHERE run_id = $3 AND seq = $4 FOR UPDATE
    ),
    now AS MATERIALIZED (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)
    SELECT task.token, now.ms,
        (SELECT count(*) FROM slots s
          WHERE s.activity = $1 AND s.limit_key = $2 AND s.lease_until > now.ms
            AND NOT (s.run_id = $3 AND s.seq = $4)
            AND EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = s.run_id AND t.seq = s.seq)),
        (SELECT count(*) FROM slot_starts t
          WHERE t.activity = $1 AND t.limit_key = $2 AND t.started_ms > now.ms - $5::bigint),
        (SELECT min(t.started_ms) FROM slot_starts t
          WHERE t.activity = $1 AND t.limit_key = $2 AND t.started_ms > now.ms - $5::bigint)
    FROM task, now";

/// The decision, written: $1 run, $2 seq, $3 activity, $4 key, $5 owner,
/// $6 now, $7 lease (ms), $8 whether a slot is taken, $9 whether a start
/// is recorded, $10 whether it was granted (else the task waits, since $6
/// if it did not yet).
const WRITE: &str = "WITH take AS (
        INSERT INTO slots (run_id, seq, activity, limit_key, owner, lease_until)
        SELECT $1, $2, $3, $4, $5, $6::bigint + $7::bigint WHERE $8::bool
        ON CONFLICT (run_id, seq) DO UPDATE SET activity = excluded.activity,
            limit_key = excluded.limit_key, owner = excluded.owner,
            lease_until = excluded.lease_until
    ),
    start AS (
        INSERT INTO slot_starts (activity, limit_key, started_ms)
        SELECT $3, $4, $6 WHERE $9::bool
    )
    UPDATE tasks SET slot_wait_ms = CASE WHEN $10::bool THEN NULL ELSE coalesce(slot_wait_ms, $6) END
    WHERE run_id = $1 AND seq = $2";

impl PostgresStore {
    /// One attempt of `acquire_slot`, in two round trips: `BEGIN`, the
    /// pair's lock and the count are sent together, then the write and the
    /// commit; the pair's lock is held from the count to the commit.
    pub(super) async fn acquire_slot_once(
        &self,
        request: &SlotRequest,
    ) -> Result<SlotGrant, StoreError> {
        let client = self.client(ACQUIRE_SLOT).await?;
        let result = acquire(&client, request).await;
        if result.is_err() {
            // Best effort: a connection that cannot roll back is broken,
            // and the pool drops it.
            let _ = client.batch_execute("ROLLBACK").await;
        }
        result
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

/// The transaction of `acquire_slot` on `client`; the caller rolls back on
/// an error.
async fn acquire(
    client: &deadpool_postgres::Client,
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
    let window = span(request.rate.map_or(0, |rate| rate.per_ms()));
    // Prepared first (once per connection): a statement sent together with
    // another must not wait for its own preparation, or `COMMIT` would
    // overtake it.
    let lock = client.prepare_cached(LOCK_PAIR).await.map_err(sql)?;
    let count = client.prepare_cached(COUNT).await.map_err(sql)?;
    let write = client.prepare_cached(WRITE).await.map_err(sql)?;
    let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&SLOT_LOCK_SPACE, activity, key];
    let count_params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [activity, key, run_id, &seq_value, &window];
    // Sent together, run in order: the count starts once the lock is held.
    let (_, _, counts) = tokio::try_join!(
        client.batch_execute("BEGIN"),
        client.query_one(&lock, &lock_params),
        client.query_opt(&count, &count_params),
    )
    .map_err(sql)?;
    let Some(counts) = counts else {
        return Err(StoreError::fenced(
            ACQUIRE_SLOT,
            format!("{} is gone", context()),
        ));
    };
    let fields = Fields::new(&counts, ACQUIRE_SLOT, "tasks", context());
    let held: u64 = fields.uint(0, "token")?;
    if held != *token {
        return Err(super::task_fenced(ACQUIRE_SLOT, run_id, *seq, held, *token));
    }
    let now: i64 = counts.try_get(1).map_err(sql)?;
    let running: u64 = fields.uint(2, "count")?;
    let starts: u64 = fields.uint(3, "count")?;
    let oldest: Option<i64> = counts.try_get(4).map_err(sql)?;
    let oldest = oldest.and_then(|ms| u64::try_from(ms).ok());
    let decision = slot_decision(request, running, starts, oldest);
    let granted = decision == SlotGrant::Granted;
    let take = granted && request.max_concurrent.is_some();
    let start = granted && request.rate.is_some();
    let lease = span(request.lease.duration_ms());
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
        run_id,
        &seq_value,
        activity,
        key,
        &request.lease.worker,
        &now,
        &lease,
        &take,
        &start,
        &granted,
    ];
    tokio::try_join!(
        client.execute(&write, &params),
        client.batch_execute("COMMIT"),
    )
    .map_err(sql)?;
    Ok(decision)
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
